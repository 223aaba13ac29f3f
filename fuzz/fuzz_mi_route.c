/*
 * libFuzzer harness of mi_route.  The first byte picks the method (one of
 * a few, or the next 0-7 input bytes as sent); the rest is the path.  The
 * matcher's results are checked against what they must imply, and
 * mi_pct_decode against a plain reference decoder.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mi_route.h"


static const char  *methods[] = {
    "GET", "POST", "DELETE", "get", "PUT", "POS", "DELETEX", ""
};

#define N_METHODS  (sizeof(methods) / sizeof(methods[0]))


static const struct {
    mi_method_t   bit;
    const char   *name;
} known[] = {
    { MI_METHOD_GET, "GET" },
    { MI_METHOD_POST, "POST" },
    { MI_METHOD_DELETE, "DELETE" }
};


static const char  *allow_headers[8] = {
    "", "GET", "POST", "GET, POST", "DELETE", "GET, DELETE",
    "POST, DELETE", "GET, POST, DELETE"
};


static void
check(int ok)
{
    if (!ok) {
        abort();
    }
}


static unsigned
method_bit(const unsigned char *m, size_t len)
{
    size_t  i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (len == strlen(known[i].name) && memcmp(m, known[i].name, len) == 0)
        {
            return known[i].bit;
        }
    }

    return 0;
}


/* 1 when the template has a placeholder for p. */
static int
template_has(const char *template, mi_param_t p)
{
    const char  *name, *s;

    name = mi_param_name(p);
    s = template;

    while ((s = strchr(s, '{')) != NULL) {
        s++;

        if (strncmp(s, name, strlen(name)) == 0 && s[strlen(name)] == '}') {
            return 1;
        }
    }

    return 0;
}


/*
 * With no escape in the path, the template with each placeholder replaced
 * by its param must be the path itself, byte for byte.
 */
static void
check_plain(const mi_route_t *r, const mi_route_match_t *m,
    const unsigned char *path, size_t len)
{
    size_t       i, n;
    mi_param_t   p;
    const char  *t, *end;

    if (memchr(path, '%', len) != NULL) {
        return;
    }

    i = 0;

    for (t = r->template; *t; ) {
        if (*t != '{') {
            check(i < len && path[i] == (unsigned char) *t);
            i++;
            t++;
            continue;
        }

        end = strchr(t, '}');
        check(end != NULL);

        for (p = 0; p < MI_PARAM_COUNT; p++) {
            n = strlen(mi_param_name(p));

            if ((size_t) (end - t - 1) == n
                && memcmp(t + 1, mi_param_name(p), n) == 0)
            {
                break;
            }
        }

        check(p < MI_PARAM_COUNT);
        check(m->param[p].data == path + i);

        i += m->param[p].len;
        t = end + 1;
    }

    check(i == len);
}


