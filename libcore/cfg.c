/* cfg — see cfg.h. YAML comes through libyaml's event parser, which is
 * iterative and never builds a document tree: a config is one flat
 * mapping, so anything deeper than one level is refused at its first
 * event, and aliases are refused before libyaml could expand them. */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "io.h"

#define FIELD_PTR(cfg, f) ((char *)(cfg) + (f)->offset)

static int nfields(const struct rn_cfg_table *t)
{
    int n = 0;
    while (t->fields[n].name)
        n++;
    return n;
}

const struct rn_cfg_field *rn_cfg_find(const struct rn_cfg_table *t, const char *name)
{
    for (const struct rn_cfg_field *f = t->fields; name && f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

const char *rn_cfg_closest(const struct rn_cfg_table *t, const char *name)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (const struct rn_cfg_field *f = t->fields; name && f->name; f++) {
        size_t d = rn_edit_distance(name, f->name);
        if (d < bestd) {
            bestd = d;
            best = f->name;
        }
    }
    /* a typo (two edits, three for long names) or a dash for an underscore */
    size_t n = name ? strlen(name) : 0;
    return best && (bestd <= 2 || (bestd <= 3 && n >= 10)) ? best : NULL;
}

/* ---- values -------------------------------------------------------------- */

static const char *type_name(int type)
{
    switch (type) {
    case RN_CFG_INT: return "an integer";
    case RN_CFG_FLOAT: return "a number";
    case RN_CFG_BOOL: return "a boolean (true or false)";
    case RN_CFG_STRING: return "a string";
    default: return "one of its words";
    }
}

/* Index of word in the space-separated list, or -1. */
static int word_index(const char *words, const char *w)
{
    size_t n = strlen(w);
    int i = 0;
    for (const char *p = words; *p;) {
        while (*p == ' ')
            p++;
        const char *q = p;
        while (*q && *q != ' ')
            q++;
        if (q > p) {
            if ((size_t)(q - p) == n && strncmp(p, w, n) == 0)
                return i;
            i++;
        }
        p = q;
    }
    return -1;
}

/* Word i of the list into buf. */
static void word_at(const char *words, int i, char *buf, size_t size)
{
    int k = 0;
    buf[0] = '\0';
    for (const char *p = words; *p;) {
        while (*p == ' ')
            p++;
        const char *q = p;
        while (*q && *q != ' ')
            q++;
        if (q > p && k++ == i) {
            snprintf(buf, size, "%.*s", (int)(q - p), p);
            return;
        }
        p = q;
    }
}

/* Shortest %g form that reads back as exactly v; whole numbers in plain
 * digits ("100", not "1e+02"). */
static void format_double(double v, char *buf, size_t size)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v);
        if (strcmp(buf, "-0") != 0)
            return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Parse text as field f's value into cfg. msg gets "'x' is not an
 * integer" etc. on failure (without the field name). */
