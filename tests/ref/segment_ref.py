#!/usr/bin/python3
"""segment_ref.py -- OpenCV's GrabCut as the reference for runnel's segment.

Run with Debian's /usr/bin/python3 (python3-opencv, python3-numpy).

    segment_ref.py synth OUTDIR
        write the synthetic test images: OUTDIR/synthN.png, OUTDIR/synthN_gt.png
        and OUTDIR/synthN.args (segment's prompt options, one line)
    segment_ref.py big IMAGE GT OUTDIR PIXELS
        upscale IMAGE and its ground truth to about PIXELS pixels:
        OUTDIR/big.jpg, OUTDIR/big_gt.png; prints the scale factor
    segment_ref.py grabcut IMAGE GT ITERS [--repeat N] [--threads T] [PROMPT...]
        run cv2.grabCut with segment's prompts (PROMPT: "--box X1,Y1,X2,Y2",
        "--point X,Y[,L]", "--radius R"; one box at most) for ITERS
        iterations and print "iou=... cpu_ms=... ms=..." (iou: the first call's mask,
        the reproducible one, against GT > 127; ms: median grabCut call over
        N timed runs after that untimed warm-up, or the first call if N = 0;
        cpu_ms: the same for the process's CPU time, all threads;
        --order rgb feeds RGB instead of cv2.imread's BGR)
    segment_ref.py iou MASK GT
        print the IoU of a mask image (> 0: object) against GT (> 127)

The prompts are translated the way segment defines them: outside the box is
background for certain, inside probably object; a click fixes a disk of
radius R (default 4) to object or background. Without a box, everything
starts as probable background.
"""
import statistics
import sys
import time

import cv2
import numpy as np


def load_gt(path):
    g = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if g is None:
        sys.exit("segment_ref: cannot read %s" % path)
    return g > 127


def iou(a, b):
    u = np.logical_or(a, b).sum()
    return 1.0 if u == 0 else float(np.logical_and(a, b).sum()) / float(u)


def parse_prompts(args):
    box, points, radius = None, [], 4.0
    i = 0
    while i < len(args):
        opt, val = args[i], args[i + 1]
        v = [float(t) for t in val.split(",")]
        if opt in ("--box", "-b"):
            box = v
        elif opt in ("--point", "-p"):
            points.append((v[0], v[1], int(v[2]) if len(v) > 2 else 1))
        elif opt == "--radius":
            radius = v[0]
        else:
            sys.exit("segment_ref: unknown prompt option " + opt)
        i += 2
    return box, points, radius


def initial_mask(shape, box, points, radius):
    h, w = shape
    m = np.full((h, w), cv2.GC_PR_BGD if box is None else cv2.GC_BGD, np.uint8)
    if box is not None:
        x1, y1, x2, y2 = [int(np.ceil(c - 0.5)) for c in
                          (max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h))]
        m[y1:y2, x1:x2] = cv2.GC_PR_FGD
    ys, xs = np.mgrid[0:h, 0:w]
    for x, y, obj in points:
        disk = (xs + 0.5 - x) ** 2 + (ys + 0.5 - y) ** 2 <= radius * radius
        disk[int(y), int(x)] = True
        m[disk] = cv2.GC_FGD if obj else cv2.GC_BGD
    return m


