#!/usr/bin/env python3
"""tokenize_ref.py — tiktoken as the reference for runnel's tokenize.

  ids RANKS [--allow-special] [--split line] FILE...
      print the ids of each FILE (one line per document, like
      `tokenize --ids`) as tiktoken's gpt2 encoding gives them.
  gpt2-dir RANKS OUTDIR
      write GPT-2's encoder.json and vocab.bpe, derived from the ranks file
      (the inverse of tiktoken's data_gym_to_mergeable_bpe_ranks).
  bench RANKS FILE THREADS
      encode FILE with tiktoken, print "MB/s" (best of 3, after a warm-up).

The gpt2 encoding is built offline from the ranks file with GPT-2's split
pattern and <|endoftext|> = 50256 (tiktoken's own download cannot reach
the internet here), plus runnel's story tokens 50257 and 50258.

tiktoken takes str, so bytes that are not UTF-8 have no tiktoken answer.
runnel's rule for them is Python's surrogateescape: each such byte is one
character that is neither letter, number nor space. The reference applies
that rule literally: decode with surrogateescape, split with the same
pattern (the `regex` module, which tiktoken itself used before Rust), and
BPE each piece's bytes with tiktoken's core. The test checks this split
path against tiktoken's own on valid UTF-8 too.
"""
import json
import os
import sys
import time

import regex
import tiktoken
from tiktoken.load import load_tiktoken_bpe

PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SPECIALS = {"<|endoftext|>": 50256, "<|story|>": 50257, "</|story|>": 50258}


def gpt2(ranks_path):
    ranks = load_tiktoken_bpe(ranks_path)
    return tiktoken.Encoding("gpt2", pat_str=PAT, mergeable_ranks=ranks,
                             special_tokens=SPECIALS), ranks


def split_encode(enc, data):
    """The surrogateescape rule: split the escaped text, BPE the bytes."""
    text = data.decode("utf-8", "surrogateescape")
    out = []
    for piece in regex.findall(PAT, text):
        b = piece.encode("utf-8", "surrogateescape")
        out.extend(enc._core_bpe.encode_single_piece(b))
    return out


def encode_bytes(enc, data, allow_special):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        if allow_special:
            return enc.encode(text, allowed_special="all")
        return enc.encode_ordinary(text)
    if allow_special:
        # Split at specials first, as tiktoken does, then the rule above.
        out, pos = [], 0
        pat = regex.compile("|".join(regex.escape(s) for s in
                                     sorted(SPECIALS, key=len, reverse=True)).encode())
        for m in pat.finditer(data):
            out.extend(split_encode(enc, data[pos:m.start()]))
            out.append(SPECIALS[m.group().decode()])
            pos = m.end()
        out.extend(split_encode(enc, data[pos:]))
        return out
    return split_encode(enc, data)


def cmd_ids(args):
    allow = "--allow-special" in args
    by_line = "--split" in args and args[args.index("--split") + 1] == "line"
    files = [a for i, a in enumerate(args[1:], 1)
             if not a.startswith("--") and args[i - 1] != "--split"]
    enc, _ = gpt2(args[0])
    out = sys.stdout.buffer
    for f in files:
        data = open(f, "rb").read()
        docs = data.splitlines(keepends=True) if by_line else [data]
        for d in docs:
            ids = encode_bytes(enc, d, allow)
            out.write((" ".join(map(str, ids)) + "\n").encode())


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def bpe_parts(ranks, token, max_rank):
    parts = [bytes([b]) for b in token]
    while True:
        best = None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < max_rank and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            return parts
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]


def cmd_gpt2_dir(args):
    _, ranks = gpt2(args[0])
    outdir = args[1]
    os.makedirs(outdir, exist_ok=True)
    b2u = bytes_to_unicode()
    show = lambda b: "".join(b2u[c] for c in b)
    encoder = {show(tok): r for tok, r in ranks.items()}
    encoder["<|endoftext|>"] = 50256
    with open(os.path.join(outdir, "encoder.json"), "w", encoding="utf-8") as f:
        json.dump(encoder, f, ensure_ascii=False)
    lines = ["#version: 0.2"]
    for tok, r in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(tok) == 1:
            continue
        parts = bpe_parts(ranks, tok, r)
        assert len(parts) == 2, (tok, parts)
        lines.append(show(parts[0]) + " " + show(parts[1]))
    with open(os.path.join(outdir, "vocab.bpe"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def cmd_bench(args):
    enc, _ = gpt2(args[0])
    text = open(args[1], "rb").read().decode("utf-8", "replace")
    threads = int(args[2])
    mb = len(text.encode("utf-8")) / 1e6
    if threads <= 1:
        run = lambda: enc.encode_ordinary(text)
    else:
        # tiktoken parallelises over a batch of texts: give it one per
        # line-aligned slice, as many slices as a fair share needs.
        n = threads * 8
        step = len(text) // n + 1
        chunks, pos = [], 0
        while pos < len(text):
            end = text.find("\n", pos + step)
            end = len(text) if end < 0 else end + 1
            chunks.append(text[pos:end])
            pos = end
        run = lambda: enc.encode_ordinary_batch(chunks, num_threads=threads)
    run()
    best = min(timed(run) for _ in range(3))
    print("%.2f" % (mb / best))


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    cmds = {"ids": cmd_ids, "gpt2-dir": cmd_gpt2_dir, "bench": cmd_bench}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2:])
