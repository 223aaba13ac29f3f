
/*
 * ngx_http_mi_module: mi_metrics, the metrics zone, the keys and the build
 * in the Prometheus text format, 0.0.4.  Each family is a row of a table
 * below; the zone keeps plain counts and this file sums the histograms'
 * buckets as Prometheus wants them.
 */

#include "ngx_http_mi_metrics.h"


/* A sample line's bound beside its family's name and quoted labels. */
#define NGX_HTTP_MI_LINE_MAX         160


/* Which routes a family has series for. */
typedef enum {
    NGX_HTTP_MI_ALL_ROUTES = 0,
    NGX_HTTP_MI_UPSTREAM_ROUTES,            /* not "none": never sent */
    NGX_HTTP_MI_BODY_ROUTES                 /* the routes that take a body */
} ngx_http_mi_routes_e;


/*
 * A family of counters, [route][column] at offset in the zone, or in each
 * caller's slot, with a "caller" label.
 */
typedef struct {
    ngx_str_t             name;
    ngx_str_t             help;
    ngx_str_t             label;            /* the one beside "route" */
    ngx_str_t            *values;           /* of label, one a column;
                                               NULL: the error codes */
    ngx_uint_t            columns;
    size_t                offset;
    ngx_http_mi_routes_e  routes;
    ngx_uint_t            per_caller;       /* offset is in a slot */
} ngx_http_mi_counters_t;


/* A histogram: [route][bucket] and [route] sums at offsets in the zone. */
typedef struct {
    ngx_str_t             name;
    ngx_str_t             help;
    const uint64_t       *bounds;
    ngx_uint_t            nbounds;
    size_t                buckets;
    size_t                sum;
    ngx_uint_t            milli;            /* bounds and sums in 1/1000 */
    ngx_http_mi_routes_e  routes;
} ngx_http_mi_histogram_t;


static size_t ngx_http_mi_metrics_size(ngx_http_mi_main_conf_t *mmcf);
static u_char *ngx_http_mi_write_counters(u_char *p, u_char *last,
    ngx_http_mi_metrics_t *m, ngx_http_mi_counters_t *f);
static u_char *ngx_http_mi_write_columns(u_char *p, u_char *last,
    ngx_atomic_t *counts, ngx_http_mi_counters_t *f,
    ngx_http_mi_caller_slot_t *slot);
static u_char *ngx_http_mi_write_deprecated(u_char *p, u_char *last,
    ngx_http_mi_metrics_t *m);
static u_char *ngx_http_mi_write_histogram(u_char *p, u_char *last,
    ngx_http_mi_metrics_t *m, ngx_http_mi_histogram_t *f);
static u_char *ngx_http_mi_write_keys(u_char *p, u_char *last,
    ngx_http_mi_main_conf_t *mmcf);
static u_char *ngx_http_mi_write_key(u_char *p, u_char *last,
    ngx_str_t *name, ngx_http_mi_key_use_t *use);
static ngx_uint_t ngx_http_mi_key_written(ngx_http_mi_main_conf_t *mmcf,
    ngx_uint_t n, ngx_uint_t fingerprint);
static time_t ngx_http_mi_key_loaded_at(ngx_http_mi_main_conf_t *mmcf,
    ngx_uint_t n);
static ngx_uint_t ngx_http_mi_same_key_labels(ngx_http_mi_key_use_t *a,
    ngx_http_mi_key_use_t *b, ngx_uint_t fingerprint);
static u_char *ngx_http_mi_write_gauges(u_char *p, u_char *last,
    ngx_http_request_t *r);
static u_char *ngx_http_mi_write_family(u_char *p, u_char *last,
    ngx_str_t *name, ngx_str_t *help, const char *type);
static u_char *ngx_http_mi_write_quoted(u_char *p, u_char *last,
    ngx_str_t *s);
static u_char *ngx_http_mi_write_number(u_char *p, u_char *last,
    uint64_t n, ngx_uint_t milli);
