
/*
 * ngx_http_mi_module: the metrics zone's layout, shared by the counting
 * (ngx_http_mi_metrics.c) and the exposition (ngx_http_mi_prometheus.c).
 * Fixed arrays indexed by small numbers: a request is counted with a few
 * atomic adds and no lookup.
 */

#ifndef _NGX_HTTP_MI_METRICS_H_INCLUDED_
#define _NGX_HTTP_MI_METRICS_H_INCLUDED_


#include "ngx_http_mi_module.h"


/* Routes are counted by their index in mi_routes, then these two. */
#define NGX_HTTP_MI_ROUTE_GENERIC    MI_ROUTE_COUNT     /* mi_validate off */
#define NGX_HTTP_MI_ROUTE_NONE       (MI_ROUTE_COUNT + 1)
#define NGX_HTTP_MI_ROUTES           (MI_ROUTE_COUNT + 2)

typedef enum {
    NGX_HTTP_MI_SIGNED = 0,
    NGX_HTTP_MI_REJECTED,
    NGX_HTTP_MI_OUTCOMES
} ngx_http_mi_outcome_e;


typedef enum {
    NGX_HTTP_MI_2XX = 0,
    NGX_HTTP_MI_3XX,
    NGX_HTTP_MI_4XX,
    NGX_HTTP_MI_5XX,
    NGX_HTTP_MI_NO_RESPONSE,
    NGX_HTTP_MI_CLASSES
} ngx_http_mi_class_e;


typedef enum {
    NGX_HTTP_MI_401 = 0,
    NGX_HTTP_MI_403,
    NGX_HTTP_MI_DENIALS
} ngx_http_mi_denial_e;


#define NGX_HTTP_MI_LATENCY_BOUNDS   12
#define NGX_HTTP_MI_BODY_BOUNDS      9


/*
 * The counts of one value of the "caller" label, found by its text: a
 * reload that reorders or removes mi_allow lines never moves one caller's
 * counts to another.  Slots are made by the master only (at start and at
 * each reload, ngx_http_mi_metrics_init_zone), appended to the zone's
 * list, and never freed while the zone lives.
 */
typedef struct ngx_http_mi_caller_slot_s  ngx_http_mi_caller_slot_t;

struct ngx_http_mi_caller_slot_s {
    ngx_http_mi_caller_slot_t  *next;
    size_t                      len;
    u_char                      label[NGX_HTTP_MI_LABEL_MAX];
    ngx_atomic_t                requests[NGX_HTTP_MI_ROUTES]
                                        [NGX_HTTP_MI_OUTCOMES];
    ngx_atomic_t                rejections[NGX_HTTP_MI_ROUTES]
                                          [NGX_HTTP_MI_ERROR_COUNT];
    ngx_atomic_t                deprecated[NGX_HTTP_MI_ROUTES];
    ngx_atomic_t                warned[NGX_HTTP_MI_ROUTES];  /* a second */
};


/* The zone: counters as arrays indexed by small numbers, nothing else. */
typedef struct {
    ngx_http_mi_caller_slot_t  *callers;    /* the list, oldest first */
    ngx_atomic_t          upstream[NGX_HTTP_MI_ROUTES][NGX_HTTP_MI_CLASSES];
    ngx_atomic_t          denied[NGX_HTTP_MI_ROUTES][NGX_HTTP_MI_DENIALS];
    ngx_atomic_t          latency[NGX_HTTP_MI_ROUTES]
                                 [NGX_HTTP_MI_LATENCY_BOUNDS + 1];
    ngx_atomic_t          latency_ms[NGX_HTTP_MI_ROUTES];
    ngx_atomic_t          body[NGX_HTTP_MI_ROUTES]
                              [NGX_HTTP_MI_BODY_BOUNDS + 1];
    ngx_atomic_t          body_bytes[NGX_HTTP_MI_ROUTES];

    /* the readiness rule's: see ngx_http_mi_metrics.c */
    ngx_atomic_t          last_success;     /* a second; 0: none yet */
    ngx_atomic_t          auth_failures;    /* in a row, and the keys */
    ngx_atomic_t          last_auth_failure;    /* a second; 0: none yet */
} ngx_http_mi_metrics_t;


/* Upper bounds of the histograms' buckets; then a +Inf bucket. */
extern const uint64_t  ngx_http_mi_latency_bounds[];   /* milliseconds */
extern const uint64_t  ngx_http_mi_body_bounds[];      /* bytes */


void ngx_http_mi_count_deprecated(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx, ngx_http_mi_caller_slot_t *slot,
    ngx_uint_t route);


#endif /* _NGX_HTTP_MI_METRICS_H_INCLUDED_ */
