#!/usr/bin/env bats
# segment against OpenCV's GrabCut (Debian's python3-opencv), on ground
# truth: opencv-doc's alpha-matting sample (plant.jpg and its matte,
# binarized at 50%) and synthetic images made by segment_ref.py. The same
# prompts and the same number of iterations go to both; segment's IoU
# must be at least OpenCV's. Then the stream contract and every way a
# prompt can be wrong (exit 1 for bad data, 2 for bad usage).

setup_file() {
    export S="$RUNNEL_BIN/segment" REF="$BATS_TEST_DIRNAME/segment_ref.py"
    export PY=/usr/bin/python3
    export DOCS=/usr/share/doc/opencv-doc/examples/alphamat
    export PLANT="$DOCS/input_images/plant.jpg" MATTE="$DOCS/output_mattes/plant_result.png"
    export SYN="$BATS_FILE_TMPDIR/syn"
    mkdir -p "$SYN"
    if $PY -c 'import cv2' 2>/dev/null; then "$PY" "$REF" synth "$SYN"; fi
}

setup() {
    T="$BATS_TEST_TMPDIR"
}

need_ref() {
    $PY -c 'import cv2' 2>/dev/null || skip "python3-opencv is not installed (make deps-check)"
    [ -f "$PLANT" ] || skip "opencv-doc is not installed (make deps-check)"
}

