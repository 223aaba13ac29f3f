/*
 * Unit tests of mi_body_simd: the three implementations (portable C, SSE2,
 * AVX2; those this CPU has) against a plain reference of what the entries
 * scan must take, on every short input over the bytes that matter and on
 * long random ones; then whole bodies through mi_body, each implementation
 * against byte-by-byte feeding (which the block scan never serves); and
 * the state after the '{"sceneIds":[' fast path against the byte path's.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mi_body.h"
#include "mi_body_simd.h"


static const char  alphabet[] = "0129, ]x";


static uint32_t
next_random(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;

    return *s;
}


/* The reference: one entry at a time, by the rules in mi_body_simd.h. */
static size_t
ref_ids(const unsigned char *p, size_t len, uint32_t budget,
    uint32_t *entries)
{
    size_t    i, start, taken;
    uint64_t  v;

    i = 0;
    taken = 0;
    *entries = 0;

    while (*entries < budget) {
        start = i;
        v = 0;

        while (i < len && p[i] >= '0' && p[i] <= '9' && i - start < 11) {
            v = v * 10 + (p[i] - '0');
            i++;
        }

        if (i == start || i == len || p[i] != ',' || v > 2147483647
            || (p[start] == '0' && i - start > 1))
        {
            break;
        }

        i++;

        if (i < len && p[i] == ' ') {
            i++;
        }

        taken = i;
        (*entries)++;
    }

    return taken;
}


/* Every implementation takes what the reference takes, from a copy of
 * the exact size, so that ASan sees any read past it. */
static void
check_ids(const unsigned char *in, size_t len, uint32_t budget)
{
    size_t          n, expect;
    uint32_t        e, expect_e;
    mi_body_isa_t   isa;
    unsigned char  *copy;

    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, in, len);

    expect = ref_ids(copy, len, budget, &expect_e);

    /* the scan is entered at a digit only */

    if (len == 0 || copy[0] < '0' || copy[0] > '9') {
        free(copy);
        return;
    }

    for (isa = 0; isa < MI_BODY_ISA_COUNT; isa++) {
        if (!mi_body_isa_set(isa)) {
            continue;
        }

        n = mi_body_ids(copy, len, budget, &e);

        if (n != expect || e != expect_e) {
            print_error("%s, budget %u, \"%.*s\": took %zu bytes, %u "
                        "entries; expected %zu, %u\n", mi_body_isa_name(),
                        (unsigned) budget, (int) len, (const char *) copy, n,
                        (unsigned) e, expect, (unsigned) expect_e);
            fail();
        }
    }

    free(copy);
}


static void
test_short_inputs(void **state)
{
    size_t         i, len, k, a;
    unsigned char  in[6];

    (void) state;

    for (len = 1; len <= 6; len++) {
        a = 1;

        for (i = 0; i < len; i++) {
            a *= sizeof(alphabet) - 1;
        }

        for (k = 0; k < a; k++) {
            size_t  x = k;

            for (i = 0; i < len; i++) {
                in[i] = (unsigned char) alphabet[x % (sizeof(alphabet) - 1)];
                x /= sizeof(alphabet) - 1;
            }

            check_ids(in, len, UINT32_MAX);
            check_ids(in, len, 1);
        }
    }
}


/*
 * Entries of every length around the range's edge, and bad ones, at every
 * position of two windows, followed by a short end and by a long one (so
 * that the window after is a whole one too).
 */
static void
test_edges(void **state)
{
    size_t             i, j, n, pad, tail;
    unsigned char      in[400];
    static const char *entries[] = {
        "2147483647", "2147483648", "2147483646", "1999999999", "3000000000",
        "999999999", "1000000000", "10000000000", "21474836470", "0", "00",
        "01", "7", "12345678901234567890",
        /* an empty entry, a space, and both, wherever they fall */
        "", " 7", " ", "7 ", ", 7"
    };

    (void) state;

    for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        for (pad = 0; pad < 160; pad++) {
            n = 0;

            for (j = 0; j < pad; j++) {
                in[n++] = (j % 2) ? ',' : '5';
            }

            if (pad % 2) {
                in[n++] = '5';
                in[n++] = ',';
            }

            memcpy(in + n, entries[i], strlen(entries[i]));
            n += strlen(entries[i]);

            for (tail = 0; tail < 2; tail++) {
                for (j = 0; j < (tail ? 60 : 1); j++) {
                    memcpy(in + n, ",1", 2);
                    n += 2;
                }

                in[n] = ',';

                check_ids(in, n + 1, UINT32_MAX);
                check_ids(in, n + 1, (uint32_t) pad / 2 + 1);
                check_ids(in, n, UINT32_MAX);
            }
        }
    }
}


