/*
 * mi_route: the scene-summary route table and its matcher.
 */

#include <stdint.h>
#include <string.h>

#include "mi_route.h"


/*
 * Literal segments are at most "scene-summaries" long; a path segment that
 * does not decode into this buffer cannot equal one of them.
 */
#define MI_ROUTE_SEGMENT_MAX  32

/* The longest template, index.status, has 13 segments. */
#define MI_ROUTE_SEGMENTS_MAX  13

/* GET, POST, DELETE */
#define MI_ROUTE_METHODS  3

/* The templates as a tree of segments: at most one node per segment. */
#define MI_ROUTE_NODES_MAX  (1 + MI_ROUTE_COUNT * MI_ROUTE_SEGMENTS_MAX)

/* Room for every node's chain of literals ("/api/v1/workspaces", ...). */
#define MI_ROUTE_CHAINS_MAX  512

/* The longest one chain: its length is kept in a byte. */
#define MI_ROUTE_CHAIN_MAX   255

#define MI_ROUTE_PREFIX                                                      \
    "/api/v1/workspaces/{workspace_name}/projects/{project_id}"              \
    "/assets/{asset_id}"


typedef struct {
    mi_method_t   method;
    const char   *name;
    size_t        len;
} mi_method_name_t;


/*
 * One "/segment" of the templates, shared by every template that starts
 * the same way: a literal, or the param it stands for.  The routes that
 * end here are bits of "routes"; children are chained through "sibling".
 * No node has a literal and a param child both (the table has none), so
 * a path segment leads to at most one child and the walk never goes back.
 *
 * Where a node's only child is a literal, and so on down, the "chain" is
 * those segments' text at once ("/api/v1/workspaces"): a path that holds
 * it as sent takes it in one compare, and any other (an escape, a
 * mismatch) takes the segment-by-segment walk, which decides.
 */
typedef struct {
    const char     *text;
    const char     *chain;          /* "/seg/seg...", or NULL */
    unsigned char   len;            /* of text: at most a segment's */
    unsigned char   chain_len;      /* at most MI_ROUTE_CHAIN_MAX */
    unsigned char   chain_end;      /* the node the chain leads to */
    signed char     param;          /* mi_param_t, or -1 for a literal */
    unsigned char   child;          /* 0: none (the root is node 0) */
    unsigned char   sibling;
    unsigned char   routes;         /* bit i: mi_routes[i] */
    unsigned char   allow;          /* the methods of those routes */
    unsigned char   route[MI_ROUTE_METHODS];    /* by method, in mi_methods
                                       order: the first such route's
                                       index + 1, or 0 */
} mi_route_node_t;


static inline size_t mi_route_scan(const unsigned char *path, size_t start,
    size_t len, unsigned *classes);
static void mi_route_chains(void);
static void mi_route_spine(void);
static inline size_t mi_route_param_segment(mi_route_match_t *m, int p,
    const unsigned char *path, size_t start, size_t len);
static size_t mi_route_child(const char *text, size_t len, size_t parent);
static size_t mi_route_literal(const mi_route_node_t *node,
    const unsigned char *path, size_t start, size_t len);
static inline int mi_route_equal(const unsigned char *a, const char *b,
    size_t len);
static inline int mi_route_chain_equal(const unsigned char *a, const char *b,
    size_t len);
static int mi_route_param(const char *name, size_t len);
static int mi_route_dot_segment(const unsigned char *seg, size_t len);


/* mi_routes[] as a tree, built once, by mi_route_init(). */
static mi_route_node_t  mi_nodes[MI_ROUTE_NODES_MAX];
static size_t           mi_nodes_used;
static char             mi_chains[MI_ROUTE_CHAINS_MAX];

/*
 * The spine: the steps from the root while each node leads one way only,
 * a chain or a single param child ("/api/v1/workspaces", workspace_name,
 * "/projects", ...), taken in a plain loop before the walk.
 */
typedef struct {
    const char     *chain;          /* NULL: a param */
    unsigned char   len;            /* of chain */
    signed char     param;
    unsigned char   node;           /* where the step leads */
} mi_route_step_t;

static mi_route_step_t  mi_spine[MI_ROUTE_NODES_MAX];
static size_t           mi_spine_len;

/* mi_param_class, and MI_ROUTE_STOP for the '/' that ends a segment */
static unsigned char    mi_route_class[256];

#define MI_ROUTE_STOP  0x80


#define MI_ROUTE_NAME(name)  name, sizeof(name) - 1