# compare IMAGE GT ITERS PROMPT...: IoU of segment and of cv2.grabCut
# with the same prompts; fails unless segment's is at least OpenCV's.
compare() {
    local img=$1 gt=$2 iters=$3
    shift 3
    OMP_NUM_THREADS=2 "$S" -n "$iters" "$@" -o "$T/mask.png" "$img"
    ours=$("$PY" "$REF" iou "$T/mask.png" "$gt")
    ref=$("$PY" "$REF" grabcut "$img" "$gt" "$iters" --repeat 1 "$@")
    ref=${ref#iou=}
    ref=${ref%% *}
    echo "# $(basename "$img") $*: IoU segment $ours, cv2.grabCut $ref" >&3
    "$PY" -c "import sys; sys.exit(0 if $ours >= $ref else 1)" \
        || { echo "segment IoU $ours < OpenCV $ref"; false; }
}

PLANT_BOX="--box 53,0,500,333"
PLANT_CLICKS="-p 275,290 -p 250,90 -p 120,240,0 -p 100,305,0 -p 390,300,0 -p 470,300,0"

@test "plant.jpg, box: IoU at least OpenCV's GrabCut" {
    need_ref
    compare "$PLANT" "$MATTE" 5 $PLANT_BOX
}

@test "plant.jpg, box and six clicks: IoU at least OpenCV's, and above 0.8" {
    need_ref
    compare "$PLANT" "$MATTE" 5 $PLANT_BOX $PLANT_CLICKS
    "$PY" -c "import sys; sys.exit(0 if $ours > 0.8 else 1)"
}

@test "synthetic textured images, box: IoU at least OpenCV's, and above 0.97" {
    need_ref
    for i in 1 2 3; do
        compare "$SYN/synth$i.png" "$SYN/synth${i}_gt.png" 5 $(cat "$SYN/synth$i.args")
        "$PY" -c "import sys; sys.exit(0 if $ours > 0.97 else 1)"
    done
}

@test "fewer iterations: still at least OpenCV's with the same count" {
    need_ref
    compare "$SYN/synth2.png" "$SYN/synth2_gt.png" 2 $(cat "$SYN/synth2.args")
}

@test "a stream: each frame forwarded, its masks record right after it" {
    need_ref
    "$S" -b 53,0,500,333 -b 300,200,420,333 "$PLANT" "$SYN/synth1.png" > "$T/out.rnl"
    run "$RUNNEL_BIN/inspect" --json "$T/out.rnl"
    [ "$status" -eq 0 ]
    printf '%s\n' "${lines[@]}" > "$T/list.json"
    "$PY" - "$T/list.json" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
kinds = [r["kind"] for r in recs]
assert kinds == ["frame", "masks", "frame", "masks", "end"], kinds
assert recs[0]["shape"] == [333, 500, 3] and recs[1]["shape"] == [2, 333, 500]
assert recs[0]["meta"]["frame"] == 0 and recs[2]["meta"]["frame"] == 1
m = recs[1]["meta"]
assert m["frame"] == 0 and [i["id"] for i in m["instances"]] == [1, 2]
for i in m["instances"]:
    assert 0 <= i["score"] <= 1 and len(i["box"]) == 4
b = m["instances"][0]["box"]
assert 53 <= b[0] < b[2] <= 500 and 0 <= b[1] < b[3] <= 333, b
EOF
}

@test "records it does not segment pass through, in order; -o equals the stream" {
    need_ref
    # masks records from a first run are not consumed by a second one
    "$S" -b 53,0,500,333 "$PLANT" | "$S" -b 100,100,200,200 > "$T/two.rnl"
    run "$RUNNEL_BIN/inspect" "$T/two.rnl"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *frame* ]]
    # the new record (box 100..200, or empty) first, then the forwarded one
    [[ "${lines[1]}" =~ masks.*\"box\":\[(1[0-9][0-9]|0), ]]
    [[ "${lines[2]}" =~ masks.*\"box\":\[(5[3-9]|[6-9][0-9]), ]]
    [[ "${lines[3]}" == *end* ]]
    # the masks plane of the stream is the -o image
    "$S" -b 53,0,500,333 "$PLANT" > "$T/one.rnl"
    "$S" -b 53,0,500,333 -o "$T/m.png" "$PLANT"
    "$RUNNEL_BIN/inspect" -r 1 --to-npy "$T/m.npy" "$T/one.rnl"
    "$PY" -c "
import cv2, numpy as np, sys
a = np.load('$T/m.npy')[0]; b = cv2.imread('$T/m.png', 0)
sys.exit(0 if (a == b).all() and set(np.unique(a)) <= {0, 255} else 1)"
}

@test "--refine starts from the masks records of the input and consumes them" {
    need_ref
    "$S" -b 53,0,500,333 "$PLANT" | "$S" --refine -p 390,300,0 > "$T/r.rnl"
    run "$RUNNEL_BIN/inspect" "$T/r.rnl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ "${lines[1]}" == *masks*'"id":1'* ]]
    # a frame with no masks record after it cannot be refined
    "$S" -b 53,0,500,333 "$PLANT" | "$RUNNEL_BIN/inspect" -k frame > "$T/f.rnl"
    run "$S" --refine "$T/f.rnl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"frame 0: no masks record follows it"* ]]
    # a masks record with no instances gives one with none
    PYTHONPATH="$BATS_TEST_DIRNAME" "$PY" -c "
import rnl
fr = next(iter(rnl.read_stream(open('$T/f.rnl', 'rb'))))
with open('$T/f0.rnl', 'wb') as f:
    w = rnl.Writer(f)
    w.write('frame', 'u8', fr.dims, fr.payload, meta=fr.meta)
    w.write('masks', 'u8', [0] + list(fr.dims[:2]), b'', meta={'frame': 0, 'instances': []})
    w.close()"
    "$S" --refine "$T/f0.rnl" | "$RUNNEL_BIN/inspect" -k masks -l > "$T/l.txt"
    grep -q '\[0, 333, 500\].*"instances":\[\]' "$T/l.txt"
}

@test "--prompts: one JSON line per image, ids and labels kept" {
    need_ref
    cat > "$T/p.jsonl" <<'EOF'
{"frame": 0, "instances": [{"id": 7, "label": "plant", "box": [53, 0, 500, 333]}]}

{"instances": [{"box": [61, 31, 291, 224], "points": [[160, 120]]}, {"points": [[20, 20, 1]]}]}
EOF
    "$S" --prompts "$T/p.jsonl" "$PLANT" "$SYN/synth1.png" > "$T/p.rnl"
    run "$RUNNEL_BIN/inspect" -k masks -l "$T/p.rnl"
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *'"id":7,'*'"label":"plant"'* ]]
    [[ "${lines[1]}" == *'"id":1,'*'"id":2,'* ]]
    # a line for the wrong frame, a malformed line, too few lines: exit 1
    echo '{"frame": 3, "instances": [{"box": [1, 1, 9, 9]}]}' > "$T/bad.jsonl"
    run "$S" --prompts "$T/bad.jsonl" -o "$T/x.png" "$PLANT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"bad.jsonl: line 1: prompts are for frame 3, but the frame is 0"* ]]
    printf '{"instances": [{"box": [1, 1, 9, 9]}]}\n{"instances": [{"box": [1, 2]}]}\n' > "$T/bad.jsonl"
    run "$S" --prompts "$T/bad.jsonl" "$PLANT" "$PLANT"
    [ "$status" -eq 1 ]
    [[ "$output" == *'bad.jsonl: line 2: instance 1: "box" needs 4 numbers'* ]]
    echo '{"instances": [{"box": [1, 1, 9, 9]}' > "$T/bad.jsonl"
    run "$S" --prompts "$T/bad.jsonl" -o "$T/x.png" "$PLANT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"bad.jsonl: line 1: not a JSON object"* ]]
    echo '{"instances": [{"box": [1, 1, 9, 9]}]}' > "$T/short.jsonl"
    run "$S" --prompts "$T/short.jsonl" "$PLANT" "$PLANT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"short.jsonl: no line of prompts left for frame 1"* ]]
}

@test "prompts that do not fit the image: exit 1, naming the prompt" {
    need_ref
    run "$S" -b 600,0,700,50 -o "$T/x.png" "$PLANT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"plant.jpg: frame 0: instance 1: box 600,0,700,50 lies outside the 500x333 image"* ]]
    run "$S" -b 10,10,100,100 -b 10,400,100,500 -o "$T/x.png" "$PLANT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"instance 2: box 10,400,100,500 lies outside"* ]]
    run "$S" -b 10,10,100,100 -p 50,50 -p 700,20,0 -o "$T/x.png" "$PLANT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"point 700,20,0 lies outside the 500x333 image"* ]]
    [ ! -e "$T/x.png" ]
    # no half stream is left behind: the writer aborts without an END record
    run bash -c "'$S' -b 600,0,700,50 '$PLANT' | '$RUNNEL_BIN/inspect' --check"
    [ "$status" -ne 0 ]
}

@test "bad flags: exit 2 with a usage message" {
    for args in "-b 1,2,3" "-b 10,10,5,20" "-b 10,10,10,20" "-b a,b,c,d" "-p 1" "-p 1,2,3" \
                "-n 0" "-n 101" "--gamma -1" "--components 9" "--work-pixels 10" \
                "--radius -2" "-b 1,1,5,5 -o x.txt" "-b 1,1,5,5 -o m%s.png" \
                "--refine -b 1,1,9,9" "--prompts p.jsonl -b 1,1,9,9" ""; do
        run "$S" -o "$T/y.png" $args /dev/null
        [ "$status" -eq 2 ] || { echo "args '$args': status $status: $output"; false; }
        [[ "$output" == *"Try 'segment --help'"* ]] || { echo "args '$args': $output"; false; }
    done
    run "$S" -b 1,2,3
    [[ "$output" == *"box '1,2,3' is not X1,Y1,X2,Y2"* ]]
    run "$S" -b 10,10,5,20
    [[ "$output" == *"box '10,10,5,20' is empty"* ]]
}

@test "unreadable inputs and -o without %d for several frames: exit 1" {
    need_ref
    run "$S" -b 1,1,9,9 -o "$T/x.png" "$T/missing.jpg"
    [ "$status" -eq 1 ]
    [[ "$output" == *missing.jpg* ]]
    run "$S" --prompts "$T/missing.jsonl" -o "$T/x.png" "$PLANT"
    [ "$status" -eq 1 ]
    run "$S" -b 53,0,500,333 -o "$T/x.png" "$PLANT" "$PLANT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"several frames need a %d"* ]]
    run "$S" -b 53,0,500,333 -o "$T/m_%03d.png" "$PLANT" "$PLANT"
    [ "$status" -eq 0 ]
    [ -f "$T/m_000.png" ] && [ -f "$T/m_001.png" ]
}

@test "the man page's examples run as written" {
    need_ref
    cd "$T"
    cp "$PLANT" plant.jpg
    cp "$PLANT" photo.jpg
    mkdir photos masks
    cp "$PLANT" photos/a.jpg
    cp "$PLANT" photos/b.jpg
    printf '%s\n' '{"instances": [{"box": [53, 0, 500, 333]}]}' \
        '{"instances": [{"box": [200, 180, 370, 333]}]}' > boxes.jsonl
    # commands between .EX and .EE in EXAMPLES, continuation lines joined
    sed -n '/^\.SH EXAMPLES/,/^\.SH SEE ALSO/p' "$BATS_TEST_DIRNAME/../../man/man1/segment.1" |
        sed -n '/^\.EX/,/^\.EE/p' | grep -v '^\.E[XE]' | sed 's/\\-/-/g' |
        sed -e ':a' -e '/\\e$/N; s/\\e\n *//; ta' > examples.sh
    [ "$(wc -l < examples.sh)" -ge 6 ]
    while IFS= read -r cmd; do
        PATH="$RUNNEL_BIN:$PATH" bash -o pipefail -c "$cmd" > out.txt 2> err.txt ||
            { echo "example failed: $cmd"; cat err.txt; false; }
    done < examples.sh
    [ -s mask.png ] && [ -f masks/0000.png ] && [ -f masks/0001.png ] && [ -s b.rnl ]
}
