/* img_pnm — netpbm formats: PBM/PGM/PPM (P1-P6, plain and raw) and PAM (P7)
 * in, any maxval up to 65535 scaled to 8 bits; P5/P6/P7 out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img_private.h"

struct cursor {
    const uint8_t *p;
    size_t n, i;
};

static int is_space(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void skip_blanks(struct cursor *c)
{
    for (;;) {
        while (c->i < c->n && is_space(c->p[c->i]))
            c->i++;
        if (c->i >= c->n || c->p[c->i] != '#')
            return;
        while (c->i < c->n && c->p[c->i] != '\n')
            c->i++;
    }
}

/* Next unsigned decimal of a P1-P6 header or plain body, after blanks and
 * # comments. -1 on a missing or oversized number. */
static long next_number(struct cursor *c)
{
    skip_blanks(c);
    if (c->i >= c->n || c->p[c->i] < '0' || c->p[c->i] > '9')
        return -1;
    long v = 0;
    while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
        v = v * 10 + (c->p[c->i++] - '0');
        if (v > 0x7fffffffL)
            return -1;
    }
    return v;
}

/* PAM header: "KEY value" lines up to ENDHDR. */
static int pam_header(struct cursor *c, long *w, long *h, long *depth, long *maxval,
                      const char *name, struct rn_err *e)
{
    *w = *h = *depth = *maxval = -1;
    while (c->i < c->n) {
        size_t end = c->i;
        while (end < c->n && c->p[end] != '\n')
            end++;
        char line[128];
        size_t len = end - c->i < sizeof line - 1 ? end - c->i : sizeof line - 1;
        memcpy(line, c->p + c->i, len);
        line[len] = 0;
        c->i = end < c->n ? end + 1 : end;
        char key[16];
        long v;
        if (line[0] == '#' || sscanf(line, "%15s", key) != 1)
            continue;
        if (!strcmp(key, "ENDHDR")) {
            if (*w < 0 || *h < 0 || *depth < 0 || *maxval < 0)
                break;
            return RN_OK;
        }
        if (!strcmp(key, "TUPLTYPE"))
            continue;
        if (sscanf(line, "%*s %ld", &v) != 1 || v < 0 || v > 0x7fffffffL)
            return rn_err_set(e, RN_EFORMAT, name, "bad PAM header line \"%s\"", line);
        if (!strcmp(key, "WIDTH"))
            *w = v;
        else if (!strcmp(key, "HEIGHT"))
            *h = v;
        else if (!strcmp(key, "DEPTH"))
            *depth = v;
        else if (!strcmp(key, "MAXVAL"))
            *maxval = v;
    }
    return rn_err_set(e, RN_EFORMAT, name, "PAM header without WIDTH, HEIGHT, DEPTH, MAXVAL "
                                           "and ENDHDR");
}

int rn_pnm_decode(const uint8_t *data, size_t len, const char *name, struct rn_image *im,
                  struct rn_err *e)
{
    struct cursor c = {data, len, 2};
    int kind = data[1] - '0';
    long w, h, depth = kind == 2 || kind == 5 || kind == 1 || kind == 4 ? 1 : 3, maxval = 1;
    memset(im, 0, sizeof *im);
    if (kind == 7) {
        int rc = pam_header(&c, &w, &h, &depth, &maxval, name, e);
        if (rc < 0)
            return rc;
    } else {
        w = next_number(&c);
        h = next_number(&c);
        if (kind != 1 && kind != 4)
            maxval = next_number(&c);
        if (w < 0 || h < 0 || maxval < 0)
            return rn_err_set(e, RN_EFORMAT, name, "bad P%d header", kind);
        if (kind >= 4) {
            if (c.i >= c.n || !is_space(c.p[c.i]))
                return rn_err_set(e, RN_EFORMAT, name, "bad P%d header", kind);
            c.i++; /* exactly one blank before raw pixels */
        }
    }
    if (maxval < 1 || maxval > 65535)
        return rn_err_set(e, RN_EFORMAT, name, "maxval %ld is not in 1..65535", maxval);
    int rc = rn_image_check_size((uint64_t)w, (uint64_t)h, (int)(depth > 4 ? 5 : depth), name, e);
    if (rc < 0)
        return rc;
    size_t count = (size_t)w * h * depth;
    int wide = maxval > 255;
    if (kind >= 5) {
        size_t need = count * (wide ? 2 : 1);
        if (c.n - c.i < need)
            return rn_err_set(e, RN_EFORMAT, name, "truncated P%d data (%zu of %zu bytes)", kind,
                              c.n - c.i, need);
    } else if (kind == 4 && c.n - c.i < (size_t)((w + 7) / 8) * h) {
        return rn_err_set(e, RN_EFORMAT, name, "truncated P4 data");
    } else if (kind <= 3 && c.n - c.i < (kind == 1 ? count : 2 * count - 1)) {
        /* Plain samples take a byte each at least (P1) or a digit and a
         * blank (P2, P3): too few bytes is a cut file, told before any
         * allocation. */
        return rn_err_set(e, RN_EFORMAT, name, "truncated P%d data", kind);
    }
    if ((rc = rn_image_new(im, (int)w, (int)h, (int)depth, e)) < 0)
        return rc;
    for (size_t k = 0; k < count; k++) {
        long v;
        if (kind == 4) {
            size_t y = k / w, x = k % w;
            v = !((c.p[c.i + y * ((w + 7) / 8) + x / 8] >> (7 - x % 8)) & 1);
        } else if (kind == 1) {
            skip_blanks(&c);
            if (c.i >= c.n || (c.p[c.i] != '0' && c.p[c.i] != '1')) {
                rn_image_free(im);
                return rn_err_set(e, RN_EFORMAT, name, "truncated or bad P1 data");
            }
            v = c.p[c.i++] == '0';
        } else if (kind <= 3) {
            if ((v = next_number(&c)) < 0 || v > maxval) {
                rn_image_free(im);
                return rn_err_set(e, RN_EFORMAT, name, "truncated or bad P%d data at sample %zu",
                                  kind, k);
            }
        } else {
            v = wide ? c.p[c.i + 2 * k] << 8 | c.p[c.i + 2 * k + 1] : c.p[c.i + k];
            if (v > maxval)
                v = maxval; /* out-of-range samples: clamp, as netpbm does */
        }
        im->data[k] = (uint8_t)((v * 255 + maxval / 2) / maxval);
    }
    return RN_OK;
}

int rn_pnm_encode(const struct rn_image *im, int pam, const char *name, uint8_t **out,
                  size_t *out_len, struct rn_err *e)
{
    static const char *tupl[5] = {"", "GRAYSCALE", "GRAYSCALE_ALPHA", "RGB", "RGB_ALPHA"};
    char head[160];
    int n;
    if (pam || im->c == 2 || im->c == 4)
        n = snprintf(head, sizeof head, "P7\nWIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL 255\n"
                     "TUPLTYPE %s\nENDHDR\n", im->w, im->h, im->c, tupl[im->c]);
    else
        n = snprintf(head, sizeof head, "P%d\n%d %d\n255\n", im->c == 1 ? 5 : 6, im->w, im->h);
    size_t body = (size_t)im->w * im->h * im->c;
    *out = malloc((size_t)n + body);
    if (!*out)
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    memcpy(*out, head, (size_t)n);
    memcpy(*out + n, im->data, body);
    *out_len = (size_t)n + body;
    return RN_OK;
}
