#!/bin/sh
# tokenize_corpus.sh OUT BYTES — real text from this machine, for the
# tokenizer's parity tests and benchmark: licenses, Debian copyright files,
# and man pages in many languages (Latin, Cyrillic, CJK scripts), taken in
# turns of 40 files per source so that even a small BYTES mixes them all,
# and cut at BYTES. The same machine gives the same corpus.
set -eu
out=$1
want=$2
tmp=$out.tmp.$$
trap 'rm -f "$tmp" "$tmp.list"' EXIT INT TERM
{
    for f in /usr/share/common-licenses/*; do [ -f "$f" ] && echo "0 0 $f"; done
    src=1
    for d in ja ko ru zh_CN de fr pl uk es man1 man3 man7 doc; do
        if [ "$d" = doc ]; then
            find /usr/share/doc -name copyright 2>/dev/null
        else
            find "/usr/share/man/$d" -name '*.gz' 2>/dev/null
        fi | LC_ALL=C sort | awk -v s=$src '{ print int((NR - 1) / 40) + 1, s, $0 }'
        src=$((src + 1))
    done
} | LC_ALL=C sort -n -k1,1 -k2,2 -s | cut -d' ' -f3- > "$tmp.list"
: > "$tmp"
n=0
while read -r f; do
    case $f in *.gz) gzip -dc "$f" 2>/dev/null || true ;; *) cat "$f" ;; esac >> "$tmp"
    n=$((n + 1))
    if [ $((n % 25)) = 0 ] && [ "$(wc -c < "$tmp")" -ge "$want" ]; then break; fi
done < "$tmp.list"
# Not enough text on a small machine: repeat what there is.
size=$(wc -c < "$tmp")
[ "$size" -gt 0 ] || { echo "tokenize_corpus: no text found" >&2; exit 1; }
while [ "$size" -lt "$want" ]; do cat "$tmp" "$tmp" > "$tmp.2"; mv "$tmp.2" "$tmp"; size=$(wc -c < "$tmp"); done
head -c "$want" "$tmp" > "$out"
