/* vismeta — the metadata of frame and masks records, in one place, so
 * every vision tool writes and reads the same keys (runnel-stream(5)):
 *
 *   frame: {"frame": 12, "t": 0.4, "fps": 30, "source": "street.mp4"}
 *   masks: {"frame": 12, "instances": [{"id": 3, "score": 0.92,
 *            "box": [x1, y1, x2, y2], "label": "bag"}, ...]}
 *
 * A masks record follows the frame record it belongs to; its payload is
 * N x H x W u8 (0 background, 255 object; H x W may be smaller than the
 * frame: consumers scale). Boxes are in frame pixels, x2/y2 exclusive.
 *
 *     struct rn_frame_info fi;
 *     if (rn_frame_info_parse(rec.meta, &fi, &e) < 0) ...
 *     char *meta = rn_masks_meta_format(fi.index, inst, n);   // caller frees
 */
#ifndef RN_VISMETA_H
#define RN_VISMETA_H

#include <stdint.h>

#include "err.h"

#define RN_LABEL_MAX 128
#define RN_SOURCE_MAX 256

struct rn_frame_info {
    int64_t index;               /* frame number in its source, from 0 */
    double t;                    /* timestamp in seconds (-1: unknown) */
    double fps;                  /* frames per second (0: unknown) */
    char source[RN_SOURCE_MAX];  /* file or device name; "" if unknown */
};

struct rn_instance {
    int64_t id;                  /* object id, stable across frames when tracked */
    double score;                /* in [0, 1] */
    double box[4];               /* x1, y1, x2, y2 in frame pixels */
    char label[RN_LABEL_MAX];    /* the concept or prompt; "" if none */
};

/* Frame metadata as a JSON object string; the caller frees it. NULL only
 * when out of memory. */
char *rn_frame_meta_format(const struct rn_frame_info *fi);
/* Parse frame metadata; missing keys get defaults (index 0, t -1, fps 0,
 * source ""); keys of the wrong type are RN_EFORMAT naming the key. */
int rn_frame_info_parse(const char *meta, struct rn_frame_info *fi, struct rn_err *e);

/* Masks metadata for n instances of frame `frame`; the caller frees it. */
char *rn_masks_meta_format(int64_t frame, const struct rn_instance *inst, int n);
/* Parse masks metadata into a new array (*inst, caller frees) of *n
 * instances, checking that scores are in [0, 1] and boxes have 4 numbers.
 * expect_n >= 0 also checks the count against the payload's N. */
int rn_masks_meta_parse(const char *meta, int64_t *frame, struct rn_instance **inst, int *n,
                        int expect_n, struct rn_err *e);

#endif
