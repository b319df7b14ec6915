#!/usr/bin/env bats
# overlay through its command line: exact pixels on synthetic frame+masks
# streams (fill blend, contour, box, scaled low-resolution masks, cut-outs),
# colours stable per object id, records passed through in order, the
# pipeline into a video, and errors.

setup_file() {
    export C="$BATS_FILE_TMPDIR"
    cat > "$C/rn.py" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import rnl
cmd = sys.argv[2]
if cmd == "make":       # make OUT CODE: run CODE with a Writer `w` and helpers
    w = rnl.Writer(open(sys.argv[3], "wb"))
    def frame(i, w_, h_, c=3, value=100):
        w.write("frame", "u8", [h_, w_, c], bytes([value]) * (w_ * h_ * c), meta={"frame": i})
    def masks(i, mw, mh, rects, insts):
        data = bytearray(len(rects) * mw * mh)
        for n, (x1, y1, x2, y2) in enumerate(rects):
            for y in range(y1, y2):
                for x in range(x1, x2):
                    data[n * mw * mh + y * mw + x] = 255
        w.write("masks", "u8", [len(rects), mh, mw], bytes(data),
                meta={"frame": i, "instances": insts})
    exec(sys.argv[4])
    w.close()
elif cmd == "px":       # px FILE N X Y: pixel (X, Y) of frame record N
    frames = [r for r in rnl.read_stream(open(sys.argv[3], "rb")) if r.kind_name() == "frame"]
    f = frames[int(sys.argv[4])]
    h, w_, c = f.dims
    x, y = int(sys.argv[5]), int(sys.argv[6])
    print(" ".join(str(b) for b in f.payload[(y * w_ + x) * c:(y * w_ + x + 1) * c]))
elif cmd == "kinds":
    print(" ".join(r.kind_name() for r in rnl.read_stream(open(sys.argv[3], "rb"))))
elif cmd == "dims":
    print(" ".join("x".join(map(str, r.dims)) for r in rnl.read_stream(open(sys.argv[3], "rb"))
                   if r.kind_name() == "frame"))
PY
}

setup() {
    O="$RUNNEL_BIN/overlay"
    F="$RUNNEL_BIN/frames"
    T="$BATS_TEST_TMPDIR"
    REF="$BATS_TEST_DIRNAME/../ref"
}

rn() { /usr/bin/python3 "$C/rn.py" "$REF" "$@"; }

# blend COLOUR: the fill over background 100 at --alpha 0.5 (opacity 128/255).
blend() { echo $(( ($1 * 128 + 100 * 127 + 127) / 255 )); }

@test "fill, contour and untouched background have the exact expected pixels" {
    rn make "$T/in.rnl" '
frame(0, 64, 48)
masks(0, 64, 48, [(10, 10, 30, 30)], [{"id": 5, "score": 0.9, "box": [10, 10, 30, 30]}])'
    "$O" --no-boxes --no-labels --contour 1 < "$T/in.rnl" > "$T/out.rnl"
    edge=($(rn px "$T/out.rnl" 0 10 20))       # contour: the colour itself
    inside=$(rn px "$T/out.rnl" 0 20 20)
    [ "$inside" = "$(blend ${edge[0]}) $(blend ${edge[1]}) $(blend ${edge[2]})" ]
    [ "$(rn px "$T/out.rnl" 0 9 20)" = "100 100 100" ]
    [ "$(rn px "$T/out.rnl" 0 40 40)" = "100 100 100" ]
    [ "${edge[*]}" != "100 100 100" ]
    # --alpha 0 and no contour: the frame comes out untouched.
    "$O" --no-boxes --no-labels --contour 0 --alpha 0 < "$T/in.rnl" > "$T/zero.rnl"
    [ "$(rn px "$T/zero.rnl" 0 20 20)" = "100 100 100" ]
    [ "$(rn px "$T/zero.rnl" 0 10 20)" = "100 100 100" ]
}

