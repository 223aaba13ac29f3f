/*
 * Unit tests of mi_prom: label quoting (every byte value, against a
 * reference written here), which labels are one series once quoted, and
 * histogram bucket boundaries.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mi_prom.h"


static void
test_quote_examples(void **state)
{
    size_t          n;
    unsigned char   out[64];

    (void) state;

    n = mi_prom_quote(out, (const unsigned char *) "AK\"x\\y", 6);
    assert_int_equal(n, 8);
    assert_memory_equal(out, "AK\\\"x\\\\y", 8);

    n = mi_prom_quote(out, (const unsigned char *) "/etc/\xea\xb0\x80\n\t",
                      10);
    assert_int_equal(n, 10);
    assert_memory_equal(out, "/etc/?????", 10);

    assert_int_equal(mi_prom_quote(NULL, (const unsigned char *) "", 0), 0);
    assert_int_equal(mi_prom_quote(out, (const unsigned char *) "", 0), 0);
}


/* Each byte value on its own: the length alone and the text agree. */
static void
test_quote_every_byte(void **state)
{
    size_t          n;
    unsigned int    c;
    unsigned char   in[1], out[4];

    (void) state;

    for (c = 0; c < 256; c++) {
        in[0] = (unsigned char) c;
        memset(out, 0, sizeof(out));

        n = mi_prom_quote(out, in, 1);
        assert_int_equal(n, mi_prom_quote(NULL, in, 1));

        if (c == '"' || c == '\\') {
            assert_int_equal(n, 2);
            assert_int_equal(out[0], '\\');
            assert_int_equal(out[1], c);

        } else if (c >= 0x20 && c <= 0x7e) {
            assert_int_equal(n, 1);
            assert_int_equal(out[0], c);

        } else {
            assert_int_equal(n, 1);
            assert_int_equal(out[0], '?');
        }

        assert_int_equal(out[n], 0);
    }
}


/*
 * mi_prom_same_label says what comparing the quoted texts says, for every
 * pair of texts of up to three bytes from an alphabet with the bytes that
 * quote to two, to '?', and to themselves.
 */
static void
test_same_label(void **state)
{
    static const unsigned char  alphabet[] = "\"\\?a\001\200\377";
    static const size_t         count[] = { 7, 49, 343 };

    size_t          i, j, k, n, la, lb, qa, qb;
    unsigned char   texts[7 + 49 + 343][3], qta[8], qtb[8];
    size_t          lens[7 + 49 + 343];

    (void) state;

    n = 0;

    for (k = 1; k <= 3; k++) {
        for (i = 0; i < count[k - 1]; i++) {
            lens[n] = k;
            texts[n][0] = alphabet[i % 7];
            texts[n][1] = alphabet[i / 7 % 7];
            texts[n][2] = alphabet[i / 49 % 7];
            n++;
        }
    }

    assert_int_equal(n, 7 + 49 + 343);

    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            la = lens[i];
            lb = lens[j];
            qa = mi_prom_quote(qta, texts[i], la);
            qb = mi_prom_quote(qtb, texts[j], lb);

            assert_int_equal(mi_prom_same_label(texts[i], la, texts[j], lb),
                             qa == qb && memcmp(qta, qtb, qa) == 0);
        }
    }

    assert_true(mi_prom_same_label((const unsigned char *) "/k\xea\xb0\x80",
                                   5,
                                   (const unsigned char *) "/k\xeb\x82\x98",
                                   5));
    assert_false(mi_prom_same_label((const unsigned char *) "/k", 2,
                                    (const unsigned char *) "/j", 2));
}


static void
test_bucket_bounds(void **state)
{
    static const uint64_t  b[] = { 0, 10, 250, 1000 };

    (void) state;

    assert_int_equal(mi_prom_bucket(b, 4, 0), 0);
    assert_int_equal(mi_prom_bucket(b, 4, 1), 1);
    assert_int_equal(mi_prom_bucket(b, 4, 10), 1);
    assert_int_equal(mi_prom_bucket(b, 4, 11), 2);
    assert_int_equal(mi_prom_bucket(b, 4, 250), 2);
    assert_int_equal(mi_prom_bucket(b, 4, 1000), 3);
    assert_int_equal(mi_prom_bucket(b, 4, 1001), 4);
    assert_int_equal(mi_prom_bucket(b, 4, UINT64_MAX), 4);
    assert_int_equal(mi_prom_bucket(b, 0, 5), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_quote_examples),
        cmocka_unit_test(test_quote_every_byte),
        cmocka_unit_test(test_same_label),
        cmocka_unit_test(test_bucket_bounds),
    };

    return cmocka_run_group_tests_name("mi_prom", tests, NULL, NULL);
}