static ngx_uint_t ngx_http_mi_has_route(ngx_http_mi_routes_e routes,
    ngx_uint_t route);
static ngx_str_t ngx_http_mi_route_label(ngx_uint_t route);


/* After the routes of mi_routes, by their index. */
static ngx_str_t  ngx_http_mi_other_routes[] = {
    ngx_string("generic"),                  /* NGX_HTTP_MI_ROUTE_GENERIC */
    ngx_string("none")                      /* NGX_HTTP_MI_ROUTE_NONE */
};


static ngx_str_t  ngx_http_mi_outcome_labels[] = {
    ngx_string("signed"),
    ngx_string("rejected")
};


static ngx_str_t  ngx_http_mi_class_labels[] = {
    ngx_string("2xx"),
    ngx_string("3xx"),
    ngx_string("4xx"),
    ngx_string("5xx"),
    ngx_string("error")
};


static ngx_str_t  ngx_http_mi_denial_labels[] = {
    ngx_string("401"),
    ngx_string("403")
};


static ngx_http_mi_counters_t  ngx_http_mi_counters[] = {

    { ngx_string("nginx_mi_requests_total"),
      ngx_string("Requests in signing locations: signed and sent upstream, "
                 "or rejected with the module's JSON error."),
      ngx_string("outcome"), ngx_http_mi_outcome_labels,
      NGX_HTTP_MI_OUTCOMES, offsetof(ngx_http_mi_caller_slot_t, requests),
      NGX_HTTP_MI_ALL_ROUTES, 1 },

    { ngx_string("nginx_mi_rejections_total"),
      ngx_string("Requests rejected before the upstream, by error code."),
      ngx_string("code"), NULL,
      NGX_HTTP_MI_ERROR_COUNT,
      offsetof(ngx_http_mi_caller_slot_t, rejections),
      NGX_HTTP_MI_ALL_ROUTES, 1 },

    { ngx_string("nginx_mi_upstream_responses_total"),
      ngx_string("Signed requests by the upstream's status class; error: "
                 "no response (refused, reset, timed out)."),
      ngx_string("status"), ngx_http_mi_class_labels,
      NGX_HTTP_MI_CLASSES, offsetof(ngx_http_mi_metrics_t, upstream),
      NGX_HTTP_MI_UPSTREAM_ROUTES, 0 },

    { ngx_string("nginx_mi_upstream_denied_total"),
      ngx_string("Upstream answers 401 and 403 (also in the 4xx class): "
                 "the API refused the key, the signature, the clock or "
                 "a permission."),
      ngx_string("status"), ngx_http_mi_denial_labels,
      NGX_HTTP_MI_DENIALS, offsetof(ngx_http_mi_metrics_t, denied),
      NGX_HTTP_MI_UPSTREAM_ROUTES, 0 }
};


static ngx_http_mi_histogram_t  ngx_http_mi_histograms[] = {

    { ngx_string("nginx_mi_upstream_response_seconds"),
      ngx_string("Time spent on the upstream for a signed request, every "
                 "attempt included, in seconds."),
      ngx_http_mi_latency_bounds, NGX_HTTP_MI_LATENCY_BOUNDS,
      offsetof(ngx_http_mi_metrics_t, latency),
      offsetof(ngx_http_mi_metrics_t, latency_ms),
      1, NGX_HTTP_MI_UPSTREAM_ROUTES },

    { ngx_string("nginx_mi_request_body_bytes"),
      ngx_string("Sizes of the request bodies the module checked, "
                 "in bytes."),
      ngx_http_mi_body_bounds, NGX_HTTP_MI_BODY_BOUNDS,
      offsetof(ngx_http_mi_metrics_t, body),
      offsetof(ngx_http_mi_metrics_t, body_bytes),
      0, NGX_HTTP_MI_BODY_ROUTES }
};


static ngx_str_t  ngx_http_mi_deprecated = ngx_string(
    "nginx_mi_deprecated_requests_total");
