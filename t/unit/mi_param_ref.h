/*
 * The reference for mi_param, shared by its unit test and its fuzzer: what
 * the module did before mi_param existed.  The parameter is percent-decoded
 * into a copy, then matched with PCRE2 compiled as nginx's
 * ngx_regex_compile() compiles it (no options), and must match whole.
 */

#ifndef MI_PARAM_REF_H
#define MI_PARAM_REF_H


#define PCRE2_CODE_UNIT_WIDTH  8

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "mi_param.h"
#include "mi_route.h"


static pcre2_code        *mi_ref_code[MI_PARAM_COUNT];
static pcre2_match_data  *mi_ref_data;


static mi_param_rc_t
mi_param_ref(mi_param_t p, const unsigned char *raw, size_t len)
{
    int             rc, err;
    ssize_t         n;
    PCRE2_SIZE      off, *ov;
    unsigned char  *buf;

    if (mi_ref_code[p] == NULL) {
        mi_ref_code[p] = pcre2_compile(
            (PCRE2_SPTR) mi_param_pattern(p), PCRE2_ZERO_TERMINATED, 0,
            &err, &off, NULL);
        if (mi_ref_code[p] == NULL) {
            abort();
        }
    }

    if (mi_ref_data == NULL) {
        mi_ref_data = pcre2_match_data_create(1, NULL);
        if (mi_ref_data == NULL) {
            abort();
        }
    }

    buf = malloc(len + 1);
    if (buf == NULL) {
        abort();
    }

    n = mi_pct_decode(raw, len, buf, len);

    if (n < 0) {
        free(buf);
        return MI_PARAM_BAD_ESCAPE;
    }

    rc = pcre2_match(mi_ref_code[p], buf, (PCRE2_SIZE) n, 0, 0, mi_ref_data,
                     NULL);
    free(buf);

    if (rc < 0) {
        if (rc != PCRE2_ERROR_NOMATCH) {
            abort();
        }

        return MI_PARAM_MISMATCH;
    }

    ov = pcre2_get_ovector_pointer(mi_ref_data);

    return (ov[0] == 0 && ov[1] == (PCRE2_SIZE) n) ? MI_PARAM_VALID
                                                    : MI_PARAM_MISMATCH;
}


/*
 * The verdict the route matcher gives the value as parameter p of a path;
 * -1 when the path is not found (a value with '/', or a dot segment).
 */
static int
mi_param_ref_in_path(mi_param_t p, const unsigned char *raw, size_t len)
{
    static const char  *parts[MI_PARAM_COUNT] = {
        "/api/v1/workspaces/", "/projects/", "/assets/", "/indexes/",
        "/scene-summaries/"
    };
    static const char  *fill[MI_PARAM_COUNT] = {
        "my-workspace", "1234", "5678", "1001", "101"
    };

    int                i;
    size_t             n, plen;
    unsigned char     *path;
    mi_route_match_t   m;

    path = malloc(256 + len);
    if (path == NULL) {
        abort();
    }

    n = 0;

    for (i = 0; i < MI_PARAM_COUNT; i++) {
        plen = strlen(parts[i]);
        memcpy(path + n, parts[i], plen);
        n += plen;

        if (i == (int) p) {
            memcpy(path + n, raw, len);
            n += len;

        } else {
            memcpy(path + n, fill[i], strlen(fill[i]));
            n += strlen(fill[i]);
        }
    }

    memcpy(path + n, "/status", 7);
    n += 7;

    if (mi_route_match((const unsigned char *) "GET", 3, path, n, &m)
        != MI_MATCH_FOUND)
    {
        free(path);
        return -1;
    }

    free(path);

    for (i = 0; i < MI_PARAM_COUNT; i++) {
        if (i != (int) p && m.check[i] != MI_PARAM_VALID) {
            abort();
        }
    }

    return m.check[p];
}


#endif /* MI_PARAM_REF_H */
