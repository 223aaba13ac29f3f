/*
 * Unit tests of mi_route: every route found with its raw params, every
 * path with every other method refused with the right Allow, paths that
 * must not match, percent-decoding of literals but not of params, and
 * mi_pct_decode, mi_route_allow and mi_param_name on their own.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mi_route.h"


#define P    "/api/v1/workspaces/my-workspace/projects/1234/assets/5678"
#define GP   (MI_METHOD_GET | MI_METHOD_POST)

#define BIG  (100 * 1024)


typedef struct {
    const char     *method;
    const char     *path;
    const char     *route;
    unsigned        allow;
    const char     *param[MI_PARAM_COUNT];
} found_case_t;


typedef struct {
    const char     *method;
    const char     *path;
    unsigned        allow;
    const char     *allow_header;
} refused_case_t;


static const found_case_t  found_cases[] = {

    { "POST", P "/indexes/1001/scene-summaries", "index.request", GP,
      { "my-workspace", "1234", "5678", "1001", NULL } },

    { "GET", P "/indexes/1001/scene-summaries", "index.result", GP,
      { "my-workspace", "1234", "5678", "1001", NULL } },

    { "GET", P "/indexes/1001/scene-summaries/101/status", "index.status",
      MI_METHOD_GET,
      { "my-workspace", "1234", "5678", "1001", "101" } },

    { "DELETE", P "/indexes/1001/scene-summaries/101", "index.cancel",
      MI_METHOD_DELETE,
      { "my-workspace", "1234", "5678", "1001", "101" } },

    { "POST", P "/scene-summary", "asset.request", GP,
      { "my-workspace", "1234", "5678", NULL, NULL } },

    { "GET", P "/scene-summary", "asset.result", GP,
      { "my-workspace", "1234", "5678", NULL, NULL } },

    { "GET", P "/scene-summary/status", "asset.status", MI_METHOD_GET,
      { "my-workspace", "1234", "5678", NULL, NULL } },

    { "POST", P "/scene-summary/cancel", "asset.cancel", MI_METHOD_POST,
      { "my-workspace", "1234", "5678", NULL, NULL } },

    /* each param is a different span: none is taken for another */

    { "GET", "/api/v1/workspaces/w/projects/p/assets/a/indexes/i"
             "/scene-summaries/s/status", "index.status", MI_METHOD_GET,
      { "w", "p", "a", "i", "s" } },

    /* literals are compared decoded, in either hex case */

    { "GET", "/api/v1/work%73paces/my-workspace/projects/1234/assets/5678"
             "/scene-summary", "asset.result", GP,
      { "my-workspace", "1234", "5678", NULL, NULL } },

    { "POST", "/%61%70%69/%76%31/workspaces/w/projects/1/assets/2"
              "/scene%2Dsummary/cancel", "asset.cancel", MI_METHOD_POST,
      { "w", "1", "2", NULL, NULL } },

    { "DELETE", P "/%69ndexes/1001/scene%2dsummaries/101", "index.cancel",
      MI_METHOD_DELETE,
      { "my-workspace", "1234", "5678", "1001", "101" } },

    /* params are returned raw, whatever they hold: the caller checks them */

    { "GET", "/api/v1/workspaces/my%2Dworkspace/projects/%31234/assets/5678"
             "/scene-summary/status", "asset.status", MI_METHOD_GET,
      { "my%2Dworkspace", "%31234", "5678", NULL, NULL } },

    { "GET", "/api/v1/workspaces/%zz/projects/1%2F2/assets/+"
             "/scene-summary", "asset.result", GP,
      { "%zz", "1%2F2", "+", NULL, NULL } },

    { "GET", "/api/v1/workspaces/\xc3\xa9t\xc3\xa9/projects/..."
             "/assets/.a/scene-summary", "asset.result", GP,
      { "\xc3\xa9t\xc3\xa9", "...", ".a", NULL, NULL } },
};