static ngx_str_t  ngx_http_mi_deprecated_help = ngx_string(
    "Requests forwarded on the index-scoped routes NCP removes "
    "(mi_index_routes deprecated), by caller.");

static ngx_str_t  ngx_http_mi_key_info = ngx_string("nginx_mi_key_info");
static ngx_str_t  ngx_http_mi_key_info_help = ngx_string(
    "The keys of the signing locations: the file the secret was read from, "
    "the access key and the secret's fingerprint.");

static ngx_str_t  ngx_http_mi_key_loaded =
    ngx_string("nginx_mi_key_loaded_timestamp_seconds");
static ngx_str_t  ngx_http_mi_key_loaded_help = ngx_string(
    "When the master last read each key's secret file (start or reload).");

static ngx_str_t  ngx_http_mi_key_expiry =
    ngx_string("nginx_mi_key_expiry_timestamp_seconds");
static ngx_str_t  ngx_http_mi_key_expiry_help = ngx_string(
    "When each key that expires does (the Server Role's), in Unix seconds.");

static ngx_str_t  ngx_http_mi_key_refresh =
    ngx_string("nginx_mi_key_refresh_total");
static ngx_str_t  ngx_http_mi_key_refresh_help = ngx_string(
    "The renewals of keys that expire (the Server Role's), by result.");

static ngx_str_t  ngx_http_mi_build_info = ngx_string("nginx_mi_build_info");
static ngx_str_t  ngx_http_mi_build_info_help = ngx_string(
    "The module's version and the nginx it was built for.");

static ngx_str_t  ngx_http_mi_ready_name = ngx_string("nginx_mi_ready");
static ngx_str_t  ngx_http_mi_ready_help = ngx_string(
    "1 when mi_health would answer 200 (ok), 0 when it would answer 503.");

static ngx_str_t  ngx_http_mi_prometheus_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


/* mi_metrics: the counters, the keys and the build, as Prometheus reads. */

ngx_int_t
ngx_http_mi_metrics_handler(ngx_http_request_t *r)
{
    u_char                   *p, *last;
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_uint_t                i;
    ngx_http_mi_metrics_t    *m;
    ngx_http_mi_main_conf_t  *mmcf;

    rc = ngx_http_mi_endpoint_start(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);
    m = mmcf->metrics->data;

    b = ngx_create_temp_buf(r->pool, ngx_http_mi_metrics_size(mmcf));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->pos;
    last = b->end;

    for (i = 0; i < sizeof(ngx_http_mi_counters)
                    / sizeof(ngx_http_mi_counters_t); i++)
    {
        p = ngx_http_mi_write_counters(p, last, m, &ngx_http_mi_counters[i]);
    }

    p = ngx_http_mi_write_deprecated(p, last, m);

    for (i = 0; i < sizeof(ngx_http_mi_histograms)
                    / sizeof(ngx_http_mi_histogram_t); i++)
    {
        p = ngx_http_mi_write_histogram(p, last, m,
                                        &ngx_http_mi_histograms[i]);
    }

    p = ngx_http_mi_write_keys(p, last, mmcf);
    p = ngx_http_mi_write_gauges(p, last, r);

    if (p == last) {
        /* the size computed below was wrong: no partial exposition */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mi_metrics: the exposition did not fit in %uz bytes",
                      (size_t) (last - b->pos));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = p;

    return ngx_http_mi_send_text(r, NGX_HTTP_OK, &ngx_http_mi_prometheus_type,
                                 b);
}


/* An upper bound of the exposition's size, one byte more than needed. */