def cmd_grabcut(argv):
    image, gt_path, iters = argv[0], argv[1], int(argv[2])
    rest = argv[3:]
    repeat, threads, order = 3, 2, "bgr"
    while rest and rest[0] in ("--repeat", "--threads", "--order"):
        if rest[0] == "--repeat":
            repeat = int(rest[1])
        elif rest[0] == "--order":
            order = rest[1]
        else:
            threads = int(rest[1])
        rest = rest[2:]
    cv2.setNumThreads(threads)
    im = cv2.imread(image, cv2.IMREAD_COLOR)
    if im is None:
        sys.exit("segment_ref: cannot read %s" % image)
    if order == "rgb":
        im = np.ascontiguousarray(im[:, :, ::-1])
    gt = load_gt(gt_path)
    box, points, radius = parse_prompts(rest)
    m0 = initial_mask(im.shape[:2], box, points, radius)
    times, cpus, first = [], [], None
    for k in range(repeat + 1):
        m = m0.copy()
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        t, c = time.perf_counter(), time.process_time()
        cv2.grabCut(im, m, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
        times.append((time.perf_counter() - t) * 1e3)
        cpus.append((time.process_time() - c) * 1e3)
        if first is None:
            # OpenCV's k-means draws from a process-wide RNG: the first
            # call of a fresh process is the reproducible result.
            first = (m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD)
    timed, cpu = (times[1:], cpus[1:]) if repeat else (times, cpus)
    print("iou=%.6f cpu_ms=%.1f ms=%.1f" % (iou(first, gt), statistics.median(cpu),
                                            statistics.median(timed)))


def cmd_iou(argv):
    m = cv2.imread(argv[0], cv2.IMREAD_GRAYSCALE)
    if m is None:
        sys.exit("segment_ref: cannot read %s" % argv[0])
    print("%.6f" % iou(m > 0, load_gt(argv[1])))


def synth_image(seed, w, h, shape):
    """A textured object on a textured background, with colours that
    overlap (so neither colour model alone decides) and noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    # background: two colours mixed by a wave pattern, plus blotches of a third
    t = 0.5 + 0.5 * np.sin(xs / 9.0 + seed) * np.cos(ys / 6.0)
    bg = np.stack([70 + 90 * t, 100 + 50 * t, 80 + 40 * t], -1)
    blot = (np.sin(xs / 23.0) * np.sin(ys / 17.0 + seed)) > 0.6
    bg[blot] = (150, 120, 90)
    cx, cy = w * (0.45 + 0.1 * (seed % 2)), h * 0.5
    dx, dy = (xs + 0.5 - cx) / (0.28 * w), (ys + 0.5 - cy) / (0.32 * h)
    th = np.arctan2(dy, dx)
    if shape == "star":
        r = 1 + 0.25 * np.sin(5 * th)
    elif shape == "blob":
        r = 1 + 0.12 * np.sin(3 * th + 1) + 0.08 * np.cos(7 * th)
    else:
        r = 1 / np.maximum(np.abs(np.cos(th)), np.abs(np.sin(th)))  # a square
    obj = dx * dx + dy * dy < r * r
    # object: checks of two colours, one of them close to the blotches
    chk = ((xs // 7 + ys // 7) % 2).astype(bool)
    fg = np.where(chk[..., None], np.array([200, 90, 60.0]), np.array([170, 130, 95.0]))
    img = np.where(obj[..., None], fg, bg) + rng.normal(0, 14, (h, w, 3))
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    ys_, xs_ = np.nonzero(obj)
    m = 8
    box = (max(xs_.min() - m, 0), max(ys_.min() - m, 0), min(xs_.max() + 1 + m, w),
           min(ys_.max() + 1 + m, h))
    return img, obj, box


def cmd_synth(argv):
    out = argv[0]
    cases = [(1, 320, 240, "star"), (2, 400, 300, "blob"), (3, 360, 270, "square")]
    for seed, w, h, shape in cases:
        img, obj, box = synth_image(seed, w, h, shape)
        cv2.imwrite("%s/synth%d.png" % (out, seed), img[:, :, ::-1])
        cv2.imwrite("%s/synth%d_gt.png" % (out, seed), obj.astype(np.uint8) * 255)
        with open("%s/synth%d.args" % (out, seed), "w") as f:
            f.write("--box %d,%d,%d,%d\n" % box)


def cmd_big(argv):
    image, gt_path, out, pixels = argv[0], argv[1], argv[2], float(argv[3])
    im = cv2.imread(image, cv2.IMREAD_COLOR)
    g = cv2.imread(gt_path, cv2.IMREAD_GRAYSCALE)
    h, w = g.shape
    f = (pixels / (w * h)) ** 0.5
    size = (int(round(w * f)), int(round(h * f)))
    cv2.imwrite(out + "/big.jpg", cv2.resize(im, size, interpolation=cv2.INTER_CUBIC),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(out + "/big_gt.png", cv2.resize(g, size, interpolation=cv2.INTER_LINEAR))
    print("%.6f %d %d" % (f, size[0], size[1]))


if __name__ == "__main__":
    cmds = {"grabcut": cmd_grabcut, "iou": cmd_iou, "synth": cmd_synth, "big": cmd_big}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2:])
