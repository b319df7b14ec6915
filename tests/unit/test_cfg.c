/* cfg: layering (defaults < YAML < command line), every error message,
 * hostile YAML, printing that reads back identically, the command-line
 * table, and the train config's table against its man page and samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfg.h"
#include "io.h"

/* A table with every type. */
struct demo {
    int64_t layers;
    double rate;
    int flag;
    char *name;
    int mode;
    int64_t big;
};

#define D struct demo
static const struct rn_cfg_field demo_fields[] = {
    RN_CFG_INT_FIELD(D, layers, "6", 1, 64, "N", "number of layers"),
    RN_CFG_FLOAT_FIELD(D, rate, "0.001", 0, 1, "LR", "learning rate"),
    RN_CFG_BOOL_FIELD(D, flag, "true", "a switch"),
    RN_CFG_STRING_FIELD(D, name, "tiny", "TEXT", "a name"),
    RN_CFG_ENUM_FIELD(D, mode, "fast", "fast slow exact", "how to run"),
    RN_CFG_INT_FIELD(D, big, "0", INT64_MIN, INT64_MAX, "N", "any integer"),
    {0},
};

static int demo_check(const void *p, struct rn_err *e)
{
    const D *d = p;
    if (d->mode == 2 && d->layers > 8)
        return rn_err_set(e, RN_EUSAGE, "demo config", "mode exact allows at most 8 layers, not %d",
                          (int)d->layers);
    return RN_OK;
}

static const struct rn_cfg_table demo = {"demo config", demo_fields, demo_check};

static void defaults(D *d)
{
    struct rn_err e = {0};
    memset(d, 0, sizeof *d);
    assert_int_equal(rn_cfg_defaults(&demo, d, &e), RN_OK);
}

static int load(D *d, const char *yaml, struct rn_err *e)
{
    return rn_cfg_load_text(&demo, d, yaml, strlen(yaml), "c.yaml", e);
}

static void test_defaults_and_layering(void **state)
{
    (void)state;
    struct rn_err e = {0};
    D d;
    defaults(&d);
    assert_int_equal(d.layers, 6);
    assert_true(d.rate == 0.001);
    assert_int_equal(d.flag, 1);
    assert_string_equal(d.name, "tiny");
    assert_int_equal(d.mode, 0);
    /* the file overrides what it names and nothing else */
    assert_int_equal(load(&d, "# a comment\nlayers: 4\nname: \"big one\"\nmode: slow\n", &e), RN_OK);
    assert_int_equal(d.layers, 4);
    assert_true(d.rate == 0.001);
    assert_string_equal(d.name, "big one");
    assert_int_equal(d.mode, 1);
    /* the command line overrides the file, in the order given, last wins */
    struct rn_cfg_cli c;
    static const struct rn_option own[] = {
        {"output", 'o', "FILE", "write to FILE", RN_COMP_FILE, NULL, 'o'}, {0}};
    assert_int_equal(rn_cfg_cli_init(&c, &demo, own, 1000, &e), RN_OK);
    assert_int_equal(rn_cfg_cli_take(&c, 'o', "x"), 0);
    assert_int_equal(rn_cfg_cli_take(&c, 1000, "9"), 1);
    assert_int_equal(rn_cfg_cli_take(&c, 1004, "exact"), 1);
    assert_int_equal(rn_cfg_cli_take(&c, 1000, "7"), 1);
    assert_int_equal(rn_cfg_cli_take(&c, 1006, "7"), 0); /* past the last field */
    assert_int_equal(rn_cfg_cli_apply(&c, &d, &e), RN_OK);
    assert_int_equal(d.layers, 7);
    assert_int_equal(d.mode, 2);
    assert_string_equal(d.name, "big one");
    assert_int_equal(rn_cfg_validate(&demo, &d, &e), RN_OK);
    rn_cfg_cli_take(&c, 1000, "12");
    assert_int_equal(rn_cfg_cli_apply(&c, &d, &e), RN_OK);
    assert_int_equal(rn_cfg_validate(&demo, &d, &e), RN_EUSAGE);
    assert_string_equal(e.msg, "mode exact allows at most 8 layers, not 12");
    rn_cfg_cli_take(&c, 1001, "2");
    assert_int_equal(rn_cfg_cli_apply(&c, &d, &e), RN_EUSAGE);
    assert_string_equal(e.where, "command line");
    assert_string_equal(e.msg, "--rate: 2 is out of range [0, 1]");
    rn_cfg_cli_free(&c);
    rn_cfg_cli_free(&c);
    /* defaults again release the old string */
    assert_int_equal(rn_cfg_defaults(&demo, &d, &e), RN_OK);
    assert_string_equal(d.name, "tiny");
    rn_cfg_free(&demo, &d);
    assert_null(d.name);
    rn_cfg_free(&demo, NULL);
}