static size_t
ngx_http_mi_metrics_size(ngx_http_mi_main_conf_t *mmcf)
{
    size_t                       size, line, callers;
    ngx_uint_t                   i, n;
    ngx_http_mi_metrics_t       *m;
    ngx_http_mi_key_use_t       *use;
    ngx_http_mi_counters_t      *c;
    ngx_http_mi_histogram_t     *h;
    ngx_http_mi_caller_slot_t   *slot;

    /* HELP and TYPE lines, and the few gauge lines */
    size = 16 * 1024;

    /* the slots of the zone, of this configuration and earlier ones */

    m = mmcf->metrics->data;
    n = 0;
    callers = 0;

    for (slot = m->callers; slot; slot = slot->next) {
        n++;
        callers += sizeof(",caller=\"\"") - 1 + 2 * slot->len;
    }

    for (i = 0; i < sizeof(ngx_http_mi_counters)
                    / sizeof(ngx_http_mi_counters_t); i++)
    {
        c = &ngx_http_mi_counters[i];
        line = c->name.len + NGX_HTTP_MI_LINE_MAX;

        if (c->per_caller) {
            size += NGX_HTTP_MI_ROUTES * c->columns * (n * line + callers);

        } else {
            size += NGX_HTTP_MI_ROUTES * c->columns * line;
        }
    }

    size += MI_ROUTE_COUNT
            * (n * (ngx_http_mi_deprecated.len + NGX_HTTP_MI_LINE_MAX)
               + callers);

    for (i = 0; i < sizeof(ngx_http_mi_histograms)
                    / sizeof(ngx_http_mi_histogram_t); i++)
    {
        h = &ngx_http_mi_histograms[i];
        size += NGX_HTTP_MI_ROUTES * (h->nbounds + 3)
                * (h->name.len + NGX_HTTP_MI_LINE_MAX);
    }

    use = mmcf->keys.elts;

    for (i = 0; i < mmcf->keys.nelts; i++) {
        line = 2 * (use[i].key->file.len + use[i].access_key.len)
               + NGX_HTTP_MI_LINE_MAX;
        size += ngx_http_mi_key_info.len + ngx_http_mi_key_loaded.len
                + 2 * line;
    }

    return size + 1;
}


static u_char *
ngx_http_mi_write_counters(u_char *p, u_char *last, ngx_http_mi_metrics_t *m,
    ngx_http_mi_counters_t *f)
{
    ngx_http_mi_caller_slot_t  *slot;

    p = ngx_http_mi_write_family(p, last, &f->name, &f->help, "counter");

    if (!f->per_caller) {
        return ngx_http_mi_write_columns(p, last,
                              (ngx_atomic_t *) ((u_char *) m + f->offset),
                              f, NULL);
    }

    for (slot = m->callers; slot; slot = slot->next) {
        p = ngx_http_mi_write_columns(p, last,
                              (ngx_atomic_t *) ((u_char *) slot + f->offset),
                              f, slot);
    }

    return p;
}


/* The [route][column] counts of a family, of one caller's slot or not. */

static u_char *
ngx_http_mi_write_columns(u_char *p, u_char *last, ngx_atomic_t *counts,
    ngx_http_mi_counters_t *f, ngx_http_mi_caller_slot_t *slot)
{
    ngx_str_t    label, caller, *value;
    ngx_uint_t   route, i;

    for (route = 0; route < NGX_HTTP_MI_ROUTES; route++) {

        if (!ngx_http_mi_has_route(f->routes, route)) {
            continue;
        }

        label = ngx_http_mi_route_label(route);

        for (i = 0; i < f->columns; i++) {
            value = f->values ? &f->values[i] : ngx_http_mi_error_code(i);

            p = ngx_slprintf(p, last, "%V{route=\"%V\",%V=\"%V\"",
                             &f->name, &label, &f->label, value);

            if (slot) {
                caller.data = slot->label;
                caller.len = slot->len;

                p = ngx_slprintf(p, last, ",caller=\"");
                p = ngx_http_mi_write_quoted(p, last, &caller);
                p = ngx_slprintf(p, last, "\"");
            }

            p = ngx_slprintf(p, last, "} %uA\n",
                             counts[route * f->columns + i]);
        }
    }

    return p;
}