static int parse_value(const struct rn_cfg_field *f, void *cfg, const char *text, char *msg,
                       size_t msize)
{
    char *end;
    void *p = FIELD_PTR(cfg, f);
    if (strlen(text) > RN_CFG_SCALAR_MAX) {
        snprintf(msg, msize, "value of %zu bytes exceeds the limit of %d", strlen(text),
                 RN_CFG_SCALAR_MAX);
        return RN_ELIMIT;
    }
    switch (f->type) {
    case RN_CFG_INT: {
        const char *d = text + (*text == '-' || *text == '+');
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!isdigit((unsigned char)*d) || *end || errno == ERANGE) {
            snprintf(msg, msize, "'%.80s' is not an integer", text);
            return RN_EUSAGE;
        }
        if (v < f->imin || v > f->imax) {
            snprintf(msg, msize, "%lld is out of range [%" PRId64 ", %" PRId64 "]", v, f->imin,
                     f->imax);
            return RN_EUSAGE;
        }
        *(int64_t *)p = v;
        return RN_OK;
    }
    case RN_CFG_FLOAT: {
        const char *d = text + (*text == '-' || *text == '+');
        errno = 0;
        double v = strtod(text, &end);
        /* decimal only: strtod would also take hex, "inf" and "nan" */
        if (!(isdigit((unsigned char)*d) || (*d == '.' && isdigit((unsigned char)d[1]))) ||
            *end || strpbrk(text, "xX") || errno == ERANGE || !isfinite(v)) {
            snprintf(msg, msize, "'%.80s' is not a number", text);
            return RN_EUSAGE;
        }
        if (v < f->fmin || v > f->fmax) {
            char lo[32], hi[32];
            format_double(f->fmin, lo, sizeof lo);
            format_double(f->fmax, hi, sizeof hi);
            snprintf(msg, msize, "%.80s is out of range [%s, %s]", text, lo, hi);
            return RN_EUSAGE;
        }
        *(double *)p = v;
        return RN_OK;
    }
    case RN_CFG_BOOL: {
        static const char *yes[] = {"true", "yes", "on"}, *no[] = {"false", "no", "off"};
        for (int i = 0; i < 3; i++) {
            if (strcasecmp(text, yes[i]) == 0) {
                *(int *)p = 1;
                return RN_OK;
            }
            if (strcasecmp(text, no[i]) == 0) {
                *(int *)p = 0;
                return RN_OK;
            }
        }
        snprintf(msg, msize, "'%.80s' is not a boolean (true or false)", text);
        return RN_EUSAGE;
    }
    case RN_CFG_STRING: {
        char *s = strdup(text);
        if (!s) {
            snprintf(msg, msize, "out of memory");
            return RN_ENOMEM;
        }
        free(*(char **)p);
        *(char **)p = s;
        return RN_OK;
    }
    case RN_CFG_ENUM: {
        int i = word_index(f->words, text);
        if (i < 0) {
            snprintf(msg, msize, "'%.80s' is not one of: %s", text, f->words);
            return RN_EUSAGE;
        }
        *(int *)p = i;
        return RN_OK;
    }
    }
    RN_ASSERT(!"unknown config field type");
    return RN_EUSAGE;
}

void rn_cfg_value_text(const struct rn_cfg_field *f, const void *cfg, char *buf, size_t size)
{
    const char *p = (const char *)cfg + f->offset;
    switch (f->type) {
    case RN_CFG_INT:
        snprintf(buf, size, "%" PRId64, *(const int64_t *)p);
        break;
    case RN_CFG_FLOAT:
        format_double(*(const double *)p, buf, size);
        break;
    case RN_CFG_BOOL:
        snprintf(buf, size, "%s", *(const int *)p ? "true" : "false");
        break;
    case RN_CFG_STRING:
        snprintf(buf, size, "%s", *(char *const *)p ? *(char *const *)p : "");
        break;
    case RN_CFG_ENUM:
        word_at(f->words, *(const int *)p, buf, size);
        break;
    default:
        buf[0] = '\0';
    }
}

int rn_cfg_set(const struct rn_cfg_table *t, void *cfg, const char *name, const char *value,
               const char *where, struct rn_err *e)
{
    const struct rn_cfg_field *f = rn_cfg_find(t, name);
    if (!f) {
        const char *s = rn_cfg_closest(t, name);
        if (s)
            return rn_err_set(e, RN_EUSAGE, where, "unknown config field '%.80s' (did you mean %s?)",
                              name, s);
        return rn_err_set(e, RN_EUSAGE, where, "unknown config field '%.80s'", name);
    }
    if (!value)
        return rn_err_set(e, RN_EUSAGE, where, "%s: no value given (expected %s)", f->name,
                          type_name(f->type));
    char msg[RN_ERR_MSG_MAX - 100];
    int rc = parse_value(f, cfg, value, msg, sizeof msg);
    if (rc < 0)
        return rn_err_set(e, rc, where, "%s: %s", f->name, msg);
    return RN_OK;
}

void rn_cfg_free(const struct rn_cfg_table *t, void *cfg)
{
    if (!cfg)
        return;
    for (const struct rn_cfg_field *f = t->fields; f->name; f++)
        if (f->type == RN_CFG_STRING) {
            char **p = (char **)FIELD_PTR(cfg, f);
            free(*p);
            *p = NULL;
        }
}

int rn_cfg_defaults(const struct rn_cfg_table *t, void *cfg, struct rn_err *e)
{
    char where[RN_ERR_WHERE_MAX];
    snprintf(where, sizeof where, "%s defaults", t->what);
    for (const struct rn_cfg_field *f = t->fields; f->name; f++) {
        int rc = rn_cfg_set(t, cfg, f->name, f->def ? f->def : "", where, e);
        if (rc < 0)
            return rc;
    }
    return RN_OK;
}

