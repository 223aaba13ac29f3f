/*
 * mi_route: the eight scene-summary routes of the MI API as one static
 * table, and a matcher for request paths.  Pure C: no nginx, no allocation.
 *
 * Paths are matched as they will be sent upstream (still percent-encoded),
 * in one pass: segment by segment, a literal segment must equal the
 * template's text (percent-decoded when it holds a '%'), and a parameter
 * segment is returned raw, with the verdict of its default pattern
 * (mi_param) found in the same scan.  No trailing slash, no empty or extra
 * segment.
 */

#ifndef MI_ROUTE_H
#define MI_ROUTE_H


#include <stddef.h>
#include <sys/types.h>

#include "mi_param.h"


typedef enum {
    MI_METHOD_GET = 0x01,
    MI_METHOD_POST = 0x02,
    MI_METHOD_DELETE = 0x04
} mi_method_t;


/* The body a route takes; the optional ones are checked by mi_body. */
typedef enum {
    MI_ROUTE_NO_BODY = 0,           /* a non-empty body is refused */
    MI_ROUTE_INDEX_REQUEST_BODY,    /* as MI_BODY_INDEX_REQUEST */
    MI_ROUTE_ASSET_REQUEST_BODY     /* as MI_BODY_ASSET_REQUEST */
} mi_route_body_t;


typedef struct {
    const char       *name;         /* "index.request", "asset.cancel", ... */
    size_t            name_len;
    mi_method_t       method;
    const char       *template;     /* "/api/v1/workspaces/{...}/..." */
    mi_route_body_t   body;
} mi_route_t;


typedef struct {
    const unsigned char  *data;     /* NULL when the route has no such param */
    size_t                len;
} mi_span_t;


typedef enum {
    MI_MATCH_FOUND = 0,
    MI_MATCH_NOT_FOUND,             /* no template matches the path: 404 */
    MI_MATCH_METHOD_NOT_ALLOWED     /* the path matches, the method not: 405 */
} mi_match_rc_t;


typedef struct {
    const mi_route_t  *route;       /* MI_MATCH_FOUND only */
    unsigned           allow;       /* mi_method_t bits the path accepts */
    mi_span_t          param[MI_PARAM_COUNT];   /* raw, percent-encoded */
    unsigned char      check[MI_PARAM_COUNT];   /* mi_param_rc_t of each
                                                   default pattern */
    unsigned char      unfit;       /* a param as sent is not plainly
                                       valid: judged, see check[] */
} mi_route_match_t;


/* The route table, MI_ROUTE_COUNT entries. */
#define MI_ROUTE_COUNT  8
extern const mi_route_t  mi_routes[MI_ROUTE_COUNT];


/* Builds the route tree from mi_routes: once, before the first match. */
void mi_route_init(void);

/*
 * Matches method (as sent, case-sensitive) and path (the request-target up
 * to, not including, any '?').  Fills m on every return.
 */
mi_match_rc_t mi_route_match(const unsigned char *method, size_t method_len,
    const unsigned char *path, size_t path_len, mi_route_match_t *m);

/* "workspace_name", "project_id", ... */
const char *mi_param_name(mi_param_t param);

/*
 * Writes the methods of an allow mask as an Allow header value, in the
 * order GET, POST, DELETE ("GET, POST"); returns its length (0 when it
 * does not fit in cap bytes; no NUL is written).
 */
size_t mi_route_allow(unsigned allow, char *buf, size_t cap);


#endif /* MI_ROUTE_H */
