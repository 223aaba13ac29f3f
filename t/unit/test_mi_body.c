/*
 * Unit tests of mi_body.  Every body is checked in one feed, in two feeds
 * at every split point (with an empty feed and a move of the checker to
 * another address at the split), byte by byte, and with garbage after the
 * byte that decided an error: all must give the same verdict and message.
 * Each piece is fed from a heap block of its exact size, so ASan sees any
 * read past it.
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


typedef struct {
    mi_body_schema_t   schema;
    uint32_t           max;
    const char        *body;
    size_t             len;
    mi_body_rc_t       rc;
    const char        *message;     /* "" for MI_BODY_OK */
} mi_case_t;


typedef struct {
    mi_body_rc_t       rc;
    char               message[MI_BODY_MESSAGE_MAX];
    size_t             decided;     /* index of the deciding byte, or len */
} mi_result_t;


#define DEF  MI_BODY_DEFAULT_MAX_SCENE_IDS

#define CASE(schema, max, body, ...)                                         \
    { schema, max, body, sizeof(body) - 1, __VA_ARGS__ }

#define IX(body, ...)   CASE(MI_BODY_INDEX_REQUEST, DEF, body, __VA_ARGS__)
#define AS(body, ...)   CASE(MI_BODY_ASSET_REQUEST, DEF, body, __VA_ARGS__)
#define IXN(max, body, ...)                                                  \
    CASE(MI_BODY_INDEX_REQUEST, max, body, __VA_ARGS__)

#define OK        MI_BODY_OK, ""
#define JSON(m)   MI_BODY_INVALID_JSON, m
#define BODY(m)   MI_BODY_INVALID_BODY, m

#define nelts(a)  (sizeof(a) / sizeof((a)[0]))

#define CONFLICT                                                             \
    "locale: only allowed on a full analysis (without sceneIds) at byte "
#define NOT_TAG   "locale: not a language tag like \"ko\" or \"en-US\" at byte "
#define LENGTH    "locale: must be 2 to 35 characters long at byte "
#define EMPTY_ARR                                                            \
    "sceneIds: empty array (omit it or use null for a full analysis) at byte "


static const char *
show(const char *p, size_t len)
{
    size_t             i, n;
    static char        buf[512];
    static const char  hex[] = "0123456789ABCDEF";

    n = 0;

    for (i = 0; i < len && n < sizeof(buf) - 8; i++) {
        unsigned char c = (unsigned char) p[i];

        if (c >= 0x20 && c < 0x7F) {
            buf[n++] = (char) c;

        } else {
            buf[n++] = '\\';
            buf[n++] = 'x';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 0x0F];
        }
    }

    if (i < len) {
        memcpy(&buf[n], "...", 3);
        n += 3;
    }

    buf[n] = '\0';

    return buf;
}


static void
check_message(const char *m)
{
    size_t  i;

    for (i = 0; i < MI_BODY_MESSAGE_MAX && m[i] != '\0'; i++) {
        if (m[i] < 0x20 || m[i] > 0x7E) {
            print_error("non-printable byte 0x%02X in message\n",
                        (unsigned char) m[i]);
            fail();
        }
    }

    assert_true(i < MI_BODY_MESSAGE_MAX);
}


/* Feeds a piece from a heap copy of its exact size. */

static mi_body_rc_t
feed_exact(mi_body_check_t *ck, const char *p, size_t len)
{
    mi_body_rc_t    rc;
    unsigned char  *copy;

    if (len == 0) {
        return mi_body_feed(ck, NULL, 0);
    }

    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, p, len);

    rc = mi_body_feed(ck, copy, len);

    free(copy);

    return rc;
}


/* Ends a check, and asserts that the verdict is sticky from then on. */

static void
finish(mi_body_check_t *ck, mi_body_rc_t fed, mi_result_t *r)
{
    r->rc = mi_body_finish(ck);

    if (fed != MI_BODY_MORE) {
        assert_int_equal(r->rc, fed);
    }

    assert_true(r->rc != MI_BODY_MORE);
    check_message(mi_body_message(ck));
    strcpy(r->message, mi_body_message(ck));

    if (r->rc == MI_BODY_OK) {
        assert_string_equal(r->message, "");
        assert_int_equal(mi_body_finish(ck), MI_BODY_OK);
        return;
    }

    assert_int_equal(mi_body_feed(ck, (const unsigned char *) "}]x", 3),
                     r->rc);
    assert_int_equal(mi_body_finish(ck), r->rc);
    assert_string_equal(mi_body_message(ck), r->message);
}


static void
run_whole(const mi_case_t *c, mi_result_t *r)
{
    mi_body_check_t  ck;

    mi_body_init(&ck, c->schema, c->max);
    finish(&ck, feed_exact(&ck, c->body, c->len), r);
}


/*
 * Two feeds split at "split", an empty feed between them, and the
 * checker moved by a plain copy at the split: all state must be in the
 * struct, with nothing pointing into it or into the input.
 */

static void
run_split(const mi_case_t *c, size_t split, mi_result_t *r)
{
    mi_body_rc_t     rc;
    mi_body_check_t  a, b;

    mi_body_init(&a, c->schema, c->max);
    rc = feed_exact(&a, c->body, split);

    memcpy(&b, &a, sizeof(mi_body_check_t));
    memset(&a, 0xA5, sizeof(mi_body_check_t));

    if (rc != MI_BODY_MORE) {
        assert_int_equal(feed_exact(&b, "", 0), rc);
        assert_int_equal(feed_exact(&b, c->body + split, c->len - split), rc);

    } else {
        rc = feed_exact(&b, "", 0);
        assert_int_equal(rc, MI_BODY_MORE);
        rc = feed_exact(&b, c->body + split, c->len - split);
    }

    finish(&b, rc, r);
}


/* Byte by byte: also finds the byte at which an error was decided. */

static void
run_bytes(const mi_case_t *c, mi_result_t *r)
{
    size_t           i;
    mi_body_rc_t     rc, first;
    mi_body_check_t  ck;
    char             message[MI_BODY_MESSAGE_MAX];

    mi_body_init(&ck, c->schema, c->max);

    first = MI_BODY_MORE;
    r->decided = c->len;

    for (i = 0; i < c->len; i++) {
        rc = feed_exact(&ck, c->body + i, 1);

        if (first == MI_BODY_MORE && rc != MI_BODY_MORE) {
            /* the offset stays on the byte that decided */
            assert_int_equal(ck.offset, i);
            first = rc;
            r->decided = i;
            strcpy(message, mi_body_message(&ck));
        }

        if (first != MI_BODY_MORE) {
            assert_int_equal(rc, first);
            assert_string_equal(mi_body_message(&ck), message);
        }

        assert_int_equal(feed_exact(&ck, "", 0), rc);
    }

    finish(&ck, first, r);
}


