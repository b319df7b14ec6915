/* seg_prompt — the prompts of promptable segmentation, as users write
 * them: command-line boxes and clicks, and JSON lines for batch jobs.
 *
 * A prompt set holds the instances to segment in one image. Text forms:
 *
 *   box    "X1,Y1,X2,Y2"   pixels, X2/Y2 exclusive; starts a new instance
 *   point  "X,Y" or "X,Y,L" L = 1 object (the default), 0 background;
 *                          joins the instance of the latest box, or, before
 *                          any box, one box-less instance of its own
 *   line   {"frame": 3, "instances": [{"id": 7, "label": "plant",
 *           "box": [X1, Y1, X2, Y2], "points": [[X, Y], [X, Y, 0]]}, ...]}
 *          one JSON object per image or frame; "frame" (optional) must
 *          match the frame it is used for; per instance "box" and/or
 *          "points" are required, "id" (a positive integer) and "label"
 *          are optional.
 *
 *     struct rn_seg_prompts ps;
 *     rn_seg_prompts_init(&ps);
 *     if (rn_seg_prompts_add_box(&ps, "40,30,200,180", &e) < 0) ...   // RN_EUSAGE
 *     if (rn_seg_prompts_add_point(&ps, "120,100", &e) < 0) ...
 *     rn_seg_prompts_free(&ps);
 *
 * The set owns its instances and their points.
 */
#ifndef RN_SEG_PROMPT_H
#define RN_SEG_PROMPT_H

#include <stdint.h>

#include "err.h"
#include "seg.h"
#include "vismeta.h"

struct rn_seg_inst {
    int64_t id;                    /* object id; 0: not given (number by position) */
    char label[RN_LABEL_MAX];      /* "" if none */
    int has_box;
    double box[4];
    struct rn_seg_point *points;   /* owned */
    int npoints, cap;
};

struct rn_seg_prompts {
    struct rn_seg_inst *inst;      /* owned */
    int n, cap;
};

#define RN_SEG_MAX_INSTANCES 255
#define RN_SEG_MAX_POINTS 1024

void rn_seg_prompts_init(struct rn_seg_prompts *ps);
/* Drop every instance, keeping the memory. */
void rn_seg_prompts_clear(struct rn_seg_prompts *ps);
void rn_seg_prompts_free(struct rn_seg_prompts *ps);

/* Parse and add. Syntax errors, empty boxes (X2 <= X1 or Y2 <= Y1),
 * labels other than 0 and 1, non-finite numbers and too many instances or
 * points are RN_EUSAGE, with a message quoting the text. */
int rn_seg_prompts_add_box(struct rn_seg_prompts *ps, const char *text, struct rn_err *e);
int rn_seg_prompts_add_point(struct rn_seg_prompts *ps, const char *text, struct rn_err *e);

/* Replace ps with the prompts of one JSON line. *frame receives its
 * "frame" (or -1 if absent). Errors are RN_EFORMAT naming the key and the
 * instance ("instance 2: \"box\" needs 4 numbers"); an empty box is an
 * error here too. */
int rn_seg_prompts_parse_json(struct rn_seg_prompts *ps, const char *line, int64_t *frame,
                              struct rn_err *e);

/* The segmentation prompt of instance i (borrows its points). */
void rn_seg_prompts_get(const struct rn_seg_prompts *ps, int i, struct rn_seg_prompt *p);

#endif