/* Every route's path with every method it does not take. */
static const refused_case_t  refused_cases[] = {

    { "DELETE", P "/indexes/1001/scene-summaries", GP, "GET, POST" },
    { "PUT", P "/indexes/1001/scene-summaries", GP, "GET, POST" },

    { "POST", P "/indexes/1001/scene-summaries/101/status", MI_METHOD_GET,
      "GET" },
    { "DELETE", P "/indexes/1001/scene-summaries/101/status", MI_METHOD_GET,
      "GET" },

    { "GET", P "/indexes/1001/scene-summaries/101", MI_METHOD_DELETE,
      "DELETE" },
    { "POST", P "/indexes/1001/scene-summaries/101", MI_METHOD_DELETE,
      "DELETE" },

    { "DELETE", P "/scene-summary", GP, "GET, POST" },
    { "PATCH", P "/scene-summary", GP, "GET, POST" },

    { "POST", P "/scene-summary/status", MI_METHOD_GET, "GET" },
    { "DELETE", P "/scene-summary/status", MI_METHOD_GET, "GET" },

    { "GET", P "/scene-summary/cancel", MI_METHOD_POST, "POST" },
    { "DELETE", P "/scene-summary/cancel", MI_METHOD_POST, "POST" },

    /* methods are compared exactly, as sent */

    { "get", P "/scene-summary", GP, "GET, POST" },
    { "Post", P "/scene-summary/cancel", MI_METHOD_POST, "POST" },
    { "GETS", P "/scene-summary/status", MI_METHOD_GET, "GET" },
    { "GE", P "/scene-summary/status", MI_METHOD_GET, "GET" },
    { "", P "/scene-summary/status", MI_METHOD_GET, "GET" },
    { "DELETE ", P "/indexes/1/scene-summaries/2", MI_METHOD_DELETE,
      "DELETE" },
};


/* Paths no route takes, whatever the method. */
static const char  *unknown_paths[] = {
    "",
    "/",
    "//",
    "api/v1/workspaces/my-workspace/projects/1234/assets/5678/scene-summary",
    "xapi/v1/workspaces/my-workspace/projects/1234/assets/5678/scene-summary",
    P,
    P "/",
    P "/scene-summary/",
    P "/scene-summary/status/",
    P "/indexes/1001/scene-summaries/",
    P "/indexes/1001/scene-summaries/101/",
    P "/indexes/1001",
    P "/indexes/1001/scene-summaries/101/status/x",
    P "/scene-summary/status/x",
    P "/scene-summary/x",
    P "/scene-summary/cancel/x",
    P "/x/scene-summary",
    P "//scene-summary",
    P "/scene-summary//status",
    "/api/v1//workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    "//api/v1/workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    "/api/v1/workspaces//projects/1234/assets/5678/scene-summary",
    P "/indexes//scene-summaries",
    P "/indexes/1001/scene-summaries//status",
    "/api/v2/workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    "/v1/workspaces/my-workspace/projects/1234/assets/5678/scene-summary",
    "/x/api/v1/workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    P "/scene-summarys",
    P "/scene-summaries",
    P "/scene-summary/statu",
    P "/scene-summary/cancelled",
    P "/Scene-Summary",
    P "/indexes/1001/scene-summary",
    P "/index/1001/scene-summaries",
    P "/scene-summary?x=1",
    P "/scene-summary/status?",

    /* no normalisation: dot segments are neither resolved nor taken */
    "/api/v1/./workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    "/api/v1/x/../workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    P "/scene-summary/./status",
    P "/scene-summary/x/../status",
    "/api/v1/workspaces/../projects/1234/assets/5678/scene-summary",
    "/api/v1/workspaces/./projects/1234/assets/5678/scene-summary",
    "/api/v1/workspaces/w/projects/%2e%2E/assets/5678/scene-summary",
    "/api/v1/workspaces/w/projects/1/assets/%2e/scene-summary",
    P "/indexes/.%2e/scene-summaries",
    P "/indexes/1/scene-summaries/./status",

    /* a malformed escape or an encoded '/' never equals a literal */
    "/api/v1/work%7spaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    "/api/v1/workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary%",
    P "/scene-summary/status%zz",
    P "/scene-summary/%",
    "/api%2Fv1/workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    "%2Fapi/v1/workspaces/my-workspace/projects/1234/assets/5678"
        "/scene-summary",
    P "%2Fscene-summary",
    P "/scene-summary%2Fstatus",
    P "/scene-summary/status%00",
    P "/scene%20summary",
    P "/scene+summary",
    P "/sc\xc3\xa9ne-summary",
};