static void test_cli_table(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_cfg_cli c;
    assert_int_equal(rn_cfg_cli_init(&c, &demo, NULL, 300, &e), RN_OK);
    const struct rn_option *o = c.options;
    assert_string_equal(o[0].name, "layers");
    assert_string_equal(o[0].arg, "N");
    assert_string_equal(o[0].help, "number of layers (default 6)");
    assert_int_equal(o[0].id, 300);
    assert_string_equal(o[2].name, "flag");
    assert_int_equal(o[2].complete, RN_COMP_WORDS);
    assert_string_equal(o[2].words, "true false");
    assert_string_equal(o[4].words, "fast slow exact");
    assert_int_equal(o[4].complete, RN_COMP_WORDS);
    assert_null(o[6].name);
    /* what --help and the completions show comes from this table */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct rn_program prog = {"demo", "[OPTIONS]", "a demo", NULL, c.options, RN_COMP_NONE};
    rn_cli_print_help(&prog, f);
    assert_int_equal(rn_cli_print_completion(&prog, "bash", f), 0);
    fclose(f);
    assert_non_null(strstr(buf, "--mode WORD"));
    assert_non_null(strstr(buf, "how to run (default fast)"));
    assert_non_null(strstr(buf, "fast slow exact"));
    free(buf);
    rn_cfg_cli_free(&c);
    /* a field that collides with one of the binary's options is refused */
    static const struct rn_option clash[] = {
        {"rate", 0, "X", "clash", RN_COMP_NONE, NULL, 1}, {0}};
    assert_int_equal(rn_cfg_cli_init(&c, &demo, clash, 300, &e), RN_EUSAGE);
    assert_string_equal(e.msg, "config field 'rate' collides with option --rate (name or id)");
    static const struct rn_option idclash[] = {
        {"other", 0, "X", "clash", RN_COMP_NONE, NULL, 302}, {0}};
    assert_int_equal(rn_cfg_cli_init(&c, &demo, idclash, 300, &e), RN_EUSAGE);
}

struct bad {
    const char *yaml;
    int code;
    const char *where;
    const char *msg;
};

