#!/usr/bin/env bats
# frames through its command line: clips made here with the ffmpeg CLI
# (known frame count, size and rate) decode to exactly those frames, with
# the pixels `ffmpeg -f rawvideo -pix_fmt rgb24` gives; encoding round
# trips; live sources stop at --count; errors exit 1 (2 for usage).

setup_file() {
    export C="$BATS_FILE_TMPDIR"
    # 10 frames, 96x64, 12 fps.
    ffmpeg -v error -f lavfi -i testsrc2=size=96x64:rate=12 -frames:v 10 \
        -pix_fmt yuv420p -c:v libx264 "$C/clip.mp4"
    cat > "$C/rn.py" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import rnl
cmd, path = sys.argv[2], sys.argv[3]
recs = list(rnl.read_stream(open(path, "rb")))
frames = [r for r in recs if r.kind_name() == "frame"]
if cmd == "raw":        # frame payloads, concatenated; "N HxWxC" on stdout
    open(sys.argv[4], "wb").write(b"".join(r.payload for r in frames))
    print(len(frames), "x".join(map(str, frames[0].dims)) if frames else "-")
elif cmd == "meta":     # one JSON object per frame record
    for r in frames:
        print(json.dumps(r.meta, sort_keys=True))
elif cmd == "kinds":    # the kinds in order
    print(" ".join(r.kind_name() for r in recs))
PY
}

setup() {
    F="$RUNNEL_BIN/frames"
    T="$BATS_TEST_TMPDIR"
    REF="$BATS_TEST_DIRNAME/../ref"
}

rn() { /usr/bin/python3 "$C/rn.py" "$REF" "$@"; }

@test "a clip decodes to exactly its frames, pixel for pixel as ffmpeg converts them" {
    "$F" "$C/clip.mp4" > "$T/c.rnl"
    run rn raw "$T/c.rnl" "$T/ours.raw"
    [ "$status" -eq 0 ]
    [ "$output" = "10 64x96x3" ]
    ffmpeg -v error -i "$C/clip.mp4" -f rawvideo -pix_fmt rgb24 "$T/ffmpeg.raw"
    cmp "$T/ours.raw" "$T/ffmpeg.raw"
}

@test "frame metadata: index, timestamp, fps and source" {
    "$F" "$C/clip.mp4" > "$T/c.rnl"
    run rn meta "$T/c.rnl"
    [ "${lines[0]}" = "{\"fps\": 12, \"frame\": 0, \"source\": \"$C/clip.mp4\", \"t\": 0}" ]
    [[ "${lines[3]}" == *'"frame": 3,'*'"t": 0.25'* ]]
    [ "${#lines[@]}" -eq 10 ]
}

@test "--size and --gray match ffmpeg's scale filter exactly" {
    "$F" --size 40x30 --gray "$C/clip.mp4" > "$T/g.rnl"
    run rn raw "$T/g.rnl" "$T/ours.raw"
    [ "$output" = "10 30x40x1" ]
    ffmpeg -v error -i "$C/clip.mp4" -vf scale=40:30 -f rawvideo -pix_fmt gray "$T/ffmpeg.raw"
    cmp "$T/ours.raw" "$T/ffmpeg.raw"
}

@test "--max-side keeps the aspect and never enlarges" {
    "$F" --max-side 48 "$C/clip.mp4" --count 1 > "$T/a.rnl"
    run rn raw "$T/a.rnl" "$T/a.raw"
    [ "$output" = "1 32x48x3" ]
    "$F" --max-side 500 "$C/clip.mp4" --count 1 > "$T/b.rnl"
    run rn raw "$T/b.rnl" "$T/b.raw"
    [ "$output" = "1 64x96x3" ]
}

@test "--start, --every and --count pick frames by their index" {
    "$F" --start 2 --every 3 --count 3 "$C/clip.mp4" > "$T/s.rnl"
    run rn meta "$T/s.rnl"
    [ "${#lines[@]}" -eq 3 ]
    [[ "${lines[0]}" == *'"frame": 2,'* ]]
    [[ "${lines[1]}" == *'"frame": 5,'* ]]
    [[ "${lines[2]}" == *'"frame": 8,'* ]]
}

@test "--fps resamples by timestamps: half the rate, half the frames" {
    "$F" --fps 6 "$C/clip.mp4" > "$T/f.rnl"
    run rn meta "$T/f.rnl"
    [ "${#lines[@]}" -eq 5 ]
    [[ "${lines[1]}" == *'"fps": 6,'*'"t": 0.16666'* ]]
    "$F" --fps 24 "$C/clip.mp4" > "$T/f2.rnl"
    run rn meta "$T/f2.rnl"
    [ "${#lines[@]}" -eq 20 ]
}