/* The index-scoped routes, by caller. */

static u_char *
ngx_http_mi_write_deprecated(u_char *p, u_char *last,
    ngx_http_mi_metrics_t *m)
{
    ngx_str_t                   label, caller;
    ngx_uint_t                  route;
    ngx_http_mi_caller_slot_t  *slot;

    p = ngx_http_mi_write_family(p, last, &ngx_http_mi_deprecated,
                                 &ngx_http_mi_deprecated_help, "counter");

    for (slot = m->callers; slot; slot = slot->next) {

        caller.data = slot->label;
        caller.len = slot->len;

        for (route = 0; route < MI_ROUTE_COUNT; route++) {

            if (ngx_http_mi_successor(&mi_routes[route]) == NULL) {
                continue;
            }

            label = ngx_http_mi_route_label(route);

            p = ngx_slprintf(p, last, "%V{route=\"%V\",caller=\"",
                             &ngx_http_mi_deprecated, &label);
            p = ngx_http_mi_write_quoted(p, last, &caller);
            p = ngx_slprintf(p, last, "\"} %uA\n", slot->deprecated[route]);
        }
    }

    return p;
}


/*
 * The zone keeps each bucket's own count; Prometheus wants them summed up
 * to each bound, and a _count equal to the +Inf bucket, which summing the
 * counts read once gives even while other workers add to them.
 */

static u_char *
ngx_http_mi_write_histogram(u_char *p, u_char *last, ngx_http_mi_metrics_t *m,
    ngx_http_mi_histogram_t *f)
{
    ngx_str_t           label;
    ngx_uint_t          route, i;
    ngx_atomic_t       *buckets, *sums;
    ngx_atomic_uint_t   total;

    p = ngx_http_mi_write_family(p, last, &f->name, &f->help, "histogram");

    buckets = (ngx_atomic_t *) ((u_char *) m + f->buckets);
    sums = (ngx_atomic_t *) ((u_char *) m + f->sum);

    for (route = 0; route < NGX_HTTP_MI_ROUTES; route++) {

        if (!ngx_http_mi_has_route(f->routes, route)) {
            continue;
        }

        label = ngx_http_mi_route_label(route);
        total = 0;

        for (i = 0; i < f->nbounds; i++) {
            total += buckets[route * (f->nbounds + 1) + i];

            p = ngx_slprintf(p, last, "%V_bucket{route=\"%V\",le=\"",
                             &f->name, &label);
            p = ngx_http_mi_write_number(p, last, f->bounds[i], f->milli);
            p = ngx_slprintf(p, last, "\"} %uA\n", total);
        }

        total += buckets[route * (f->nbounds + 1) + f->nbounds];

        p = ngx_slprintf(p, last, "%V_bucket{route=\"%V\",le=\"+Inf\"} %uA\n"
                         "%V_sum{route=\"%V\"} ",
                         &f->name, &label, total, &f->name, &label);
        p = ngx_http_mi_write_number(p, last, sums[route], f->milli);
        p = ngx_slprintf(p, last, "\n%V_count{route=\"%V\"} %uA\n",
                         &f->name, &label, total);
    }

    return p;
}


/* The keys come from the configuration, not the zone: a reload shows. */