int rn_cfg_validate(const struct rn_cfg_table *t, const void *cfg, struct rn_err *e)
{
    return t->check ? t->check(cfg, e) : RN_OK;
}

/* ---- YAML ---------------------------------------------------------------- */

struct loader {
    const struct rn_cfg_table *t;
    void *cfg;
    const char *name;
    struct rn_err *e;
    int *seen_line;    /* per field: line where it was set, 0 if not yet */
};

static int yerr(struct loader *L, int code, size_t line0, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Error at line line0 (libyaml's 0-based line) of the file. */
static int yerr(struct loader *L, int code, size_t line0, const char *fmt, ...)
{
    char where[RN_ERR_WHERE_MAX];
    snprintf(where, sizeof where, "%s:%zu", L->name, line0 + 1);
    va_list ap;
    va_start(ap, fmt);
    rn_err_vset(L->e, code, where, fmt, ap);
    va_end(ap);
    return code;
}

static const char *node_kind(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_ALIAS_EVENT: return "an alias";
    default: return "a scalar";
    }
}

/* Refuse what a flat config never needs and an attacker could use:
 * aliases (billion-laughs expansion), anchors, and explicit tags. */
static int refuse_features(struct loader *L, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    if (ev->type == YAML_ALIAS_EVENT)
        return yerr(L, RN_EFORMAT, ev->start_mark.line,
                    "YAML aliases (*%.40s) are not allowed in a config file",
                    (const char *)ev->data.alias.anchor);
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    if (anchor)
        return yerr(L, RN_EFORMAT, ev->start_mark.line,
                    "YAML anchors (&%.40s) are not allowed in a config file", (const char *)anchor);
    if (tag)
        return yerr(L, RN_EFORMAT, ev->start_mark.line,
                    "YAML tags (%.80s) are not allowed in a config file", (const char *)tag);
    return RN_OK;
}

static int is_null_scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
            strcmp(v, "NULL") == 0);
}

/* Handle one key: value pair whose key event is key; reads the value. */
static int load_pair(struct loader *L, yaml_parser_t *P, const yaml_event_t *key)
{
    if (key->type != YAML_SCALAR_EVENT)
        return yerr(L, RN_EFORMAT, key->start_mark.line,
                    "a config key must be a field name, not %s", node_kind(key));
    const char *name = (const char *)key->data.scalar.value;
    if (key->data.scalar.length > RN_CFG_SCALAR_MAX)
        return yerr(L, RN_ELIMIT, key->start_mark.line, "key of %zu bytes exceeds the limit of %d",
                    key->data.scalar.length, RN_CFG_SCALAR_MAX);
    if (strlen(name) != key->data.scalar.length)
        return yerr(L, RN_EFORMAT, key->start_mark.line, "config key contains a NUL character");
    const struct rn_cfg_field *f = rn_cfg_find(L->t, name);
    if (!f) {
        const char *s = rn_cfg_closest(L->t, name);
        if (s)
            return yerr(L, RN_EUSAGE, key->start_mark.line,
                        "unknown config field '%.80s' (did you mean %s?)", name, s);
        return yerr(L, RN_EUSAGE, key->start_mark.line, "unknown config field '%.80s'", name);
    }
    int idx = (int)(f - L->t->fields);
    if (L->seen_line[idx])
        return yerr(L, RN_EUSAGE, key->start_mark.line,
                    "duplicate config field '%s' (first set at line %d)", f->name,
                    L->seen_line[idx]);
    L->seen_line[idx] = (int)key->start_mark.line + 1;

    yaml_event_t v;
    if (!yaml_parser_parse(P, &v))
        return yerr(L, RN_EFORMAT, P->problem_mark.line, "YAML syntax error: %s%s%s",
                    P->problem ? P->problem : "unknown", P->context ? " " : "",
                    P->context ? P->context : "");
    int rc = refuse_features(L, &v);
    if (rc == RN_OK && v.type != YAML_SCALAR_EVENT)
        rc = yerr(L, RN_EUSAGE, v.start_mark.line, "%s: expected a single value, not %s",
                  f->name, node_kind(&v));
    if (rc == RN_OK && v.data.scalar.length > RN_CFG_SCALAR_MAX)
        rc = yerr(L, RN_ELIMIT, v.start_mark.line, "%s: value of %zu bytes exceeds the limit of %d",
                  f->name, v.data.scalar.length, RN_CFG_SCALAR_MAX);
    if (rc == RN_OK && strlen((const char *)v.data.scalar.value) != v.data.scalar.length)
        rc = yerr(L, RN_EFORMAT, v.start_mark.line, "%s: value contains a NUL character", f->name);
    if (rc == RN_OK && is_null_scalar(&v))
        rc = yerr(L, RN_EUSAGE, v.start_mark.line, "%s: no value given (expected %s)", f->name,
                  type_name(f->type));
    if (rc == RN_OK) {
        char msg[RN_ERR_MSG_MAX - 100];
        rc = parse_value(f, L->cfg, (const char *)v.data.scalar.value, msg, sizeof msg);
        if (rc < 0)
            yerr(L, rc, v.start_mark.line, "%s: %s", f->name, msg);
    }
    yaml_event_delete(&v);
    return rc;
}

