/*
 * ngx_http_mi_module: which refusal.  The error header filter
 * (ngx_http_mi_error.c) hands over each 401 and 403 the upstream answered
 * to a signed request: it is explained in the error log
 * (ngx_http_mi_log.c), and a 401's body is read as it passes, for the API
 * Gateway's errorCode: "200" is an authentication failure (the access
 * key, the signature or the clock), "210" a permission denied, which any
 * client can ask for with a workspace the key may not use.  The log phase
 * (ngx_http_mi_metrics.c) counts only the first for the readiness rule.
 */

#include "ngx_http_mi_module.h"


static ngx_int_t ngx_http_mi_refusal_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;


/*
 * The upstream answered 401 or 403 to a request the module signed, and
 * nginx passes its answer on as it is: logged, and a 401's body read.
 */

void
ngx_http_mi_upstream_refused(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx,
    ngx_http_mi_loc_conf_t *mlcf)
{
    ngx_http_mi_log_upstream_refusal(r, ctx, mlcf);

    if (r->headers_out.status == NGX_HTTP_UNAUTHORIZED && !r->header_only) {
        ctx->refusal_read = 1;
    }
}


/*
 * Every buffer is passed on as it came; the first MI_REFUSAL_SCAN_MAX
 * bytes are read on the way, from memory.  A buffer only in a file (the
 * upstream's answer written to a temporary file, which a short error body
 * never is) ends the reading: it is not read back.
 */

static ngx_int_t
ngx_http_mi_refusal_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t          *b;
    ngx_chain_t        *cl;
    ngx_http_mi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx == NULL || !ctx->refusal_read) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            (void) mi_refusal_read(&ctx->refusal, b->pos, b->last - b->pos);

        } else if (ngx_buf_size(b)) {
            break;
        }

        if (ctx->refusal.verdict != MI_REFUSAL_UNDECIDED || b->last_buf) {
            break;
        }
    }

    if (cl) {
        ctx->refusal_read = 0;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mi refusal: %s, %uz bytes read",
                       ctx->refusal.verdict == MI_REFUSAL_AUTHENTICATION
                       ? "authentication failed" : "not an authentication "
                                                   "failure",
                       ctx->refusal.seen);
    }

    return ngx_http_next_body_filter(r, in);
}


ngx_int_t
ngx_http_mi_refusal_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_mi_refusal_body_filter;

    return NGX_OK;
}
