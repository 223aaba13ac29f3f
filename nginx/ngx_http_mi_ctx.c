
/*
 * ngx_http_mi_module: a request's context.  It is the data of a cleanup of
 * r->pool, allocated with it, so that it can be found again once an
 * internal redirect (error_page, X-Accel-Redirect) has cleared nginx's
 * module contexts: what the module made of the request is still counted
 * and logged.  This is how ngx_http_realip_module finds its own.
 */

#include "ngx_http_mi_module.h"


static void ngx_http_mi_ctx_cleanup(void *data);


/* A new, zeroed context for r, set as r's module context. */

ngx_http_mi_ctx_t *
ngx_http_mi_ctx_create(ngx_http_request_t *r)
{
    ngx_http_mi_ctx_t   *ctx;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_mi_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_mi_ctx_t));

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mi ctx: new, %uz bytes", sizeof(ngx_http_mi_ctx_t));

    ctx->request = r;

    cln->handler = ngx_http_mi_ctx_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_mi_module);

    return ctx;
}


/*
 * The context of the last signing location r was in: its own or, once an
 * internal redirect took r elsewhere and nginx forgot it, the one still in
 * r's pool, the newest first (a subrequest shares its parent's pool).
 */

ngx_http_mi_ctx_t *
ngx_http_mi_get_module_ctx(ngx_http_request_t *r)
{
    ngx_http_mi_ctx_t   *ctx;
    ngx_pool_cleanup_t  *cln;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_mi_ctx_cleanup) {
            ctx = cln->data;

            if (ctx->request == r) {
                return ctx;
            }
        }
    }

    return NULL;
}


/*
 * Nothing to release: the context goes with the pool.  The handler marks
 * the cleanup that holds a context.
 */

static void
ngx_http_mi_ctx_cleanup(void *data)
{
}