@test "variable frame rate: each frame keeps its own timestamp; --fps fills the gaps" {
    ffmpeg -v error -f lavfi -i testsrc2=size=32x24:rate=10 -frames:v 8 \
        -vf "setpts='if(lt(N,4),N,N*3)/10/TB'" -fps_mode vfr -c:v ffv1 "$T/vfr.mkv"
    want=$(ffprobe -v error -show_entries frame=best_effort_timestamp_time -of csv=p=0 \
        "$T/vfr.mkv" | awk '{ printf "%g\n", $1 }')
    "$F" "$T/vfr.mkv" > "$T/v.rnl"
    got=$(rn meta "$T/v.rnl" | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin: print("%g" % json.loads(line)["t"])')
    [ "$got" = "$want" ]
    [ "$(echo "$want" | sed -n 5p)" != "0.4" ]   # the clip really has a gap
    # At a constant 10 fps the gaps are filled by repeating frames: one
    # output per 0.1 s up to the last frame's end.
    last=$(echo "$want" | tail -1)
    "$F" --fps 10 "$T/vfr.mkv" > "$T/c.rnl"
    run rn raw "$T/c.rnl" "$T/c.raw"
    [ "${output%% *}" -eq "$(awk -v t="$last" 'BEGIN { printf "%d", t * 10 + 1.5 }')" ]
}

@test "memory stays flat however many frames stream through" {
    [ -x /usr/bin/time ] || skip "/usr/bin/time not installed"
    # Under AddressSanitizer, freed blocks wait in a quarantine (256 MB by
    # default) that would look like growth: turn it off for this check.
    rss() {
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0" /usr/bin/time -f %M -o "$T/rss" \
            "$F" --format lavfi testsrc2=size=320x240 --count "$1" > /dev/null
        cat "$T/rss"
    }
    small=$(rss 20)
    large=$(rss 1000)
    echo "peak RSS: $small KiB for 20 frames, $large KiB for 1000"
    [ "$large" -lt $((small + 8192)) ]
}

@test "a live lavfi source runs until --count" {
    run bash -c "'$F' --format lavfi testsrc2=size=64x48:rate=25 --count 7 > '$T/live.rnl'"
    [ "$status" -eq 0 ]
    run rn raw "$T/live.rnl" "$T/live.raw"
    [ "$output" = "7 48x64x3" ]
}

@test "SIGINT ends a live source with a complete stream" {
    "$F" --format lavfi "testsrc2=size=32x24:rate=25,realtime" > "$T/live.rnl" &
    pid=$!
    sleep 1
    kill -INT "$pid"
    wait "$pid"
    "$RUNNEL_BIN/inspect" --check "$T/live.rnl"
    run rn raw "$T/live.rnl" "$T/live.raw"
    n=${output%% *}
    [ "$n" -ge 5 ] && [ "$n" -le 60 ]
}

@test "frame indices run on across inputs" {
    "$F" "$C/clip.mp4" "$C/clip.mp4" --every 4 > "$T/two.rnl"
    run rn meta "$T/two.rnl"
    [ "${#lines[@]}" -eq 5 ]
    [[ "${lines[3]}" == *'"frame": 12,'*'"t": 0.166'* ]]
}

@test "stdin: a video piped in decodes like the file" {
    cat "$C/clip.mp4" | "$F" > "$T/p.rnl"
    "$F" "$C/clip.mp4" > "$T/c.rnl"
    rn raw "$T/p.rnl" "$T/p.raw"
    rn raw "$T/c.rnl" "$T/c.raw"
    cmp "$T/p.raw" "$T/c.raw"
}

@test "stdin: a piped stream passes through, a piped photo is decoded as an image" {
    "$F" "$C/clip.mp4" --count 3 > "$T/c.rnl"
    cat "$T/c.rnl" | "$F" --max-side 48 > "$T/s.rnl"
    run rn raw "$T/s.rnl" "$T/s.raw"
    [ "$output" = "3 32x48x3" ]
    ffmpeg -v error -f lavfi -i testsrc2=size=40x30 -frames:v 1 -pix_fmt rgba "$T/a.png"
    cat "$T/a.png" | "$F" > "$T/p.rnl"
    run rn raw "$T/p.rnl" "$T/p.raw"
    [ "$output" = "1 30x40x4" ]        # alpha kept: libpng read it, not FFmpeg
    run rn meta "$T/p.rnl"
    [ "$output" = '{"frame": 0, "source": "stdin"}' ]
}

@test "rotation metadata is applied as players do" {
    ffmpeg -v error -i "$C/clip.mp4" -c copy -metadata:s:v rotate=90 "$T/rot.mp4"
    "$F" "$T/rot.mp4" > "$T/r.rnl"
    run rn raw "$T/r.rnl" "$T/ours.raw"
    [ "$output" = "10 96x64x3" ]
    ffmpeg -v error -i "$T/rot.mp4" -f rawvideo -pix_fmt rgb24 "$T/ffmpeg.raw"
    cmp "$T/ours.raw" "$T/ffmpeg.raw"
}

@test "lossless encode and decode round trip is exact (-o .mkv --codec png)" {
    "$F" "$C/clip.mp4" > "$T/c.rnl"
    "$F" -o "$T/rt.mkv" --codec png < "$T/c.rnl"
    "$F" "$T/rt.mkv" > "$T/back.rnl"
    rn raw "$T/c.rnl" "$T/a.raw"
    run rn raw "$T/back.rnl" "$T/b.raw"
    [ "$output" = "10 64x96x3" ]
    cmp "$T/a.raw" "$T/b.raw"
}

@test "H.264 round trip keeps count, rate and size, pixels within the codec's loss" {
    "$F" "$C/clip.mp4" > "$T/c.rnl"
    "$F" -o "$T/out.mp4" < "$T/c.rnl"
    run ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=codec_name,nb_read_frames,avg_frame_rate,width,height -of csv=p=0 \
        "$T/out.mp4"
    [ "$output" = "h264,96,64,12/1,10" ]
    "$F" "$T/out.mp4" > "$T/back.rnl"
    rn raw "$T/c.rnl" "$T/a.raw"
    rn raw "$T/back.rnl" "$T/b.raw"
    /usr/bin/python3 -c "
import sys
a = open('$T/a.raw', 'rb').read(); b = open('$T/b.raw', 'rb').read()
assert len(a) == len(b)
mean = sum(abs(x - y) for x, y in zip(a, b)) / len(a)
print('mean abs difference', mean)
assert mean < 4, mean"
}

@test "--fps sets the output rate of -o" {
    "$F" "$C/clip.mp4" | "$F" -o "$T/o.mp4" --fps 5
    run ffprobe -v error -select_streams v:0 -show_entries stream=avg_frame_rate -of csv=p=0 \
        "$T/o.mp4"
    [ "$output" = "5/1" ]
}

@test "images in, numbered PNGs out, pixels unchanged (alpha too)" {
    ffmpeg -v error -f lavfi -i testsrc2=size=40x30 -frames:v 1 -pix_fmt rgba "$T/a.png"
    ffmpeg -v error -f lavfi -i testsrc2=size=20x10 -frames:v 1 "$T/b.png"
    "$F" "$T/a.png" "$T/b.png" | "$F" -o "$T/out_%03d.png"
    [ -f "$T/out_000.png" ] && [ -f "$T/out_001.png" ] && [ ! -e "$T/out_002.png" ]
    ffmpeg -v error -i "$T/a.png" -f rawvideo -pix_fmt rgba "$T/a.raw"
    ffmpeg -v error -i "$T/out_000.png" -f rawvideo -pix_fmt rgba "$T/o.raw"
    cmp "$T/a.raw" "$T/o.raw"
    "$F" "$T/a.png" "$T/b.png" > "$T/s.rnl"
    run rn meta "$T/s.rnl"
    [[ "${lines[1]}" == *'"frame": 1,'*"\"source\": \"$T/b.png\""* ]]
}

@test "a stream given as input passes its other records through, frames rescaled" {
    "$F" "$C/clip.mp4" --count 2 > "$T/c.rnl"
    printf 'hello' > "$T/h.txt"
    /usr/bin/python3 -c "
import sys; sys.path.insert(0, '$REF'); import rnl
w = rnl.Writer(open('$T/t.rnl', 'wb')); w.write('text', 'u8', [5], b'hello'); w.close()"
    cat "$T/t.rnl" "$T/c.rnl" > "$T/mixed.rnl"
    "$F" --max-side 48 "$T/mixed.rnl" > "$T/out.rnl"
    run rn kinds "$T/out.rnl"
    [ "$output" = "text frame frame end" ]
    run rn raw "$T/out.rnl" "$T/o.raw"
    [ "$output" = "2 32x48x3" ]
}

@test "-o - writes a streamable format to stdout; mp4 on a pipe is refused clearly" {
    "$F" "$C/clip.mp4" | "$F" -o - --format matroska > "$T/o.mkv"
    run ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames \
        -of csv=p=0 "$T/o.mkv"
    [ "$output" = "h264,10" ]
    run bash -c "set -o pipefail; '$F' '$C/clip.mp4' | '$F' -o - --format mp4 | cat > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" == "frames: stdout: cannot start the file on a pipe"* ]]
    run bash -c "'$F' '$C/clip.mp4' | '$F' -o - > /dev/null"
    [ "$status" -eq 2 ]
    [[ "$output" == *"writing video to stdout needs --format"* ]]
}