const mi_route_t  mi_routes[MI_ROUTE_COUNT] = {

    { MI_ROUTE_NAME("index.request"), MI_METHOD_POST,
      MI_ROUTE_PREFIX "/indexes/{index_id}/scene-summaries",
      MI_ROUTE_INDEX_REQUEST_BODY },

    { MI_ROUTE_NAME("index.result"), MI_METHOD_GET,
      MI_ROUTE_PREFIX "/indexes/{index_id}/scene-summaries",
      MI_ROUTE_NO_BODY },

    { MI_ROUTE_NAME("index.status"), MI_METHOD_GET,
      MI_ROUTE_PREFIX
      "/indexes/{index_id}/scene-summaries/{scene_summary_id}/status",
      MI_ROUTE_NO_BODY },

    { MI_ROUTE_NAME("index.cancel"), MI_METHOD_DELETE,
      MI_ROUTE_PREFIX "/indexes/{index_id}/scene-summaries/{scene_summary_id}",
      MI_ROUTE_NO_BODY },

    { MI_ROUTE_NAME("asset.request"), MI_METHOD_POST,
      MI_ROUTE_PREFIX "/scene-summary",
      MI_ROUTE_ASSET_REQUEST_BODY },

    { MI_ROUTE_NAME("asset.result"), MI_METHOD_GET,
      MI_ROUTE_PREFIX "/scene-summary",
      MI_ROUTE_NO_BODY },

    { MI_ROUTE_NAME("asset.status"), MI_METHOD_GET,
      MI_ROUTE_PREFIX "/scene-summary/status",
      MI_ROUTE_NO_BODY },

    { MI_ROUTE_NAME("asset.cancel"), MI_METHOD_POST,
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

typedef char  mi_route_methods_fit[MI_METHOD_COUNT == MI_ROUTE_METHODS ? 1 : -1];


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
    size_t                  i, start, end, node, c;
    const mi_route_node_t  *n;
    const mi_route_step_t  *step, *last;

    memset(m, 0, sizeof(mi_route_match_t));

    if (path_len == 0 || path[0] != '/') {
        return MI_MATCH_NOT_FOUND;
    }

    /*
     * One pass: each segment leads to the one child it can match.  A
     * literal is compared in place; a param segment is scanned once, for
     * its end and the classes of its bytes.
     */

    node = 0;
    i = 0;

    /* the spine, as long as the path follows it; the walk decides the rest */

    for (step = mi_spine, last = mi_spine + mi_spine_len; step < last; step++) {
        if (step->chain != NULL) {
            end = i + step->len;

            if (end > path_len
                || !mi_route_chain_equal(path + i, step->chain, step->len)
                || (end != path_len && path[end] != '/'))
            {
                break;
            }

        } else if (i == path_len
                   || (end = mi_route_param_segment(m, step->param, path,
                                                    i + 1, path_len))
                      == 0)
        {
            break;
        }

        i = end;
        node = step->node;
    }

    for ( /* void */ ; i < path_len; i = end) {
        n = &mi_nodes[node];
        end = i + n->chain_len;

        if (n->chain != NULL && end <= path_len
            && mi_route_chain_equal(path + i, n->chain, n->chain_len)
            && (end == path_len || path[end] == '/'))
        {
            node = n->chain_end;
            continue;
        }

        start = i + 1;
        end = path_len;     /* found by the child that matches, if any */

        for (c = n->child; c != 0; c = mi_nodes[c].sibling) {
            n = &mi_nodes[c];

            if (n->param < 0) {
                end = mi_route_literal(n, path, start, path_len);

                if (end != 0) {
                    break;
                }

                continue;
            }

            end = mi_route_param_segment(m, n->param, path, start, path_len);

            if (end != 0) {
                break;
            }
        }

        if (c == 0) {
            goto not_found;
        }

        node = c;
    }

    n = &mi_nodes[node];

    if (n->routes == 0) {
        goto not_found;
    }

    /*
     * Routes that end at one node share a template, and so the params.
     * An unknown method matches no entry, so a known path gets a 405.
     */

    m->allow = n->allow;

    /* no two of mi_methods have the same length */

    for (i = 0; i < MI_METHOD_COUNT; i++) {
        if (method_len == mi_methods[i].len) {
            if (n->route[i]
                && mi_route_equal(method, mi_methods[i].name, method_len))
            {
                m->route = &mi_routes[n->route[i] - 1];
            }

            break;
        }
    }

    return m->route ? MI_MATCH_FOUND : MI_MATCH_METHOD_NOT_ALLOWED;

not_found:

    memset(m, 0, sizeof(mi_route_match_t));

    return MI_MATCH_NOT_FOUND;
}


/*
 * The param segment at start, for param p: where it ends, recorded in m
 * with its verdict, or 0 when it can be no param (empty, or a dot segment).
 */

static inline size_t
mi_route_param_segment(mi_route_match_t *m, int p, const unsigned char *path,
    size_t start, size_t len)
{
    size_t    end, n;
    unsigned  classes;

    end = mi_route_scan(path, start, len, &classes);
    n = end - start;

    /*
     * "." and ".." (however encoded) would be resolved by whatever
     * normalises the path further on, reaching another resource; '.' and
     * '%' are in no class, so only a segment whose classes are none can
     * be one.
     */

    if (n == 0 || (classes == 0 && mi_route_dot_segment(path + start, n))) {
        return 0;
    }

    m->param[p].data = path + start;
    m->param[p].len = n;

    if (!mi_param_fits(p, classes, n, path[start])) {
        m->unfit = 1;
        m->check[p] = (unsigned char) mi_param_judge(p, path + start, n,
                                                     classes);
    }

    return end;
}


void
mi_route_init(void)
{
    int          param;
    size_t       i, m, node;
    const char  *p, *start;

    if (mi_nodes_used != 0) {
        return;
    }

    mi_nodes_used = 1;

    for (i = 0; i < MI_ROUTE_COUNT; i++) {
        node = 0;

        for (p = mi_routes[i].template; *p == '/'; /* void */) {
            start = ++p;

            while (*p != '\0' && *p != '/') {
                p++;
            }

            node = mi_route_child(start, p - start, node);
        }

        mi_nodes[node].routes |= (unsigned char) (1u << i);
        mi_nodes[node].allow |= (unsigned char) mi_routes[i].method;

        for (m = 0; m < MI_METHOD_COUNT; m++) {
            if (mi_methods[m].method == mi_routes[i].method
                && mi_nodes[node].route[m] == 0)
            {
                mi_nodes[node].route[m] = (unsigned char) (i + 1);
            }
        }
    }

    /* a param node's text is the placeholder, kept for debugging only */

    for (i = 1; i < mi_nodes_used; i++) {
        param = -1;

        if (mi_nodes[i].text[0] == '{') {
            param = mi_route_param(mi_nodes[i].text + 1, mi_nodes[i].len - 2);
        }

        mi_nodes[i].param = (signed char) param;
    }

    mi_route_chains();

    for (i = 0; i < 256; i++) {
        mi_route_class[i] = mi_param_class[i];
    }

    mi_route_class['/'] = MI_ROUTE_STOP;

    mi_route_spine();
}


/*
 * mi_spine from the tree: from the root, a node's chain, or its only
 * child when that is a param, until a node that leads more than one way.
 * Every step goes deeper, so it ends.
 */

static void
mi_route_spine(void)
{
    size_t                  node;
    mi_route_step_t        *step;
    const mi_route_node_t  *n, *child;

    node = 0;

    for ( ;; ) {
        n = &mi_nodes[node];
        step = &mi_spine[mi_spine_len];

        if (n->chain != NULL) {
            step->chain = n->chain;
            step->len = n->chain_len;
            step->param = -1;
            node = n->chain_end;

        } else if (n->child != 0 && mi_nodes[n->child].sibling == 0
                   && mi_nodes[n->child].param >= 0)
        {
            child = &mi_nodes[n->child];
            step->chain = NULL;
            step->len = 0;
            step->param = child->param;
            node = n->child;

        } else {
            break;
        }

        step->node = (unsigned char) node;
        mi_spine_len++;
    }
}


/*
 * Where the param segment at start ends, and the AND of the classes of
 * its bytes: one table read a byte, the '/' found by the same read.
 */

static inline size_t
mi_route_scan(const unsigned char *path, size_t start, size_t len,
    unsigned *classes)
{
    unsigned              k, c;
    const unsigned char  *p, *last, *cls;

    p = path + start;
    last = path + len;
    cls = mi_route_class;
    k = MI_PARAM_CLASSES;

    for ( /* void */ ; p < last; p++) {
        c = cls[*p];

        if (c & MI_ROUTE_STOP) {
            break;
        }

        k &= c;
    }

    *classes = k;

    return p - path;
}


/*
 * Each node's chain: its only child while that is a literal, then that
 * child's only child, and so on.  The table's chains take under 100
 * bytes; one that would not fit is cut short, which only costs speed.
 */

static void
mi_route_chains(void)
{
    char                   *p;
    size_t                  i, c;
    mi_route_node_t        *n;
    const mi_route_node_t  *k;

    p = mi_chains;

    for (i = 0; i < mi_nodes_used; i++) {
        n = &mi_nodes[i];
        n->chain = p;
        n->chain_len = 0;
        n->chain_end = (unsigned char) i;

        for (c = n->child; c != 0; c = k->child) {
            k = &mi_nodes[c];

            if (k->param >= 0 || k->sibling != 0
                || (size_t) (p - mi_chains) + 1 + k->len > sizeof(mi_chains)
                || (size_t) n->chain_len + 1 + k->len > MI_ROUTE_CHAIN_MAX)
            {
                break;
            }

            *p++ = '/';
            memcpy(p, k->text, k->len);
            p += k->len;

            n->chain_len += 1 + k->len;
            n->chain_end = (unsigned char) c;
        }

        if (n->chain_len == 0) {
            n->chain = NULL;
        }
    }
}


/* The child of parent for one template segment, added if new. */

static size_t
mi_route_child(const char *text, size_t len, size_t parent)
{
    size_t            c;
    unsigned char    *next;
    mi_route_node_t  *n;

    next = &mi_nodes[parent].child;

    for (c = *next; c != 0; c = *next) {
        if (mi_nodes[c].len == len && memcmp(mi_nodes[c].text, text, len) == 0)
        {
            return c;
        }

        next = &mi_nodes[c].sibling;
    }

    c = mi_nodes_used++;
    n = &mi_nodes[c];
    n->text = text;
    n->len = (unsigned char) len;
    *next = (unsigned char) c;

    return c;
}


/*
 * Where the segment at start ends if it equals the literal node, else 0.
 * Compared in place first; a segment with a '%' is compared decoded, and
 * a decoded '/' cannot equal a literal: no literal contains one.
 */

static size_t
mi_route_literal(const mi_route_node_t *node, const unsigned char *path,
    size_t start, size_t len)
{
    ssize_t        n;
    size_t         end;
    unsigned char  buf[MI_ROUTE_SEGMENT_MAX];

    /* decoded too, the first byte is the one sent, unless that is a '%' */

    if (start == len
        || (path[start] != (unsigned char) node->text[0] && path[start] != '%'))
    {
        return 0;
    }

    end = start + node->len;

    if (end <= len && mi_route_equal(path + start, node->text, node->len)
        && (end == len || path[end] == '/'))
    {
        return end;
    }

    for (end = start; end < len && path[end] != '/'; end++) {
        /* void */
    }

    if (memchr(path + start, '%', end - start) == NULL) {
        return 0;
    }

    n = mi_pct_decode(path + start, end - start, buf, sizeof(buf));

    if (n >= 0 && (size_t) n == node->len
        && memcmp(buf, node->text, node->len) == 0)
    {
        return end;
    }

    return 0;
}


/*
 * memcmp() == 0 of a segment and a literal of the same length: up to 16
 * bytes (every literal today) in two overlapping words, fewer one at a
 * time, as a call would cost more than the compare.
 */

static inline int
mi_route_equal(const unsigned char *a, const char *b, size_t len)
{
    uint64_t  a0, a1, b0, b1;
    uint32_t  c0, c1, d0, d1;

    if (len > 16) {
        return memcmp(a, b, len) == 0;
    }

    if (len >= 8) {
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + len - 8, 8);
        memcpy(&b1, b + len - 8, 8);

        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }

    if (len >= 4) {
        memcpy(&c0, a, 4);
        memcpy(&d0, b, 4);
        memcpy(&c1, a + len - 4, 4);
        memcpy(&d1, b + len - 4, 4);

        return ((c0 ^ d0) | (c1 ^ d1)) == 0;
    }

    while (len--) {
        if (*a++ != (unsigned char) *b++) {
            return 0;
        }
    }

    return 1;
}


/* The same for a chain: up to 32 bytes (every one today) in four words. */

static inline int
mi_route_chain_equal(const unsigned char *a, const char *b, size_t len)
{
    uint64_t  a0, a1, a2, a3, b0, b1, b2, b3;

    if (len <= 16 || len > 32) {
        return mi_route_equal(a, b, len);
    }

    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    memcpy(&a1, a + 8, 8);
    memcpy(&b1, b + 8, 8);
    memcpy(&a2, a + len - 16, 8);
    memcpy(&b2, b + len - 16, 8);
    memcpy(&a3, a + len - 8, 8);
    memcpy(&b3, b + len - 8, 8);

    return ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2) | (a3 ^ b3)) == 0;
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
mi_route_dot_segment(const unsigned char *seg, size_t len)
{
    ssize_t               n;
    const unsigned char  *p;
    unsigned char         buf[2];

    /* "." and ".." as sent, or anything up to "%2E%2E" decoded */

    if (len > 6) {
        return 0;
    }

    n = len;
    p = seg;

    if (memchr(seg, '%', len) != NULL) {
        n = mi_pct_decode(seg, len, buf, sizeof(buf));
        p = buf;
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