static mi_match_rc_t
match(const char *method, const char *path, size_t len, mi_route_match_t *m)
{
    return mi_route_match((const unsigned char *) method, strlen(method),
                          (const unsigned char *) path, len, m);
}


static const char *
rc_name(mi_match_rc_t rc)
{
    switch (rc) {
    case MI_MATCH_FOUND:
        return "FOUND";
    case MI_MATCH_NOT_FOUND:
        return "NOT_FOUND";
    case MI_MATCH_METHOD_NOT_ALLOWED:
        return "METHOD_NOT_ALLOWED";
    }

    return "?";
}


/* A param is the raw text of its segment, a span of path itself. */
static void
check_param(const char *method, const char *path, size_t len,
    const mi_route_match_t *m, mi_param_t p, const char *expect)
{
    const mi_span_t      *s;
    const unsigned char  *in;

    s = &m->param[p];
    in = (const unsigned char *) path;

    if (expect == NULL) {
        if (s->data != NULL || s->len != 0) {
            fail_msg("%s %s: %s should be unset, is \"%.*s\"", method, path,
                     mi_param_name(p), (int) s->len, s->data);
        }

        return;
    }

    if (s->data == NULL || s->data < in || s->data + s->len > in + len) {
        fail_msg("%s %s: %s does not point into the path", method, path,
                 mi_param_name(p));
    }

    if (s->len != strlen(expect) || memcmp(s->data, expect, s->len) != 0) {
        fail_msg("%s %s: %s is \"%.*s\", expected \"%s\"", method, path,
                 mi_param_name(p), (int) s->len, s->data, expect);
    }
}


static void
check_found(const found_case_t *c)
{
    size_t            len;
    mi_param_t        p;
    mi_match_rc_t     rc;
    mi_route_match_t  m;

    len = strlen(c->path);
    rc = match(c->method, c->path, len, &m);

    if (rc != MI_MATCH_FOUND || m.route == NULL) {
        fail_msg("%s %s: %s, expected %s", c->method, c->path, rc_name(rc),
                 c->route);
    }

    if (strcmp(m.route->name, c->route) != 0) {
        fail_msg("%s %s: route %s, expected %s", c->method, c->path,
                 m.route->name, c->route);
    }

    if (m.allow != c->allow) {
        fail_msg("%s %s: allow %#x, expected %#x", c->method, c->path,
                 m.allow, c->allow);
    }

    for (p = 0; p < MI_PARAM_COUNT; p++) {
        check_param(c->method, c->path, len, &m, p, c->param[p]);
    }
}


static void
test_table(void **state)
{
    static const struct {
        const char       *name;
        mi_method_t       method;
        const char       *template;
        mi_route_body_t   body;
    } expect[MI_ROUTE_COUNT] = {
        { "index.request", MI_METHOD_POST,
          "/api/v1/workspaces/{workspace_name}/projects/{project_id}"
          "/assets/{asset_id}/indexes/{index_id}/scene-summaries",
          MI_ROUTE_INDEX_REQUEST_BODY },
        { "index.result", MI_METHOD_GET,
          "/api/v1/workspaces/{workspace_name}/projects/{project_id}"
          "/assets/{asset_id}/indexes/{index_id}/scene-summaries",
          MI_ROUTE_NO_BODY },
        { "index.status", MI_METHOD_GET,
          "/api/v1/workspaces/{workspace_name}/projects/{project_id}"
          "/assets/{asset_id}/indexes/{index_id}/scene-summaries"
          "/{scene_summary_id}/status",
          MI_ROUTE_NO_BODY },
        { "index.cancel", MI_METHOD_DELETE,
          "/api/v1/workspaces/{workspace_name}/projects/{project_id}"
          "/assets/{asset_id}/indexes/{index_id}/scene-summaries"
          "/{scene_summary_id}",
          MI_ROUTE_NO_BODY },
        { "asset.request", MI_METHOD_POST,
          "/api/v1/workspaces/{workspace_name}/projects/{project_id}"
          "/assets/{asset_id}/scene-summary",
          MI_ROUTE_ASSET_REQUEST_BODY },
        { "asset.result", MI_METHOD_GET,
          "/api/v1/workspaces/{workspace_name}/projects/{project_id}"
          "/assets/{asset_id}/scene-summary",
          MI_ROUTE_NO_BODY },
        { "asset.status", MI_METHOD_GET,
          "/api/v1/workspaces/{workspace_name}/projects/{project_id}"
          "/assets/{asset_id}/scene-summary/status",
          MI_ROUTE_NO_BODY },
        { "asset.cancel", MI_METHOD_POST,
          "/api/v1/workspaces/{workspace_name}/projects/{project_id}"
          "/assets/{asset_id}/scene-summary/cancel",
          MI_ROUTE_NO_BODY },
    };

    size_t  i;

    (void) state;

    for (i = 0; i < MI_ROUTE_COUNT; i++) {
        assert_string_equal(mi_routes[i].name, expect[i].name);
        assert_int_equal(mi_routes[i].name_len, strlen(expect[i].name));
        assert_int_equal(mi_routes[i].method, expect[i].method);
        assert_string_equal(mi_routes[i].template, expect[i].template);
        assert_int_equal(mi_routes[i].body, expect[i].body);
    }
}