@test "a GIF is written through FFmpeg's muxer" {
    "$F" "$C/clip.mp4" | "$F" -o "$T/o.gif"
    run ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames \
        -of csv=p=0 "$T/o.gif"
    [ "$output" = "gif,10" ]
}

@test "errors: missing file, not a picture, bad --size, unwritable output" {
    run "$F" "$T/nope.mp4"
    [ "$status" -eq 1 ]
    [[ "$output" == "frames: $T/nope.mp4: cannot open: No such file or directory" ]]
    echo "just text" > "$T/t.png"
    run "$F" "$T/t.png"
    [ "$status" -eq 1 ]
    [[ "$output" == "frames: $T/t.png: "* ]]
    run "$F" --size 10by10 "$C/clip.mp4"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--size: \"10by10\" is not WxH"* ]]
    run "$F" --size 0x10 "$C/clip.mp4"
    [ "$status" -eq 2 ]
    run bash -c "'$F' '$C/clip.mp4' | '$F' -o /nonexistent/dir/out.mp4"
    [ "$status" -eq 1 ]
    [[ "$output" == "frames: /nonexistent/dir/out.mp4: "* ]]
    run bash -c "'$F' '$C/clip.mp4' | '$F' -o '$T/out.unknownext'"
    [ "$status" -eq 2 ]
    run bash -c "'$F' '$C/clip.mp4' --count 2 | '$F' -o '$T/one.png'"
    [ "$status" -eq 2 ]
    [[ "$output" == *"one.png: holds one image"* ]]
    run "$F" --every 0 "$C/clip.mp4"
    [ "$status" -eq 2 ]
    run "$F" --codec libx264 "$C/clip.mp4"
    [ "$status" -eq 2 ]
}

