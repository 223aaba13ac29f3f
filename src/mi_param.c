/*
 * mi_param: the default path parameter patterns as class bits and lengths.
 * The route matcher does the scanning; this file turns a scan into the
 * verdict PCRE2 would give on the decoded value.
 */

#include <string.h>

#include "mi_param.h"


#define MI_PARAM_ID        (MI_PARAM_DIGIT | MI_PARAM_NONZERO | MI_PARAM_NAME)


static int mi_hex(unsigned char c);


/*
 * PCRE2 without PCRE2_UTF (nginx's ngx_regex_compile sets none) reads a
 * value byte by byte, so a rule is exactly its regex, '\n' included: "$"
 * may match before a final newline, but the whole value must match, and
 * '\n' is in no class.
 */
const mi_param_rule_t  mi_param_rules[MI_PARAM_COUNT] = {
    { MI_PARAM_NAME, MI_PARAM_NAME, 3, 63, "^[a-z0-9-]{3,63}$" },
    { MI_PARAM_DIGIT, MI_PARAM_NONZERO, 1, 19, "^[1-9][0-9]{0,18}$" },
    { MI_PARAM_DIGIT, MI_PARAM_NONZERO, 1, 19, "^[1-9][0-9]{0,18}$" },
    { MI_PARAM_DIGIT, MI_PARAM_NONZERO, 1, 19, "^[1-9][0-9]{0,18}$" },
    { MI_PARAM_DIGIT, MI_PARAM_NONZERO, 1, 19, "^[1-9][0-9]{0,18}$" }
};


const unsigned char  mi_param_class[256] = {
    ['-'] = MI_PARAM_NAME,
    ['0'] = MI_PARAM_DIGIT | MI_PARAM_NAME,
    ['1' ... '9'] = MI_PARAM_ID,
    ['a' ... 'z'] = MI_PARAM_NAME
};


static mi_param_rc_t mi_param_decoded(mi_param_t p, const unsigned char *raw,
    size_t len);


mi_param_rc_t
mi_param_judge(mi_param_t p, const unsigned char *raw, size_t len,
    unsigned classes)
{
    if (len > 0 && mi_param_fits(p, classes, len, raw[0])) {
        return MI_PARAM_VALID;
    }

    /* '%' is in no class: only a value that failed can hold one */

    if (classes == 0 && memchr(raw, '%', len) != NULL) {
        return mi_param_decoded(p, raw, len);
    }

    return MI_PARAM_MISMATCH;
}


mi_param_rc_t
mi_param_check(mi_param_t p, const unsigned char *raw, size_t len)
{
    size_t    i;
    unsigned  classes;

    classes = MI_PARAM_CLASSES;

    for (i = 0; i < len; i++) {
        classes &= mi_param_class[raw[i]];
    }

    return mi_param_judge(p, raw, len, classes);
}


const char *
mi_param_pattern(mi_param_t p)
{
    if ((unsigned) p >= MI_PARAM_COUNT) {
        return NULL;
    }

    return mi_param_rules[p].pattern;
}


/*
 * The slow road, for a value with a '%': decoded one escape at a time, no
 * copy.  Any malformed escape makes the value undecodable, whatever comes
 * before it, as a decode-then-match would find.
 */

static mi_param_rc_t
mi_param_decoded(mi_param_t p, const unsigned char *raw, size_t len)
{
    size_t          i, n;
    unsigned        classes;
    unsigned char   c, first;

    classes = MI_PARAM_CLASSES;
    first = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        c = raw[i];

        if (c == '%') {
            if (mi_pct_decode(raw + i, len - i < 3 ? len - i : 3, &c, 1)
                != 1)
            {
                return MI_PARAM_BAD_ESCAPE;
            }

            i += 2;
        }

        if (n++ == 0) {
            first = c;
        }

        classes &= mi_param_class[c];
    }

    return mi_param_fits(p, classes, n, first) ? MI_PARAM_VALID
                                                : MI_PARAM_MISMATCH;
}


ssize_t
mi_pct_decode(const unsigned char *src, size_t len, unsigned char *dst,
    size_t cap)
{
    int            hi, lo;
    size_t         i, n;
    unsigned char  c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '%') {
            if (len - i < 3) {
                return -1;
            }

            hi = mi_hex(src[i + 1]);
            lo = mi_hex(src[i + 2]);

            if (hi < 0 || lo < 0) {
                return -1;
            }

            c = (unsigned char) (hi << 4 | lo);
            i += 2;
        }

        if (n == cap) {
            return -1;
        }

        dst[n++] = c;
    }

    return n;
}


static int
mi_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}
