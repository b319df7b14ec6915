#!/bin/sh
# demo.sh — what `make demo` runs: build a stream from the sample data,
# look inside it, take it apart and put it back together. Run from the
# top of the source tree after `make`.
set -eu
. "$(dirname "$0")/demo-lib.sh"

# Text: learn a small vocabulary from the sample stories, encode each
# story (one per paragraph) as a tokens record, and decode it back.
run "$BIN/tokenize --train --vocab-size 400 -o $OUT/tok.json samples/tokenize-stories.txt"
run "$BIN/tokenize -m $OUT/tok.json --split blank-line --wrap story samples/tokenize-stories.txt > $OUT/stories.rnl"
run "$BIN/inspect $OUT/stories.rnl"
run "$BIN/inspect -r 0 $OUT/stories.rnl | $BIN/tokenize -m $OUT/tok.json -d | head -c 120; echo ..."
run "$BIN/tokenize -m $OUT/tok.json samples/tokenize-stories.txt | $BIN/tokenize -m $OUT/tok.json -d | cmp - samples/tokenize-stories.txt && echo 'text round trip: identical bytes'"

# NumPy arrays become tensor records; streams concatenate with cat.
run "$BIN/inspect --from-npy samples/embedding.npy --meta '{\"name\":\"embedding\"}' > $OUT/emb.rnl"
run "$BIN/inspect --from-npy samples/token-ids.npy --meta '{\"name\":\"ids\"}' > $OUT/ids.rnl"
run "cat $OUT/emb.rnl $OUT/ids.rnl > $OUT/both.rnl"
run "$BIN/inspect $OUT/both.rnl"
run "$BIN/inspect --json -l -r 2 $OUT/both.rnl"

# Select a record, convert it back, and check nothing changed on the way.
run "$BIN/inspect -r 0 $OUT/both.rnl | $BIN/inspect --to-npy $OUT/emb-back.npy"
run "cmp samples/embedding.npy $OUT/emb-back.npy && echo 'round trip: identical bytes'"

# Damage is caught and named, never silently used.
run "head -c 1000 $OUT/both.rnl | $BIN/inspect || echo \"(exit status \$?)\""