/* The event loop: stream { document { mapping { (key value)* } } }. */
static int load_events(struct loader *L, yaml_parser_t *P)
{
    enum { S_STREAM, S_DOC, S_TOP, S_MAP, S_DOC_END, S_DONE } state = S_STREAM;
    int ndocs = 0;
    while (state != S_DONE) {
        yaml_event_t ev;
        if (!yaml_parser_parse(P, &ev))
            return yerr(L, RN_EFORMAT, P->problem_mark.line, "YAML syntax error: %s%s%s",
                        P->problem ? P->problem : "unknown", P->context ? " " : "",
                        P->context ? P->context : "");
        int rc = refuse_features(L, &ev);
        if (rc < 0) {
            yaml_event_delete(&ev);
            return rc;
        }
        switch (state) {
        case S_STREAM:
            if (ev.type == YAML_STREAM_START_EVENT)
                state = S_DOC;
            break;
        case S_DOC:
            if (ev.type == YAML_STREAM_END_EVENT) {
                state = S_DONE;
            } else if (ev.type == YAML_DOCUMENT_START_EVENT) {
                if (++ndocs > 1)
                    rc = yerr(L, RN_EFORMAT, ev.start_mark.line,
                              "a config file holds one YAML document, this is the second");
                state = S_TOP;
            }
            break;
        case S_TOP:
            if (ev.type == YAML_MAPPING_START_EVENT)
                state = S_MAP;
            else if (ev.type == YAML_SCALAR_EVENT && is_null_scalar(&ev))
                state = S_DOC_END;   /* an empty document ("---" alone): no fields */
            else
                rc = yerr(L, RN_EFORMAT, ev.start_mark.line,
                          "a config file must be a mapping of field: value, not %s",
                          node_kind(&ev));
            break;
        case S_MAP:
            if (ev.type == YAML_MAPPING_END_EVENT)
                state = S_DOC_END;
            else
                rc = load_pair(L, P, &ev);
            break;
        case S_DOC_END:
            if (ev.type == YAML_DOCUMENT_END_EVENT)
                state = S_DOC;
            break;
        case S_DONE:
            break;
        }
        yaml_event_delete(&ev);
        if (rc < 0)
            return rc;
    }
    return RN_OK;
}

int rn_cfg_load_text(const struct rn_cfg_table *t, void *cfg, const char *text, size_t len,
                     const char *name, struct rn_err *e)
{
    return rn_cfg_load_text_lines(t, cfg, text, len, name, NULL, e);
}

int rn_cfg_load_text_lines(const struct rn_cfg_table *t, void *cfg, const char *text, size_t len,
                           const char *name, int *line, struct rn_err *e)
{
    if (!name)
        name = "config";
    if (line)
        memset(line, 0, (size_t)nfields(t) * sizeof *line);
    if (len > RN_CFG_FILE_MAX)
        return rn_err_set(e, RN_ELIMIT, name, "config of %zu bytes exceeds the limit of %u", len,
                          RN_CFG_FILE_MAX);
    int n = nfields(t);
    struct loader L = {t, cfg, name, e, calloc((size_t)n + 1, sizeof(int))};
    if (!L.seen_line)
        return rn_err_set(e, RN_ENOMEM, name, "out of memory");
    yaml_parser_t P;
    if (!yaml_parser_initialize(&P)) {
        free(L.seen_line);
        return rn_err_set(e, RN_ENOMEM, name, "out of memory (YAML parser)");
    }
    yaml_parser_set_input_string(&P, (const unsigned char *)text, len);
    int rc = load_events(&L, &P);
    yaml_parser_delete(&P);
    if (line)
        memcpy(line, L.seen_line, (size_t)n * sizeof *line);
    free(L.seen_line);
    return rc;
}