@test "the same id has the same colour in every frame; other ids differ" {
    rn make "$T/in.rnl" '
for i in range(3):
    frame(i, 64, 48)
    masks(i, 64, 48, [(2 + i, 2, 20 + i, 20), (30, 25 - i, 60, 45 - i)],
          [{"id": 3, "score": 0.9, "box": [0, 0, 0, 0]}, {"id": 7, "score": 0.5, "box": [0, 0, 0, 0]}])'
    "$O" --no-boxes --no-labels < "$T/in.rnl" > "$T/out.rnl"
    # Left edges of id 3 (contours), as it moves right by a pixel a frame.
    a0=$(rn px "$T/out.rnl" 0 2 10); a1=$(rn px "$T/out.rnl" 1 3 10); a2=$(rn px "$T/out.rnl" 2 4 10)
    b0=$(rn px "$T/out.rnl" 0 45 35); b2=$(rn px "$T/out.rnl" 2 45 33)   # fills
    [ "$a0" = "$a1" ] && [ "$a1" = "$a2" ]
    [ "$b0" = "$b2" ]
    [ "$a0" != "$b0" ]
    # A different run, a different order of instances: still the same colours.
    rn make "$T/again.rnl" '
frame(9, 32, 32)
masks(9, 32, 32, [(0, 0, 10, 10), (20, 20, 30, 30)],
      [{"id": 7, "score": 0.5, "box": [0, 0, 0, 0]}, {"id": 3, "score": 0.9, "box": [0, 0, 0, 0]}])'
    "$O" --no-boxes --no-labels < "$T/again.rnl" > "$T/again.out"
    [ "$(rn px "$T/again.out" 0 5 5)" = "$b0" ]
    [ "$(rn px "$T/again.out" 0 20 25)" = "$a0" ]
}

@test "low-resolution masks are scaled to the frame" {
    rn make "$T/in.rnl" '
frame(0, 64, 48)
masks(0, 32, 24, [(8, 6, 16, 12)], [{"id": 1, "score": 1, "box": [16, 12, 32, 24]}])'
    "$O" --no-boxes --no-labels --contour 0 < "$T/in.rnl" > "$T/out.rnl"
    [ "$(rn px "$T/out.rnl" 0 15 18)" = "100 100 100" ]
    [ "$(rn px "$T/out.rnl" 0 16 18)" != "100 100 100" ]
    [ "$(rn px "$T/out.rnl" 0 31 23)" != "100 100 100" ]
    [ "$(rn px "$T/out.rnl" 0 32 18)" = "100 100 100" ]
    [ "$(rn px "$T/out.rnl" 0 20 11)" = "100 100 100" ]
    [ "$(rn px "$T/out.rnl" 0 20 12)" = "$(rn px "$T/out.rnl" 0 24 20)" ]
}

@test "boxes are drawn on the box edges; labels above them, or not at all" {
    rn make "$T/in.rnl" '
frame(0, 120, 90)
masks(0, 120, 90, [(40, 40, 60, 60)], [{"id": 2, "score": 0.92, "box": [30, 30, 80, 70]}])'
    "$O" --alpha 0 --contour 0 --no-labels < "$T/in.rnl" > "$T/box.rnl"
    c=$(rn px "$T/box.rnl" 0 30 50)
    [ "$c" != "100 100 100" ]
    [ "$(rn px "$T/box.rnl" 0 79 69)" = "$c" ]
    [ "$(rn px "$T/box.rnl" 0 50 50)" = "100 100 100" ]
    [ "$(rn px "$T/box.rnl" 0 80 50)" = "100 100 100" ]
    [ "$(rn px "$T/box.rnl" 0 35 25)" = "100 100 100" ]
    "$O" --alpha 0 --contour 0 < "$T/in.rnl" > "$T/label.rnl"
    # The label's tag fills the rows just above the box with the colour.
    [ "$(rn px "$T/label.rnl" 0 31 28)" = "$c" ]
    "$O" --alpha 0 --contour 0 --no-boxes --no-labels < "$T/in.rnl" > "$T/none.rnl"
    [ "$(rn px "$T/none.rnl" 0 30 50)" = "100 100 100" ]
}

@test "labels render with the built-in font when the font file is missing" {
    rn make "$T/in.rnl" '
frame(0, 120, 90)
masks(0, 120, 90, [(40, 40, 60, 60)], [{"id": 2, "score": 0.92, "box": [30, 30, 80, 70]}])'
    run bash -c "'$O' --font '$T/none.ttf' --alpha 0 < '$T/in.rnl' > '$T/b.rnl'"
    [ "$status" -eq 0 ]
    [[ "$output" == *"using the built-in font"* ]]
    "$O" --alpha 0 < "$T/in.rnl" > "$T/f.rnl"
    cmp -s "$T/b.rnl" "$T/f.rnl" && false
    [ "$(rn px "$T/b.rnl" 0 31 28)" = "$(rn px "$T/f.rnl" 0 31 28)" ]
}

