/* Unit tests for libcore/stops: a match counts only if it ends in the
 * bytes added since `before` (so a stop string is found once, at the token
 * that completes it, even across token boundaries), list order decides
 * between two, and no match gives -1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "stops.h"

static void test_find(void **state)
{
    (void)state;
    const char *stop[] = {"User:", "\n\n"};
    const char *t = "Hello.\n\nUser: hi";
    size_t n = strlen(t);
    /* "\n\n" completed by the byte at 7 */
    assert_int_equal(rn_stop_find(t, 8, 7, stop, 2), 6);
    /* already seen: it ended before `before` */
    assert_int_equal(rn_stop_find(t, 10, 8, stop, 2), -1);
    /* "User:" spanning the old and the new bytes */
    assert_int_equal(rn_stop_find(t, 13, 10, stop, 2), 8);
    /* both new at once: the list's first wins, not the earliest */
    assert_int_equal(rn_stop_find(t, n, 0, stop, 2), 8);
    assert_int_equal(rn_stop_find(t, n, 0, stop + 1, 1), 6);
    assert_int_equal(rn_stop_find(t, n, 0, stop, 0), -1);
    assert_int_equal(rn_stop_find("", 0, 0, stop, 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
