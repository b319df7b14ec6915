/* Record selection: range lists, kinds, and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "select.h"
#include "stream.h"

static void test_ranges(void **state)
{
    (void)state;
    struct rn_select s;
    struct rn_err e = {0};
    rn_select_init(&s);
    assert_false(rn_select_active(&s));
    assert_true(rn_select_match(&s, 12345, RN_KIND_TENSOR));
    assert_false(rn_select_match(&s, 0, RN_KIND_END));
    assert_int_equal(rn_select_add_ranges(&s, "3,5-7", &e), RN_OK);
    assert_int_equal(rn_select_add_ranges(&s, "-1", &e), RN_OK);
    assert_true(rn_select_active(&s));
    int want[] = {1, 1, 0, 1, 0, 1, 1, 1, 0};
    for (int i = 0; i < 9; i++)
        assert_int_equal(rn_select_match(&s, (uint64_t)i, RN_KIND_TENSOR), want[i]);
    assert_int_equal(rn_select_last(&s), 7);
    assert_int_equal(rn_select_add_ranges(&s, "100-", &e), RN_OK);
    assert_true(rn_select_match(&s, UINT64_MAX, RN_KIND_TEXT));
    assert_int_equal(rn_select_last(&s), UINT64_MAX);
    rn_select_free(&s);
}

static void test_bad_ranges(void **state)
{
    (void)state;
    const char *bad[] = {"", "-", "a", "3-2", "1,", ",1", "1--2", "99999999999999999999", "1 2",
                         "+3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rn_select s;
        struct rn_err e = {0};
        rn_select_init(&s);
        if (rn_select_add_ranges(&s, bad[i], &e) != RN_EUSAGE)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(strlen(e.msg) > 0);
        rn_select_free(&s);
    }
}

static void test_kinds(void **state)
{
    (void)state;
    struct rn_select s;
    struct rn_err e = {0};
    rn_select_init(&s);
    assert_int_equal(rn_select_add_kinds(&s, "masks,text", &e), RN_OK);
    assert_true(rn_select_match(&s, 0, RN_KIND_MASKS));
    assert_true(rn_select_match(&s, 0, RN_KIND_TEXT));
    assert_false(rn_select_match(&s, 0, RN_KIND_TENSOR));
    assert_int_equal(rn_select_add_ranges(&s, "2", &e), RN_OK);
    assert_false(rn_select_match(&s, 0, RN_KIND_MASKS));
    assert_true(rn_select_match(&s, 2, RN_KIND_MASKS));
    assert_int_equal(rn_select_add_kinds(&s, "mask", &e), RN_EUSAGE);
    assert_non_null(strstr(e.msg, "unknown record kind 'mask'"));
    assert_int_equal(rn_select_add_kinds(&s, "end", &e), RN_EUSAGE);
    assert_int_equal(rn_select_add_kinds(&s, "tensor,", &e), RN_EUSAGE);
    rn_select_free(&s);
    rn_select_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_bad_ranges),
        cmocka_unit_test(test_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
