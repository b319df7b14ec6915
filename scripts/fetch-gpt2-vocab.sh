#!/bin/sh
# fetch-gpt2-vocab.sh [OUT] — fetch GPT-2's BPE ranks file (gpt2.tiktoken)
# from the source distribution of openai-whisper on PyPI, which ships it in
# whisper/assets/, check its SHA-256 and install it as OUT (default
# build/vocab/gpt2.tiktoken). Nothing in the build needs it: it is for
# `tokenize -m gpt2.tiktoken` and for the tokenizer's reference tests.
set -eu
out=${1:-build/vocab/gpt2.tiktoken}
version=20250625
sha256=306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930
pip=${PIP:-}
if [ -z "$pip" ]; then
    if [ -x build/venv/bin/pip ]; then pip=build/venv/bin/pip
    elif command -v pip3 >/dev/null 2>&1; then pip=pip3
    else pip="python3 -m pip"; fi
fi

if [ -f "$out" ] && echo "$sha256  $out" | sha256sum -c --status 2>/dev/null; then
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
$pip download --quiet --no-deps --no-binary :all: "openai-whisper==$version" -d "$tmp" >&2
sdist=$(ls "$tmp"/openai[-_]whisper-*.tar.gz)
tar -xzf "$sdist" -C "$tmp" --wildcards '*/whisper/assets/gpt2.tiktoken'
got=$(sha256sum "$tmp"/*/whisper/assets/gpt2.tiktoken | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
    echo "fetch-gpt2-vocab: gpt2.tiktoken has SHA-256 $got, expected $sha256" >&2
    exit 1
fi
mkdir -p "$(dirname "$out")"
cp "$tmp"/*/whisper/assets/gpt2.tiktoken "$out.tmp"
mv "$out.tmp" "$out"
echo "fetch-gpt2-vocab: wrote $out" >&2