/* Every message a config file can get, with its place. */
static const struct bad bad_cases[] = {
    {"layers: 4\nlayer: 5\n", RN_EUSAGE, "c.yaml:2",
     "unknown config field 'layer' (did you mean layers?)"},
    {"zzz: 1\n", RN_EUSAGE, "c.yaml:1", "unknown config field 'zzz'"},
    {"layers: six\n", RN_EUSAGE, "c.yaml:1", "layers: 'six' is not an integer"},
    {"layers: 4.0\n", RN_EUSAGE, "c.yaml:1", "layers: '4.0' is not an integer"},
    {"layers: 0x10\n", RN_EUSAGE, "c.yaml:1", "layers: '0x10' is not an integer"},
    {"layers: 99999999999999999999\n", RN_EUSAGE, "c.yaml:1",
     "layers: '99999999999999999999' is not an integer"},
    {"\n\nlayers: 0\n", RN_EUSAGE, "c.yaml:3", "layers: 0 is out of range [1, 64]"},
    {"layers: 65\n", RN_EUSAGE, "c.yaml:1", "layers: 65 is out of range [1, 64]"},
    {"rate: 1.5\n", RN_EUSAGE, "c.yaml:1", "rate: 1.5 is out of range [0, 1]"},
    {"rate: -0.1\n", RN_EUSAGE, "c.yaml:1", "rate: -0.1 is out of range [0, 1]"},
    {"rate: fast\n", RN_EUSAGE, "c.yaml:1", "rate: 'fast' is not a number"},
    {"rate: .nan\n", RN_EUSAGE, "c.yaml:1", "rate: '.nan' is not a number"},
    {"rate: nan\n", RN_EUSAGE, "c.yaml:1", "rate: 'nan' is not a number"},
    {"rate: 1e999\n", RN_EUSAGE, "c.yaml:1", "rate: '1e999' is not a number"},
    {"rate: 0x1p-3\n", RN_EUSAGE, "c.yaml:1", "rate: '0x1p-3' is not a number"},
    {"flag: maybe\n", RN_EUSAGE, "c.yaml:1", "flag: 'maybe' is not a boolean (true or false)"},
    {"mode: quick\n", RN_EUSAGE, "c.yaml:1", "mode: 'quick' is not one of: fast slow exact"},
    {"layers:\n", RN_EUSAGE, "c.yaml:1", "layers: no value given (expected an integer)"},
    {"name: ~\n", RN_EUSAGE, "c.yaml:1", "name: no value given (expected a string)"},
    {"layers: 4\nrate: 0.1\nlayers: 5\n", RN_EUSAGE, "c.yaml:3",
     "duplicate config field 'layers' (first set at line 1)"},
    {"- layers\n- 4\n", RN_EFORMAT, "c.yaml:1",
     "a config file must be a mapping of field: value, not a sequence"},
    {"just text\n", RN_EFORMAT, "c.yaml:1",
     "a config file must be a mapping of field: value, not a scalar"},
    {"layers: 4\n---\nlayers: 5\n", RN_EFORMAT, "c.yaml:2",
     "a config file holds one YAML document, this is the second"},
    {"layers: [4]\n", RN_EUSAGE, "c.yaml:1", "layers: expected a single value, not a sequence"},
    {"layers:\n  deep: 4\n", RN_EUSAGE, "c.yaml:2", "layers: expected a single value, not a mapping"},
    {"[a, b]: 4\n", RN_EFORMAT, "c.yaml:1", "a config key must be a field name, not a sequence"},
    {"layers: &x 4\nbig: *x\n", RN_EFORMAT, "c.yaml:1",
     "YAML anchors (&x) are not allowed in a config file"},
    {"big: *x\n", RN_EFORMAT, "c.yaml:1", "YAML aliases (*x) are not allowed in a config file"},
    {"layers: !!int 4\n", RN_EFORMAT, "c.yaml:1",
     "YAML tags (tag:yaml.org,2002:int) are not allowed in a config file"},
    {"name: !!python/object:os.system x\n", RN_EFORMAT, "c.yaml:1",
     "YAML tags (tag:yaml.org,2002:python/object:os.system) are not allowed"},
    {"layers: 4\nrate: 1: 2\n", RN_EFORMAT, "c.yaml:2", "YAML syntax error: mapping values are not allowed"},
    {"name: \"unterminated\n", RN_EFORMAT, "c.yaml:2", "YAML syntax error: found unexpected end of stream"},
    {"layers: \"\\xff\"\n", RN_EUSAGE, "c.yaml:1", "layers: '\xc3\xbf' is not an integer"},
};

static void test_error_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad *b = &bad_cases[i];
        D d;
        defaults(&d);
        struct rn_err e = {0};
        int rc = load(&d, b->yaml, &e);
        if (rc != b->code || strcmp(e.where, b->where) != 0 || !strstr(e.msg, b->msg))
            fail_msg("case %zu (%s): rc %d at '%s': '%s'; want %d at '%s': '%s'", i, b->yaml, rc,
                     e.where, e.msg, b->code, b->where, b->msg);
        rn_cfg_free(&demo, &d);
    }
}