static u_char *
ngx_http_mi_write_keys(u_char *p, u_char *last, ngx_http_mi_main_conf_t *mmcf)
{
    ngx_str_t                  ak;
    ngx_uint_t                 i;
    ngx_http_mi_key_use_t     *use;
    ngx_http_mi_role_state_t   st;

    use = mmcf->keys.elts;

    p = ngx_http_mi_write_family(p, last, &ngx_http_mi_key_info,
                                 &ngx_http_mi_key_info_help, "gauge");

    for (i = 0; i < mmcf->keys.nelts; i++) {
        if (ngx_http_mi_key_written(mmcf, i, 1)) {
            continue;
        }

        p = ngx_http_mi_write_key(p, last, &ngx_http_mi_key_info, &use[i]);
        p = ngx_slprintf(p, last, ",fingerprint=\"%*s\"} 1\n",
                         (size_t) MI_FINGERPRINT_LEN, use[i].key->fingerprint);
    }

    p = ngx_http_mi_write_family(p, last, &ngx_http_mi_key_loaded,
                                 &ngx_http_mi_key_loaded_help, "gauge");

    for (i = 0; i < mmcf->keys.nelts; i++) {
        if (ngx_http_mi_key_written(mmcf, i, 0)) {
            continue;
        }

        p = ngx_http_mi_write_key(p, last, &ngx_http_mi_key_loaded, &use[i]);
        p = ngx_slprintf(p, last, "} %T\n",
                         ngx_http_mi_key_loaded_at(mmcf, i));
    }

    if (mmcf->role == NULL) {
        return p;
    }

    /* the Server Role's: from its zone, whichever worker renewed it */

    ngx_http_mi_role_state(mmcf->role, &st);

    p = ngx_http_mi_write_family(p, last, &ngx_http_mi_key_expiry,
                                 &ngx_http_mi_key_expiry_help, "gauge");

    if (st.expires) {
        p = ngx_slprintf(p, last, "%V{source=\"server_role\","
                         "access_key=\"", &ngx_http_mi_key_expiry);
        ak.data = st.access_key;
        ak.len = st.access_key_len;
        p = ngx_http_mi_write_quoted(p, last, &ak);
        p = ngx_slprintf(p, last, "\"} %T\n", st.expires);
    }

    p = ngx_http_mi_write_family(p, last, &ngx_http_mi_key_refresh,
                                 &ngx_http_mi_key_refresh_help, "counter");

    p = ngx_slprintf(p, last, "%V{source=\"server_role\",result=\"success\"}"
                     " %uA\n%V{source=\"server_role\",result=\"failure\"}"
                     " %uA\n",
                     &ngx_http_mi_key_refresh, st.refreshes[0],
                     &ngx_http_mi_key_refresh, st.refreshes[1]);

    return p;
}


/*
 * The keys in use differ by file, access key or secret; their series must
 * each be written once all the same, or a scraper refuses the exposition.
 * Two file names may quote the same (mi_prom_quote), and the time loaded
 * has no fingerprint label: one file with one access key and two secrets
 * (two profiles of a credentials file) is two nginx_mi_key_info series
 * and one of the time loaded.
 */

static ngx_uint_t
ngx_http_mi_key_written(ngx_http_mi_main_conf_t *mmcf, ngx_uint_t n,
    ngx_uint_t fingerprint)
{
    ngx_uint_t              i;
    ngx_http_mi_key_use_t  *use;

    use = mmcf->keys.elts;

    for (i = 0; i < n; i++) {
        if (ngx_http_mi_same_key_labels(&use[i], &use[n], fingerprint)) {
            return 1;
        }
    }

    return 0;
}


/* The latest time of the uses that share use n's series of it. */

static time_t
ngx_http_mi_key_loaded_at(ngx_http_mi_main_conf_t *mmcf, ngx_uint_t n)
{
    time_t                  loaded;
    ngx_uint_t              i;
    ngx_http_mi_key_use_t  *use;

    use = mmcf->keys.elts;
    loaded = use[n].key->loaded;

    for (i = n + 1; i < mmcf->keys.nelts; i++) {
        if (ngx_http_mi_same_key_labels(&use[i], &use[n], 0)
            && use[i].key->loaded > loaded)
        {
            loaded = use[i].key->loaded;
        }
    }

    return loaded;
}


static ngx_uint_t
ngx_http_mi_same_key_labels(ngx_http_mi_key_use_t *a,
    ngx_http_mi_key_use_t *b, ngx_uint_t fingerprint)
{
    if (fingerprint
        && ngx_memcmp(a->key->fingerprint, b->key->fingerprint,
                      MI_FINGERPRINT_LEN) != 0)
    {
        return 0;
    }

    return mi_prom_same_label(a->key->file.data, a->key->file.len,
                              b->key->file.data, b->key->file.len)
           && mi_prom_same_label(a->access_key.data, a->access_key.len,
                                 b->access_key.data, b->access_key.len);
}


