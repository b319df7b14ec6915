/* CRC-32C: known answers, incremental use, hardware path against the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

static void test_known_answers(void **state)
{
    (void)state;
    /* Check values from RFC 3720 (iSCSI), appendix B.4. */
    unsigned char zeros[32] = {0}, ones[32], inc[32], dec[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++) {
        inc[i] = (unsigned char)i;
        dec[i] = (unsigned char)(31 - i);
    }
    assert_int_equal(rn_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(rn_crc32c(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(rn_crc32c(0, ones, 32), 0x62A8AB43u);
    assert_int_equal(rn_crc32c(0, inc, 32), 0x46DD794Eu);
    assert_int_equal(rn_crc32c(0, dec, 32), 0x113FDB5Cu);
    assert_int_equal(rn_crc32c(0, "", 0), 0);
    assert_int_equal(rn_crc32c_ref(0, "123456789", 9), 0xE3069283u);
}

static void test_incremental_and_unaligned(void **state)
{
    (void)state;
    size_t n = 10007;
    unsigned char *buf = malloc(n + 8);
    for (size_t i = 0; i < n + 8; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    for (size_t off = 0; off < 8; off++) {
        uint32_t whole = rn_crc32c_ref(0, buf + off, n);
        assert_int_equal(rn_crc32c(0, buf + off, n), whole);
        for (size_t cut = 0; cut < n; cut += 997) {
            uint32_t c = rn_crc32c(0, buf + off, cut);
            assert_int_equal(rn_crc32c(c, buf + off + cut, n - cut), whole);
        }
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_incremental_and_unaligned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