static void test_good_values(void **state)
{
    (void)state;
    struct rn_err e = {0};
    D d;
    defaults(&d);
    /* quoted numbers, booleans in every spelling, flow style, empty docs */
    assert_int_equal(load(&d, "layers: \"12\"\nrate: 6e-4\nflag: off\nbig: -9223372036854775808\n", &e),
                     RN_OK);
    assert_int_equal(d.layers, 12);
    assert_true(d.rate == 6e-4);
    assert_int_equal(d.flag, 0);
    assert_true(d.big == INT64_MIN);
    const char *yes[] = {"true", "True", "TRUE", "yes", "on"};
    for (int i = 0; i < 5; i++) {
        char y[32];
        snprintf(y, sizeof y, "flag: %s", yes[i]);
        d.flag = 0;
        assert_int_equal(load(&d, y, &e), RN_OK);
        assert_int_equal(d.flag, 1);
    }
    assert_int_equal(load(&d, "{layers: 3, rate: .5, name: 'it''s'}", &e), RN_OK);
    assert_int_equal(d.layers, 3);
    assert_true(d.rate == 0.5);
    assert_string_equal(d.name, "it's");
    assert_int_equal(load(&d, "", &e), RN_OK);
    assert_int_equal(load(&d, "# only comments\n", &e), RN_OK);
    assert_int_equal(load(&d, "---\n...\n", &e), RN_OK);
    assert_int_equal(load(&d, "{}", &e), RN_OK);
    assert_int_equal(d.layers, 3);
    /* an empty string is a value when quoted */
    assert_int_equal(load(&d, "name: ''", &e), RN_OK);
    assert_string_equal(d.name, "");
    /* set() names its source */
    assert_int_equal(rn_cfg_set(&demo, &d, "layrs", "3", "somewhere", &e), RN_EUSAGE);
    assert_string_equal(e.where, "somewhere");
    assert_string_equal(e.msg, "unknown config field 'layrs' (did you mean layers?)");
    assert_int_equal(rn_cfg_set(&demo, &d, "layers", NULL, "somewhere", &e), RN_EUSAGE);
    assert_string_equal(e.msg, "layers: no value given (expected an integer)");
    assert_null(rn_cfg_closest(&demo, "completely_different"));
    assert_non_null(rn_cfg_find(&demo, "mode"));
    assert_null(rn_cfg_find(&demo, "Mode"));
    rn_cfg_free(&demo, &d);
}

/* Hostile files: each gets an error (or a bounded success), quickly, with
 * no large allocation; run under a memory limit in a child. */
