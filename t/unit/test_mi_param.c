/*
 * Unit tests of mi_param: the default patterns checked without a regex
 * must give exactly the verdict of decoding the value and matching it with
 * PCRE2, the module's old road (mi_param_ref.h).  Named cases first, then
 * every value of up to two bytes, every value of three bytes over the
 * bytes that matter, and a million random values; each one judged alone
 * (mi_param_check) and inside a path (the route matcher's own scan).
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mi_param_ref.h"


#define V   MI_PARAM_VALID
#define M   MI_PARAM_MISMATCH
#define E   MI_PARAM_BAD_ESCAPE

#define WS  MI_PARAM_WORKSPACE_NAME
#define ID  MI_PARAM_PROJECT_ID


typedef struct {
    mi_param_t      param;
    const char     *raw;
    mi_param_rc_t   rc;
} param_case_t;


/* The bytes that decide something: classes, edges, '%' and hex. */
static const unsigned char  interesting[] = {
    '0', '1', '9', 'a', 'z', 'A', 'F', 'f', 'g', '-', '_', '.', '%', '2',
    'D', 'E', '\n', '\0', ' ', '/', '+', 0x7f, 0x80, 0xe9, 0xff, '3', '4'
};


/* Judges raw alone and in a path; fails with the value shown. */
static void
check_value(mi_param_t p, const unsigned char *raw, size_t len)
{
    int            in_path;
    size_t         i;
    mi_param_rc_t  expect, got;

    expect = mi_param_ref(p, raw, len);
    got = mi_param_check(p, raw, len);
    in_path = mi_param_ref_in_path(p, raw, len);

    if (got == expect && (in_path == -1 || in_path == (int) expect)) {
        return;
    }

    print_error("%s: value", mi_param_name(p));

    for (i = 0; i < len; i++) {
        print_error(" %02x", raw[i]);
    }

    print_error(": PCRE2 %d, mi_param_check %d, in a path %d\n", expect,
                got, in_path);
    fail();
}


static void
test_cases(void **state)
{
    static const param_case_t  cases[] = {
        { WS, "my-workspace", V },
        { WS, "abc", V },
        { WS, "ab", M },
        { WS, "a-0", V },
        { WS, "---", V },
        { WS, "My-WS", M },
        { WS, "my_ws", M },
        { WS, "my%2Dworkspace", V },
        { WS, "my%2dworkspace", V },
        { WS, "%61%62%63", V },
        { WS, "%41bc", M },
        { WS, "abc%0A", M },
        { WS, "abc%00", M },
        { WS, "ab%", E },
        { WS, "ab%4", E },
        { WS, "%zzabc", E },
        { WS, "AB%zz", E },
        { WS, "caf\xc3\xa9", M },
        { WS, "caf%C3%A9", M },
        { WS, "a%2Fb", M },
        { WS, "a+b", M },
        /* 63 and 64 characters */
        { WS, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          V },
        { WS, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", M },
        { ID, "1", V },
        { ID, "1234", V },
        { ID, "0", M },
        { ID, "01", M },
        { ID, "1234567890123456789", V },
        { ID, "12345678901234567890", M },
        { ID, "99999999999999999999", M },
        { ID, "%31234", V },
        { ID, "%30", M },
        { ID, "1%", E },
        { ID, "12a", M },
        { ID, "-1", M },
        { ID, "+1", M },
        { ID, "1 ", M },
        { ID, "1%0a", M },
        { MI_PARAM_ASSET_ID, "5678", V },
        { MI_PARAM_INDEX_ID, "1001", V },
        { MI_PARAM_SCENE_SUMMARY_ID, "101", V },
        { MI_PARAM_SCENE_SUMMARY_ID, "0101", M },
    };

    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(mi_param_check(cases[i].param,
                                        (const unsigned char *) cases[i].raw,
                                        strlen(cases[i].raw)),
                         cases[i].rc);
        check_value(cases[i].param, (const unsigned char *) cases[i].raw,
                    strlen(cases[i].raw));
    }

    assert_string_equal(mi_param_pattern(WS), "^[a-z0-9-]{3,63}$");
    assert_string_equal(mi_param_pattern(MI_PARAM_SCENE_SUMMARY_ID),
                        "^[1-9][0-9]{0,18}$");
    assert_null(mi_param_pattern(MI_PARAM_COUNT));
}


static void
test_short_values(void **state)
{
    int            p;
    unsigned       a, b, c;
    unsigned char  v[3];

    (void) state;

    for (p = 0; p < MI_PARAM_COUNT; p++) {
        check_value(p, v, 0);

        for (a = 0; a < 256; a++) {
            v[0] = (unsigned char) a;
            check_value(p, v, 1);

            for (b = 0; b < 256; b++) {
                v[1] = (unsigned char) b;
                check_value(p, v, 2);
            }
        }

        for (a = 0; a < sizeof(interesting); a++) {
            for (b = 0; b < sizeof(interesting); b++) {
                for (c = 0; c < sizeof(interesting); c++) {
                    v[0] = interesting[a];
                    v[1] = interesting[b];
                    v[2] = interesting[c];
                    check_value(p, v, 3);
                }
            }
        }
    }
}


/* xorshift: the same values on every run */
static uint32_t
next_random(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;

    return *s;
}


/*
 * Random values around the interesting lengths (2-4, 19-20, 62-64),
 * mostly valid bytes with a few others, and escapes of valid and invalid
 * bytes, well formed or not.
 */
static void
test_random_values(void **state)
{
    int                p;
    size_t             i, n, len, target;
    uint32_t           seed, r;
    unsigned char      v[256];
    static const char  valid[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
    static const char  escapes[][4] = {
        "%2D", "%2d", "%30", "%31", "%39", "%61", "%7A", "%41", "%0A", "%00",
        "%2F", "%2E", "%C3", "%zz", "%4", "%"
    };
    static const size_t  lengths[] = { 1, 2, 3, 4, 18, 19, 20, 21, 62, 63,
                                       64, 65 };

    (void) state;

    seed = 0x2545F491;

    for (i = 0; i < 1000000; i++) {
        r = next_random(&seed);
        p = r % MI_PARAM_COUNT;
        target = lengths[(r >> 8) % (sizeof(lengths) / sizeof(lengths[0]))];
        len = 0;

        while (len < target) {
            r = next_random(&seed);

            switch (r % 16) {

            case 0:
                n = strlen(escapes[(r >> 4) % 16]);
                memcpy(v + len, escapes[(r >> 4) % 16], n);
                len += n;
                break;

            case 1:
                v[len++] = interesting[(r >> 4) % sizeof(interesting)];
                break;

            default:
                v[len++] = (p == WS) ? valid[(r >> 4) % (sizeof(valid) - 1)]
                                     : (unsigned char) ('0' + (r >> 4) % 10);
                break;
            }
        }

        check_value(p, v, len);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_short_values),
        cmocka_unit_test(test_random_values),
    };

    mi_route_init();

    return cmocka_run_group_tests(tests, NULL, NULL);
}