int rn_cfg_load_file(const struct rn_cfg_table *t, void *cfg, const char *path,
                     struct rn_err *e)
{
    return rn_cfg_load_file_lines(t, cfg, path, NULL, e);
}

int rn_cfg_load_file_lines(const struct rn_cfg_table *t, void *cfg, const char *path, int *line,
                           struct rn_err *e)
{
    char *text;
    size_t len;
    if (line)
        memset(line, 0, (size_t)nfields(t) * sizeof *line);
    int rc = rn_read_file(path, RN_CFG_FILE_MAX, &text, &len, e);
    if (rc < 0)
        return rc;
    rc = rn_cfg_load_text_lines(t, cfg, text, len, rn_io_name(path, 0), line, e);
    free(text);
    return rc;
}

/* ---- printing ------------------------------------------------------------ */

/* A double-quoted string valid as both JSON and YAML: escapes quotes,
 * backslashes, C0 controls, DEL and the C1 controls YAML does not allow
 * raw. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(f, "\\u%04x", *p);
        else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            fprintf(f, "\\u%04x", *++p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_value(FILE *f, const struct rn_cfg_field *fd, const void *cfg)
{
    char buf[64];
    if (fd->type == RN_CFG_STRING) {
        char *const *p = (char *const *)((const char *)cfg + fd->offset);
        put_quoted(f, *p ? *p : "");
    } else if (fd->type == RN_CFG_ENUM) {
        rn_cfg_value_text(fd, cfg, buf, sizeof buf);
        put_quoted(f, buf);
    } else {
        rn_cfg_value_text(fd, cfg, buf, sizeof buf);
        fputs(buf, f);
    }
}

static void put_range(FILE *f, const struct rn_cfg_field *fd)
{
    char lo[32], hi[32];
    switch (fd->type) {
    case RN_CFG_INT:
        fprintf(f, " [%" PRId64 ", %" PRId64 "]", fd->imin, fd->imax);
        break;
    case RN_CFG_FLOAT:
        format_double(fd->fmin, lo, sizeof lo);
        format_double(fd->fmax, hi, sizeof hi);
        fprintf(f, " [%s, %s]", lo, hi);
        break;
    case RN_CFG_ENUM:
        fprintf(f, " (%s)", fd->words);
        break;
    }
}

int rn_cfg_format(const struct rn_cfg_table *t, const void *cfg, int format, char **out,
                  struct rn_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return rn_err_set(e, RN_ENOMEM, t->what, "out of memory");
    if (format == RN_CFG_JSON) {
        fputc('{', f);
        for (const struct rn_cfg_field *fd = t->fields; fd->name; fd++) {
            fprintf(f, "%s\"%s\": ", fd == t->fields ? "" : ", ", fd->name);
            put_value(f, fd, cfg);
        }
        fputs("}", f);
    } else {
        for (const struct rn_cfg_field *fd = t->fields; fd->name; fd++) {
            if (format == RN_CFG_YAML_COMMENTED) {
                fprintf(f, "%s# %s", fd == t->fields ? "" : "\n", fd->help);
                put_range(f, fd);
                fputc('\n', f);
            }
            fprintf(f, "%s: ", fd->name);
            put_value(f, fd, cfg);
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return rn_err_set(e, RN_ENOMEM, t->what, "out of memory");
    }
    *out = buf;
    return RN_OK;
}

/* ---- command line -------------------------------------------------------- */

void rn_cfg_cli_free(struct rn_cfg_cli *c)
{
    if (!c)
        return;
    for (int i = 0; c->help_ && i < c->nfields_; i++)
        free(c->help_[i]);
    free(c->help_);
    free(c->options);
    free(c->set_value_);
    free(c->set_order_);
    memset(c, 0, sizeof *c);
}

