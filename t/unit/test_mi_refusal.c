/*
 * Unit tests of mi_refusal: the API Gateway's bodies and their verdicts,
 * each read whole, in two pieces split at every position, and a byte at a
 * time; the bound of MI_REFUSAL_SCAN_MAX bytes, to the byte.  Each piece
 * is a heap block of its exact size, so ASan sees any read past it.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mi_refusal.h"


#define AUTH       MI_REFUSAL_AUTHENTICATION
#define OTHER      MI_REFUSAL_OTHER
#define UNDECIDED  MI_REFUSAL_UNDECIDED

#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


typedef struct {
    const char     *body;
    mi_refusal_e    verdict;
} mi_case_t;


static const mi_case_t  cases[] = {

    /* the gateway's own, as docs/api.md quotes them */
    { "{\"error\": {\"errorCode\": \"200\", "
      "\"message\": \"Authentication Failed\"}}", AUTH },
    { "{\"error\": {\"errorCode\": \"210\", "
      "\"message\": \"Permission Denied\"}}", OTHER },
    { "{\"error\":{\"errorCode\":\"200\",\"message\":\"Authentication "
      "Failed\",\"details\":\"signature mismatch\"}}", AUTH },

    /* whitespace where JSON allows it */
    { "{\n  \"error\" : {\r\n\t\"errorCode\"\t:\n \"200\" }}", AUTH },

    /* other values: the first errorCode member decides */
    { "{\"error\":{\"errorCode\":\"2000\"}}", OTHER },
    { "{\"error\":{\"errorCode\":\"20\"}}", OTHER },
    { "{\"error\":{\"errorCode\":200}}", OTHER },
    { "{\"error\":{\"errorCode\":\"mock-401\"}}", OTHER },
    { "{\"error\":{\"errorCode\":null}}", OTHER },
    { "{\"error\":{\"errorCode\":\"210\"},\"errorCode\":\"200\"}", OTHER },

    /* "errorCode" as a value, or within a longer name, is not the member */
    { "{\"message\":\"errorCode\",\"error\":{\"errorCode\":\"200\"}}", AUTH },
    { "{\"x\":\"errorCode\"}", UNDECIDED },
    { "{\"myerrorCode\":\"200\"}", UNDECIDED },
    { "{\"errorCodes\":\"200\"}", UNDECIDED },
    { "{\"\"errorCode\":\"200\"}", AUTH },
    { "{\"errorCod\"errorCode\":\"200\"}", AUTH },

    /* escaped quotes inside a string are not a member's */
    { "{\"message\":\"\\\"errorCode\\\": \\\"200\\\"\"}", UNDECIDED },

    /* MI's own envelope, and bodies that are not JSON */
    { "{\"code\":\"mock\",\"message\":\"status 401 asked by the test\"}",
      UNDECIDED },
    { "<html><body>401 Authorization Required</body></html>", UNDECIDED },
    { "", UNDECIDED }
};


static mi_refusal_e
read_piece(mi_refusal_t *rf, const char *p, size_t len)
{
    mi_refusal_e    v;
    unsigned char  *copy;

    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, p, len);

    v = mi_refusal_read(rf, copy, len);

    free(copy);

    return v;
}


static void
expect_verdict(const char *name, const char *body, size_t split,
    mi_refusal_e got, mi_refusal_e want)
{
    if (got == want) {
        return;
    }

    print_error("%s, split at %zu: got %d, want %d: %s\n", name, split,
                (int) got, (int) want, body);
    fail();
}


static void
test_whole(void **state)
{
    size_t        i;
    mi_refusal_t  rf;

    (void) state;

    for (i = 0; i < nelts(cases); i++) {
        memset(&rf, 0, sizeof(rf));
        expect_verdict("whole", cases[i].body, 0,
                       read_piece(&rf, cases[i].body, strlen(cases[i].body)),
                       cases[i].verdict);
    }
}


static void
test_two_pieces(void **state)
{
    size_t        i, n, split;
    mi_refusal_t  rf;

    (void) state;

    for (i = 0; i < nelts(cases); i++) {
        n = strlen(cases[i].body);

        for (split = 0; split <= n; split++) {
            memset(&rf, 0, sizeof(rf));
            (void) read_piece(&rf, cases[i].body, split);
            expect_verdict("two pieces", cases[i].body, split,
                           read_piece(&rf, cases[i].body + split, n - split),
                           cases[i].verdict);
        }
    }
}


static void
test_byte_by_byte(void **state)
{
    size_t        i, j, n;
    mi_refusal_t  rf;
    mi_refusal_e  v;

    (void) state;

    for (i = 0; i < nelts(cases); i++) {
        n = strlen(cases[i].body);
        memset(&rf, 0, sizeof(rf));
        v = UNDECIDED;

        for (j = 0; j < n; j++) {
            v = read_piece(&rf, cases[i].body + j, 1);
        }

        expect_verdict("byte by byte", cases[i].body, 1, v, cases[i].verdict);
    }
}


/* A verdict stays, whatever comes after it. */
static void
test_verdict_stays(void **state)
{
    mi_refusal_t  rf;

    (void) state;

    memset(&rf, 0, sizeof(rf));
    assert_int_equal(read_piece(&rf, "{\"errorCode\":\"200\"", 18), AUTH);
    assert_int_equal(read_piece(&rf, "}{\"errorCode\":\"210\"}", 20), AUTH);

    memset(&rf, 0, sizeof(rf));
    assert_int_equal(read_piece(&rf, "{\"errorCode\":\"210\"", 18), OTHER);
    assert_int_equal(read_piece(&rf, "{\"errorCode\":\"200\"}", 19), OTHER);
}


/*
 * The member found within MI_REFUSAL_SCAN_MAX bytes counts, to its last
 * byte; one a byte beyond does not, nor anything after MI_REFUSAL_SCAN_MAX
 * bytes without it.
 */
static void
test_bound(void **state)
{
    static const char  member[] = "\"errorCode\":\"200\"";

    char          body[MI_REFUSAL_SCAN_MAX + 64];
    size_t        m, pad, split;
    mi_refusal_t  rf;

    (void) state;

    m = sizeof(member) - 1;

    for (pad = MI_REFUSAL_SCAN_MAX - m - 2; pad <= MI_REFUSAL_SCAN_MAX - m + 1;
         pad++)
    {
        memset(body, ' ', pad);
        memcpy(body + pad, member, m);

        for (split = 0; split <= pad + m; split += 7) {
            memset(&rf, 0, sizeof(rf));
            (void) read_piece(&rf, body, split);
            expect_verdict("at the bound", member, split,
                           read_piece(&rf, body + split, pad + m - split),
                           pad + m <= MI_REFUSAL_SCAN_MAX ? AUTH : OTHER);
        }
    }

    memset(body, ' ', sizeof(body));

    memset(&rf, 0, sizeof(rf));
    assert_int_equal(read_piece(&rf, body, MI_REFUSAL_SCAN_MAX - 1),
                     UNDECIDED);
    assert_int_equal(read_piece(&rf, body, 1), OTHER);

    memset(&rf, 0, sizeof(rf));
    assert_int_equal(read_piece(&rf, body, sizeof(body)), OTHER);
    assert_int_equal(rf.seen, MI_REFUSAL_SCAN_MAX);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_two_pieces),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_verdict_stays),
        cmocka_unit_test(test_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
