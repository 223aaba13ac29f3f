/*
 * Unit tests of mi_utf8: the cases the access log must survive, then every
 * input of one to three bytes and every four-byte lead, and random text,
 * against a reference written here that decodes the code point and judges
 * the number (mi_utf8 judges the bytes, by table 3-7).  Then every code
 * point, encoded: kept, but for the surrogates and the noncharacters.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mi_utf8.h"


#define R  MI_UTF8_REPLACEMENT


/* The length of the valid character at p, by its code point; or 0. */
static size_t
ref_char(const unsigned char *p, size_t left)
{
    size_t    i, n;
    uint32_t  cp;

    static const uint32_t  min[] = { 0, 0, 0x80, 0x800, 0x10000 };

    if (p[0] < 0x80) {
        return 1;

    } else if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = p[0] & 0x1f;

    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = p[0] & 0x0f;

    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = p[0] & 0x07;

    } else {
        return 0;
    }

    if (left < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)
        || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
    {
        return 0;
    }

    return n;
}


/* The reference repair: one U+FFFD for each byte no character starts at. */
static size_t
ref_repair(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t  i, n, size;

    size = 0;

    for (i = 0; i < len; i += n) {
        n = ref_char(src + i, len - i);

        if (n == 0) {
            memcpy(dst + size, R, 3);
            size += 3;
            n = 1;
            continue;
        }

        memcpy(dst + size, src + i, n);
        size += n;
    }

    return size;
}


/* mi_utf8_repair and the reference agree on src, length alone included. */
static void
check(const unsigned char *src, size_t len)
{
    size_t         n, want;
    unsigned char  got[3 * 32], ref[3 * 32];

    assert_true(len <= 32);

    want = ref_repair(ref, src, len);
    n = mi_utf8_repair(got, src, len);

    assert_int_equal(mi_utf8_repair(NULL, src, len), n);

    if (n != want || memcmp(got, ref, n) != 0) {
        print_error("input of %zu bytes: %02x %02x %02x %02x\n", len,
                    len > 0 ? src[0] : 0, len > 1 ? src[1] : 0,
                    len > 2 ? src[2] : 0, len > 3 ? src[3] : 0);
        fail();
    }
}


static void
expect(const char *src, const char *want)
{
    size_t         n;
    unsigned char  out[256];

    n = mi_utf8_repair(out, (const unsigned char *) src, strlen(src));

    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}


static void
test_examples(void **state)
{
    (void) state;

    expect("", "");
    expect("/api/v1/x", "/api/v1/x");
    expect("\"\n\\\x01\x7f", "\"\n\\\x01\x7f");      /* escape=json's job */

    /* valid characters of two, three and four bytes stay */
    expect("/caf\xc3\xa9/\xea\xb0\x80\xeb\x82\x98/\xf0\x9f\x98\x80",
           "/caf\xc3\xa9/\xea\xb0\x80\xeb\x82\x98/\xf0\x9f\x98\x80");
    expect("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
           "\xf0\x90\x80\x80\xf4\x8f\xbf\xbd",
           "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
           "\xf0\x90\x80\x80\xf4\x8f\xbf\xbd");

    expect("/a\xff\xfe", "/a" R R);
    expect("\xc0\xaf", R R);                        /* overlong '/' */
    expect("\xe0\x80\xaf", R R R);                  /* overlong '/' */
    expect("\xf0\x80\x80\xaf", R R R R);            /* overlong '/' */
    expect("\xc1\xbf", R R);                        /* overlong DEL */
    expect("\xe0\x9f\xbf", R R R);                  /* overlong U+07FF */
    expect("\xe2\x82", R R);                        /* cut short */
    expect("\xe2\x82/", R R "/");
    expect("\xe2\x82\xe2\x82\xac", R R "\xe2\x82\xac");
    expect("\xf0\x9f\x98", R R R);
    expect("\xed\xa0\x80", R R R);                  /* U+D800 */
    expect("\xed\xbf\xbf", R R R);                  /* U+DFFF */
    expect("\xed\xa0\xbd\xed\xb8\x80", R R R R R R);    /* CESU-8 pair */
    expect("\xf4\x90\x80\x80", R R R R);            /* U+110000 */
    expect("\xf5\x80\x80\x80", R R R R);
    expect("\x80\xbf", R R);                        /* continuations alone */
    expect("\xc3", R);
    expect("a\xc3" "b", "a" R "b");
    expect(R, R);                                   /* U+FFFD itself */

    /* noncharacters: well-formed, refused by strict decoders */
    expect("\xef\xbf\xbf", R R R);                  /* U+FFFF */
    expect("\xef\xbf\xbe", R R R);                  /* U+FFFE */
    expect("\xef\xb7\x90\xef\xb7\xaf", R R R R R R); /* U+FDD0, U+FDEF */
    expect("\xf0\x9f\xbf\xbe", R R R R);            /* U+1FFFE */
    expect("\xf4\x8f\xbf\xbf", R R R R);            /* U+10FFFF */
    expect("\xef\xb7\x8f\xef\xb7\xb0\xef\xbf\xbc\xf4\x8f\xbf\xbd",
           "\xef\xb7\x8f\xef\xb7\xb0\xef\xbf\xbc\xf4\x8f\xbf\xbd");
}


