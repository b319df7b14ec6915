/* video — moving pictures in and out through FFmpeg, and the pixel
 * conversions (libswscale) every vision tool shares.
 *
 * A reader decodes any file FFmpeg reads, stdin ("-"), or an input device
 * or filter source named by format ("lavfi" with "testsrc2=rate=30",
 * "v4l2" with "/dev/video0") into 8-bit RGB (or gray) frames, one at a
 * time: memory stays constant however long the input. Rotation metadata
 * is applied, so frames come out the way a player shows them.
 *
 *     struct rn_video_reader *v;
 *     struct rn_video_opts o = {.max_side = 512};
 *     if (rn_video_open(&v, "street.mp4", &o, &e) < 0) rn_die(&e);
 *     struct rn_image im;            // borrows the reader's buffer
 *     struct rn_frame_info fi;
 *     while ((rc = rn_video_read(v, &im, &fi, 0, &e)) == RN_OK) { ... }
 *     rn_video_close(v);             // rc == RN_EOF at the end
 *
 * A writer takes frames of any size and channel count and writes a video
 * (codec from the name, e.g. H.264 for .mp4, or named), an animated GIF,
 * or still images: "out.png" (one frame), "out_%04d.png" (numbered from
 * 0). Named outputs appear under their name only when complete.
 *
 *     struct rn_video_writer *w;
 *     rn_video_writer_open(&w, "out.mp4", &(struct rn_writer_opts){0}, &e);
 *     rn_video_writer_write(w, &im, &fi, &e);   // fps from the first frame
 *     rn_video_writer_close(w, &e);
 */
#ifndef RN_VIDEO_H
#define RN_VIDEO_H

#include <signal.h>
#include <stdint.h>

#include "err.h"
#include "img.h"
#include "vismeta.h"

/* ---- conversion ---------------------------------------------------------- */

/* Scale and convert between 1 (gray), 2 (gray+alpha), 3 (RGB) and 4 (RGBA)
 * channel images, bicubic. A scaler caches its setup between calls with
 * the same sizes; zero it before first use and free it after. */
struct rn_scaler {
    void *sws_;                   /* private: struct SwsContext */
};

/* Convert src into dst (w x h x c). dst is reallocated (owned) unless it
 * already has that shape. */
int rn_scaler_run(struct rn_scaler *s, const struct rn_image *src, int w, int h, int c,
                  struct rn_image *dst, struct rn_err *e);
void rn_scaler_free(struct rn_scaler *s);

/* Output size of a w x h source: size_w x size_h when both are > 0, else
 * scaled down so the longer side is at most max_side (> 0; never up),
 * else unchanged. Sides stay >= 1. */
void rn_video_fit(int w, int h, int size_w, int size_h, int max_side, int *out_w, int *out_h);

/* ---- reading ------------------------------------------------------------- */

struct rn_video_opts {
    const char *format;           /* input format or device ("lavfi", "v4l2"); NULL: probe */
    int size_w, size_h;           /* exact output size; 0: see max_side */
    int max_side;                 /* > 0: longer side at most this many pixels */
    int gray;                     /* 1: one channel (luma), else RGB */
    double fps;                   /* > 0: resample to this rate (drop or repeat frames) */
    volatile sig_atomic_t *stop;  /* non-NULL: reading ends (RN_EOF) once *stop is set */
};

struct rn_video_reader;

/* Open url ("-": stdin) for decoding its best video stream. The reader
 * keeps a copy of what it needs from o. On error *v is NULL. */
int rn_video_open(struct rn_video_reader **v, const char *url, const struct rn_video_opts *o,
                  struct rn_err *e);

enum rn_video_read_flags {
    RN_VIDEO_SKIP = 1,            /* decode and count the frame but do not convert it */
};

/* Next frame. im borrows the reader's pixels (valid until the next call or
 * close; untouched with RN_VIDEO_SKIP). fi: index (0-based position in the
 * output sequence, after --fps resampling), t (seconds from the stream
 * start; with fps resampling, index / fps), fps (the stream's average
 * rate, or o->fps) and source (url). Returns RN_OK, RN_EOF, or an error. */
int rn_video_read(struct rn_video_reader *v, struct rn_image *im, struct rn_frame_info *fi,
                  int flags, struct rn_err *e);

/* The stream's frame rate (0 if unknown) and rotation in degrees
 * clockwise (0, 90, 180, 270) that rn_video_read applies. */
double rn_video_fps(const struct rn_video_reader *v);
int rn_video_rotation(const struct rn_video_reader *v);

/* Release everything; NULL is a no-op. */
void rn_video_close(struct rn_video_reader *v);

/* ---- writing ------------------------------------------------------------- */

struct rn_writer_opts {
    const char *format;           /* FFmpeg muxer ("mp4", "matroska"); NULL: from the name */
    const char *codec;            /* FFmpeg encoder ("libx264", "mpeg4"); NULL: the muxer's */
    double fps;                   /* > 0: output rate; else the first frame's, else 25 */
    int quality;                  /* JPEG quality 1..100 for .jpg stills; 0: 90 */
};

struct rn_video_writer;

/* Prepare to write path ("-": stdout, which needs o->format). Nothing is
 * created until the first frame. On error *w is NULL. */
int rn_video_writer_open(struct rn_video_writer **w, const char *path,
                         const struct rn_writer_opts *o, struct rn_err *e);
/* Add a frame (borrowed). The first frame fixes the output size; later
 * frames of another size are scaled to it. fi may be NULL. A single still
 * image name ("out.png") accepts one frame only: a second is RN_EUSAGE. */
int rn_video_writer_write(struct rn_video_writer *w, const struct rn_image *im,
                          const struct rn_frame_info *fi, struct rn_err *e);
/* Flush the encoder, finish the file and move it into place. Always
 * releases w; with no frame written, nothing is created and the result is
 * RN_EFORMAT. */
int rn_video_writer_close(struct rn_video_writer *w, struct rn_err *e);
/* Release w and remove any partial output; NULL is a no-op. */
void rn_video_writer_abort(struct rn_video_writer *w);

/* Frames written so far. */
int64_t rn_video_writer_count(const struct rn_video_writer *w);

#endif
