/*
 * Unit tests of mi_role: the metadata service's credentials documents
 * (as NCP's SDKs read them, and broken ones), RFC 3339 times with each
 * zone form the SDKs see, and the role list's first line.  Each document
 * is copied to a heap block of its exact size, so ASan sees any read
 * past it.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mi_role.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


static int
parse(mi_role_credentials_t *cr, const char *text)
{
    int             rc;
    size_t          len;
    unsigned char  *copy;

    len = strlen(text);
    copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);

    rc = mi_role_parse(cr, copy, len);

    /* the members point into the copy: compare before it goes */
    if (rc == 0 && cr->access_key.data) {
        assert_true(cr->access_key.data >= copy
                    && cr->access_key.data + cr->access_key.len
                       <= copy + len);
    }

    free(copy);

    return rc;
}


static int
member_is(mi_role_str_t *m, const char *want)
{
    return m->data != NULL && m->len == strlen(want)
           && memcmp(m->data, want, m->len) == 0;
}


static void
test_credentials(void **state)
{
    int                    rc;
    size_t                 len;
    unsigned char         *copy;
    mi_role_credentials_t  cr;

    const char  *doc =
        "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : "
        "\"2026-12-31T02:53:47Z\",\n  \"Type\" : \"AK-SK\",\n"
        "  \"AccessKeyId\" : \"RAKEXAMPLE123\",\n"
        "  \"SecretAccessKey\" : \"s3cr\\/t\",\n"
        "  \"Token\" : null, \"Nested\": {\"a\": [1, \"}\", {}]},\n"
        "  \"Expiration\" : \"2026-12-31T08:53:47Z\"\n}\n";

    (void) state;

    len = strlen(doc);
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, doc, len);

    rc = mi_role_parse(&cr, copy, len);
    assert_int_equal(rc, 0);
    assert_true(member_is(&cr.access_key, "RAKEXAMPLE123"));
    assert_true(member_is(&cr.expiration, "2026-12-31T08:53:47Z"));
    assert_true(member_is(&cr.code, "Success"));
    assert_null(cr.message.data);

    /* "\/" is the one escape allowed: the bytes are as sent */
    assert_true(member_is(&cr.secret_key, "s3cr\\/t"));

    free(copy);
}


static void
test_error_document(void **state)
{
    mi_role_credentials_t  cr;

    (void) state;

    assert_int_equal(parse(&cr, "{\"Code\": \"NotFound\", "
                                "\"Message\": \"no such role\"}"), 0);
    assert_null(cr.access_key.data);
    assert_null(cr.secret_key.data);
    assert_null(cr.expiration.data);
    assert_non_null(cr.code.data);
    assert_non_null(cr.message.data);

    assert_int_equal(parse(&cr, "{}"), 0);
    assert_null(cr.access_key.data);
}


static void
test_malformed(void **state)
{
    size_t                 i;
    mi_role_credentials_t  cr;

    static const char  *bad[] = {
        "",
        "   ",
        "[]",
        "null",
        "{",
        "{\"AccessKeyId\"",
        "{\"AccessKeyId\":",
        "{\"AccessKeyId\": \"cut",
        "{\"AccessKeyId\": \"a\"",
        "{\"AccessKeyId\": \"a\",}",
        "{\"AccessKeyId\": \"a\" \"b\": 1}",
        "{\"Code\": \"Success\", \"AccessKeyId\": \"cut",
        "{\"SecretAccessKey\": \"a\\nb\"}",
        "{\"SecretAccessKey\": \"a\\u0041\"}",
        "{\"SecretAccessKey\": \"tab\there\"}",
        "{\"a\": {\"b\": [1, 2}",
        "{\"a\": @}",
        "{\"a\": 1} trailing",
        "{a: 1}",
    };

    (void) state;

    for (i = 0; i < nelts(bad); i++) {
        cr.error = NULL;

        if (parse(&cr, bad[i]) != -1 || cr.error == NULL) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
}


typedef struct {
    const char  *text;
    int          ok;
    int64_t      t;
} mi_time_case_t;


static void
test_time(void **state)
{
    size_t   i;
    int64_t  t;

    static const mi_time_case_t  cases[] = {
        { "1970-01-01T00:00:00Z", 1, 0 },
        { "2026-12-31T08:53:47Z", 1, 1798707227 },
        { "2026-12-31T08:53:47+0000", 1, 1798707227 },
        { "2026-12-31T08:53:47+00:00", 1, 1798707227 },
        { "2026-12-31T17:53:47+09:00", 1, 1798707227 },
        { "2026-12-31T17:53:47+0900", 1, 1798707227 },
        { "2026-12-31T07:53:47-01:00", 1, 1798707227 },
        { "2026-12-31T08:53:47.123Z", 1, 1798707227 },
        { "2026-12-31t08:53:47z", 1, 1798707227 },
        { "2024-02-29T00:00:00Z", 1, 1709164800 },
        { "2100-03-01T00:00:00Z", 1, 4107542400 },

        { "2026-12-31T08:53:47", 0, 0 },
        { "2026-12-31 08:53:47Z", 0, 0 },
        { "2026-12-31T08:53Z", 0, 0 },
        { "2026-13-01T00:00:00Z", 0, 0 },
        { "2026-02-29T00:00:00Z", 0, 0 },
        { "2026-04-31T00:00:00Z", 0, 0 },
        { "2026-12-31T24:00:00Z", 0, 0 },
        { "2026-12-31T08:53:47.Z", 0, 0 },
        { "2026-12-31T08:53:47+09", 0, 0 },
        { "2026-12-31T08:53:47+09:0", 0, 0 },
        { "2026-12-31T08:53:47Z ", 0, 0 },
        { "2026-12-31T08:53:47+24:00", 0, 0 },
        { "20261231T085347Z", 0, 0 },
        { "", 0, 0 },
    };

    (void) state;

    for (i = 0; i < nelts(cases); i++) {
        t = -1;

        if (mi_role_time((const unsigned char *) cases[i].text,
                         strlen(cases[i].text), &t)
            != (cases[i].ok ? 0 : -1))
        {
            fail_msg("%s: %s", cases[i].text,
                     cases[i].ok ? "refused" : "accepted");
        }

        if (cases[i].ok && t != cases[i].t) {
            fail_msg("%s: %lld, not %lld", cases[i].text, (long long) t,
                     (long long) cases[i].t);
        }
    }
}


static void
test_first_line(void **state)
{
    (void) state;

    assert_int_equal(mi_role_first_line((const unsigned char *) "role", 4),
                     4);
    assert_int_equal(mi_role_first_line((const unsigned char *) "r1\nr2", 5),
                     2);
    assert_int_equal(mi_role_first_line((const unsigned char *) "r1\r\n", 4),
                     2);
    assert_int_equal(mi_role_first_line((const unsigned char *) "\n", 1), 0);
    assert_int_equal(mi_role_first_line((const unsigned char *) "", 0), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_error_document),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_first_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
