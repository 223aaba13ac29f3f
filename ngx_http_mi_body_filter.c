
/*
 * ngx_http_mi_module: the request body checked as nginx reads it.  A
 * request body filter feeds each buffer to mi_body while it is still in
 * memory, before nginx's save filter keeps it or writes it to a temporary
 * file; once the body is read, ngx_http_mi_validate.c takes the verdict.
 *
 * nginx passes the body down the filter chain in pieces (HTTP/1.x with
 * Content-Length, or chunked and already decoded; HTTP/2 and HTTP/3 DATA
 * frames), and the save filter, last in the chain, keeps the same
 * buffers in r->request_body->bufs.  This filter only reads them: every
 * chain link and buffer goes on as it came, pos and last untouched, in the
 * same order, so what nginx stores and the proxy forwards is unchanged.
 * The state is one fixed-size checker per request, allocated only on the
 * request routes: memory stays the same whatever the body's size.
 */

#include "ngx_http_mi_module.h"


static ngx_int_t ngx_http_mi_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;


/*
 * Called before the body is read: the filter checks it from then on, with
 * the checker's state allocated here, for the request routes only.  A body
 * that nginx has read already (before an internal redirect into this
 * location, say) went past the filter unseen: it is left to be read back
 * once the checks run (ctx->body_seen stays 0).
 */

ngx_int_t
ngx_http_mi_body_start(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    if (r->request_body) {
        return NGX_OK;
    }

    ctx->body = &ctx->body_check;

    mi_body_init(ctx->body,
                 ctx->route->body == MI_ROUTE_ASSET_REQUEST_BODY
                 ? MI_BODY_ASSET_REQUEST : MI_BODY_INDEX_REQUEST,
                 (uint32_t) mlcf->max_scene_ids);

    ctx->body_seen = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mi_request_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t          *b;
    ngx_chain_t        *cl;
    ngx_http_mi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx == NULL || !ctx->body_seen) {
        return ngx_http_next_request_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (!ngx_buf_in_memory(b)) {

            /*
             * Data only in a file (no nginx version sends one down this
             * chain today): the checks read the whole body back instead.
             */

            if (ngx_buf_size(b) > 0) {
                ctx->body_seen = 0;
                break;
            }

            continue;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mi body filter: %uz bytes checked",
                       (size_t) (b->last - b->pos));

        (void) mi_body_feed(ctx->body, b->pos, b->last - b->pos);
    }

    return ngx_http_next_request_body_filter(r, in);
}


ngx_int_t
ngx_http_mi_body_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_mi_request_body_filter;

    return NGX_OK;
}