static void
expect(const mi_case_t *c, const char *how, const mi_result_t *r)
{
    if (r->rc == c->rc && strcmp(r->message, c->message) == 0) {
        return;
    }

    print_error("body \"%s\" (%s schema, max %u), %s:\n"
                "  expected rc %d \"%s\"\n"
                "       got rc %d \"%s\"\n",
                show(c->body, c->len),
                c->schema == MI_BODY_INDEX_REQUEST ? "index" : "asset",
                (unsigned) c->max, how, c->rc, c->message,
                r->rc, r->message);
    fail();
}


static void
check_case(const mi_case_t *c)
{
    char             how[64];
    size_t           split;
    mi_result_t      r, bytes;
    mi_case_t        cut;
    mi_body_check_t  ck;
    char            *tail;

    run_whole(c, &r);
    expect(c, "one feed", &r);

    for (split = 0; split <= c->len; split++) {
        run_split(c, split, &r);
        snprintf(how, sizeof(how), "split at %zu", split);
        expect(c, how, &r);
    }

    run_bytes(c, &bytes);
    expect(c, "byte by byte", &bytes);

    if (c->rc == MI_BODY_OK || bytes.decided == c->len) {
        return;
    }

    /* nothing after the deciding byte may count: replace it by garbage */

    tail = malloc(bytes.decided + 1 + 5);
    assert_non_null(tail);
    memcpy(tail, c->body, bytes.decided + 1);
    memcpy(tail + bytes.decided + 1, "\xFF\x01}]\"", 5);

    cut = *c;
    cut.body = tail;
    cut.len = bytes.decided + 1 + 5;

    mi_body_init(&ck, cut.schema, cut.max);
    finish(&ck, feed_exact(&ck, cut.body, cut.len), &r);
    expect(c, "garbage after the deciding byte", &r);

    free(tail);
}


static void
check_cases(const mi_case_t *cases, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        check_case(&cases[i]);
    }
}


/* Cases whose verdict is the same in both schemas. */

static void
check_both_schemas(const mi_case_t *cases, size_t n)
{
    size_t     i;
    mi_case_t  c;

    for (i = 0; i < n; i++) {
        c = cases[i];
        c.schema = MI_BODY_INDEX_REQUEST;
        check_case(&c);
        c.schema = MI_BODY_ASSET_REQUEST;
        check_case(&c);
    }
}


/* For big bodies: a few split points only, and a fixed piece size. */

static void
check_big(mi_body_schema_t schema, uint32_t max, const char *body,
    size_t len, size_t piece, mi_body_rc_t rc, const char *message)
{
    size_t           i, n, splits[5];
    mi_case_t        c;
    mi_result_t      r;
    mi_body_check_t  ck;
    mi_body_rc_t     fed;

    c = (mi_case_t) { schema, max, body, len, rc, message };

    run_whole(&c, &r);
    expect(&c, "one feed", &r);

    splits[0] = 0;
    splits[1] = 1;
    splits[2] = len / 3;
    splits[3] = len - 1;
    splits[4] = len;

    for (i = 0; i < nelts(splits); i++) {
        run_split(&c, splits[i], &r);
        expect(&c, "split", &r);
    }

    mi_body_init(&ck, schema, max);
    fed = MI_BODY_MORE;

    for (i = 0; i < len; i += n) {
        n = (len - i < piece) ? len - i : piece;
        fed = feed_exact(&ck, body + i, n);

        if (fed != MI_BODY_MORE) {
            break;
        }
    }

    finish(&ck, fed, &r);
    expect(&c, "in pieces", &r);
}