static void test_hostile_yaml(void **state)
{
    (void)state;
    struct rn_err e = {0};
    D d;
    defaults(&d);
    /* billion laughs: refused at the first anchor */
    const char *laughs =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";
    assert_int_equal(load(&d, laughs, &e), RN_EUSAGE); /* 'a' is no field */
    assert_int_equal(load(&d, "layers: &a [1]\nrate: *a\n", &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "anchors"));
    /* merge keys are no field; their alias is never looked at */
    assert_int_equal(load(&d, "<<: *base\n", &e), RN_EUSAGE);
    assert_string_equal(e.msg, "unknown config field '<<'");
    assert_int_equal(load(&d, "layers: 1\nbig: *base\n", &e), RN_EFORMAT);
    assert_string_equal(e.where, "c.yaml:2");

    /* 100000 levels of nesting: refused at the first nested event */
    size_t n = 100000;
    char *deep = malloc(2 * n + 16);
    strcpy(deep, "layers: ");
    memset(deep + 8, '[', n);
    deep[8 + n] = 0;
    assert_int_equal(load(&d, deep, &e), RN_EUSAGE);
    assert_string_equal(e.msg, "layers: expected a single value, not a sequence");
    memset(deep, '[', n);
    deep[n] = 0;
    assert_int_equal(load(&d, deep, &e), RN_EFORMAT);
    memset(deep, '{', n);
    assert_int_equal(load(&d, deep, &e), RN_EFORMAT);
    free(deep);

    /* a huge scalar: over the per-value limit */
    size_t big = RN_CFG_SCALAR_MAX + 10;
    char *s = malloc(big + 16);
    strcpy(s, "name: ");
    memset(s + 6, 'x', big);
    s[6 + big] = 0;
    assert_int_equal(load(&d, s, &e), RN_ELIMIT);
    assert_string_equal(e.where, "c.yaml:1");
    assert_string_equal(e.msg, "name: value of 4106 bytes exceeds the limit of 4096");
    /* and a huge key: libyaml does not take a plain key past 1024 bytes
     * (the line becomes one scalar); the explicit "? key" form reaches our
     * own limit */
    memset(s, 'k', big);
    strcpy(s + big, ": 1");
    assert_int_equal(load(&d, s, &e), RN_EFORMAT);
    s[0] = '?';
    s[1] = ' ';
    strcpy(s + big, "\n: 1\n");
    assert_int_equal(load(&d, s, &e), RN_ELIMIT);
    assert_string_equal(e.msg, "key of 4104 bytes exceeds the limit of 4096");
    free(s);
    /* a whole file over the limit is refused before parsing */
    size_t fl = RN_CFG_FILE_MAX + 1;
    char *f = malloc(fl + 1);
    memset(f, '#', fl);
    f[fl] = 0;
    assert_int_equal(rn_cfg_load_text(&demo, &d, f, fl, "c.yaml", &e), RN_ELIMIT);
    free(f);
    /* NUL bytes, invalid UTF-8 and control characters */
    assert_int_equal(rn_cfg_load_text(&demo, &d, "layers: 4\0junk", 14, "c.yaml", &e), RN_EFORMAT);
    assert_int_equal(load(&d, "name: \xff\xfe\n", &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "YAML syntax error"));
    assert_int_equal(load(&d, "name: \"a\\0b\"\n", &e), RN_EFORMAT);
    assert_string_equal(e.msg, "name: value contains a NUL character");
    /* a file that is not there */
    assert_int_equal(rn_cfg_load_file(&demo, &d, "/nonexistent/c.yaml", &e), RN_EIO);
    assert_string_equal(e.where, "/nonexistent/c.yaml");
    rn_cfg_free(&demo, &d);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    struct rn_err e = {0};
    D d, back;
    defaults(&d);
    d.rate = 0.1 + 0.2; /* needs 17 digits */
    free(d.name);
    d.name = strdup("quote \" backslash \\ newline \n tab \t del \x7f c1 \xc2\x85 \xc3\xa9");
    d.mode = 2;
    d.big = INT64_MAX;
    for (int fmt = RN_CFG_YAML; fmt <= RN_CFG_JSON; fmt++) {
        char *text;
        assert_int_equal(rn_cfg_format(&demo, &d, fmt, &text, &e), RN_OK);
        defaults(&back);
        if (rn_cfg_load_text(&demo, &back, text, strlen(text), "printed", &e) < 0)
            fail_msg("format %d does not read back: %s: %s\n%s", fmt, e.where, e.msg, text);
        assert_int_equal(back.layers, d.layers);
        assert_memory_equal(&back.rate, &d.rate, sizeof d.rate);
        assert_int_equal(back.flag, d.flag);
        assert_string_equal(back.name, d.name);
        assert_int_equal(back.mode, d.mode);
        assert_true(back.big == d.big);
        if (fmt == RN_CFG_JSON) {
            assert_int_equal(text[0], '{');
            assert_non_null(strstr(text, "\"rate\": 0.30000000000000004"));
            assert_non_null(strstr(text, "\"mode\": \"exact\""));
            assert_non_null(strstr(text, "\\u007f"));
        } else if (fmt == RN_CFG_YAML_COMMENTED) {
            assert_non_null(strstr(text, "# number of layers [1, 64]\nlayers: 6\n"));
            assert_non_null(strstr(text, "# how to run (fast slow exact)\n"));
        } else {
            assert_non_null(strstr(text, "layers: 6\nrate: 0.30000000000000004\nflag: true\n"));
        }
        free(text);
        rn_cfg_free(&demo, &back);
    }
    char v[64];
    rn_cfg_value_text(rn_cfg_find(&demo, "rate"), &d, v, sizeof v);
    assert_string_equal(v, "0.30000000000000004");
    rn_cfg_value_text(rn_cfg_find(&demo, "mode"), &d, v, sizeof v);
    assert_string_equal(v, "exact");
    rn_cfg_free(&demo, &d);
}