/* Long runs of valid entries with one change now and then. */
static void
test_random_inputs(void **state)
{
    size_t         i, n, target;
    uint32_t       seed, r;
    unsigned char  in[1024];

    (void) state;

    seed = 0x9E3779B9;

    for (i = 0; i < 20000; i++) {
        r = next_random(&seed);
        target = r % sizeof(in);
        n = 0;

        while (n + 16 < target) {
            r = next_random(&seed);
            n += (size_t) snprintf((char *) in + n, 16, "%u",
                                   (r % 4 == 0) ? r % 2147483648u
                                                : r % 100000);
            in[n++] = ',';

            if (r % 7 == 0) {
                in[n++] = ' ';
            }
        }

        if (n > 0 && r % 3 == 0) {
            r = next_random(&seed);
            in[r % n] = (unsigned char) alphabet[(r >> 12)
                                                 % (sizeof(alphabet) - 1)];
        }

        check_ids(in, n, UINT32_MAX);
        check_ids(in, n, r % 50);
    }
}


/* The reference of mi_body_ids_list: one entry at a time. */
static int
ref_list(const unsigned char *p, size_t len, uint32_t *entries,
    size_t *last)
{
    size_t  i, start;

    *entries = 0;

    for (i = 0; ; i++) {
        start = i;

        while (i < len && p[i] >= '0' && p[i] <= '9') {
            i++;
        }

        if (i == start || i - start > 9 || (p[start] == '0' && i - start > 1))
        {
            return 0;
        }

        (*entries)++;
        *last = start;

        if (i == len) {
            return 1;
        }

        if (p[i] != ',') {
            return 0;
        }
    }
}


/* Each implementation against the reference, on a copy of the exact size. */
static void
check_list(const unsigned char *in, size_t len)
{
    int             ok, expect;
    size_t          last, expect_last;
    uint32_t        e, expect_e;
    mi_body_isa_t   isa;
    unsigned char  *copy;

    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, in, len);

    expect_last = 0;
    expect = ref_list(copy, len, &expect_e, &expect_last);

    for (isa = 0; isa < MI_BODY_ISA_COUNT; isa++) {
        if (!mi_body_isa_set(isa)) {
            continue;
        }

        e = 0;
        last = 0;
        ok = mi_body_ids_list(copy, len, &e, &last);

        if (ok != expect || (ok && (e != expect_e || last != expect_last))) {
            print_error("%s, \"%.*s\": %d, %u entries, last at %zu; "
                        "expected %d, %u, %zu\n", mi_body_isa_name(),
                        (int) len, (const char *) copy, ok, (unsigned) e,
                        last, expect, (unsigned) expect_e, expect_last);
            fail();
        }
    }

    free(copy);
}


/*
 * Every string of 1 to 5 bytes over the alphabet, and seeded lists up to a
 * window long, with entries at the edges and a byte changed now and then.
 */