@test "--cutout writes RGBA with the masks as alpha" {
    rn make "$T/in.rnl" '
frame(0, 40, 30)
masks(0, 40, 30, [(5, 5, 15, 15), (20, 10, 30, 20)],
      [{"id": 1, "score": 1, "box": [5, 5, 15, 15]}, {"id": 2, "score": 1, "box": [20, 10, 30, 20]}])
frame(1, 40, 30)'
    "$O" --cutout < "$T/in.rnl" > "$T/out.rnl"
    [ "$(rn dims "$T/out.rnl")" = "30x40x4 30x40x4" ]
    [ "$(rn px "$T/out.rnl" 0 6 6)" = "100 100 100 255" ]
    [ "$(rn px "$T/out.rnl" 0 25 15)" = "100 100 100 255" ]
    [ "$(rn px "$T/out.rnl" 0 17 6)" = "100 100 100 0" ]
    [ "$(rn px "$T/out.rnl" 1 6 6)" = "100 100 100 0" ]
    "$O" --cutout -o "$T/cut.png" < <(rn make /dev/stdout 'frame(0, 8, 8)')
    file "$T/cut.png" | grep -q 'RGBA'
}

@test "frames without masks and other records pass through unchanged, in order" {
    /usr/bin/python3 -c "
import sys; sys.path.insert(0, '$REF'); import rnl
w = rnl.Writer(open('$T/t.rnl', 'wb')); w.write('text', 'u8', [2], b'hi'); w.close()"
    rn make "$T/f.rnl" '
frame(0, 16, 16)
masks(0, 16, 16, [(0, 0, 4, 4)], [{"id": 1, "score": 1, "box": [0, 0, 4, 4]}])
frame(1, 16, 16, value=7)'
    cat "$T/f.rnl" "$T/t.rnl" > "$T/in.rnl"
    "$O" < "$T/in.rnl" > "$T/out.rnl"
    [ "$(rn kinds "$T/out.rnl")" = "frame frame text end" ]
    [ "$(rn px "$T/out.rnl" 1 8 8)" = "7 7 7" ]
}

@test "pipeline: frames clip | overlay | frames -o out.mp4 keeps frame count and rate" {
    ffmpeg -v error -f lavfi -i testsrc2=size=80x60:rate=15 -frames:v 12 -pix_fmt yuv420p "$T/clip.mp4"
    "$F" "$T/clip.mp4" | "$O" | "$F" -o "$T/out.mp4"
    run ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=nb_read_frames,avg_frame_rate -of csv=p=0 "$T/out.mp4"
    [ "$output" = "15/1,12" ]
    "$F" "$T/clip.mp4" | "$O" -o "$T/direct.mkv"
    run ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=nb_read_frames -of csv=p=0 "$T/direct.mkv"
    [ "$output" = "12" ]
}

@test "errors: masks for another frame, masks first, not a stream, bad options" {
    rn make "$T/wrong.rnl" '
frame(0, 16, 16)
masks(1, 16, 16, [(0, 0, 4, 4)], [{"id": 1, "score": 1, "box": [0, 0, 4, 4]}])'
    run bash -c "'$O' < '$T/wrong.rnl' > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" == "overlay: stdin: record 1: masks of frame 1 follow frame 0" ]]
    rn make "$T/first.rnl" 'masks(0, 16, 16, [(0, 0, 4, 4)], [{"id": 1, "score": 1, "box": [0, 0, 4, 4]}])'
    run bash -c "'$O' '$T/first.rnl' > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" == *"record 0: masks of frame 0 with no frame record before them"* ]]
    echo "not a stream" > "$T/junk"
    run bash -c "'$O' '$T/junk' > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" == "overlay: $T/junk: "* ]]
    run "$O" --alpha 2
    [ "$status" -eq 2 ]
    run "$O" --fps 10
    [ "$status" -eq 2 ]
    run bash -c "'$O' -o /nonexistent/dir/x.mp4 < '$T/wrong.rnl'"
    [ "$status" -eq 1 ]
}