static void
test_every_short_input(void **state)
{
    unsigned int   a, b, c;
    unsigned char  in[3];

    (void) state;

    check(in, 0);

    for (a = 0; a < 256; a++) {
        in[0] = (unsigned char) a;
        check(in, 1);

        for (b = 0; b < 256; b++) {
            in[1] = (unsigned char) b;
            check(in, 2);

            for (c = 0; c < 256; c++) {
                in[2] = (unsigned char) c;
                check(in, 3);
            }
        }
    }
}


/* Four bytes: every lead and second byte, the edges of the other two. */
static void
test_four_byte_leads(void **state)
{
    size_t         i, j;
    unsigned int   a, b;
    unsigned char  in[4];

    static const unsigned char  edge[] = {
        0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
        0xc2, 0xe0, 0xf0, 0xf4, 0xff
    };

    (void) state;

    for (a = 0xe0; a < 256; a++) {
        in[0] = (unsigned char) a;

        for (b = 0; b < 256; b++) {
            in[1] = (unsigned char) b;

            for (i = 0; i < sizeof(edge); i++) {
                in[2] = edge[i];

                for (j = 0; j < sizeof(edge); j++) {
                    in[3] = edge[j];
                    check(in, 4);
                }
            }
        }
    }
}


/* Random text from bytes near the boundaries, up to 32 bytes long. */
static void
test_random_text(void **state)
{
    size_t         len, i, n;
    unsigned int   k;
    unsigned char  in[32];

    static const unsigned char  pick[] = {
        0x00, 0x2f, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xaf,
        0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe2, 0xec, 0xed, 0xee, 0xef,
        0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xfe, 0xff
    };

    (void) state;

    srand(20261206);

    for (k = 0; k < 200000; k++) {
        len = (size_t) rand() % (sizeof(in) + 1);

        for (i = 0; i < len; i++) {
            n = (size_t) rand();
            in[i] = (n & 1) ? pick[(n >> 1) % sizeof(pick)]
                            : (unsigned char) (n >> 1);
        }

        check(in, len);
    }
}


/* Every code point, as UTF-8 encodes it: kept unless it must not be. */
static void
test_every_code_point(void **state)
{
    size_t         len, n;
    uint32_t       cp;
    unsigned char  in[4], out[12];
    int            keep;

    (void) state;

    for (cp = 0; cp <= 0x10ffff; cp++) {
        if (cp < 0x80) {
            in[0] = (unsigned char) cp;
            len = 1;

        } else if (cp < 0x800) {
            in[0] = (unsigned char) (0xc0 | (cp >> 6));
            in[1] = (unsigned char) (0x80 | (cp & 0x3f));
            len = 2;

        } else if (cp < 0x10000) {
            in[0] = (unsigned char) (0xe0 | (cp >> 12));
            in[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
            in[2] = (unsigned char) (0x80 | (cp & 0x3f));
            len = 3;

        } else {
            in[0] = (unsigned char) (0xf0 | (cp >> 18));
            in[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
            in[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
            in[3] = (unsigned char) (0x80 | (cp & 0x3f));
            len = 4;
        }

        keep = !(cp >= 0xd800 && cp <= 0xdfff)
               && !(cp >= 0xfdd0 && cp <= 0xfdef)
               && (cp & 0xfffe) != 0xfffe;

        n = mi_utf8_repair(out, in, len);

        if (keep) {
            assert_int_equal(n, len);
            assert_memory_equal(out, in, len);

        } else {
            assert_int_equal(n, 3 * len);
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_every_short_input),
        cmocka_unit_test(test_four_byte_leads),
        cmocka_unit_test(test_random_text),
        cmocka_unit_test(test_every_code_point),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
