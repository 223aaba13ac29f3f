/*
 * mi_route: the scene-summary route table and its matcher.
 */

#include <string.h>

#include "mi_route.h"


/*
 * Literal segments are at most "scene-summaries" long; a path segment that
 * does not decode into this buffer cannot equal one of them.
 */
#define MI_ROUTE_SEGMENT_MAX  32

/* The longest template, index.status, has 13 segments. */
#define MI_ROUTE_SEGMENTS_MAX  13

#define MI_ROUTE_PREFIX                                                      \
    "/api/v1/workspaces/{workspace_name}/projects/{project_id}"              \
    "/assets/{asset_id}"


typedef struct {
    mi_method_t   method;
    const char   *name;
    size_t        len;
} mi_method_name_t;


/* One "/segment" of a template: a literal, or the param it stands for. */
typedef struct {
    const char   *text;
    size_t        len;
    int           param;            /* mi_param_t, or -1 for a literal */
} mi_template_segment_t;


typedef struct {
    size_t                 n;
    mi_template_segment_t  seg[MI_ROUTE_SEGMENTS_MAX];
} mi_template_t;


/* One "/segment" of the path being matched. */
typedef struct {
    const unsigned char  *data;
    size_t                len;
    int                   escaped;  /* has a '%': compare it decoded */
} mi_path_segment_t;


static void mi_route_compile(void);
static size_t mi_route_split(const unsigned char *path, size_t len,
    mi_path_segment_t *seg);
static int mi_route_try(const mi_template_t *t, const mi_path_segment_t *seg,
    mi_span_t *param);
static int mi_route_literal(const mi_template_segment_t *t,
    const mi_path_segment_t *seg);
static int mi_route_param(const char *name, size_t len);
static int mi_route_dot_segment(const mi_path_segment_t *seg);
static int mi_hex(unsigned char c);


/* mi_routes[] split into segments once, on the first match. */
static mi_template_t  mi_templates[MI_ROUTE_COUNT];
static int            mi_templates_ready;


const mi_route_t  mi_routes[MI_ROUTE_COUNT] = {

    { "index.request", MI_METHOD_POST,
      MI_ROUTE_PREFIX "/indexes/{index_id}/scene-summaries",
      MI_ROUTE_INDEX_REQUEST_BODY },

    { "index.result", MI_METHOD_GET,
      MI_ROUTE_PREFIX "/indexes/{index_id}/scene-summaries",
      MI_ROUTE_NO_BODY },

    { "index.status", MI_METHOD_GET,
      MI_ROUTE_PREFIX
      "/indexes/{index_id}/scene-summaries/{scene_summary_id}/status",
      MI_ROUTE_NO_BODY },

    { "index.cancel", MI_METHOD_DELETE,
      MI_ROUTE_PREFIX "/indexes/{index_id}/scene-summaries/{scene_summary_id}",
      MI_ROUTE_NO_BODY },

    { "asset.request", MI_METHOD_POST,
      MI_ROUTE_PREFIX "/scene-summary",
      MI_ROUTE_ASSET_REQUEST_BODY },

    { "asset.result", MI_METHOD_GET,
      MI_ROUTE_PREFIX "/scene-summary",
      MI_ROUTE_NO_BODY },

    { "asset.status", MI_METHOD_GET,
      MI_ROUTE_PREFIX "/scene-summary/status",
      MI_ROUTE_NO_BODY },

    { "asset.cancel", MI_METHOD_POST,
      MI_ROUTE_PREFIX "/scene-summary/cancel",
      MI_ROUTE_NO_BODY }
};


/* In Allow header order. */
static const mi_method_name_t  mi_methods[] = {
    { MI_METHOD_GET, "GET", sizeof("GET") - 1 },
    { MI_METHOD_POST, "POST", sizeof("POST") - 1 },
    { MI_METHOD_DELETE, "DELETE", sizeof("DELETE") - 1 }
};

#define MI_METHOD_COUNT  (sizeof(mi_methods) / sizeof(mi_methods[0]))


/* Indexed by mi_param_t; also the placeholder names of the templates. */
static const char  *mi_param_names[MI_PARAM_COUNT] = {
    "workspace_name",
    "project_id",
    "asset_id",
    "index_id",
    "scene_summary_id"
};


mi_match_rc_t
mi_route_match(const unsigned char *method, size_t method_len,
    const unsigned char *path, size_t path_len, mi_route_match_t *m)
{
    size_t             i, n;
    unsigned           want;
    mi_span_t          param[MI_PARAM_COUNT];
    const mi_route_t  *r;
    mi_path_segment_t  seg[MI_ROUTE_SEGMENTS_MAX];

    memset(m, 0, sizeof(mi_route_match_t));

    if (!mi_templates_ready) {
        mi_route_compile();
    }

    /* the path is split once; no template has an empty segment */

    n = mi_route_split(path, path_len, seg);
    if (n == 0) {
        return MI_MATCH_NOT_FOUND;
    }

    /* an unknown method matches no entry, so a known path gets a 405 */

    want = 0;

    for (i = 0; i < MI_METHOD_COUNT; i++) {
        if (method_len == mi_methods[i].len
            && memcmp(method, mi_methods[i].name, method_len) == 0)
        {
            want = mi_methods[i].method;
            break;
        }
    }

    for (i = 0; i < MI_ROUTE_COUNT; i++) {
        r = &mi_routes[i];

        if (mi_templates[i].n != n
            || !mi_route_try(&mi_templates[i], seg, param))
        {
            continue;
        }

        /*
         * The params of the entry with the request's method win; a 405
         * keeps those of the first entry that matched the path.
         */

        if (m->route == NULL && ((unsigned) r->method == want || !m->allow)) {
            memcpy(m->param, param, sizeof(param));

            if ((unsigned) r->method == want) {
                m->route = r;
            }
        }

        m->allow |= r->method;
    }

    if (m->route != NULL) {
        return MI_MATCH_FOUND;
    }

    return m->allow ? MI_MATCH_METHOD_NOT_ALLOWED : MI_MATCH_NOT_FOUND;
}