/* name{location_key="...",access_key="..." : a key's series, unclosed. */

static u_char *
ngx_http_mi_write_key(u_char *p, u_char *last, ngx_str_t *name,
    ngx_http_mi_key_use_t *use)
{
    p = ngx_slprintf(p, last, "%V{location_key=\"", name);
    p = ngx_http_mi_write_quoted(p, last, &use->key->file);
    p = ngx_slprintf(p, last, "\",access_key=\"");
    p = ngx_http_mi_write_quoted(p, last, &use->access_key);

    return ngx_slprintf(p, last, "\"");
}


static u_char *
ngx_http_mi_write_gauges(u_char *p, u_char *last, ngx_http_request_t *r)
{
    ngx_http_mi_upstream_health_t  uh;

    p = ngx_http_mi_write_family(p, last, &ngx_http_mi_build_info,
                                 &ngx_http_mi_build_info_help, "gauge");
    p = ngx_slprintf(p, last,
                     "%V{version=\"" NGX_HTTP_MI_VERSION "\","
                     "nginx_version=\"" NGINX_VERSION "\"} 1\n",
                     &ngx_http_mi_build_info);

    p = ngx_http_mi_write_family(p, last, &ngx_http_mi_ready_name,
                                 &ngx_http_mi_ready_help, "gauge");
    p = ngx_slprintf(p, last, "%V %ui\n", &ngx_http_mi_ready_name,
                     ngx_http_mi_ready(r, &uh));

    return p;
}


static u_char *
ngx_http_mi_write_family(u_char *p, u_char *last, ngx_str_t *name,
    ngx_str_t *help, const char *type)
{
    return ngx_slprintf(p, last, "# HELP %V %V\n# TYPE %V %s\n",
                        name, help, name, type);
}


/* n, or n thousandths ("0.025", "2.5", "60") when milli is set. */

static u_char *
ngx_http_mi_write_number(u_char *p, u_char *last, uint64_t n,
    ngx_uint_t milli)
{
    if (!milli) {
        return ngx_slprintf(p, last, "%uL", n);
    }

    p = ngx_slprintf(p, last, "%uL", n / 1000);

    if (n % 1000 == 0) {
        return p;
    }

    p = ngx_slprintf(p, last, ".%03uL", n % 1000);

    while (p < last && p[-1] == '0') {
        p--;
    }

    return p;
}


static u_char *
ngx_http_mi_write_quoted(u_char *p, u_char *last, ngx_str_t *s)
{
    if ((size_t) (last - p) < mi_prom_quote(NULL, s->data, s->len)) {
        return last;
    }

    return p + mi_prom_quote(p, s->data, s->len);
}


static ngx_str_t
ngx_http_mi_route_label(ngx_uint_t route)
{
    ngx_str_t  name;

    if (route >= MI_ROUTE_COUNT) {
        return ngx_http_mi_other_routes[route - MI_ROUTE_COUNT];
    }

    name.data = (u_char *) mi_routes[route].name;
    name.len = ngx_strlen(name.data);

    return name;
}


static ngx_uint_t
ngx_http_mi_has_route(ngx_http_mi_routes_e routes, ngx_uint_t route)
{
    switch (routes) {

    case NGX_HTTP_MI_UPSTREAM_ROUTES:
        return route != NGX_HTTP_MI_ROUTE_NONE;

    case NGX_HTTP_MI_BODY_ROUTES:
        return route < MI_ROUTE_COUNT
               && mi_routes[route].body != MI_ROUTE_NO_BODY;

    default: /* NGX_HTTP_MI_ALL_ROUTES */
        return 1;
    }
}


