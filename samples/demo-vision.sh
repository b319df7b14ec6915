#!/bin/sh
# demo-vision.sh — the vision half of `make demo`: a short video through
# frames | overlay | frames -o, a photo converted, and (once bin/segment
# is built) a photo segmented from a box and drawn. Run from the top of the
# source tree after `make`; outputs go to $DEMO_DIR (build/demo).
set -eu
. "$(dirname "$0")/demo-lib.sh"

# A video becomes frame records, one per picture, with index, time and rate.
run "$BIN/frames samples/vtest.mp4 --count 3 | $BIN/inspect"

# Down a pipe and back into a video; overlay passes frames without masks.
run "$BIN/frames samples/vtest.mp4 --max-side 320 | $BIN/overlay | $BIN/frames -o $OUT/vtest-small.mp4"
run "ffprobe -v error -count_frames -show_entries stream=width,height,avg_frame_rate,nb_read_frames -of compact $OUT/vtest-small.mp4 2>/dev/null || ls -l $OUT/vtest-small.mp4"

# Stills: a JPEG to PNG and a thumbnail, every fourth video frame as JPEGs.
run "$BIN/frames samples/fruits.jpg | $BIN/frames -o $OUT/fruits.png"
run "$BIN/frames samples/messi5.jpg --max-side 160 --gray | $BIN/frames -o $OUT/messi-thumb.png"
run "$BIN/frames samples/vtest.mp4 --every 20 | $BIN/frames -o '$OUT/vtest_%02d.jpg' --quality 85"
run "ls $OUT/vtest_*.jpg"

# A frame record as a PNG through inspect.
run "$BIN/frames samples/fruits.jpg | $BIN/inspect --to-png $OUT/fruits-inspect.png"

if [ -x "$BIN/segment" ]; then
    # Segment the player from a box around him, then draw him and cut him out.
    run "$BIN/frames samples/messi5.jpg | $BIN/segment --box 60,50,470,340 > $OUT/messi-masks.rnl"
    run "$BIN/inspect $OUT/messi-masks.rnl"
    run "$BIN/overlay -o $OUT/messi-overlay.png < $OUT/messi-masks.rnl"
    run "$BIN/overlay --cutout -o $OUT/messi-cutout.png < $OUT/messi-masks.rnl"
else
    say "(bin/segment is not built: skipping the segmentation demo)"
fi
echo
echo "vision demo outputs are in $OUT"
