
/*
 * ngx_http_mi_module: the index-scoped routes, which NCP removes
 * (mi_index_routes).  "deprecated" forwards them and tells the caller
 * (Deprecation, Sunset and a Link to the asset-scoped successor), counts
 * them by caller and warns once an hour per caller and route for the whole
 * nginx (the metrics zone keeps the hour); "off" refuses them with 410.
 */

#include "ngx_http_mi_metrics.h"


#define NGX_HTTP_MI_WARN_EVERY  3600    /* seconds */


static ngx_int_t ngx_http_mi_deprecation_header_filter(ngx_http_request_t *r);
static ngx_table_elt_t *ngx_http_mi_add_header(ngx_http_request_t *r,
    char *key, u_char *value, size_t len);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


/* The asset-scoped route that replaces an index-scoped one. */

const mi_route_t *
ngx_http_mi_successor(const mi_route_t *route)
{
    ngx_uint_t  i;

    i = route - mi_routes;

    if (i >= MI_ROUTE_COUNT / 2 || ngx_strncmp(route->name, "index.", 6) != 0)
    {
        return NULL;
    }

    /* the table has index.X, then asset.X in the same order */

    return &mi_routes[i + MI_ROUTE_COUNT / 2];
}


/* After the route is known: 410 where the index routes are off. */

ngx_int_t
ngx_http_mi_check_index_route(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx)
{
    const mi_route_t  *successor;

    if (ctx->route == NULL) {
        return NGX_OK;
    }

    successor = ngx_http_mi_successor(ctx->route);

    if (successor == NULL || mlcf->index_routes == NGX_HTTP_MI_INDEX_ON) {
        return NGX_OK;
    }

    if (mlcf->index_routes == NGX_HTTP_MI_INDEX_OFF) {
        return ngx_http_mi_reject(r, NGX_HTTP_MI_ROUTE_REMOVED,
                                  "%s is removed: use %s (%s %s)",
                                  ctx->route->name, successor->name,
                                  successor->method == MI_METHOD_GET
                                  ? "GET" : "POST",
                                  ngx_strstr(successor->template,
                                             "/scene-summary"));
    }

    ctx->deprecated = 1;
    ctx->deprecation = mlcf->deprecation;
    ctx->sunset = mlcf->sunset;

    return NGX_OK;
}


/*
 * At the log phase, for a deprecated route that was forwarded: counted by
 * caller, and one warn line per caller and route an hour, whichever worker
 * logs it (the time of the last line is in the zone).
 */

void
ngx_http_mi_count_deprecated(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx,
    ngx_http_mi_caller_slot_t *slot, ngx_uint_t route)
{
    time_t                    now;
    ngx_str_t                *label;
    ngx_atomic_uint_t         last;
    const mi_route_t         *successor;
    ngx_http_mi_main_conf_t  *mmcf;
    u_char                    sunset[sizeof("Mon, 28 Sep 1970 06:00:00 GMT")];

    (void) ngx_atomic_fetch_add(&slot->deprecated[route], 1);

    now = ngx_time();
    last = slot->warned[route];

    if ((ngx_atomic_uint_t) now - last < NGX_HTTP_MI_WARN_EVERY
        || !ngx_atomic_cmp_set(&slot->warned[route], last,
                               (ngx_atomic_uint_t) now))
    {
        return;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);
    label = mmcf->labels.elts;
    successor = ngx_http_mi_successor(ctx->route);

    (void) ngx_http_time(sunset, ctx->sunset);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "mi: caller \"%V\" uses the deprecated route %s, which "
                  "NCP removes on %*s: move it to %s (at most one such line "
                  "an hour per caller and route)",
                  &label[ctx->caller_label], ctx->route->name,
                  sizeof(sunset) - 1, sunset, successor->name);
}


/*
 * Every answer to a deprecated route: Deprecation (RFC 9745), Sunset
 * (RFC 8594) and a Link to the asset-scoped route of the same asset.
 */

static ngx_int_t
ngx_http_mi_deprecation_header_filter(ngx_http_request_t *r)
{
    u_char             *p, *link;
    size_t              i, n, len;
    ngx_str_t           prefix;
    const char         *path;
    ngx_http_mi_ctx_t  *ctx;
    const mi_route_t   *successor;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx == NULL || !ctx->deprecated || r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len = ngx_sprintf(p, "@%T", ctx->deprecation) - p;

    if (ngx_http_mi_add_header(r, "Deprecation", p, len) == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, sizeof("Mon, 28 Sep 1970 06:00:00 GMT") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len = ngx_http_time(p, ctx->sunset) - p;

    if (ngx_http_mi_add_header(r, "Sunset", p, len) == NULL) {
        return NGX_ERROR;
    }

    /*
     * The path up to the route's own "/indexes/", the last one (a
     * workspace may be named "indexes"; what follows the index id has
     * none): the asset, as the client sent it.
     */

    prefix = ctx->target.path;
    n = sizeof("/indexes/") - 1;
    p = NULL;

    for (i = prefix.len; i >= n; i--) {
        if (ngx_strncmp(prefix.data + i - n, "/indexes/", n) == 0) {
            p = prefix.data + i - n;
            break;
        }
    }

    successor = ngx_http_mi_successor(ctx->route);

    if (p == NULL || successor == NULL) {
        return ngx_http_next_header_filter(r);
    }

    prefix.len = p - prefix.data;
    path = ngx_strstr(successor->template, "/scene-summary");

    len = sizeof("<>; rel=\"successor-version\"") - 1 + prefix.len
          + ngx_strlen(path);

    link = ngx_pnalloc(r->pool, len);
    if (link == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(link, "<%V%s>; rel=\"successor-version\"", &prefix, path);

    if (ngx_http_mi_add_header(r, "Link", link, p - link) == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_table_elt_t *
ngx_http_mi_add_header(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


ngx_int_t
ngx_http_mi_deprecation_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_mi_deprecation_header_filter;

    return NGX_OK;
}