static void
mi_route_compile(void)
{
    size_t                  i;
    const char             *p, *start;
    mi_template_t          *t;
    mi_template_segment_t  *seg;

    for (i = 0; i < MI_ROUTE_COUNT; i++) {
        t = &mi_templates[i];
        t->n = 0;

        for (p = mi_routes[i].template; *p == '/'; /* void */) {
            start = ++p;

            while (*p != '\0' && *p != '/') {
                p++;
            }

            seg = &t->seg[t->n++];

            if (*start == '{') {
                seg->text = start + 1;
                seg->len = p - start - 2;
                seg->param = mi_route_param(seg->text, seg->len);

            } else {
                seg->text = start;
                seg->len = p - start;
                seg->param = -1;
            }
        }
    }

    mi_templates_ready = 1;
}


/*
 * Splits "/a/b/c" into its segments; returns how many, or 0 when the path
 * cannot match any template (no leading '/', an empty segment, too many).
 * Indexes rather than pointers: path may be NULL when len is 0.
 */

static size_t
mi_route_split(const unsigned char *path, size_t len, mi_path_segment_t *seg)
{
    size_t  i, n, start;

    if (len == 0 || path[0] != '/') {
        return 0;
    }

    n = 0;
    i = 0;

    while (i < len) {
        if (n == MI_ROUTE_SEGMENTS_MAX) {
            return 0;
        }

        start = ++i;

        while (i < len && path[i] != '/') {
            i++;
        }

        if (i == start) {
            return 0;
        }

        seg[n].data = path + start;
        seg[n].len = i - start;
        seg[n].escaped = (memchr(path + start, '%', i - start) != NULL);
        n++;
    }

    return n;
}


/* Matches one template of as many segments as the path; fills param. */

static int
mi_route_try(const mi_template_t *t, const mi_path_segment_t *seg,
    mi_span_t *param)
{
    size_t  i;

    memset(param, 0, MI_PARAM_COUNT * sizeof(mi_span_t));

    for (i = 0; i < t->n; i++) {

        if (t->seg[i].param < 0) {
            if (!mi_route_literal(&t->seg[i], &seg[i])) {
                return 0;
            }

            continue;
        }

        /*
         * "." and ".." (however encoded) would be resolved by whatever
         * normalises the path further on, reaching another resource.
         */

        if (mi_route_dot_segment(&seg[i])) {
            return 0;
        }

        param[t->seg[i].param].data = seg[i].data;
        param[t->seg[i].param].len = seg[i].len;
    }

    return 1;
}


/* A decoded '/' cannot equal a literal: no literal contains one. */

static int
mi_route_literal(const mi_template_segment_t *t, const mi_path_segment_t *seg)
{
    ssize_t        n;
    unsigned char  buf[MI_ROUTE_SEGMENT_MAX];

    if (!seg->escaped) {
        return seg->len == t->len && memcmp(seg->data, t->text, t->len) == 0;
    }

    n = mi_pct_decode(seg->data, seg->len, buf, sizeof(buf));

    return n >= 0 && (size_t) n == t->len && memcmp(buf, t->text, t->len) == 0;
}


static int
mi_route_param(const char *name, size_t len)
{
    int  p;

    for (p = 0; p < MI_PARAM_COUNT; p++) {
        if (strlen(mi_param_names[p]) == len
            && memcmp(mi_param_names[p], name, len) == 0)
        {
            return p;
        }
    }

    return -1;
}


static int
mi_route_dot_segment(const mi_path_segment_t *seg)
{
    ssize_t               n;
    const unsigned char  *p;
    unsigned char         buf[2];

    if (seg->escaped) {
        n = mi_pct_decode(seg->data, seg->len, buf, sizeof(buf));
        p = buf;

    } else {
        n = seg->len;
        p = seg->data;
    }

    return (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.');
}


const char *
mi_param_name(mi_param_t param)
{
    if ((unsigned) param >= MI_PARAM_COUNT) {
        return NULL;
    }

    return mi_param_names[param];
}


size_t
mi_route_allow(unsigned allow, char *buf, size_t cap)
{
    size_t  i, len, need;

    need = 0;

    for (i = 0; i < MI_METHOD_COUNT; i++) {
        if (allow & mi_methods[i].method) {
            need += (need ? sizeof(", ") - 1 : 0) + mi_methods[i].len;
        }
    }

    if (need > cap) {
        return 0;
    }

    len = 0;

    for (i = 0; i < MI_METHOD_COUNT; i++) {
        if (!(allow & mi_methods[i].method)) {
            continue;
        }

        if (len) {
            memcpy(buf + len, ", ", sizeof(", ") - 1);
            len += sizeof(", ") - 1;
        }

        memcpy(buf + len, mi_methods[i].name, mi_methods[i].len);
        len += mi_methods[i].len;
    }

    return len;
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
