/*
 * Unit tests of mi_credentials: NCP CLI credentials files that are read,
 * and every kind that is refused, with the message that names the line,
 * the profile or the key; then secret key files, read and refused.  Each
 * file is parsed from a heap block of its exact size, so ASan sees any
 * read past it, and no message may hold a byte of the secret.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mi_credentials.h"


#define AK   "ncloud_access_key_id"
#define SK   "ncloud_secret_access_key"
#define URL  "ncloud_api_url = https://ncloud.apigw.ntruss.com\n"

/* what "ncloud configure" writes */
#define CLI  "[DEFAULT]\n" AK " = AKID1234\n" SK " = s3cr3tK3y\n" URL


typedef struct {
    const char   *name;
    const char   *file;
    size_t        len;
    const char   *profile;
    const char   *access_key;   /* NULL: an error is expected */
    const char   *secret_key;   /* or the message */
} mi_case_t;


#define GOOD(name, file, profile, ak, sk)                                     \
    { name, file, sizeof(file) - 1, profile, ak, sk }
#define BAD(name, file, profile, message)                                     \
    { name, file, sizeof(file) - 1, profile, NULL, message }

#define nelts(a)  (sizeof(a) / sizeof((a)[0]))

#define OUTSIDE(line, key, pos)                                               \
    "line " #line ": \"" key "\" has a space or a character outside "        \
    "printable ASCII, at position " #pos

#define HINT  " (NCP keys are letters and digits)"

#define QUOTED(line, key)                                                     \
    "line " #line ": \"" key "\" starts or ends with a quote mark: write "   \
    "the value without quotes" HINT

#define COMMENT(line, key, c, pos)                                            \
    "line " #line ": \"" key "\" has \"" c "\" at position " #pos           \
    ": a comment goes on a line of its own" HINT


/* The keys found are the case's, as spans of the caller's buffer. */

static void
expect_keys(const mi_case_t *c, const mi_credentials_t *cr,
    const unsigned char *p)
{
    assert_true(cr->access_key >= p
                && cr->access_key + cr->access_key_len <= p + c->len);
    assert_true(cr->secret_key >= p
                && cr->secret_key + cr->secret_key_len <= p + c->len);

    if (cr->access_key_len == strlen(c->access_key)
        && memcmp(cr->access_key, c->access_key, cr->access_key_len) == 0
        && cr->secret_key_len == strlen(c->secret_key)
        && memcmp(cr->secret_key, c->secret_key, cr->secret_key_len) == 0)
    {
        return;
    }

    print_error("%s: got \"%.*s\" \"%.*s\"\n", c->name,
                (int) cr->access_key_len, cr->access_key,
                (int) cr->secret_key_len, cr->secret_key);
    fail();
}


static void
check_cases(const mi_case_t *cases, size_t n)
{
    size_t                i;
    unsigned char        *p;
    const mi_case_t      *c;
    mi_credentials_t      cr;
    mi_credentials_rc_t   rc;

    for (i = 0; i < n; i++) {
        c = &cases[i];

        p = malloc(c->len ? c->len : 1);
        assert_non_null(p);
        memcpy(p, c->file, c->len);

        rc = mi_credentials_parse(&cr, p, c->len, c->profile,
                                  strlen(c->profile));

        if (c->access_key == NULL
            && (rc != MI_CREDENTIALS_ERROR
                || strcmp(cr.message, c->secret_key) != 0))
        {
            print_error("%s:\n  expected \"%s\"\n       got rc %d \"%s\"\n",
                        c->name, c->secret_key, rc, cr.message);
            fail();
        }

        if (c->access_key != NULL && rc != MI_CREDENTIALS_OK) {
            print_error("%s: refused: %s\n", c->name, cr.message);
            fail();
        }

        if (c->access_key != NULL) {
            expect_keys(c, &cr, p);
        }

        /* the secrets of the cases all hold "s3cr3t" */

        assert_null(strstr(cr.message, "s3cr3t"));

        free(p);
    }
}


