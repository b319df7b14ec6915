/* Frame and masks metadata: format then parse gives the same values, and
 * malformed metadata is named precisely. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vismeta.h"

static void test_frame_roundtrip(void **state)
{
    (void)state;
    struct rn_frame_info fi = {12, 0.4, 29.97, "street.mp4"}, back;
    struct rn_err e = {0};
    char *s = rn_frame_meta_format(&fi);
    assert_string_equal(s, "{\"frame\":12,\"t\":0.4,\"fps\":29.97,\"source\":\"street.mp4\"}");
    assert_int_equal(rn_frame_info_parse(s, &back, &e), RN_OK);
    assert_int_equal(back.index, 12);
    assert_true(back.t == 0.4 && back.fps == 29.97);
    assert_string_equal(back.source, "street.mp4");
    free(s);
    /* Defaults for what is missing. */
    assert_int_equal(rn_frame_info_parse("{}", &back, &e), RN_OK);
    assert_int_equal(back.index, 0);
    assert_true(back.t == -1 && back.fps == 0);
    assert_string_equal(back.source, "");
}

static void test_frame_errors(void **state)
{
    (void)state;
    struct rn_frame_info fi;
    struct rn_err e = {0};
    assert_int_equal(rn_frame_info_parse("{\"frame\":\"x\"}", &fi, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "\"frame\""));
    assert_int_equal(rn_frame_info_parse("{\"frame\":-1}", &fi, &e), RN_EFORMAT);
    assert_int_equal(rn_frame_info_parse("{\"frame\":1.5}", &fi, &e), RN_EFORMAT);
    assert_int_equal(rn_frame_info_parse("{\"fps\":[]}", &fi, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "\"fps\""));
    assert_int_equal(rn_frame_info_parse("{\"source\":3}", &fi, &e), RN_EFORMAT);
    assert_int_equal(rn_frame_info_parse("[1]", &fi, &e), RN_EFORMAT);
}

static void test_masks_roundtrip(void **state)
{
    (void)state;
    struct rn_instance in[2] = {
        {3, 0.92, {10, 20, 110, 220.5}, "bag"},
        {7, 1.0 / 3, {0, 0, 5, 5}, ""},
    };
    char *s = rn_masks_meta_format(5, in, 2);
    assert_string_equal(s, "{\"frame\":5,\"instances\":[{\"id\":3,\"score\":0.92,\"box\":[10,20,110,"
                           "220.5],\"label\":\"bag\"},{\"id\":7,\"score\":0.3333,\"box\":[0,0,5,5]}]}");
    struct rn_instance *out;
    int n;
    int64_t frame;
    struct rn_err e = {0};
    assert_int_equal(rn_masks_meta_parse(s, &frame, &out, &n, 2, &e), RN_OK);
    assert_int_equal(frame, 5);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].id, 3);
    assert_string_equal(out[0].label, "bag");
    assert_true(out[0].box[3] == 220.5);
    assert_true(out[1].score == 0.3333);
    free(out);
    assert_int_equal(rn_masks_meta_parse(s, &frame, &out, &n, 3, &e), RN_EFORMAT);
    assert_non_null(strstr(e.msg, "lists 2 instances but the payload holds 3 masks"));
    free(s);
    /* No instances at all is a valid empty result. */
    assert_int_equal(rn_masks_meta_parse("{\"frame\":2}", &frame, &out, &n, 0, &e), RN_OK);
    assert_int_equal(n, 0);
    free(out);
}

static void test_masks_errors(void **state)
{
    (void)state;
    static const struct { const char *meta; const char *msg; } bad[] = {
        {"{\"instances\":{}}", "\"instances\" is not an array"},
        {"{\"instances\":[1]}", "instance 0 is not a JSON object"},
        {"{\"instances\":[{\"score\":0.5}]}", "instance 0: \"id\" is not an integer"},
        {"{\"instances\":[{\"id\":1,\"score\":1.5}]}", "\"score\" is not in [0, 1]"},
        {"{\"instances\":[{\"id\":1,\"box\":[1,2,3]}]}", "\"box\" is not [x1, y1, x2, y2]"},
        {"{\"instances\":[{\"id\":1,\"box\":[1,2,3,\"x\"]}]}", "box value 3 is not a number"},
        {"{\"instances\":[{\"id\":1},{\"id\":2,\"label\":5}]}", "instance 1: \"label\""},
        {"{\"frame\":-3}", "\"frame\" is not a frame number"},
        {"nonsense", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rn_instance *out = (void *)1;
        int n = -1;
        int64_t frame;
        struct rn_err e = {0};
        assert_int_equal(rn_masks_meta_parse(bad[i].meta, &frame, &out, &n, -1, &e), RN_EFORMAT);
        if (!strstr(e.msg, bad[i].msg))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].meta, e.msg, bad[i].msg);
        assert_null(out);
        assert_int_equal(n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_roundtrip),
        cmocka_unit_test(test_frame_errors),
        cmocka_unit_test(test_masks_roundtrip),
        cmocka_unit_test(test_masks_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