/* ---- the train config ------------------------------------------------------ */

static const struct rn_cfg_table *tt = &rn_train_config_table;

static void test_train_defaults(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_train_config c;
    memset(&c, 0, sizeof c);
    assert_int_equal(rn_cfg_defaults(tt, &c, &e), RN_OK);
    assert_int_equal(rn_cfg_validate(tt, &c, &e), RN_OK);
    /* DESIGN.md section 3 */
    assert_int_equal(c.vocab_size, 50259);
    assert_int_equal(c.n_layer, 6);
    assert_int_equal(c.n_head, 8);
    assert_int_equal(c.n_embd, 256);
    assert_int_equal(c.block_size, 1024);
    assert_true(c.dropout == 0.1);
    assert_int_equal(c.bias, 1);
    assert_int_equal(c.kv_lora_rank, 128);
    assert_int_equal(c.q_lora_rank, 192);
    assert_int_equal(c.rope_dim, 64);
    assert_int_equal(c.n_experts, 4);
    assert_int_equal(c.n_experts_per_token, 2);
    assert_int_equal(c.expert_intermediate_size, 512);
    assert_int_equal(c.shared_expert_intermediate_size, 768);
    assert_int_equal(c.use_shared_expert, 1);
    assert_true(c.aux_loss_weight == 0);
    assert_int_equal(c.multi_token_predict, 2);
    assert_true(c.mtp_loss_weight == 0.3);
    assert_true(c.learning_rate == 6e-4);
    assert_true(c.min_lr == 6e-5);
    assert_int_equal(c.warmup_iters, 2000);
    assert_int_equal(c.lr_decay_iters, 20000);
    assert_true(c.weight_decay == 0.1);
    assert_true(c.init_std == 0.02);
    assert_true(c.bias_update_rate == 0.001);
    /* every default is inside its own range and the help is there */
    for (const struct rn_cfg_field *f = tt->fields; f->name; f++) {
        assert_non_null(f->help);
        assert_non_null(f->def);
        assert_int_equal(rn_cfg_set(tt, &c, f->name, f->def, "defaults", &e), RN_OK);
    }
    rn_cfg_free(tt, &c);
}

static void test_train_cross_checks(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"n_head: 7", "n_embd 256 is not a multiple of n_head 7"},
        {"rope_dim: 63", "rope_dim 63 is odd (RoPE rotates pairs of dimensions)"},
        {"n_experts: 2\nn_experts_per_token: 3", "n_experts_per_token 3 exceeds n_experts 2"},
        {"seq_len: 2048", "seq_len 2048 exceeds block_size 1024"},
        {"seq_len: 2", "seq_len 2 leaves no position for multi_token_predict 2"},
        {"min_lr: 0.001", "min_lr 0.001 exceeds learning_rate 0.0006"},
        {"val_fraction: 0", "eval_interval 250 needs held-out data: val_fraction is 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rn_err e = {0};
        struct rn_train_config c;
        memset(&c, 0, sizeof c);
        assert_int_equal(rn_cfg_defaults(tt, &c, &e), RN_OK);
        assert_int_equal(rn_cfg_load_text(tt, &c, cases[i].yaml, strlen(cases[i].yaml), "t.yaml", &e),
                         RN_OK);
        assert_int_equal(rn_cfg_validate(tt, &c, &e), RN_EUSAGE);
        if (!strstr(e.msg, cases[i].msg))
            fail_msg("%s: got '%s'", cases[i].yaml, e.msg);
        assert_string_equal(e.where, "train config");
    }
    /* the example of the brief */
    struct rn_err e = {0};
    struct rn_train_config c;
    memset(&c, 0, sizeof c);
    rn_cfg_defaults(tt, &c, &e);
    assert_int_equal(rn_cfg_load_text(tt, &c, "n_layers: 4\n", 12, "tiny.yaml", &e), RN_EUSAGE);
    assert_string_equal(e.where, "tiny.yaml:1");
    assert_string_equal(e.msg, "unknown config field 'n_layers' (did you mean n_layer?)");
    assert_int_equal(rn_cfg_load_text(tt, &c, "n-layer: 4\n", 11, "tiny.yaml", &e), RN_EUSAGE);
    assert_string_equal(e.msg, "unknown config field 'n-layer' (did you mean n_layer?)");
    assert_int_equal(rn_cfg_load_text(tt, &c, "dropout: 1\n", 11, "tiny.yaml", &e), RN_EUSAGE);
    assert_string_equal(e.msg, "dropout: 1 is out of range [0, 0.99]");
}