static void
test_list_inputs(void **state)
{
    size_t         i, len, k, a, n;
    uint32_t       seed, r;
    unsigned char  in[MI_BODY_LIST_WINDOW + 16];

    static const char  *edge[] = {
        "0", "00", "01", "9", "10", "123456789", "1234567890",
        "2147483647", "999999999", "0123"
    };

    (void) state;

    for (len = 1; len <= 5; len++) {
        a = 1;

        for (k = 0; k < len; k++) {
            a *= sizeof(alphabet) - 1;
        }

        for (i = 0; i < a; i++) {
            for (k = 0, n = i; k < len; k++, n /= sizeof(alphabet) - 1) {
                in[k] = (unsigned char) alphabet[n % (sizeof(alphabet) - 1)];
            }

            check_list(in, len);
        }
    }

    seed = 0xBADC0DE;

    for (i = 0; i < 50000; i++) {
        r = next_random(&seed);
        len = 1 + r % MI_BODY_LIST_WINDOW;
        n = 0;

        while (n < len) {
            r = next_random(&seed);
            n += (size_t) snprintf((char *) in + n, sizeof(in) - n, "%s%s",
                                   n ? "," : "",
                                   (r % 5 == 0) ? edge[(r >> 8) % 10]
                                   : (r % 2) ? "7" : "42");
        }

        if (r % 3 == 0 && n <= MI_BODY_LIST_WINDOW) {
            len = n;                    /* whole, else cut anywhere */
        }

        r = next_random(&seed);

        if (r % 4 == 0) {
            in[r % len] = (unsigned char) alphabet[(r >> 12)
                                                   % (sizeof(alphabet) - 1)];
        }

        check_list(in, len);
    }
}


/* Verdict and message of a body fed whole under each implementation, and
 * byte by byte, where the block scan never takes anything. */
static void
check_body(const char *body, size_t len, uint32_t max)
{
    size_t           i;
    mi_body_rc_t     rc, ref_rc;
    mi_body_isa_t    isa;
    mi_body_check_t  ck;
    char             ref[MI_BODY_MESSAGE_MAX];

    mi_body_init(&ck, MI_BODY_ASSET_REQUEST, max);

    for (i = 0; i < len; i++) {
        (void) mi_body_feed(&ck, (const unsigned char *) body + i, 1);
    }

    ref_rc = mi_body_finish(&ck);
    strcpy(ref, mi_body_message(&ck));

    for (isa = 0; isa < MI_BODY_ISA_COUNT; isa++) {
        if (!mi_body_isa_set(isa)) {
            continue;
        }

        mi_body_init(&ck, MI_BODY_ASSET_REQUEST, max);
        (void) mi_body_feed(&ck, (const unsigned char *) body, len);
        rc = mi_body_finish(&ck);

        if (rc != ref_rc || strcmp(mi_body_message(&ck), ref) != 0) {
            print_error("%s: \"%.*s\": %d \"%s\", byte by byte %d \"%s\"\n",
                        mi_body_isa_name(), (int) len, body, rc,
                        mi_body_message(&ck), ref_rc, ref);
            fail();
        }
    }
}


static void
test_random_bodies(void **state)
{
    size_t    i, n, k, entries;
    uint32_t  seed, r, spaced;
    char      body[2048];

    (void) state;

    seed = 0x1234567;

    for (i = 0; i < 5000; i++) {
        r = next_random(&seed);
        entries = r % 150;
        spaced = (r & 2);       /* or compact, as most clients write */
        n = (size_t) sprintf(body, (r & 1) ? "{\"sceneIds\":["
                                           : " {\"sceneIds\" : [");

        for (k = 0; k < entries; k++) {
            r = next_random(&seed);
            n += (size_t) sprintf(body + n, "%s%u",
                                  k ? ((spaced && (r & 8)) ? ", " : ",") : "",
                                  (r % 5 == 0) ? r % 2147483648u : r % 1000);
        }

        n += (size_t) sprintf(body + n, "]}");

        /* a changed byte now and then, anywhere */

        r = next_random(&seed);

        if (r % 2 == 0) {
            body[r % n] = "0129, ]x-.e\"{}"[(r >> 16) % 14];
        }

        check_body(body, n, (r % 3 == 0) ? (uint32_t) (r % 150) : 10000);
    }
}