static void
test_found(void **state)
{
    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(found_cases) / sizeof(found_cases[0]); i++) {
        check_found(&found_cases[i]);
    }
}


/* Each route, found by its own method, is the table entry itself. */
static void
test_found_is_table_entry(void **state)
{
    size_t            i;
    mi_route_match_t  m;

    (void) state;

    for (i = 0; i < 8; i++) {
        assert_int_equal(match(found_cases[i].method, found_cases[i].path,
                               strlen(found_cases[i].path), &m),
                         MI_MATCH_FOUND);
        assert_ptr_equal(m.route, &mi_routes[i]);
        assert_true(m.allow & m.route->method);
    }
}


static void
test_method_not_allowed(void **state)
{
    char                  hdr[32];
    size_t                i, n;
    mi_match_rc_t         rc;
    mi_route_match_t      m;
    const refused_case_t  *c;

    (void) state;

    for (i = 0; i < sizeof(refused_cases) / sizeof(refused_cases[0]); i++) {
        c = &refused_cases[i];

        rc = match(c->method, c->path, strlen(c->path), &m);

        if (rc != MI_MATCH_METHOD_NOT_ALLOWED || m.route != NULL) {
            fail_msg("\"%s\" %s: %s, expected METHOD_NOT_ALLOWED", c->method,
                     c->path, rc_name(rc));
        }

        if (m.allow != c->allow) {
            fail_msg("\"%s\" %s: allow %#x, expected %#x", c->method, c->path,
                     m.allow, c->allow);
        }

        n = mi_route_allow(m.allow, hdr, sizeof(hdr));

        if (n != strlen(c->allow_header)
            || memcmp(hdr, c->allow_header, n) != 0)
        {
            fail_msg("\"%s\" %s: Allow \"%.*s\", expected \"%s\"", c->method,
                     c->path, (int) n, hdr, c->allow_header);
        }
    }
}


/* A 405 still reports the params of the path (for logging). */
static void
test_method_not_allowed_params(void **state)
{
    const char        *path;
    mi_route_match_t   m;

    (void) state;

    path = P "/indexes/1001/scene-summaries/101/status";

    assert_int_equal(match("POST", path, strlen(path), &m),
                     MI_MATCH_METHOD_NOT_ALLOWED);
    assert_null(m.route);
    check_param("POST", path, strlen(path), &m, MI_PARAM_WORKSPACE_NAME,
                "my-workspace");
    check_param("POST", path, strlen(path), &m, MI_PARAM_INDEX_ID, "1001");
    check_param("POST", path, strlen(path), &m, MI_PARAM_SCENE_SUMMARY_ID,
                "101");
}


static void
test_not_found(void **state)
{
    size_t             i, j, len;
    const char        *path;
    mi_match_rc_t      rc;
    mi_param_t         p;
    mi_route_match_t   m;
    static const char *methods[] = { "GET", "POST", "DELETE", "PUT" };

    (void) state;

    for (i = 0; i < sizeof(unknown_paths) / sizeof(unknown_paths[0]); i++) {
        path = unknown_paths[i];
        len = strlen(path);

        for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++) {
            memset(&m, 0x5a, sizeof(m));

            rc = match(methods[j], path, len, &m);

            if (rc != MI_MATCH_NOT_FOUND || m.route != NULL || m.allow != 0) {
                fail_msg("%s \"%s\" (%zu bytes): %s, allow %#x, expected"
                         " NOT_FOUND", methods[j], path, len, rc_name(rc),
                         m.allow);
            }

            for (p = 0; p < MI_PARAM_COUNT; p++) {
                check_param(methods[j], path, len, &m, p, NULL);
            }
        }
    }
}