static void
check_match(const unsigned char *method, size_t mlen,
    const unsigned char *path, size_t len)
{
    char               hdr[32];
    size_t             i, n;
    unsigned           bit;
    mi_param_t         p;
    mi_match_rc_t      rc, rc2;
    const mi_span_t   *s;
    mi_route_match_t   m, m2;

    rc = mi_route_match(method, mlen, path, len, &m);
    bit = method_bit(method, mlen);

    check((m.allow & ~7u) == 0);

    switch (rc) {

    case MI_MATCH_FOUND:
        check(m.route != NULL);
        check(m.route >= mi_routes && m.route < mi_routes + MI_ROUTE_COUNT);
        check((unsigned) m.route->method == bit);
        check(m.allow & bit);

        for (p = 0; p < MI_PARAM_COUNT; p++) {
            s = &m.param[p];

            if (!template_has(m.route->template, p)) {
                check(s->data == NULL && s->len == 0);
                continue;
            }

            check(s->data != NULL && s->len > 0);
            check(s->data >= path && s->data + s->len <= path + len);
            check(memchr(s->data, '/', s->len) == NULL);

            /* the verdict of the matcher's own scan, as if scanned alone */
            check(m.check[p] == mi_param_check(p, s->data, s->len));

            /* "unfit" is set whenever a verdict is not plainly valid, and
               only when a param as sent does not fit its pattern */
            check(m.unfit || m.check[p] == MI_PARAM_VALID);
            check(m.unfit || memchr(s->data, '%', s->len) == NULL);
        }

        check_plain(m.route, &m, path, len);
        break;

    case MI_MATCH_NOT_FOUND:
        check(m.route == NULL);
        check(m.allow == 0);

        for (p = 0; p < MI_PARAM_COUNT; p++) {
            check(m.param[p].data == NULL && m.param[p].len == 0);
        }

        break;

    case MI_MATCH_METHOD_NOT_ALLOWED:
        check(m.route == NULL);
        check(m.allow != 0);
        check((m.allow & bit) == 0);

        for (p = 0; p < MI_PARAM_COUNT; p++) {
            s = &m.param[p];

            if (s->data != NULL) {
                check(s->len > 0);
                check(s->data >= path && s->data + s->len <= path + len);
                check(memchr(s->data, '/', s->len) == NULL);
            }
        }

        break;

    default:
        abort();
    }

    /* the path alone decides allow; the method only picks among it */

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        rc2 = mi_route_match((const unsigned char *) known[i].name,
                             strlen(known[i].name), path, len, &m2);

        check(m2.allow == m.allow);
        check((rc2 == MI_MATCH_FOUND) == ((m.allow & known[i].bit) != 0));
        check(rc2 != MI_MATCH_NOT_FOUND || rc == MI_MATCH_NOT_FOUND);
    }

    n = mi_route_allow(m.allow, hdr, sizeof(hdr));
    check(n == strlen(allow_headers[m.allow])
          && memcmp(hdr, allow_headers[m.allow], n) == 0);
}


static int
ref_hex(unsigned char c)
{
    static const char  digits[] = "0123456789abcdef0123456789ABCDEF";
    const char        *d;

    if (c == '\0' || (d = strchr(digits, c)) == NULL) {
        return -1;
    }

    return (d - digits) % 16;
}


/* Reference: decode everything first, then compare the length with cap. */
static void
check_decode(const unsigned char *src, size_t len, size_t cap)
{
    int             hi, lo;
    size_t          i, n;
    ssize_t         rc;
    unsigned char  *ref, *dst;

    ref = malloc(len + 1);
    dst = malloc(cap + 1);
    check(ref != NULL && dst != NULL);

    n = 0;

    for (i = 0; i < len; i++) {
        if (src[i] != '%') {
            ref[n++] = src[i];
            continue;
        }

        hi = i + 1 < len ? ref_hex(src[i + 1]) : -1;
        lo = i + 2 < len ? ref_hex(src[i + 2]) : -1;

        if (hi < 0 || lo < 0) {
            n = (size_t) -1;
            break;
        }

        ref[n++] = (unsigned char) (hi * 16 + lo);
        i += 2;
    }

    if (n != (size_t) -1 && n > cap) {
        n = (size_t) -1;
    }

    /* a guard byte past cap: no write may reach it */
    dst[cap] = 0xa5;

    rc = mi_pct_decode(src, len, dst, cap);

    check(dst[cap] == 0xa5);

    if (n == (size_t) -1) {
        check(rc == -1);

    } else {
        check(rc >= 0 && (size_t) rc == n && memcmp(dst, ref, n) == 0);
    }

    free(ref);
    free(dst);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    mi_route_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          mlen, plen;
    unsigned char  *method, *path;

    if (size == 0) {
        return 0;
    }

    if (data[0] < 0x80) {
        mlen = strlen(methods[data[0] % N_METHODS]);
        method = malloc(mlen ? mlen : 1);
        check(method != NULL);
        memcpy(method, methods[data[0] % N_METHODS], mlen);
        data++;
        size--;

    } else {
        mlen = data[0] & 7;
        data++;
        size--;

        if (mlen > size) {
            mlen = size;
        }

        method = malloc(mlen ? mlen : 1);
        check(method != NULL);
        memcpy(method, data, mlen);
        data += mlen;
        size -= mlen;
    }

    /* exactly sized copies: ASan sees any read past either end */

    plen = size;
    path = malloc(plen ? plen : 1);
    check(path != NULL);
    memcpy(path, data, plen);

    check_match(method, mlen, path, plen);

    check_decode(path, plen, plen);
    check_decode(path, plen, plen / 2);
    check_decode(path, plen, mlen);

    free(method);
    free(path);

    return 0;
}
