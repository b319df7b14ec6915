/* Unit tests for libcore/buf: appends keep the data NUL-terminated, an
 * empty put makes "", printf appends formatted text across growths, and
 * a size that would overflow is refused with the buffer unchanged, and
 * JSON escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"

static void test_put(void **state)
{
    (void)state;
    struct rn_buf b = {0};
    assert_int_equal(rn_buf_put(&b, "", 0), 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, "");
    assert_int_equal(rn_buf_put(&b, "ab\0c", 4), 0);
    assert_int_equal(b.n, 4);
    assert_memory_equal(b.p, "ab\0c", 5); /* the NUL after the data too */
    char big[5000];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 10; i++)
        assert_int_equal(rn_buf_put(&b, big, sizeof big), 0);
    assert_int_equal(b.n, 4 + 10 * sizeof big);
    assert_true(b.cap > b.n);
    assert_int_equal(b.p[b.n], 0);
    assert_int_equal(b.p[b.n - 1], 'x');
    rn_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.n, 0);
}

static void test_printf(void **state)
{
    (void)state;
    struct rn_buf b = {0};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rn_buf_printf(&b, "%d,", i), 0);
    assert_int_equal(strlen(b.p), b.n);
    assert_memory_equal(b.p, "0,1,2,", 6);
    assert_string_equal(b.p + b.n - 4, "999,");
    rn_buf_free(&b);
}

static void test_overflow(void **state)
{
    (void)state;
    struct rn_buf b = {0};
    assert_int_equal(rn_buf_put(&b, "abc", 3), 0);
    assert_int_equal(rn_buf_put(&b, "x", (size_t)-1), -1);
    assert_int_equal(rn_buf_put(&b, "x", ((size_t)-1) / 2), -1);
    assert_int_equal(b.n, 3);
    assert_string_equal(b.p, "abc");
    rn_buf_free(&b);
}

static void test_json(void **state)
{
    (void)state;
    struct rn_buf b = {0};
    const char in[] = "a\"b\\c\n\t\r\x01\x7f\xc3\xa9\0z";
    assert_int_equal(rn_buf_json(&b, in, sizeof in - 1), 0);
    assert_string_equal(b.p, "a\\\"b\\\\c\\n\\t\\r\\u0001\\u007f\xc3\xa9\\u0000z");
    assert_int_equal(rn_buf_json(&b, "", 0), 0);
    assert_int_equal(b.n, strlen(b.p));
    rn_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