/* The path is path_len bytes, not a C string: nothing past it is read. */
static void
test_path_len(void **state)
{
    char              *buf;
    size_t             len;
    mi_route_match_t   m;
    static const char  full[] = P "/scene-summary/status";

    (void) state;

    /* a copy without a NUL, so ASan sees any read past the end */
    len = sizeof(P "/scene-summary") - 1;
    buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, full, len);

    assert_int_equal(match("GET", buf, len, &m), MI_MATCH_FOUND);
    assert_string_equal(m.route->name, "asset.result");

    assert_int_equal(match("GET", buf, len - 1, &m), MI_MATCH_NOT_FOUND);
    assert_int_equal(match("GET", buf, 0, &m), MI_MATCH_NOT_FOUND);

    free(buf);

    assert_int_equal(match("GET", full, sizeof(full) - 1, &m),
                     MI_MATCH_FOUND);
    assert_string_equal(m.route->name, "asset.status");

    /* an embedded NUL is a byte of the path like any other */
    assert_int_equal(match("GET", full, sizeof(full), &m), MI_MATCH_NOT_FOUND);
}


static void
test_long_path(void **state)
{
    char              *path;
    size_t             len, plen;
    mi_route_match_t   m;

    (void) state;

    path = malloc(BIG + 256);
    assert_non_null(path);

    /* 100 KB of slashes */
    memset(path, '/', BIG);
    assert_int_equal(match("GET", path, BIG, &m), MI_MATCH_NOT_FOUND);

    /* a valid path followed by 100 KB of extra segment */
    plen = sizeof(P "/scene-summary/") - 1;
    memcpy(path, P "/scene-summary/", plen);
    memset(path + plen, 'a', BIG);
    assert_int_equal(match("GET", path, plen + BIG, &m), MI_MATCH_NOT_FOUND);

    /* a 100 KB literal segment: longer than any literal, even encoded */
    plen = sizeof(P "/") - 1;
    memcpy(path, P "/", plen);
    for (len = 0; len + 3 <= BIG; len += 3) {
        memcpy(path + plen + len, "%61", 3);
    }
    assert_int_equal(match("GET", path, plen + len, &m), MI_MATCH_NOT_FOUND);

    /* a 100 KB param is still a param, returned whole */
    plen = sizeof("/api/v1/workspaces/") - 1;
    memcpy(path, "/api/v1/workspaces/", plen);
    memset(path + plen, 'w', BIG);
    len = plen + BIG;
    memcpy(path + len, "/projects/1/assets/2/scene-summary/cancel",
           sizeof("/projects/1/assets/2/scene-summary/cancel") - 1);
    len += sizeof("/projects/1/assets/2/scene-summary/cancel") - 1;

    assert_int_equal(match("POST", path, len, &m), MI_MATCH_FOUND);
    assert_string_equal(m.route->name, "asset.cancel");
    assert_ptr_equal(m.param[MI_PARAM_WORKSPACE_NAME].data, path + plen);
    assert_int_equal(m.param[MI_PARAM_WORKSPACE_NAME].len, BIG);

    free(path);
}


static void
test_allow(void **state)
{
    char                *buf;
    size_t               i, n, len;
    static const char   *expect[8] = {
        "", "GET", "POST", "GET, POST", "DELETE", "GET, DELETE",
        "POST, DELETE", "GET, POST, DELETE"
    };

    (void) state;

    for (i = 0; i < 8; i++) {
        len = strlen(expect[i]);

        /* exactly len bytes: ASan catches a write past cap */
        buf = malloc(len ? len : 1);
        assert_non_null(buf);

        n = mi_route_allow(i, buf, len);
        assert_int_equal(n, len);
        assert_memory_equal(buf, expect[i], len);

        if (len) {
            assert_int_equal(mi_route_allow(i, buf, len - 1), 0);
            assert_int_equal(mi_route_allow(i, buf, 0), 0);
        }

        free(buf);
    }

    /* bits that are no method are ignored */
    buf = malloc(32);
    assert_non_null(buf);
    n = mi_route_allow(0xf0 | MI_METHOD_DELETE, buf, 32);
    assert_int_equal(n, sizeof("DELETE") - 1);
    assert_memory_equal(buf, "DELETE", n);
    free(buf);
}