@test "a cut input stream fails -o and leaves no output behind" {
    "$F" "$C/clip.mp4" > "$T/c.rnl"
    head -c 30000 "$T/c.rnl" > "$T/cut.rnl"
    run "$F" -o "$T/out.mp4" "$T/cut.rnl"
    [ "$status" -eq 1 ]
    [ ! -e "$T/out.mp4" ]
    [ -z "$(ls "$T" | grep 'out.mp4.tmp')" ]
}

@test "refuses to write a binary stream to a terminal" {
    command -v script > /dev/null || skip "script(1) not installed"
    run script -qec "'$F' '$C/clip.mp4'" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"refusing to write a binary stream to a terminal"* ]]
}

@test "inspect --to-png and --from-png carry frames and masks both ways" {
    I="$RUNNEL_BIN/inspect"
    ffmpeg -v error -f lavfi -i testsrc2=size=40x30 -frames:v 1 -pix_fmt rgba "$T/a.png"
    "$I" --from-png "$T/a.png" > "$T/a.rnl"
    run rn meta "$T/a.rnl"
    [ "$output" = "{\"frame\": 0, \"source\": \"$T/a.png\"}" ]
    "$I" -k frame --to-png "$T/back.png" "$T/a.rnl"
    ffmpeg -v error -i "$T/a.png" -f rawvideo -pix_fmt rgba "$T/a.raw"
    ffmpeg -v error -i "$T/back.png" -f rawvideo -pix_fmt rgba "$T/b.raw"
    cmp "$T/a.raw" "$T/b.raw"
    # Two 30x40 masks stacked into a 40x60 gray PNG, and back.
    ffmpeg -v error -f lavfi -i testsrc2=size=40x60 -frames:v 1 -pix_fmt gray "$T/m.png"
    meta='{"frame":4,"instances":[{"id":1,"score":1,"box":[0,0,1,1]},{"id":2,"score":0.5,"box":[0,0,1,1]}]}'
    "$I" --from-png "$T/m.png" --meta "$meta" > "$T/m.rnl"
    run "$I" "$T/m.rnl"
    [[ "${lines[0]}" == *"masks   u8    [2, 30, 40]"* ]]
    "$I" --to-png "$T/m2.png" "$T/m.rnl"
    ffmpeg -v error -i "$T/m.png" -f rawvideo -pix_fmt gray "$T/m.raw"
    ffmpeg -v error -i "$T/m2.png" -f rawvideo -pix_fmt gray "$T/m2.raw"
    cmp "$T/m.raw" "$T/m2.raw"
    # Errors: a tensor has no PNG form; RGB cannot be masks; not an image.
    run "$I" --to-png "$T/x.png" "$BATS_TEST_DIRNAME/data/tensor-f32.rnl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"record 0: a tensor record has no PNG form"* ]]
    run bash -c "'$I' --from-png '$T/a.png' --meta '$meta' > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" == *"a masks image must be gray"* ]]
    run bash -c "'$I' --from-png '$BATS_TEST_DIRNAME/data/f32.npy' > /dev/null"
    [ "$status" -eq 1 ]
    run "$I" --from-png "$T/a.png" --to-png "$T/y.png"
    [ "$status" -eq 2 ]
}
