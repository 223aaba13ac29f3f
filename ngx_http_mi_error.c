
/*
 * ngx_http_mi_module: the JSON errors.  A refusal is recorded first
 * (ngx_http_mi_reject), then answered (ngx_http_mi_send_error); nginx's own
 * error pages for the same causes are replaced by a header/body filter.
 */

#include "ngx_http_mi_module.h"


static ngx_buf_t *ngx_http_mi_error_body(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx);
static ngx_int_t ngx_http_mi_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_mi_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


/* Indexed by ngx_http_mi_error_e. */
static ngx_http_mi_error_t  ngx_http_mi_errors[] = {
    { NGX_HTTP_NOT_FOUND, ngx_string("ROUTE_NOT_FOUND") },
    { NGX_HTTP_NOT_ALLOWED, ngx_string("METHOD_NOT_ALLOWED") },
    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_PATH_PARAMETER") },
    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, ngx_string("UNSUPPORTED_MEDIA_TYPE") },
    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_JSON") },
    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_BODY") },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, ngx_string("BODY_TOO_LARGE") }
};


/*
 * nginx's own error pages that a signing location answers in the same JSON
 * as the module's errors (see ngx_http_mi_header_filter).
 */
static struct {
    ngx_uint_t                  status;
    ngx_http_mi_error_e         error;
} ngx_http_mi_core_errors[] = {
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, NGX_HTTP_MI_BODY_TOO_LARGE },
    { 0, 0 }
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * Records why the request is refused; ngx_http_mi_send_error() answers it.
 * Returns NGX_DECLINED, or an error status when memory runs out.
 */

ngx_int_t
ngx_http_mi_reject(ngx_http_request_t *r, ngx_http_mi_error_e error,
    const char *fmt, ...)
{
    u_char             *p, *last;
    va_list             args;
    ngx_http_mi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    p = ngx_pnalloc(r->pool, NGX_HTTP_MI_MESSAGE_MAX);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    va_start(args, fmt);
    last = ngx_vslprintf(p, p + NGX_HTTP_MI_MESSAGE_MAX, fmt, args);
    va_end(args);

    ctx->error = error;
    ctx->error_code = ngx_http_mi_errors[error].code;
    ctx->message.data = p;
    ctx->message.len = last - p;

    /*
     * The message quotes client bytes: anything outside printable ASCII
     * becomes '?', so that the log line and the reply stay clean and the
     * reply is always valid UTF-8 JSON.
     */

    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            *p = '?';
        }
    }

    /* a client mistake: visible at "info", not a server problem */

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mi: %V: %V", &ctx->error_code, &ctx->message);

    return NGX_DECLINED;
}


/* Answers with the recorded error as JSON; the upstream is never asked. */

ngx_int_t
ngx_http_mi_send_error(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ctx->verdict = NGX_DONE;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = ngx_http_mi_errors[ctx->error].status;

    b = ngx_http_mi_error_body(r, ctx);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * {"code":"...","message":"..."} for the error recorded in ctx, with the
 * response headers that go with it.
 */

static ngx_buf_t *
ngx_http_mi_error_body(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx)
{
    u_char     *p;
    size_t      size;
    ngx_buf_t  *b;

    size = sizeof("{\"code\":\"\",\"message\":\"\"}\n") - 1
           + ctx->error_code.len + ctx->message.len
           + ngx_escape_json(NULL, ctx->message.data, ctx->message.len);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_cpymem(b->last, "{\"code\":\"", sizeof("{\"code\":\"") - 1);
    p = ngx_cpymem(p, ctx->error_code.data, ctx->error_code.len);
    p = ngx_cpymem(p, "\",\"message\":\"", sizeof("\",\"message\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, ctx->message.data, ctx->message.len);
    *p++ = '"';
    *p++ = '}';
    *p++ = '\n';

    b->last = p;
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    r->headers_out.content_type_len = ngx_http_mi_json_type.len;
    r->headers_out.content_type = ngx_http_mi_json_type;
    r->headers_out.content_type_lowcase = NULL;

    return b;
}


/*
 * nginx refuses some requests before the module sees them, e.g. a
 * Content-Length over client_max_body_size; in a signing location its
 * HTML error page is replaced with the module's JSON.  Pages set with
 * "error_page" and responses from the upstream are left alone.
 */

static ngx_int_t
ngx_http_mi_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                 i;
    ngx_http_mi_ctx_t         *ctx;
    ngx_http_mi_loc_conf_t    *mlcf;
    ngx_http_core_loc_conf_t  *clcf;

    if (r->err_status < NGX_HTTP_BAD_REQUEST || r->error_page
        || r != r->main)
    {
        return ngx_http_next_header_filter(r);
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mi_module);

    if (!mlcf->sign) {
        return ngx_http_next_header_filter(r);
    }

    for (i = 0; ngx_http_mi_core_errors[i].status; i++) {
        if (ngx_http_mi_core_errors[i].status == r->err_status) {
            break;
        }
    }

    if (ngx_http_mi_core_errors[i].status == 0) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_mi_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_mi_module);
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (ngx_http_mi_reject(r, ngx_http_mi_core_errors[i].error,
                           "body larger than client_max_body_size "
                           "(%O bytes)", clcf->client_max_body_size)
        != NGX_DECLINED)
    {
        return NGX_ERROR;
    }

    ctx->error_body = ngx_http_mi_error_body(r, ctx);
    if (ctx->error_body == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_mi_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t         out;
    ngx_http_mi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx == NULL || ctx->error_body == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (in == NULL || ctx->error_body->pos == ctx->error_body->last) {
        /* nginx's page is dropped; ours went out already */
        return NGX_OK;
    }

    out.buf = ctx->error_body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_mi_error_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_mi_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_mi_body_filter;

    return NGX_OK;
}


/* "ROUTE_NOT_FOUND", ...: the code of an error, for the metrics' labels. */

ngx_str_t *
ngx_http_mi_error_code(ngx_http_mi_error_e error)
{
    return &ngx_http_mi_errors[error].code;
}