static void
test_read(void **state)
{
    static const mi_case_t  cases[] = {
        GOOD("what ncloud configure writes", CLI, "DEFAULT",
             "AKID1234", "s3cr3tK3y"),
        GOOD("no newline at the end",
             "[DEFAULT]\n" AK "=AKID1234\n" SK "=s3cr3tK3y", "DEFAULT",
             "AKID1234", "s3cr3tK3y"),
        GOOD("CRLF line ends",
             "[DEFAULT]\r\n" AK " = AKID1234\r\n" SK " = s3cr3tK3y\r\n",
             "DEFAULT", "AKID1234", "s3cr3tK3y"),
        GOOD("blanks around everything",
             "  \t\n [ DEFAULT ]\t\n\t" AK "\t=\tAKID1234 \n"
             "   " SK "   =   s3cr3tK3y\t\t\n\n", "DEFAULT",
             "AKID1234", "s3cr3tK3y"),
        GOOD("comments, also indented, also not ASCII",
             "# written by ncloud configure\n; another\n[DEFAULT]\n"
             "   # [prod] = x\n# \xed\x82\xa4 = \xea\xb0\x92\n"
             AK " = AKID1234\n;" SK " = nope\n" SK " = s3cr3tK3y\n",
             "DEFAULT", "AKID1234", "s3cr3tK3y"),
        GOOD("keys in the other order, other names ignored",
             "[DEFAULT]\nncloud_region = KR\n" SK " = s3cr3tK3y\n"
             "NCLOUD_ACCESS_KEY_ID = X\n" AK " = AKID1234\n", "DEFAULT",
             "AKID1234", "s3cr3tK3y"),
        GOOD("'=' in a value: the name ends at the first",
             "[DEFAULT]\n" AK " = AKID1234\n" SK " = s3cr3t==\n", "DEFAULT",
             "AKID1234", "s3cr3t=="),
        GOOD("a byte order mark",
             "\xEF\xBB\xBF[DEFAULT]\n" AK " = AKID1234\n" SK " = s3cr3tK3y",
             "DEFAULT", "AKID1234", "s3cr3tK3y"),
        GOOD("a named profile among others",
             CLI "\n[prod]\n" AK " = AKPROD\n" SK " = s3cr3tPROD\n" URL
             "\n[dev]\n" AK " = AKDEV\n", "prod", "AKPROD", "s3cr3tPROD"),
        GOOD("other profiles are not checked for keys",
             "[a]\n" AK " =\n" AK " = 1\n" SK " = x y\n"
             "[DEFAULT]\n" AK " = AKID1234\n" SK " = s3cr3tK3y\n"
             "[b]\n" SK " = \x80\n", "DEFAULT", "AKID1234", "s3cr3tK3y"),
        GOOD("another profile given twice does not matter",
             "[a]\n[a]\n" CLI, "DEFAULT", "AKID1234", "s3cr3tK3y"),
        GOOD("other printable ASCII is taken as it is",
             "[DEFAULT]\n" AK " = A\"K'!\n" SK " = s3cr3t!~[]\\/\"'x\n",
             "DEFAULT", "A\"K'!", "s3cr3t!~[]\\/\"'x"),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_profile_and_keys(void **state)
{
    static const mi_case_t  cases[] = {
        BAD("empty file", "", "DEFAULT", "profile \"DEFAULT\" not found"),
        BAD("comments only", "# nothing\n\n; here\n", "DEFAULT",
            "profile \"DEFAULT\" not found"),
        BAD("another profile only", "[prod]\n" AK " = A\n" SK " = s3cr3t\n",
            "DEFAULT", "profile \"DEFAULT\" not found"),
        BAD("profile names are case-sensitive",
            "[default]\n" AK " = A\n" SK " = s3cr3t\n", "DEFAULT",
            "profile \"DEFAULT\" not found"),
        BAD("named profile missing", CLI, "prod",
            "profile \"prod\" not found"),
        BAD("no access key", "# c\n[DEFAULT]\n" SK " = s3cr3t\n" URL,
            "DEFAULT", "profile \"DEFAULT\" (line 2) has no \"" AK "\""),
        BAD("no secret key", "[DEFAULT]\n" AK " = A\n" URL, "DEFAULT",
            "profile \"DEFAULT\" (line 1) has no \"" SK "\""),
        BAD("keys in names of another case do not count",
            "[DEFAULT]\n" AK " = A\nNCLOUD_SECRET_ACCESS_KEY = s3cr3t\n",
            "DEFAULT", "profile \"DEFAULT\" (line 1) has no \"" SK "\""),
        BAD("a named profile is not completed from [DEFAULT]",
            CLI "[prod]\n" AK " = AKPROD\n", "prod",
            "profile \"prod\" (line 5) has no \"" SK "\""),
        BAD("keys after the profile, in another one",
            "[DEFAULT]\n[x]\n" AK " = A\n" SK " = s3cr3t\n", "DEFAULT",
            "profile \"DEFAULT\" (line 1) has no \"" AK "\""),
        BAD("duplicate access key",
            "[DEFAULT]\n" AK " = A\n" SK " = s3cr3t\n" AK " = B\n",
            "DEFAULT", "line 4: \"" AK "\" given twice in profile "
            "\"DEFAULT\" (first at line 2)"),
        BAD("duplicate secret key, same value",
            "[DEFAULT]\n" SK " = s3cr3t\n" AK " = A\n\n" SK " = s3cr3t\n",
            "DEFAULT", "line 5: \"" SK "\" given twice in profile "
            "\"DEFAULT\" (first at line 2)"),
        BAD("the profile given twice",
            "[DEFAULT]\n" AK " = A\n[x]\n[DEFAULT]\n" SK " = s3cr3t\n",
            "DEFAULT", "line 4: profile \"DEFAULT\" given twice "
            "(first at line 1)"),
        BAD("empty access key", "[DEFAULT]\n" AK " =\n" SK " = s3cr3t\n",
            "DEFAULT", "line 2: \"" AK "\" is empty"),
        BAD("blank secret key", "[DEFAULT]\n" AK " = A\n" SK " = \t \n",
            "DEFAULT", "line 3: \"" SK "\" is empty"),
        BAD("a space in the secret",
            "[DEFAULT]\n" AK " = A\n" SK " = s3cr3t X\n", "DEFAULT",
            OUTSIDE(3, SK, 6)),
        BAD("a comment after the secret is part of it",
            "[DEFAULT]\n" AK " = A\n" SK " = s3cr3t # old\n", "DEFAULT",
            OUTSIDE(3, SK, 6)),
        BAD("UTF-8 in the access key",
            "[DEFAULT]\n" AK " = AK\xC3\xA9\n" SK " = s3cr3t\n", "DEFAULT",
            OUTSIDE(2, AK, 2)),
        BAD("Latin-1 in the secret",
            "[DEFAULT]\n" AK " = A\n" SK " = s3cr3t\xE9\n", "DEFAULT",
            OUTSIDE(3, SK, 6)),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


/* Quotes and comments are not taken off a value: refused, not guessed. */

static void
test_quotes_and_comments(void **state)
{
    static const mi_case_t  cases[] = {
        BAD("the access key in double quotes",
            "[DEFAULT]\n" AK " = \"AKID1234\"\n" SK " = s3cr3t\n",
            "DEFAULT", QUOTED(2, AK)),
        BAD("the access key in single quotes",
            "[DEFAULT]\n" AK " = 'AKID1234'\n" SK " = s3cr3t\n",
            "DEFAULT", QUOTED(2, AK)),
        BAD("the secret in double quotes",
            "[DEFAULT]\n" AK " = A\n" SK " = \"s3cr3t\"\r\n", "DEFAULT",
            QUOTED(3, SK)),
        BAD("the secret in single quotes",
            "[DEFAULT]\n" AK " = A\n" SK " = 's3cr3t'\n", "DEFAULT",
            QUOTED(3, SK)),
        BAD("a quote at the start only",
            "[DEFAULT]\n" AK " = A\n" SK " = \"s3cr3t\n", "DEFAULT",
            QUOTED(3, SK)),
        BAD("a quote at the end only",
            "[DEFAULT]\n" AK " = A\n" SK " = s3cr3t'\n", "DEFAULT",
            QUOTED(3, SK)),
        BAD("a quote alone",
            "[DEFAULT]\n" AK " = \"\n" SK " = s3cr3t\n", "DEFAULT",
            QUOTED(2, AK)),
        BAD("quotes with a space inside: the space first",
            "[DEFAULT]\n" AK " = A\n" SK " = \"s3cr3t x\"\n", "DEFAULT",
            OUTSIDE(3, SK, 7)),
        BAD("a comment glued to the secret",
            "[DEFAULT]\n" AK " = A\n" SK " = s3cr3t#old\n", "DEFAULT",
            COMMENT(3, SK, "#", 6)),
        BAD("a comment glued to the access key",
            "[DEFAULT]\n" AK " = AKID1234#prod\n" SK " = s3cr3t\n",
            "DEFAULT", COMMENT(2, AK, "#", 8)),
        BAD("a ';' comment glued to the secret",
            "[DEFAULT]\n" AK " = A\n" SK " = s3cr3t;old\n", "DEFAULT",
            COMMENT(3, SK, ";", 6)),
        BAD("a value that is a comment",
            "[DEFAULT]\n" AK " = A\n" SK " = #s3cr3t\n", "DEFAULT",
            COMMENT(3, SK, "#", 0)),
        BAD("quotes, then a comment: the quotes",
            "[DEFAULT]\n" AK " = A\n" SK " = \"s3cr3t\"#x\"\n", "DEFAULT",
            QUOTED(3, SK)),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_lines(void **state)
{
    static const mi_case_t  cases[] = {
        BAD("a name = value before any profile",
            AK " = A\n[DEFAULT]\n" SK " = s3cr3t\n", "DEFAULT",
            "line 1: \"name = value\" before the first \"[profile]\""),
        BAD("a line that is nothing",
            "[DEFAULT]\n" AK " = A\n" SK " s3cr3t\n", "DEFAULT",
            "line 3: expected \"[profile]\", \"name = value\" or a comment"),
        BAD("a bad line in another profile still fails",
            CLI "[prod]\nhello\n", "DEFAULT",
            "line 6: expected \"[profile]\", \"name = value\" or a comment"),
        BAD("'=' without a name", "[DEFAULT]\n = s3cr3t\n", "DEFAULT",
            "line 2: \"=\" without a name"),
        BAD("no ']'", "[DEFAULT\n", "DEFAULT",
            "line 1: no \"]\" after \"[\""),
        BAD("text after ']'", "[DEFAULT] # main\n", "DEFAULT",
            "line 1: text after \"]\""),
        BAD("empty profile name", "\n\n[ \t]\n", "DEFAULT",
            "line 3: empty profile name"),
        BAD("'[' in a profile name", "[DE[FAULT]\n", "DEFAULT",
            "line 1: \"[\" in a profile name"),
        BAD("NUL byte", "[DEFAULT]\n" AK " = A\0\n", "DEFAULT",
            "line 2: control character"),
        BAD("control character in a comment", "#\x01\n" CLI, "DEFAULT",
            "line 1: control character"),
        BAD("DEL", "[DEFAULT]\n" AK " = A\x7F\n", "DEFAULT",
            "line 2: control character"),
        BAD("a lone CR inside a line",
            "[DEFAULT]\n" AK " = A\r" SK " = s3cr3t\n", "DEFAULT",
            "line 2: control character"),
        BAD("a binary file",
            "\x30\x82\x01\x0a\x02\x82\x01\x01\x00\xc3", "DEFAULT",
            "line 1: control character"),
        BAD("a byte order mark only at the start",
            "\n\xEF\xBB\xBF[DEFAULT]\n", "DEFAULT",
            "line 2: expected \"[profile]\", \"name = value\" or a comment"),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


typedef struct {
    const char   *name;
    const char   *file;
    size_t        len;
    const char   *secret;       /* NULL: an error is expected */
    const char   *message;
} mi_secret_case_t;


#define SECRET(name, file, secret)                                            \
    { name, file, sizeof(file) - 1, secret, NULL }
#define REFUSED(name, file, message)                                          \
    { name, file, sizeof(file) - 1, NULL, message }

#define SECRET_QUOTED(line)                                                   \
    "line " #line ": the secret starts or ends with a quote mark: write it "  \
    "without quotes" HINT
#define SECRET_COMMENT(line)                                                  \
    "line " #line ": \"#\" in the secret: the file holds the secret alone, " \
    "without comments" HINT


/* mi_secret_key_file: the file is the secret, as it is but for blanks. */

static void
test_secret_file(void **state)
{
    size_t                   i;
    unsigned char           *p;
    mi_credentials_t         cr;
    mi_credentials_rc_t      rc;
    const mi_secret_case_t  *c;

    static const mi_secret_case_t  cases[] = {
        SECRET("a line", "s3cr3tK3y\n", "s3cr3tK3y"),
        SECRET("no newline", "s3cr3tK3y", "s3cr3tK3y"),
        SECRET("blanks and line ends around it",
               " \t\r\n\n  s3cr3tK3y \t\r\n\n", "s3cr3tK3y"),
        SECRET("printable ASCII inside, quotes and ';' included",
               "s3cr3t!\"';~", "s3cr3t!\"';~"),
        SECRET("nothing but blanks: empty, for the caller", " \n\t\r\n",
               ""),
        SECRET("an empty file", "", ""),
        REFUSED("in double quotes", "\"s3cr3tK3y\"\n", SECRET_QUOTED(1)),
        REFUSED("in single quotes, after blank lines",
                "\n\r\n  's3cr3tK3y'\n", SECRET_QUOTED(3)),
        REFUSED("a quote at the end only, on a later line",
                "s3cr3t\nK3y\"\n", SECRET_QUOTED(2)),
        REFUSED("a comment glued to it", "s3cr3tK3y#prod\n",
                SECRET_COMMENT(1)),
        REFUSED("a comment after it", "s3cr3tK3y  # prod key\n",
                SECRET_COMMENT(1)),
        REFUSED("a comment line before it", "\n# prod key\ns3cr3tK3y\n",
                SECRET_COMMENT(2)),
        REFUSED("a comment line after it", "s3cr3tK3y\n\n#old\n",
                SECRET_COMMENT(3)),
    };

    (void) state;

    for (i = 0; i < nelts(cases); i++) {
        c = &cases[i];

        p = malloc(c->len ? c->len : 1);
        assert_non_null(p);
        memcpy(p, c->file, c->len);

        rc = mi_credentials_secret(&cr, p, c->len);

        if (c->secret == NULL
            && (rc != MI_CREDENTIALS_ERROR
                || strcmp(cr.message, c->message) != 0))
        {
            print_error("%s:\n  expected \"%s\"\n       got rc %d \"%s\"\n",
                        c->name, c->message, rc, cr.message);
            fail();
        }

        if (c->secret != NULL
            && (rc != MI_CREDENTIALS_OK
                || cr.secret_key_len != strlen(c->secret)
                || memcmp(cr.secret_key, c->secret, cr.secret_key_len) != 0
                || cr.secret_key < p
                || cr.secret_key + cr.secret_key_len > p + c->len
                || cr.access_key != NULL))
        {
            print_error("%s: rc %d \"%s\", got \"%.*s\"\n", c->name, rc,
                        cr.message, (int) cr.secret_key_len, cr.secret_key);
            fail();
        }

        assert_null(strstr(cr.message, "s3cr3t"));

        free(p);
    }
}


/* The longest profile and line numbers still fit the message. */

static void
test_message_bounds(void **state)
{
    char              file[4096], profile[MI_CREDENTIALS_PROFILE_MAX + 1];
    size_t            n;
    mi_credentials_t  cr;

    (void) state;

    memset(profile, 'p', MI_CREDENTIALS_PROFILE_MAX);
    profile[MI_CREDENTIALS_PROFILE_MAX] = '\0';

    n = 0;

    while (n < 3000) {
        file[n++] = '\n';
    }

    n += (size_t) snprintf(file + n, sizeof(file) - n,
                           "[%s]\n" SK " = s\n" SK " = s\n", profile);

    assert_int_equal(mi_credentials_parse(&cr, (unsigned char *) file, n,
                                          profile, strlen(profile)),
                     MI_CREDENTIALS_ERROR);
    assert_true(strlen(cr.message) < MI_CREDENTIALS_MESSAGE_MAX - 1);
    assert_non_null(strstr(cr.message, "(first at line 3002)"));

    /* the longest of the other messages: a comment far into the file */

    n = 0;

    while (n < 2000) {
        file[n++] = '\n';
    }

    n += (size_t) snprintf(file + n, sizeof(file) - n,
                           "[%s]\n" AK " = A\n" SK " = %0999d#\n", profile,
                           0);
    assert_true(n < sizeof(file));

    assert_int_equal(mi_credentials_parse(&cr, (unsigned char *) file, n,
                                          profile, strlen(profile)),
                     MI_CREDENTIALS_ERROR);
    assert_true(strlen(cr.message) < MI_CREDENTIALS_MESSAGE_MAX - 1);
    assert_non_null(strstr(cr.message, "line 2003: "));
    assert_non_null(strstr(cr.message, "at position 999: "));
    assert_non_null(strstr(cr.message, HINT));

    assert_int_equal(mi_credentials_secret(&cr, (unsigned char *) file, n),
                     MI_CREDENTIALS_ERROR);
    assert_true(strlen(cr.message) < MI_CREDENTIALS_MESSAGE_MAX - 1);
    assert_non_null(strstr(cr.message, "line 2003: "));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_profile_and_keys),
        cmocka_unit_test(test_quotes_and_comments),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_message_bounds),
    };

    return cmocka_run_group_tests_name("mi_credentials", tests, NULL, NULL);
}