static void
check_decode(const char *src, size_t cap, ssize_t expect_rc,
    const char *expect, size_t expect_len)
{
    size_t          len;
    ssize_t         n;
    unsigned char  *in, *dst;

    /*
     * Exactly len and cap bytes, no NUL after the input: ASan catches a
     * read past a truncated escape and a write past cap.
     */

    len = strlen(src);
    in = malloc(len ? len : 1);
    dst = malloc(cap ? cap : 1);
    assert_non_null(in);
    assert_non_null(dst);
    memcpy(in, src, len);

    n = mi_pct_decode(in, len, dst, cap);

    if (n != expect_rc) {
        fail_msg("decode \"%s\" cap %zu: %zd, expected %zd", src, cap, n,
                 expect_rc);
    }

    if (n >= 0
        && ((size_t) n != expect_len || memcmp(dst, expect, expect_len) != 0))
    {
        fail_msg("decode \"%s\": \"%.*s\"", src, (int) n, dst);
    }

    free(in);
    free(dst);
}


static void
test_pct_decode(void **state)
{
    (void) state;

    check_decode("", 0, 0, "", 0);
    check_decode("abc", 3, 3, "abc", 3);
    check_decode("%41%62", 16, 2, "Ab", 2);
    check_decode("%4a%4A%4f", 16, 3, "JJO", 3);
    check_decode("%2f%2F", 16, 2, "//", 2);
    check_decode("a%00b", 16, 3, "a\0b", 3);
    check_decode("%ff%80", 16, 2, "\xff\x80", 2);
    check_decode("\xc3\xa9", 16, 2, "\xc3\xa9", 2);
    check_decode("a+b", 16, 3, "a+b", 3);
    check_decode("%2B", 16, 1, "+", 1);
    check_decode("%2525", 16, 3, "%25", 3);

    check_decode("%", 16, -1, NULL, 0);
    check_decode("%4", 16, -1, NULL, 0);
    check_decode("a%", 16, -1, NULL, 0);
    check_decode("ab%4", 16, -1, NULL, 0);
    check_decode("%zz", 16, -1, NULL, 0);
    check_decode("%4g", 16, -1, NULL, 0);
    check_decode("%g4", 16, -1, NULL, 0);
    check_decode("%%41", 16, -1, NULL, 0);
    check_decode("% 41", 16, -1, NULL, 0);
    check_decode("ok%41%", 16, -1, NULL, 0);

    /* the result must fit in cap, whatever the input length */
    check_decode("abcd", 4, 4, "abcd", 4);
    check_decode("abcd", 3, -1, NULL, 0);
    check_decode("a", 0, -1, NULL, 0);
    check_decode("%41%42", 2, 2, "AB", 2);
    check_decode("%41%42", 1, -1, NULL, 0);
    check_decode("%41%42%43", 2, -1, NULL, 0);
}


static void
test_param_name(void **state)
{
    (void) state;

    assert_string_equal(mi_param_name(MI_PARAM_WORKSPACE_NAME),
                        "workspace_name");
    assert_string_equal(mi_param_name(MI_PARAM_PROJECT_ID), "project_id");
    assert_string_equal(mi_param_name(MI_PARAM_ASSET_ID), "asset_id");
    assert_string_equal(mi_param_name(MI_PARAM_INDEX_ID), "index_id");
    assert_string_equal(mi_param_name(MI_PARAM_SCENE_SUMMARY_ID),
                        "scene_summary_id");
    assert_null(mi_param_name(MI_PARAM_COUNT));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_found),
        cmocka_unit_test(test_found_is_table_entry),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_method_not_allowed_params),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_path_len),
        cmocka_unit_test(test_long_path),
        cmocka_unit_test(test_allow),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_param_name),
    };

    mi_route_init();

    return cmocka_run_group_tests(tests, NULL, NULL);
}