/* The fast path's state is the byte path's, field for field. */
static void
test_prefix_state(void **state)
{
    size_t           i;
    int              schema;
    mi_body_check_t  fast, slow;
    static const char  body[] = "{\"sceneIds\":[";

    (void) state;

    for (schema = 0; schema < 2; schema++) {
        mi_body_init(&fast, schema, 77);
        mi_body_init(&slow, schema, 77);

        assert_int_equal(mi_body_feed(&fast, (const unsigned char *) body,
                                      sizeof(body) - 1), MI_BODY_MORE);

        for (i = 0; i < sizeof(body) - 1; i++) {
            assert_int_equal(mi_body_feed(&slow,
                                          (const unsigned char *) body + i,
                                          1), MI_BODY_MORE);
        }

        /* the message buffer is written only on an error */

        assert_memory_equal(&fast, &slow, offsetof(mi_body_check_t, message));
        assert_string_equal(mi_body_message(&fast), mi_body_message(&slow));
    }
}


/*
 * The small-body path (entries then "]}", all in one buffer) ends in the
 * byte path's state, field for field, or refuses as that path does:
 * entries at the edges of the rules, counts at the edges of the limit.
 */
static void
test_list_state(void **state)
{
    int              schema;
    size_t           i, k, n, entries;
    uint32_t         seed, r, max;
    mi_body_rc_t     rc_fast, rc_slow;
    mi_body_check_t  fast, slow;
    char             body[1024];

    static const char  *edge[] = {
        "0", "1", "9", "10", "2147483647", "2147483648", "2147483639",
        "2147483640", "2147483650", "214748364", "21474836470", "00", "01",
        "-1", "1.5", "", " 1", "1 ", "4294967296", "99999999999"
    };

    static const char  *end[] = {
        "]}", "]}", "]}", "]} ", "]", "]}}", "],}", "]}x", "}", "]]}"
    };

    (void) state;

    seed = 0xC0FFEE;

    for (i = 0; i < 20000; i++) {
        r = next_random(&seed);
        schema = r & 1;
        entries = 1 + (r >> 1) % 24;
        n = (size_t) sprintf(body, "{\"sceneIds\":[");

        for (k = 0; k < entries; k++) {
            r = next_random(&seed);
            n += (size_t) sprintf(body + n, "%s", k ? "," : "");

            if (r % 4 == 0) {
                n += (size_t) sprintf(body + n, "%s",
                              edge[(r >> 8) % (sizeof(edge) / sizeof(edge[0]))]);

            } else {
                n += (size_t) sprintf(body + n, "%u", (r >> 4) % 100000);
            }
        }

        r = next_random(&seed);
        n += (size_t) sprintf(body + n, "%s",
                              end[r % (sizeof(end) / sizeof(end[0]))]);

        r = next_random(&seed);
        max = (r % 3 == 0) ? (uint32_t) (entries - 1 + r % 3) : 10000;

        mi_body_init(&slow, schema, max);

        for (k = 0; k < n; k++) {
            (void) mi_body_feed(&slow, (const unsigned char *) body + k, 1);
        }

        rc_slow = slow.rc;

        mi_body_init(&fast, schema, max);
        (void) mi_body_isa_set((mi_body_isa_t) (i % MI_BODY_ISA_COUNT));
        rc_fast = mi_body_feed(&fast, (const unsigned char *) body, n);

        if (rc_fast != rc_slow
            || strcmp(mi_body_message(&fast), mi_body_message(&slow)) != 0
            || (rc_slow == MI_BODY_MORE
                && memcmp(&fast, &slow, offsetof(mi_body_check_t, message))
                   != 0))
        {
            print_error("seed 0xC0FFEE, body %zu, %s, schema %d, max %u: "
                        "\"%.*s\": %d \"%s\", byte by byte %d \"%s\"\n",
                        i, mi_body_isa_name(), schema, max, (int) n, body,
                        rc_fast,
                        mi_body_message(&fast), rc_slow,
                        mi_body_message(&slow));
            fail();
        }

        assert_int_equal(mi_body_finish(&fast), mi_body_finish(&slow));
        assert_string_equal(mi_body_message(&fast), mi_body_message(&slow));
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_short_inputs),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_list_inputs),
        cmocka_unit_test(test_random_bodies),
        cmocka_unit_test(test_prefix_state),
        cmocka_unit_test(test_list_state),
    };

    mi_body_tables_init();

    return cmocka_run_group_tests(tests, NULL, NULL);
}
