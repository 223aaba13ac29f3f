/*
 * Values made valid UTF-8 for the access log: the $mi_utf8_ variables
 * call this on the value of the variable they name.
 */

#include <string.h>

#include "mi_utf8.h"


static size_t mi_utf8_char(const unsigned char *p, const unsigned char *last);


size_t
mi_utf8_repair(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t                n, size;
    const unsigned char  *last;

    size = 0;
    last = src + len;

    /* the usual value, ASCII only, is valid as it is */

    while (size < len && src[size] < 0x80) {
        size++;
    }

    if (size == len) {
        if (dst) {
            memcpy(dst, src, len);
        }

        return len;
    }

    if (dst) {
        memcpy(dst, src, size);
    }

    src += size;

    while (src < last) {
        n = mi_utf8_char(src, last);

        if (n == 0) {
            if (dst) {
                memcpy(dst + size, MI_UTF8_REPLACEMENT,
                       MI_UTF8_REPLACEMENT_LEN);
            }

            size += MI_UTF8_REPLACEMENT_LEN;
            src++;
            continue;
        }

        if (dst) {
            memcpy(dst + size, src, n);
        }

        size += n;
        src += n;
    }

    return size;
}


/*
 * The length of the well-formed character that starts at p, or 0 if none
 * does or it is a noncharacter.  Table 3-7 allows each lead byte one range
 * for the byte after it, which is where overlong forms, surrogates and
 * code points past U+10FFFF are refused; every other byte of a character
 * is 80..BF.
 */

static size_t
mi_utf8_char(const unsigned char *p, const unsigned char *last)
{
    size_t         i, n;
    unsigned char  c, lo, hi;

    c = p[0];

    if (c < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c < 0xc2) {
        /* a continuation byte alone, or C0 C1: overlong */
        return 0;

    } else if (c < 0xe0) {
        n = 2;

    } else if (c < 0xf0) {
        n = 3;

        if (c == 0xe0) {
            lo = 0xa0;                      /* below U+0800: overlong */

        } else if (c == 0xed) {
            hi = 0x9f;                      /* D800..DFFF: surrogates */
        }

    } else if (c < 0xf5) {
        n = 4;

        if (c == 0xf0) {
            lo = 0x90;                      /* below U+10000: overlong */

        } else if (c == 0xf4) {
            hi = 0x8f;                      /* past U+10FFFF */
        }

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    /* U+FDD0..U+FDEF, U+FFFE, U+FFFF: EF B7 90..AF, EF BF BE..BF */

    if (n == 3
        && c == 0xef
        && ((p[1] == 0xb7 && p[2] >= 0x90 && p[2] <= 0xaf)
            || (p[1] == 0xbf && p[2] >= 0xbe)))
    {
        return 0;
    }

    /* U+1FFFE, U+1FFFF, ... U+10FFFF: an xF second byte, BF, BE..BF */

    if (n == 4 && (p[1] & 0x0f) == 0x0f && p[2] == 0xbf && p[3] >= 0xbe) {
        return 0;
    }

    return n;
}