static void
test_valid(void **state)
{
    static const mi_case_t  cases[] = {
        IX("{}", OK),
        IX("{\"sceneIds\": null}", OK),
        IX("{\"sceneIds\":[0,1,2147483647,5,5]}", OK),
        IX("{\"sceneIds\":[7]}", OK),
        IX("{\"sceneIds\":[0]}", OK),
        IX("{\"sceneIds\":[0,10,100]}", OK),
        IX("{\"sceneIds\":[1,1,1]}", OK),
        AS("{}", OK),
        AS("{\"sceneIds\":[1]}", OK),
        AS("{\"sceneIds\":null}", OK),
        AS("{\"locale\":\"ko\"}", OK),
        AS("{\"locale\":\"en-US\",\"sceneIds\":null}", OK),
        AS("{\"locale\":\"zh_Hant_TW\"}", OK),
        AS("{\"sceneIds\":null,\"locale\":\"ja\"}", OK),
        AS("{\"locale\":null,\"sceneIds\":[1,2]}", OK),
        AS("{\"sceneIds\":[3],\"locale\":null}", OK),
        AS("{\"locale\":null}", OK),
        AS("{\"locale\":null,\"sceneIds\":null}", OK),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_whitespace(void **state)
{
    static const mi_case_t  cases[] = {
        IX(" \t\r\n{ \"sceneIds\" : [ 1 , 2 ] } \n", OK),
        IX("{\r\n\t\"sceneIds\"\r\n:\r\nnull\r\n}\r\n", OK),
        IX("{\n}", OK),
        IX("{\"sceneIds\":[\t1\t]\t}", OK),
        AS("  {  \"locale\"  :  \"ko\"  ,  \"sceneIds\"  :  null  }  ", OK),

        /* only space, \t, \n, \r are JSON whitespace */
        IX("\v{}", JSON("body: expected a JSON object at byte 0")),
        IX("\f{}", JSON("body: expected a JSON object at byte 0")),
        IX("\xC2\xA0{}", JSON("body: expected a JSON object at byte 0")),
        IX("{\v}", JSON("body: expected a member name or '}' at byte 1")),
        IX("{}\v", JSON("body: trailing data after the JSON object"
                        " at byte 2")),
        IX("{\"sceneIds\":[1\xC2\xA0]}",
           JSON("body: expected ',' or ']' at byte 14")),
        IX("{\"sceneIds\":[1]\xC2\xA0}",
           JSON("body: expected ',' or '}' at byte 15")),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_empty(void **state)
{
    static const mi_case_t  cases[] = {
        IX("", JSON("body: empty, expected a JSON object at byte 0")),
        IX(" \n\t\r", JSON("body: empty, expected a JSON object at byte 4")),
        AS("", JSON("body: empty, expected a JSON object at byte 0")),
        IX(" {}", OK),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_bom(void **state)
{
    static const mi_case_t  cases[] = {
        IX("\xEF\xBB\xBF{}",
           JSON("body: byte order mark (U+FEFF) is not allowed at byte 0")),
        IX("\xEF\xBB\xBF",
           JSON("body: byte order mark (U+FEFF) is not allowed at byte 0")),
        IX("\xEF\xBB" "{}", JSON("body: expected a JSON object at byte 0")),
        IX("\xEF\xBB", JSON("body: expected a JSON object at byte 0")),
        IX("\xEF\xBB\xC0", JSON("body: expected a JSON object at byte 0")),
        IX("\xEF\xBB\xBE", JSON("body: expected a JSON object at byte 0")),
        IX("\xEF", JSON("body: expected a JSON object at byte 0")),
        IX("\xEF{}", JSON("body: expected a JSON object at byte 0")),
        IX(" \xEF\xBB\xBF{}", JSON("body: expected a JSON object at byte 1")),
        IX("{}\xEF\xBB\xBF",
           JSON("body: trailing data after the JSON object at byte 2")),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_not_object(void **state)
{
    static const mi_case_t  cases[] = {
        IX("{}", OK),
        IX("[]", BODY("body: not a JSON object at byte 0")),
        IX("[1,2]", BODY("body: not a JSON object at byte 0")),
        IX("\"sceneIds\"", BODY("body: not a JSON object at byte 0")),
        IX("1", BODY("body: not a JSON object at byte 0")),
        IX("0", BODY("body: not a JSON object at byte 0")),
        IX("-1", BODY("body: not a JSON object at byte 0")),
        IX("true", BODY("body: not a JSON object at byte 0")),
        IX("false", BODY("body: not a JSON object at byte 0")),
        IX("null", BODY("body: not a JSON object at byte 0")),
        IX("  [1]", BODY("body: not a JSON object at byte 2")),
        IX("\r\n7", BODY("body: not a JSON object at byte 2")),
        /* decided at the first byte: what follows is never read */
        IX("nope", BODY("body: not a JSON object at byte 0")),
        IX("[", BODY("body: not a JSON object at byte 0")),

        IX("}", JSON("body: expected a JSON object at byte 0")),
        IX("'a'", JSON("body: expected a JSON object at byte 0")),
        IX("NaN", JSON("body: expected a JSON object at byte 0")),
        IX("Infinity", JSON("body: expected a JSON object at byte 0")),
        IX("+1", JSON("body: expected a JSON object at byte 0")),
        IX(".5", JSON("body: expected a JSON object at byte 0")),
        IX("/* c */{}", JSON("body: expected a JSON object at byte 0")),
        IX("// c\n{}", JSON("body: expected a JSON object at byte 0")),
        IX("# c\n{}", JSON("body: expected a JSON object at byte 0")),
        IX(" x", JSON("body: expected a JSON object at byte 1")),
        IX("\x80", JSON("body: expected a JSON object at byte 0")),
        IX("\xC3\xA9", JSON("body: expected a JSON object at byte 0")),
        IX("\x00{}", JSON("body: expected a JSON object at byte 0")),
    };

    (void) state;

    check_both_schemas(cases, nelts(cases));
}


static void
test_syntax(void **state)
{
    static const mi_case_t  cases[] = {
        IX("{\"sceneIds\":null}", OK),

        IX("{", JSON("body: unexpected end of input at byte 1")),
        IX("{ ", JSON("body: unexpected end of input at byte 2")),
        IX("{\"sce", JSON("body: unexpected end of input at byte 5")),
        IX("{\"sceneIds\"", JSON("body: unexpected end of input at byte 11")),
        IX("{\"sceneIds\":", JSON("body: unexpected end of input at byte 12")),
        IX("{\"sceneIds\":nul",
           JSON("body: unexpected end of input at byte 15")),
        IX("{\"sceneIds\":null",
           JSON("body: unexpected end of input at byte 16")),
        IX("{\"sceneIds\":null,",
           JSON("body: unexpected end of input at byte 17")),
        IX("{\"sceneIds\":[",
           JSON("body: unexpected end of input at byte 13")),
        IX("{\"sceneIds\":[1",
           JSON("body: unexpected end of input at byte 14")),
        IX("{\"sceneIds\":[0",
           JSON("body: unexpected end of input at byte 14")),
        IX("{\"sceneIds\":[1,",
           JSON("body: unexpected end of input at byte 15")),
        IX("{\"sceneIds\":[1] ",
           JSON("body: unexpected end of input at byte 16")),
        IX("{\"sc\\", JSON("body: unexpected end of input at byte 5")),
        IX("{\"sc\\u00", JSON("body: unexpected end of input at byte 8")),

        IX("{\"sceneIds\" 1}", JSON("body: expected ':' at byte 12")),
        IX("{\"sceneIds\"=null}", JSON("body: expected ':' at byte 11")),
        IX("{\"sceneIds\":null \"x\":1}",
           JSON("body: expected ',' or '}' at byte 17")),
        IX("{\"sceneIds\":null;}",
           JSON("body: expected ',' or '}' at byte 16")),
        IX("{\"sceneIds\":[1]]",
           JSON("body: expected ',' or '}' at byte 15")),
        IX("{\"sceneIds\":null,}",
           JSON("body: expected a member name at byte 17")),
        IX("{\"sceneIds\":null,,",
           JSON("body: expected a member name at byte 17")),
        IX("{,}", JSON("body: expected a member name or '}' at byte 1")),
        IX("{'sceneIds':null}",
           JSON("body: expected a member name or '}' at byte 1")),
        IX("{sceneIds:null}",
           JSON("body: expected a member name or '}' at byte 1")),
        IX("{\"sceneIds\":[1,]}", JSON("body: expected a value at byte 15")),
        IX("{\"sceneIds\":[,1]}", JSON("body: expected a value at byte 13")),
        IX("{\"sceneIds\":[1 2]}",
           JSON("body: expected ',' or ']' at byte 15")),
        IX("{\"sceneIds\":[1}", JSON("body: expected ',' or ']' at byte 14")),
        IX("{\"sceneIds\":[1x]}",
           JSON("body: expected ',' or ']' at byte 14")),
        IX("{\"sceneIds\":[0x10]}",
           JSON("body: expected ',' or ']' at byte 14")),
        IX("{\"sceneIds\":[1;2]}",
           JSON("body: expected ',' or ']' at byte 14")),
        IX("{\"sceneIds\":[+1]}", JSON("body: expected a value at byte 13")),
        IX("{\"sceneIds\":[.5]}", JSON("body: expected a value at byte 13")),
        IX("{\"sceneIds\":[NaN]}", JSON("body: expected a value at byte 13")),
        IX("{\"sceneIds\":[Infinity]}",
           JSON("body: expected a value at byte 13")),
        IX("{\"sceneIds\":['1']}",
           JSON("body: expected a value at byte 13")),
        IX("{\"sceneIds\":nulx}", JSON("body: invalid literal at byte 12")),
        IX("{\"sceneIds\":nUll}", JSON("body: invalid literal at byte 12")),
        IX("{\"sceneIds\":NULL}", JSON("body: expected a value at byte 12")),
        IX("{\"sceneIds\":None}", JSON("body: expected a value at byte 12")),
        IX("{\"sceneIds\":}", JSON("body: expected a value at byte 12")),
        IX("{\"sceneIds\"://c\nnull}",
           JSON("body: expected a value at byte 12")),
        IX("{\"sceneIds\":/*c*/null}",
           JSON("body: expected a value at byte 12")),
        IX("{\"sceneIds\":nullnull}",
           JSON("body: expected ',' or '}' at byte 16")),
    };

    (void) state;

    check_both_schemas(cases, nelts(cases));
}


static void
test_trailing(void **state)
{
    static const mi_case_t  cases[] = {
        IX("{} \r\n\t", OK),
        IX("{}x", JSON("body: trailing data after the JSON object at byte 2")),
        IX("{\"sceneIds\":null}}",
           JSON("body: trailing data after the JSON object at byte 17")),
        IX("{\"sceneIds\":null} {}",
           JSON("body: trailing data after the JSON object at byte 18")),
        IX("{},", JSON("body: trailing data after the JSON object at byte 2")),
        IX("{}\x00",
           JSON("body: trailing data after the JSON object at byte 2")),
        IX("{} // c",
           JSON("body: trailing data after the JSON object at byte 3")),
    };

    (void) state;

    check_both_schemas(cases, nelts(cases));
}


static void
test_strings(void **state)
{
    static const mi_case_t  cases[] = {
        /* escapes are decoded before names are compared */
        IX("{\"scene\\u0049ds\":[1]}", OK),
        IX("{\"\\u0073\\u0063\\u0065\\u006e\\u0065\\u0049\\u0064\\u0073\":1}",
           BODY("sceneIds: not an array or null at byte 52")),
        IX("{\"\\u0073ceneIds\":null}", OK),
        IX("{\"sceneId\\u0073\":null}", OK),
        IX("{\"scene\\u0069ds\":null}",
           BODY("sceneids: unknown member at byte 1")),
        IX("{\"\\\"\\\\\\/\\b\\f\\n\\r\\t\":1}",
           BODY("\"\\/?????: unknown member at byte 1")),
        IX("{\"a\\/b\":1}", BODY("a/b: unknown member at byte 1")),
        IX("{\"a\\\"b\":1}", BODY("a\"b: unknown member at byte 1")),
        IX("{\"a\\\\b\":1}", BODY("a\\b: unknown member at byte 1")),
        IX("{\"\\u00e9\\u00E9\":1}",
           BODY("????: unknown member at byte 1")),
        IX("{\"\\u20AC\":1}",
           BODY("???: unknown member at byte 1")),
        IX("{\"\\u0000\":1}", BODY("?: unknown member at byte 1")),
        IX("{\"sceneIds\\u0000\":1}",
           BODY("sceneIds?: unknown member at byte 1")),

        /* surrogate pairs decode to one UTF-8 character */
        IX("{\"\\uD83D\\uDE00\":1}",
           BODY("????: unknown member at byte 1")),
        IX("{\"\\ud83d\\ude00\":1}",
           BODY("????: unknown member at byte 1")),
        IX("{\"\\uDBFF\\uDFFF\":1}",
           BODY("????: unknown member at byte 1")),
        /* lone surrogates are JSON (RFC 8259 grammar); shown as bytes */
        IX("{\"\\uD800\":1}",
           BODY("???: unknown member at byte 1")),
        IX("{\"\\uD800x\":1}",
           BODY("???x: unknown member at byte 1")),
        IX("{\"\\uDC00\":1}",
           BODY("???: unknown member at byte 1")),
        IX("{\"\\uD800\\uD83D\\uDE00\":1}",
           BODY("???????: unknown member"
                " at byte 1")),
        IX("{\"\\uD800\\n\":1}",
           BODY("????: unknown member at byte 1")),
        IX("{\"\\uD800\\u0041\":1}",
           BODY("???A: unknown member at byte 1")),
        IX("{\"\\uD800\xC3\xA9\":1}",
           BODY("?????: unknown member at byte 1")),

        /* DEL is not a control character for JSON */
        IX("{\"\x7F\":1}", BODY("?: unknown member at byte 1")),

        IX("{\"a\x01\":1}",
           JSON("body: control character in string at byte 3")),
        IX("{\"\t\":1}", JSON("body: control character in string at byte 2")),
        IX("{\"\n\":1}", JSON("body: control character in string at byte 2")),
        IX("{\"\x1F\":1}", JSON("body: control character in string at byte 2")),
        IX("{\"ab\x00\":1}",
           JSON("body: control character in string at byte 4")),
        IX("{\"\\a\":1}", JSON("body: invalid escape at byte 2")),
        IX("{\"\\x41\":1}", JSON("body: invalid escape at byte 2")),
        IX("{\"\\'\":1}", JSON("body: invalid escape at byte 2")),
        IX("{\"\\U0041\":1}", JSON("body: invalid escape at byte 2")),
        IX("{\"\\0\":1}", JSON("body: invalid escape at byte 2")),
        IX("{\"ab\\\x01\":1}", JSON("body: invalid escape at byte 4")),
        IX("{\"\\u12G4\":1}", JSON("body: invalid \\u escape at byte 2")),
        IX("{\"\\uG\":1}", JSON("body: invalid \\u escape at byte 2")),
        IX("{\"ab\\u004\":1}", JSON("body: invalid \\u escape at byte 4")),
        IX("{\"\\u-123\":1}", JSON("body: invalid \\u escape at byte 2")),
        IX("{\"\\uD83D\\uDE0\":1}",
           JSON("body: invalid \\u escape at byte 8")),
    };

    (void) state;

    check_both_schemas(cases, nelts(cases));
}


static void
test_utf8(void **state)
{
    static const mi_case_t  cases[] = {
        /* valid: boundaries of each form of table 3-7 */
        IX("{\"\xC2\x80\":1}", BODY("??: unknown member at byte 1")),
        IX("{\"\xDF\xBF\":1}", BODY("??: unknown member at byte 1")),
        IX("{\"\xE0\xA0\x80\":1}",
           BODY("???: unknown member at byte 1")),
        IX("{\"\xED\x9F\xBF\":1}",
           BODY("???: unknown member at byte 1")),
        IX("{\"\xEE\x80\x80\":1}",
           BODY("???: unknown member at byte 1")),
        IX("{\"\xEF\xBF\xBF\":1}",
           BODY("???: unknown member at byte 1")),
        IX("{\"\xF0\x90\x80\x80\":1}",
           BODY("????: unknown member at byte 1")),
        IX("{\"\xF1\x80\x80\x80\":1}",
           BODY("????: unknown member at byte 1")),
        IX("{\"\xF4\x8F\xBF\xBF\":1}",
           BODY("????: unknown member at byte 1")),
        IX("{\"caf\xC3\xA9\":1}",
           BODY("caf??: unknown member at byte 1")),
        /* the example: one '?' a byte, never the raw bytes */
        AS("{\"loc\xC3\xA9le\":\"ko\"}",
           BODY("loc??le: unknown member at byte 1")),

        /* overlong forms */
        IX("{\"\xC0\x80\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xC1\xBF\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xE0\x80\x80\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xE0\x9F\xBF\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xF0\x80\x80\x80\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xF0\x8F\xBF\xBF\":1}", JSON("body: invalid UTF-8 at byte 2")),
        /* UTF-16 surrogates */
        IX("{\"\xED\xA0\x80\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xED\xBF\xBF\":1}", JSON("body: invalid UTF-8 at byte 2")),
        /* above U+10FFFF */
        IX("{\"\xF4\x90\x80\x80\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xF5\x80\x80\x80\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xF8\x88\x80\x80\x80\":1}",
           JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xFE\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xFF\":1}", JSON("body: invalid UTF-8 at byte 2")),
        /* stray continuation bytes */
        IX("{\"\x80\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xBF\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xC3\xA9\xA9\":1}", JSON("body: invalid UTF-8 at byte 4")),
        /* truncated sequences, pointed at their first byte */
        IX("{\"\xC3" "A\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xC3\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"a\xC3\":1}", JSON("body: invalid UTF-8 at byte 3")),
        IX("{\"\xE2\x82\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xF0\x9F\x98\":1}", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xF0\x9F\x98\xC3\xA9\":1}",
           JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xC3", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"\xF0\x9F\x98", JSON("body: invalid UTF-8 at byte 2")),
        IX("{\"ab\xE2\x82", JSON("body: invalid UTF-8 at byte 4")),
        IX("{\"\xC3\xA9", JSON("body: unexpected end of input at byte 4")),
        AS("{\"locale\":\"k\xC3", JSON("body: invalid UTF-8 at byte 12")),
        AS("{\"locale\":\"k\xC3\"}", JSON("body: invalid UTF-8 at byte 12")),
        AS("{\"locale\":\"\xED\xA0\x80\"}",
           JSON("body: invalid UTF-8 at byte 11")),

        /* outside strings, any byte >= 0x80 is not JSON */
        IX("{\xC3\xA9}", JSON("body: expected a member name or '}' at byte 1")),
        IX("{\"sceneIds\":\xC3\xA9}",
           JSON("body: expected a value at byte 12")),
        IX("{\"sceneIds\":[\x80]}", JSON("body: expected a value at byte 13")),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_unknown_member(void **state)
{
    static const mi_case_t  cases[] = {
        IX("{\"sceneIds\":null}", OK),
        IX("{\"foo\":1}", BODY("foo: unknown member at byte 1")),
        IX("{ \"foo\" : 1}", BODY("foo: unknown member at byte 2")),
        IX("{\"SceneIds\":[1]}", BODY("SceneIds: unknown member at byte 1")),
        IX("{\"sceneIds \":[1]}", BODY("sceneIds : unknown member at byte 1")),
        IX("{\"scene_ids\":[1]}", BODY("scene_ids: unknown member at byte 1")),
        IX("{\"sceneId\":[1]}", BODY("sceneId: unknown member at byte 1")),
        IX("{\"sceneIdss\":[1]}", BODY("sceneIdss: unknown member at byte 1")),
        IX("{\"\":1}", BODY("\"\": unknown member at byte 1")),
        /* named as soon as the name ends, before its value */
        IX("{\"sceneIds\":null,\"foo\":[[[",
           BODY("foo: unknown member at byte 17")),
        IX("{\"foo\"", BODY("foo: unknown member at byte 1")),
        IX("{\"foo\"x", BODY("foo: unknown member at byte 1")),
        /* but only once the whole name was read */
        IX("{\"foo\x01\":1}",
           JSON("body: control character in string at byte 5")),
        IX("{\"foo\\q\":1}", JSON("body: invalid escape at byte 5")),
        IX("{\"foo", JSON("body: unexpected end of input at byte 5")),
        /* names longer than 32 bytes are cut */
        IX("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}",
           BODY("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: unknown member at byte 1")),
        IX("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\":1}",
           BODY("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown member"
                " at byte 1")),
        IX("{\"\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
           "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
           "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
           "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
           "\\u0001\":1}",
           BODY("????????????????????????????????...: unknown member"
                " at byte 1")),
    };

    static const mi_case_t  index_cases[] = {
        IX("{\"locale\":\"ko\"}", BODY("locale: unknown member at byte 1")),
        IX("{\"locale\":null}", BODY("locale: unknown member at byte 1")),
        IX("{\"sceneIds\":[1],\"locale\":null}",
           BODY("locale: unknown member at byte 16")),
    };

    (void) state;

    check_both_schemas(cases, nelts(cases));
    check_cases(index_cases, nelts(index_cases));
}


static void
test_duplicate(void **state)
{
    static const mi_case_t  cases[] = {
        IX("{\"sceneIds\":null,\"sceneIds\":null}",
           BODY("sceneIds: duplicate member at byte 17")),
        IX("{\"sceneIds\":null,\"sceneIds\":[1]}",
           BODY("sceneIds: duplicate member at byte 17")),
        IX("{\"sceneIds\":[1],\"sceneIds\":null}",
           BODY("sceneIds: duplicate member at byte 16")),
        IX("{\"sceneIds\":null,\"scene\\u0049ds\":null}",
           BODY("sceneIds: duplicate member at byte 17")),
        AS("{\"locale\":null,\"locale\":\"ko\"}",
           BODY("locale: duplicate member at byte 15")),
        AS("{\"locale\":\"ko\",\"locale\":\"ko\"}",
           BODY("locale: duplicate member at byte 15")),
        AS("{\"locale\":\"ko\",\"sceneIds\":null,\"locale\":null}",
           BODY("locale: duplicate member at byte 31")),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_scene_ids_type(void **state)
{
    static const mi_case_t  cases[] = {
        IX("{\"sceneIds\":null}", OK),
        IX("{\"sceneIds\":[1]}", OK),
        IX("{\"sceneIds\":1}",
           BODY("sceneIds: not an array or null at byte 12")),
        IX("{\"sceneIds\":0}",
           BODY("sceneIds: not an array or null at byte 12")),
        IX("{\"sceneIds\":-1}",
           BODY("sceneIds: not an array or null at byte 12")),
        IX("{\"sceneIds\":\"1,2\"}",
           BODY("sceneIds: not an array or null at byte 12")),
        IX("{\"sceneIds\":true}",
           BODY("sceneIds: not an array or null at byte 12")),
        IX("{\"sceneIds\":false}",
           BODY("sceneIds: not an array or null at byte 12")),
        IX("{\"sceneIds\":{}}",
           BODY("sceneIds: not an array or null at byte 12")),
        IX("{\"sceneIds\": \t1}",
           BODY("sceneIds: not an array or null at byte 14")),
        IX("{\"sceneIds\":[]}", BODY(EMPTY_ARR "12")),
        IX("{\"sceneIds\": [ \n ]}", BODY(EMPTY_ARR "13")),
    };

    (void) state;

    check_both_schemas(cases, nelts(cases));
}


static void
test_scene_ids_entries(void **state)
{
    static const mi_case_t  cases[] = {
        IX("{\"sceneIds\":[2147483647]}", OK),
        IX("{\"sceneIds\":[0,2147483646,2147483647]}", OK),

        /* the example of the issue */
        IX("{\"sceneIds\": [1000000, 2000000, 3000000, 4.5]}",
           BODY("sceneIds[3]: not an integer at byte 41")),

        IX("{\"sceneIds\":[1,-2]}", BODY("sceneIds[1]: negative at byte 15")),
        IX("{\"sceneIds\":[-0]}", BODY("sceneIds[0]: negative at byte 13")),
        IX("{\"sceneIds\":[-01]}", BODY("sceneIds[0]: negative at byte 13")),
        IX("{\"sceneIds\":[-Infinity]}",
           BODY("sceneIds[0]: negative at byte 13")),
        IX("{\"sceneIds\":[-]}", BODY("sceneIds[0]: negative at byte 13")),

        IX("{\"sceneIds\":[1.5]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[1.0]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[0.0]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[1e3]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[1E+3]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[0e0]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[12345678901234567890.5]}",
           BODY("sceneIds[0]: out of range 0..2147483647 at byte 13")),
        IX("{\"sceneIds\":[10, 20, 30, 1.]}",
           BODY("sceneIds[3]: not an integer at byte 25")),
        IX("{\"sceneIds\":[\"1\"]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[1,\"2\"]}",
           BODY("sceneIds[1]: not an integer at byte 15")),
        IX("{\"sceneIds\":[true]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[false]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[null]}",
           BODY("sceneIds[0]: not an integer at byte 13")),
        IX("{\"sceneIds\":[1, {}]}",
           BODY("sceneIds[1]: not an integer at byte 16")),
        IX("{\"sceneIds\":[[1]]}",
           BODY("sceneIds[0]: not an integer at byte 13")),

        IX("{\"sceneIds\":[2147483648]}",
           BODY("sceneIds[0]: out of range 0..2147483647 at byte 13")),
        IX("{\"sceneIds\":[4294967295]}",
           BODY("sceneIds[0]: out of range 0..2147483647 at byte 13")),
        IX("{\"sceneIds\":[4294967296]}",
           BODY("sceneIds[0]: out of range 0..2147483647 at byte 13")),
        IX("{\"sceneIds\":[21474836470]}",
           BODY("sceneIds[0]: out of range 0..2147483647 at byte 13")),
        IX("{\"sceneIds\":[1,99999999999999999999999999999999999999]}",
           BODY("sceneIds[1]: out of range 0..2147483647 at byte 15")),

        IX("{\"sceneIds\":[01]}", JSON("body: leading zero at byte 13")),
        IX("{\"sceneIds\":[1,00]}", JSON("body: leading zero at byte 15")),
        IX("{\"sceneIds\":[1, 0123]}", JSON("body: leading zero at byte 16")),
    };

    (void) state;

    check_both_schemas(cases, nelts(cases));
}


static void
test_scene_ids_max(void **state)
{
    static const mi_case_t  cases[] = {
        IXN(3, "{\"sceneIds\":[1,2,3]}", OK),
        IXN(3, "{\"sceneIds\":[5,5,5]}", OK),
        IXN(3, "{\"sceneIds\":[1,2,3,4]}",
            BODY("sceneIds: more than 3 entries at byte 19")),
        IXN(3, "{\"sceneIds\":[1,2,3,\"x\"]}",
            BODY("sceneIds: more than 3 entries at byte 19")),
        IXN(3, "{\"sceneIds\":[1,2,3,]}",
            JSON("body: expected a value at byte 19")),
        IXN(3, "{\"sceneIds\":[1,2,3 , 4, 5]}",
            BODY("sceneIds: more than 3 entries at byte 21")),
        IXN(1, "{\"sceneIds\":[1]}", OK),
        IXN(1, "{\"sceneIds\":[1,2]}",
            BODY("sceneIds: more than 1 entries at byte 15")),
        IXN(0, "{\"sceneIds\":[1]}",
            BODY("sceneIds: more than 0 entries at byte 13")),
        IXN(0, "{\"sceneIds\":null}", OK),
    };

    size_t  i, n;
    char   *body;
    char    message[MI_BODY_MESSAGE_MAX];

    (void) state;

    check_cases(cases, nelts(cases));

    /* the default: 10000 entries pass, the 10001st is refused */

    body = malloc(16 + 10001 * 11 + 4);
    assert_non_null(body);

    n = (size_t) sprintf(body, "{\"sceneIds\":[");

    for (i = 0; i < 10000; i++) {
        n += (size_t) sprintf(body + n, "%s%zu", i ? "," : "",
                              (i * 214748) % 2147483648u);
    }

    memcpy(body + n, "]}", 2);
    check_big(MI_BODY_INDEX_REQUEST, DEF, body, n + 2, 4096, MI_BODY_OK, "");

    memcpy(body + n, ",7]}", 4);
    snprintf(message, sizeof(message),
             "sceneIds: more than 10000 entries at byte %zu", n + 1);
    check_big(MI_BODY_INDEX_REQUEST, DEF, body, n + 4, 4096,
              MI_BODY_INVALID_BODY, message);

    free(body);
}


static void
test_locale(void **state)
{
    static const mi_case_t  cases[] = {
        AS("{\"locale\":\"ko\"}", OK),
        AS("{\"locale\":\"eng\"}", OK),
        AS("{\"locale\":\"EN\"}", OK),
        AS("{\"locale\":\"en-US\"}", OK),
        AS("{\"locale\":\"en_us\"}", OK),
        AS("{\"locale\":\"ab-12\"}", OK),
        AS("{\"locale\":\"en-a1b2c3d4\"}", OK),
        AS("{\"locale\":\"sr-Latn-RS\"}", OK),
        AS("{\"locale\":\"zh_Hant_TW\"}", OK),
        AS("{\"locale\":\"abc-abcdefgh-abcdefgh-abcdefgh-abcd\"}", OK),
        /* escapes count as the characters they stand for */
        AS("{\"locale\":\"\\u0041\\u0062\"}", OK),
        AS("{\"locale\":\"\\u0065\\u006E-\\u0055S\"}", OK),
        AS("{\"locale\":\"e\\u006e\"}", OK),

        AS("{\"locale\":1}", BODY("locale: not a string or null at byte 10")),
        AS("{\"locale\":[\"ko\"]}",
           BODY("locale: not a string or null at byte 10")),
        AS("{\"locale\":true}",
           BODY("locale: not a string or null at byte 10")),
        AS("{\"locale\":false}",
           BODY("locale: not a string or null at byte 10")),
        AS("{\"locale\":{}}", BODY("locale: not a string or null at byte 10")),
        AS("{\"locale\":-1}", BODY("locale: not a string or null at byte 10")),
        AS("{\"locale\": \"ko\"}", OK),
        AS("{\"locale\": 1}", BODY("locale: not a string or null at byte 11")),

        AS("{\"locale\":\"\"}", BODY(LENGTH "10")),
        AS("{\"locale\":\"k\"}", BODY(LENGTH "10")),
        AS("{\"locale\":\"\\u006B\"}", BODY(LENGTH "10")),
        AS("{\"locale\":\"abc-abcdefgh-abcdefgh-abcdefgh-abcde\"}",
           BODY(LENGTH "10")),
        AS("{\"locale\":\"not a language tag but a long sentence of words\"}",
           BODY(LENGTH "10")),
        /* a surrogate pair is one character */
        AS("{\"locale\":\"\\uD83D\\uDE00\"}", BODY(LENGTH "10")),
        AS("{\"locale\":\"\\uD83D\\uDE00x\"}", BODY(NOT_TAG "10")),

        AS("{\"locale\":\"k1\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"english\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"en-\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"en--US\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"en-U\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"en-U-US\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"en-US-\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"en-abcdefghi\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"1en\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"e-US\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"abcd\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"en US\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"en.US\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"-en\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"ko\\u0000\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"ko\\n\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"k\\u00f6\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"k\xC3\xB6\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"a\\uD800\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"\\uD800\\uD800\"}", BODY(NOT_TAG "10")),
        AS("{\"locale\":\"\xEF\xBD\x8B\xEF\xBD\x8F\"}", BODY(NOT_TAG "10")),

        /* the string is judged whole: a JSON error inside it comes first */
        AS("{\"locale\":\"english\x01\"}",
           JSON("body: control character in string at byte 18")),
        AS("{\"locale\":\"1\\q\"}", JSON("body: invalid escape at byte 12")),
        AS("{\"locale\":\"x", JSON("body: unexpected end of input at byte 12")),
        AS("{\"locale\":\"ko\"",
           JSON("body: unexpected end of input at byte 14")),
        AS("{\"locale\":\"ko\"]", JSON("body: expected ',' or '}' at byte 14")),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static void
test_locale_conflict(void **state)
{
    static const mi_case_t  cases[] = {
        AS("{\"locale\":\"ko\",\"sceneIds\":null}", OK),
        AS("{\"sceneIds\":null,\"locale\":\"ko\"}", OK),
        AS("{\"locale\":null,\"sceneIds\":[1]}", OK),
        AS("{\"sceneIds\":[1],\"locale\":null}", OK),

        AS("{\"sceneIds\":[1],\"locale\":\"ko\"}", BODY(CONFLICT "25")),
        AS("{\"locale\":\"ko\",\"sceneIds\":[1]}", BODY(CONFLICT "26")),
        /* decided at the first byte of the second value */
        AS("{\"locale\":\"ko\",\"sceneIds\":[", BODY(CONFLICT "26")),
        AS("{\"locale\":\"ko\",\"sceneIds\":[]}", BODY(CONFLICT "26")),
        AS("{\"locale\":\"ko\",\"sceneIds\":[-1]}", BODY(CONFLICT "26")),
        AS("{\"sceneIds\":[1],\"locale\":\"x\"}", BODY(CONFLICT "25")),
        AS("{\"sceneIds\":[1],\"locale\":\"", BODY(CONFLICT "25")),
        /* a value of the wrong type is named as such */
        AS("{\"sceneIds\":[1],\"locale\":5}",
           BODY("locale: not a string or null at byte 25")),
        AS("{\"locale\":\"ko\",\"sceneIds\":5}",
           BODY("sceneIds: not an array or null at byte 26")),
    };

    (void) state;

    check_cases(cases, nelts(cases));
}


static char *
repeat(const char *head, char c, size_t n, const char *tail, size_t *len)
{
    size_t  h, t;
    char   *p;

    h = strlen(head);
    t = strlen(tail);

    p = malloc(h + n + t);
    assert_non_null(p);

    memcpy(p, head, h);
    memset(p + h, c, n);
    memcpy(p + h + n, tail, t);

    *len = h + n + t;

    return p;
}


/* No nesting stack: a million '[' cost nothing and are refused at once. */

static void
test_deep_nesting(void **state)
{
    size_t  len;
    char   *p;

    (void) state;

    assert_true(sizeof(mi_body_check_t) <= 512);

    p = repeat("", '[', 1000000, "", &len);
    check_big(MI_BODY_INDEX_REQUEST, DEF, p, len, 1, MI_BODY_INVALID_BODY,
              "body: not a JSON object at byte 0");
    free(p);

    p = repeat("{\"sceneIds\":", '[', 1000000, "", &len);
    check_big(MI_BODY_INDEX_REQUEST, DEF, p, len, 1, MI_BODY_INVALID_BODY,
              "sceneIds[0]: not an integer at byte 13");
    check_big(MI_BODY_ASSET_REQUEST, DEF, p, len, 4096, MI_BODY_INVALID_BODY,
              "sceneIds[0]: not an integer at byte 13");
    free(p);

    p = repeat("{\"sceneIds\":", '[', 1000000, "]]]", &len);
    check_big(MI_BODY_INDEX_REQUEST, DEF, p, len, 4096, MI_BODY_INVALID_BODY,
              "sceneIds[0]: not an integer at byte 13");
    free(p);

    p = repeat("{\"locale\":", '[', 1000000, "", &len);
    check_big(MI_BODY_ASSET_REQUEST, DEF, p, len, 4096, MI_BODY_INVALID_BODY,
              "locale: not a string or null at byte 10");
    free(p);

    p = repeat("{\"x\":", '{', 1000000, "", &len);
    check_big(MI_BODY_ASSET_REQUEST, DEF, p, len, 4096, MI_BODY_INVALID_BODY,
              "x: unknown member at byte 1");
    free(p);
}


/* 2 MB bodies, fed in 4 KiB pieces as nginx would hand them over. */

static void
test_big_body(void **state)
{
    size_t  i, n, entries, at;
    char   *body;
    char    message[MI_BODY_MESSAGE_MAX];

    (void) state;

    entries = 2 * 1024 * 1024 / 11 + 1;

    body = malloc(16 + entries * 11 + 4);
    assert_non_null(body);

    n = (size_t) sprintf(body, "{\"sceneIds\":[");
    at = 0;

    for (i = 0; i < entries; i++) {
        if (i == entries - 1) {
            at = n + 1;
        }

        n += (size_t) sprintf(body + n, "%s%s", i ? "," : "", "2147483647");
    }

    n += (size_t) sprintf(body + n, "]}");
    assert_true(n > 2 * 1024 * 1024);

    check_big(MI_BODY_INDEX_REQUEST, (uint32_t) entries, body, n, 4096,
              MI_BODY_OK, "");
    check_big(MI_BODY_ASSET_REQUEST, UINT32_MAX, body, n, 4096,
              MI_BODY_OK, "");

    snprintf(message, sizeof(message),
             "sceneIds: more than %zu entries at byte %zu", entries - 1, at);
    check_big(MI_BODY_INDEX_REQUEST, (uint32_t) entries - 1, body, n, 4096,
              MI_BODY_INVALID_BODY, message);

    /* the last entry one too large: the range check is still exact */

    body[n - 3] = '8';
    snprintf(message, sizeof(message),
             "sceneIds[%zu]: out of range 0..2147483647 at byte %zu",
             entries - 1, at);
    check_big(MI_BODY_INDEX_REQUEST, (uint32_t) entries, body, n, 4096,
              MI_BODY_INVALID_BODY, message);
    free(body);

    body = repeat("{", ' ', 2 * 1024 * 1024, "\"sceneIds\":null}", &n);
    check_big(MI_BODY_INDEX_REQUEST, DEF, body, n, 4096, MI_BODY_OK, "");
    free(body);

    body = repeat("{\"locale\":\"", 'a', 2 * 1024 * 1024, "\"}", &n);
    check_big(MI_BODY_ASSET_REQUEST, DEF, body, n, 4096, MI_BODY_INVALID_BODY,
              LENGTH "10");
    free(body);

    body = repeat("{\"", 'a', 2 * 1024 * 1024, "\":1}", &n);
    check_big(MI_BODY_ASSET_REQUEST, DEF, body, n, 4096, MI_BODY_INVALID_BODY,
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown member at byte 1");
    free(body);

    body = repeat("{\"sceneIds\":[1", '0', 2 * 1024 * 1024, "]}", &n);
    check_big(MI_BODY_INDEX_REQUEST, DEF, body, n, 4096, MI_BODY_INVALID_BODY,
              "sceneIds[0]: out of range 0..2147483647 at byte 13");
    free(body);

    body = repeat("{}", '\n', 2 * 1024 * 1024, "x", &n);
    snprintf(message, sizeof(message),
             "body: trailing data after the JSON object at byte %zu", n - 1);
    check_big(MI_BODY_INDEX_REQUEST, DEF, body, n, 4096, MI_BODY_INVALID_JSON,
              message);
    free(body);
}


/* The message never overflows, whatever a name holds. */

static void
test_message_bounds(void **state)
{
    size_t           i, n, len;
    char            *p;
    mi_body_check_t  ck;

    (void) state;

    /* 40 x U+00E9: the first 32 bytes of it shown as '?', then "..." */

    p = malloc(8 + 40 * 6 + 8);
    assert_non_null(p);

    n = (size_t) sprintf(p, "{\"");

    for (i = 0; i < 40; i++) {
        n += (size_t) sprintf(p + n, "\\u00e9");
    }

    n += (size_t) sprintf(p + n, "\":1}");

    mi_body_init(&ck, MI_BODY_ASSET_REQUEST, DEF);
    assert_int_equal(mi_body_feed(&ck, (unsigned char *) p, n),
                     MI_BODY_INVALID_BODY);

    len = strlen(mi_body_message(&ck));
    assert_true(len < MI_BODY_MESSAGE_MAX);
    check_message(mi_body_message(&ck));
    assert_string_equal(mi_body_message(&ck),
                        "????????????????????????????????"
                        "...: unknown member at byte 1");
    free(p);

    /* nothing fed but a valid state: no message */

    mi_body_init(&ck, MI_BODY_INDEX_REQUEST, DEF);
    assert_string_equal(mi_body_message(&ck), "");
    assert_int_equal(mi_body_feed(&ck, (unsigned char *) "{", 1),
                     MI_BODY_MORE);
    assert_string_equal(mi_body_message(&ck), "");
    assert_int_equal(ck.offset, 1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_unknown_member),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_scene_ids_type),
        cmocka_unit_test(test_scene_ids_entries),
        cmocka_unit_test(test_scene_ids_max),
        cmocka_unit_test(test_locale),
        cmocka_unit_test(test_locale_conflict),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_big_body),
        cmocka_unit_test(test_message_bounds),
    };

    mi_body_tables_init();

    int            failed;
    mi_body_isa_t  isa;

    /* every table under each implementation of mi_body_simd this CPU has */

    failed = 0;

    for (isa = 0; isa < MI_BODY_ISA_COUNT; isa++) {
        if (!mi_body_isa_set(isa)) {
            continue;
        }

        print_message("mi_body_simd: %s\n", mi_body_isa_name());
        failed += cmocka_run_group_tests_name(mi_body_isa_name(), tests,
                                              NULL, NULL);
    }

    return failed;
}