int rn_cfg_cli_init(struct rn_cfg_cli *c, const struct rn_cfg_table *t,
                    const struct rn_option *own, int id_base, struct rn_err *e)
{
    memset(c, 0, sizeof *c);
    int nown = 0;
    while (own && own[nown].name)
        nown++;
    int n = nfields(t);
    c->table_ = t;
    c->id_base_ = id_base;
    c->nfields_ = n;
    c->options = calloc((size_t)(nown + n + 1), sizeof *c->options);
    c->help_ = calloc((size_t)n + 1, sizeof *c->help_);
    c->set_value_ = calloc((size_t)n + 1, sizeof *c->set_value_);
    c->set_order_ = calloc((size_t)n + 1, sizeof *c->set_order_);
    if (!c->options || !c->help_ || !c->set_value_ || !c->set_order_) {
        rn_cfg_cli_free(c);
        return rn_err_set(e, RN_ENOMEM, t->what, "out of memory");
    }
    for (int i = 0; i < nown; i++)
        c->options[i] = own[i];
    for (int i = 0; i < n; i++) {
        const struct rn_cfg_field *f = &t->fields[i];
        for (int j = 0; j < nown; j++)
            if (strcmp(own[j].name, f->name) == 0 || own[j].id == id_base + i) {
                rn_cfg_cli_free(c);
                return rn_err_set(e, RN_EUSAGE, t->what,
                                  "config field '%s' collides with option --%s (name or id)",
                                  f->name, own[j].name);
            }
        const char *def = f->def ? f->def : "";
        size_t hn = strlen(f->help) + strlen(def) + 32;
        c->help_[i] = malloc(hn);
        if (!c->help_[i]) {
            rn_cfg_cli_free(c);
            return rn_err_set(e, RN_ENOMEM, t->what, "out of memory");
        }
        if (f->type == RN_CFG_STRING && !*def)
            snprintf(c->help_[i], hn, "%s", f->help);
        else
            snprintf(c->help_[i], hn, "%s (default %s)", f->help, def);
        struct rn_option *o = &c->options[nown + i];
        o->name = f->name;
        o->short_name = 0;
        o->arg = f->arg ? f->arg
                 : f->type == RN_CFG_INT ? "N"
                 : f->type == RN_CFG_FLOAT ? "X"
                 : f->type == RN_CFG_BOOL ? "BOOL"
                 : f->type == RN_CFG_ENUM ? "WORD" : "TEXT";
        o->help = c->help_[i];
        o->complete = f->type == RN_CFG_BOOL || f->type == RN_CFG_ENUM ? RN_COMP_WORDS
                                                                        : RN_COMP_NONE;
        o->words = f->type == RN_CFG_BOOL ? "true false" : f->type == RN_CFG_ENUM ? f->words : NULL;
        o->id = id_base + i;
    }
    return RN_OK;
}

int rn_cfg_cli_take(struct rn_cfg_cli *c, int id, const char *arg)
{
    int i = id - c->id_base_;
    if (i < 0 || i >= c->nfields_)
        return 0;
    /* the last occurrence wins, as it would if applied one by one */
    c->set_value_[i] = arg;
    c->set_order_[i] = ++c->nset_;
    return 1;
}

int rn_cfg_cli_apply(const struct rn_cfg_cli *c, void *cfg, struct rn_err *e)
{
    /* apply in command-line order so messages come in the order typed */
    for (int k = 1; k <= c->nset_; k++)
        for (int i = 0; i < c->nfields_; i++) {
            if (c->set_order_[i] != k)
                continue;
            const struct rn_cfg_field *f = &c->table_->fields[i];
            char msg[RN_ERR_MSG_MAX - 100];
            int rc = parse_value(f, cfg, c->set_value_[i], msg, sizeof msg);
            if (rc < 0)
                return rn_err_set(e, rc == RN_ENOMEM ? rc : RN_EUSAGE, "command line", "--%s: %s",
                                  f->name, msg);
        }
    return RN_OK;
}

const char *rn_cfg_cli_value(const struct rn_cfg_cli *c, int i)
{
    if (!c || i < 0 || i >= c->nfields_ || !c->set_order_[i])
        return NULL;
    return c->set_value_[i];
}