/* The samples are configs that load and validate, and default.yaml holds
 * exactly the defaults (so the sample cannot drift from the table). Run
 * from the top of the tree, as tests/run.sh does. */
static void test_samples(void **state)
{
    (void)state;
    struct rn_err e = {0};
    struct rn_train_config def, c;
    memset(&def, 0, sizeof def);
    memset(&c, 0, sizeof c);
    rn_cfg_defaults(tt, &def, &e);
    rn_cfg_defaults(tt, &c, &e);
    /* default.yaml sets every field, each to its default */
    if (rn_cfg_load_file(tt, &c, "samples/default.yaml", &e) < 0)
        fail_msg("%s: %s", e.where, e.msg);
    assert_memory_equal(&c, &def, sizeof c);
    char *text;
    size_t len;
    assert_int_equal(rn_read_file("samples/default.yaml", 1 << 20, &text, &len, &e), RN_OK);
    for (const struct rn_cfg_field *f = tt->fields; f->name; f++) {
        char key[80];
        snprintf(key, sizeof key, "\n%s: ", f->name);
        if (!strstr(text, key))
            fail_msg("samples/default.yaml does not set %s", f->name);
    }
    free(text);
    memset(&c, 0, sizeof c);
    rn_cfg_defaults(tt, &c, &e);
    if (rn_cfg_load_file(tt, &c, "samples/tiny.yaml", &e) < 0)
        fail_msg("%s: %s", e.where, e.msg);
    if (rn_cfg_validate(tt, &c, &e) < 0)
        fail_msg("samples/tiny.yaml: %s", e.msg);
    assert_true(c.n_layer < def.n_layer && c.n_embd < def.n_embd);
}

/* runnel-config(5) documents every field with its range and default: an
 * entry ".TP\n.B name\n" whose text holds "Default: <default>". */
static void test_man_page_lists_fields(void **state)
{
    (void)state;
    struct rn_err e = {0};
    char *text;
    size_t len;
    assert_int_equal(rn_read_file("man/man5/runnel-config.5", 1 << 20, &text, &len, &e), RN_OK);
    for (const struct rn_cfg_field *f = tt->fields; f->name; f++) {
        char head[160], def[160];
        snprintf(head, sizeof head, "\n.TP\n.B %s\n", f->name);
        /* roff writes a minus as "\\-" */
        size_t k = (size_t)snprintf(def, sizeof def, "Default: ");
        for (const char *c = f->def; *c && k + 3 < sizeof def; c++) {
            if (*c == '-')
                def[k++] = '\\';
            def[k++] = *c;
        }
        def[k] = '\0';
        const char *at = strstr(text, head);
        if (!at)
            fail_msg("runnel-config.5 has no entry for %s", f->name);
        at += strlen(head);
        const char *next = strstr(at, "\n.TP\n"), *sh = strstr(at, "\n.SH");
        if (!next || (sh && sh < next))
            next = sh;
        const char *d = strstr(at, def);
        if (!d || (next && d > next))
            fail_msg("runnel-config.5: the entry of %s does not say '%s'", f->name, def);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_layering),
        cmocka_unit_test(test_cli_table),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_hostile_yaml),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_train_defaults),
        cmocka_unit_test(test_train_cross_checks),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_man_page_lists_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
