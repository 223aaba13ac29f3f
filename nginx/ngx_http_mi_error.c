/*
 * ngx_http_mi_module: the JSON errors.  A refusal is recorded first
 * (ngx_http_mi_reject), then answered (ngx_http_mi_send_error, through
 * ngx_http_mi_send_text of ngx_http_mi_endpoint.c);
 * nginx's own error pages in a signing location are replaced with the same
 * JSON by a header and body filter, which also hands the upstream's
 * refusals of a signed request over to ngx_http_mi_refusal.c.
 */

#include "ngx_http_mi_module.h"


/*
 * The values limit_req and limit_conn give r->main->limit_req_status and
 * limit_conn_status when they reject a request (the order of the values of
 * $limit_req_status and $limit_conn_status, the same in nginx 1.22-1.29).
 */
#define NGX_HTTP_MI_LIMIT_REQ_REJECTED   3
#define NGX_HTTP_MI_LIMIT_CONN_REJECTED  2


typedef struct {
    ngx_uint_t                  status;
    ngx_http_mi_error_e         error;
    const char                 *message;
} ngx_http_mi_core_error_t;


static ngx_uint_t ngx_http_mi_core_status(ngx_http_request_t *r);
#if (NGX_HTTP_SSL)
static ngx_uint_t ngx_http_mi_cert_status(ngx_http_request_t *r);
#endif
static ngx_int_t ngx_http_mi_core_error(ngx_http_request_t *r);
static ngx_buf_t *ngx_http_mi_error_body(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx);
static ngx_int_t ngx_http_mi_error_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_mi_error_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


/*
 * Indexed by ngx_http_mi_error_e: the status the module answers a refusal
 * with; nginx's own errors keep the status nginx chose.
 */
static ngx_http_mi_error_t  ngx_http_mi_errors[] = {
    { NGX_HTTP_NOT_FOUND, ngx_string("ROUTE_NOT_FOUND") },
    { NGX_HTTP_NOT_ALLOWED, ngx_string("METHOD_NOT_ALLOWED") },
    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_PATH_PARAMETER") },
    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, ngx_string("UNSUPPORTED_MEDIA_TYPE") },
    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_JSON") },
    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_BODY") },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, ngx_string("BODY_TOO_LARGE") },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, ngx_string("BODY_UNAVAILABLE") },
    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("CREDENTIALS_UNAVAILABLE") },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("CALLER_UNKNOWN") },
    { NGX_HTTP_FORBIDDEN, ngx_string("CALLER_NOT_ALLOWED") },
    { NGX_HTTP_FORBIDDEN, ngx_string("FULL_ANALYSIS_NOT_ALLOWED") },
    { NGX_HTTP_MI_GONE, ngx_string("ROUTE_REMOVED") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("BAD_REQUEST") },
    { NGX_HTTP_UNAUTHORIZED, ngx_string("UNAUTHORIZED") },
    { NGX_HTTP_FORBIDDEN, ngx_string("FORBIDDEN") },
    { NGX_HTTP_NOT_FOUND, ngx_string("NOT_FOUND") },
    { NGX_HTTP_REQUEST_TIME_OUT, ngx_string("REQUEST_TIMEOUT") },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, ngx_string("URI_TOO_LONG") },
    { NGX_HTTP_TOO_MANY_REQUESTS, ngx_string("RATE_LIMITED") },
    { NGX_HTTP_BAD_REQUEST, ngx_string("HEADERS_TOO_LARGE") },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, ngx_string("INTERNAL_ERROR") },
    { NGX_HTTP_NOT_IMPLEMENTED, ngx_string("NOT_IMPLEMENTED") },
    { NGX_HTTP_BAD_GATEWAY, ngx_string("UPSTREAM_UNAVAILABLE") },
    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("SERVICE_UNAVAILABLE") },
    { NGX_HTTP_GATEWAY_TIME_OUT, ngx_string("UPSTREAM_TIMEOUT") },
    { 0, ngx_string("GATEWAY_ERROR") }
};


/*
 * nginx's own error responses, by the status nginx meant (see
 * ngx_http_mi_core_status): the code and the message a signing location
 * answers with.  The last entry takes any other status.  A message may
 * format one argument, client_max_body_size.
 */
static ngx_http_mi_core_error_t  ngx_http_mi_core_errors[] = {

    { NGX_HTTP_BAD_REQUEST, NGX_HTTP_MI_BAD_REQUEST,
      "malformed request line, header or body" },

    { NGX_HTTP_UNAUTHORIZED, NGX_HTTP_MI_UNAUTHORIZED,
      "this gateway requires authentication" },

    { NGX_HTTP_FORBIDDEN, NGX_HTTP_MI_FORBIDDEN,
      "access to this gateway is denied" },

    { NGX_HTTP_NOT_FOUND, NGX_HTTP_MI_NOT_FOUND,
      "nothing is served at this path" },

    { NGX_HTTP_NOT_ALLOWED, NGX_HTTP_MI_METHOD_NOT_ALLOWED,
      "method not allowed" },

    /*
     * nginx closes the connection on its own client timeouts without an
     * answer (ngx_http_finalize_request() terminates on 408): this is for
     * a module that answers one
     */
    { NGX_HTTP_REQUEST_TIME_OUT, NGX_HTTP_MI_REQUEST_TIMEOUT,
      "the request was not received in time" },

    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, NGX_HTTP_MI_BODY_TOO_LARGE,
      "body larger than client_max_body_size (%O bytes)" },

    { NGX_HTTP_REQUEST_URI_TOO_LARGE, NGX_HTTP_MI_URI_TOO_LONG,
      "request line longer than large_client_header_buffers allows" },

    { NGX_HTTP_TOO_MANY_REQUESTS, NGX_HTTP_MI_RATE_LIMITED,
      "too many requests: retry later" },

    /* answered 401: no caller identity (see ngx_http_mi_core_error) */

    { NGX_HTTPS_CERT_ERROR, NGX_HTTP_MI_CALLER_UNKNOWN,
      "the client certificate did not verify: no caller identity" },

    { NGX_HTTPS_NO_CERT, NGX_HTTP_MI_CALLER_UNKNOWN,
      "no client certificate was sent: no caller identity" },

    { NGX_HTTP_REQUEST_HEADER_TOO_LARGE, NGX_HTTP_MI_HEADERS_TOO_LARGE,
      "a header line, or all of them, larger than "
      "large_client_header_buffers allows" },

    { NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_MI_INTERNAL_ERROR,
      "the gateway failed to handle the request" },

    { NGX_HTTP_NOT_IMPLEMENTED, NGX_HTTP_MI_NOT_IMPLEMENTED,
      "not implemented here (e.g. an unknown Transfer-Encoding)" },

    { NGX_HTTP_BAD_GATEWAY, NGX_HTTP_MI_UPSTREAM_UNAVAILABLE,
      "the API could not be reached or sent an invalid response" },

    { NGX_HTTP_SERVICE_UNAVAILABLE, NGX_HTTP_MI_SERVICE_UNAVAILABLE,
      "the gateway is unavailable: retry later" },

    { NGX_HTTP_GATEWAY_TIME_OUT, NGX_HTTP_MI_UPSTREAM_TIMEOUT,
      "the API did not answer in time; the request may have reached it" },

    { 0, NGX_HTTP_MI_GATEWAY_ERROR,
      "the gateway could not serve the request" }
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

    /*
     * "info": a client mistake, or an error nginx has logged at its own
     * level already; this line adds the code the client was given
     */

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mi: %V: %V", &ctx->error_code, &ctx->message);

    return NGX_DECLINED;
}


/* Answers with the recorded error as JSON; the upstream is never asked. */

ngx_int_t
ngx_http_mi_send_error(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx)
{
    ngx_buf_t        *b;
    ngx_table_elt_t  *h;

    ctx->verdict = NGX_DONE;

    /*
     * A refusal decided before the body is read must not invite the body
     * with "100 Continue", which ngx_http_discard_request_body() sends
     * unless told the expectation was dealt with (as nginx's own error
     * pages tell it).
     */

    r->expect_tested = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    b = ngx_http_mi_error_body(r, ctx);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->retry_after) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        ngx_str_set(&h->key, "Retry-After");
        h->value.len = ngx_sprintf(h->value.data, "%T", ctx->retry_after)
                       - h->value.data;
    }

    return ngx_http_mi_send_text(r, ngx_http_mi_errors[ctx->error].status,
                                 &ngx_http_mi_json_type, b);
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
 * In a signing location, replaces nginx's own error page with the JSON of
 * ngx_http_mi_core_errors.  Left alone: responses that are not errors
 * (after two comparisons), the upstream's own responses and the module's
 * refusals (r->err_status is set only by nginx's error handling), and an
 * operator's error_page: nginx serves it from the location that
 * error_page names, which must be one without "mi_sign".
 */

static ngx_int_t
ngx_http_mi_error_header_filter(ngx_http_request_t *r)
{
    ngx_http_mi_ctx_t       *ctx;
    ngx_http_mi_loc_conf_t  *mlcf;

    if (r->headers_out.status < NGX_HTTP_BAD_REQUEST || r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mi_module);

    if (!mlcf->sign) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (r->err_status == 0) {

        /* the upstream's answer, passed on as it is */

        if ((r->headers_out.status == NGX_HTTP_UNAUTHORIZED
             || r->headers_out.status == NGX_HTTP_FORBIDDEN)
            && r->upstream && ctx && ctx->signed_request)
        {
            ngx_http_mi_upstream_refused(r, ctx, mlcf);
        }

        return ngx_http_next_header_filter(r);
    }

    /*
     * An error status, and the response of an upstream still attached: a
     * location that "error_page ... @name" (without "=") led to.
     */

    if (r->upstream && r->upstream->cleanup) {
        return ngx_http_next_header_filter(r);
    }

    /*
     * The operator's page: "error_page 404 /404;" redirects (r->internal)
     * and keeps the error status for whatever that location answers
     * (ngx_http_special_response_handler sets r->error_page as it looks
     * the page up).  Without a redirect, no page matched: nginx's own.
     */

    if (r->error_page && r->internal) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_mi_core_error(r) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * The status nginx meant by r->err_status: it answers request headers too
 * large for its buffers (494) with 400, and a request that limit_req or
 * limit_conn rejects with the status the operator chose (503 by default).
 * A 494 is told from a real 400 by r->lingering_close: nginx sets it
 * before finalizing a 494, and ngx_http_special_response_handler() clears
 * it for a 400 (nginx 1.22-1.29).
 */

static ngx_uint_t
ngx_http_mi_core_status(ngx_http_request_t *r)
{
    if (r->main->limit_req_status == NGX_HTTP_MI_LIMIT_REQ_REJECTED
        || r->main->limit_conn_status == NGX_HTTP_MI_LIMIT_CONN_REJECTED)
    {
        return NGX_HTTP_TOO_MANY_REQUESTS;
    }

    if (r->err_status == NGX_HTTP_BAD_REQUEST && r->lingering_close) {
        return NGX_HTTP_REQUEST_HEADER_TOO_LARGE;
    }

#if (NGX_HTTP_SSL)

    if (r->err_status == NGX_HTTP_BAD_REQUEST) {
        return ngx_http_mi_cert_status(r);
    }

#endif

    return r->err_status;
}


#if (NGX_HTTP_SSL)

/*
 * nginx answers its refusals of a client certificate (495, 496) with 400:
 * the certificate's state tells them apart, as ngx_http_process_request()
 * judged it (nginx 1.22-1.29) before it refused the request.
 */

static ngx_uint_t
ngx_http_mi_cert_status(ngx_http_request_t *r)
{
    long                      rc;
    X509                     *cert;
    ngx_http_ssl_srv_conf_t  *sscf;

    if (r->connection->ssl == NULL) {
        return NGX_HTTP_BAD_REQUEST;
    }

    sscf = ngx_http_get_module_srv_conf(r, ngx_http_ssl_module);

    if (!sscf->verify) {
        return NGX_HTTP_BAD_REQUEST;
    }

    rc = SSL_get_verify_result(r->connection->ssl->connection);

    if (rc != X509_V_OK
        && (sscf->verify != 3 || !ngx_ssl_verify_error_optional(rc)))
    {
        return NGX_HTTPS_CERT_ERROR;
    }

    if (sscf->verify == 1) {
        cert = SSL_get_peer_certificate(r->connection->ssl->connection);

        if (cert == NULL) {
            return NGX_HTTPS_NO_CERT;
        }

        X509_free(cert);
    }

    return NGX_HTTP_BAD_REQUEST;
}

#endif


/* Records nginx's error as the module's and builds its JSON body. */

static ngx_int_t
ngx_http_mi_core_error(ngx_http_request_t *r)
{
    ngx_uint_t                 status;
    ngx_http_mi_ctx_t         *ctx;
    ngx_http_mi_core_error_t  *e;
    ngx_http_core_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx == NULL) {
        ctx = ngx_http_mi_ctx_create(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    status = ngx_http_mi_core_status(r);

    for (e = ngx_http_mi_core_errors; e->status; e++) {
        if (e->status == status) {
            break;
        }
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* a message without a format ignores the argument */

    if (ngx_http_mi_reject(r, e->error, e->message,
                           clcf->client_max_body_size)
        != NGX_DECLINED)
    {
        return NGX_ERROR;
    }

    /* a client certificate refused is no caller identity: 401 */

    if (e->error == NGX_HTTP_MI_CALLER_UNKNOWN) {
        r->err_status = NGX_HTTP_UNAUTHORIZED;
        r->headers_out.status = NGX_HTTP_UNAUTHORIZED;
    }

    ctx->error_body = ngx_http_mi_error_body(r, ctx);
    if (ctx->error_body == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Sends the JSON body in place of nginx's page, once, and passes every
 * later call on without its input: nginx's page is dropped, and a call
 * without input (a flush of what the connection could not take yet, e.g.
 * over an HTTP/2 stream whose window is closed) must reach the write
 * filter, or the rest of the JSON body is never sent.
 */

static ngx_int_t
ngx_http_mi_error_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t         out;
    ngx_http_mi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx == NULL || ctx->error_body == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (in == NULL || ctx->error_body_sent) {
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->error_body_sent = 1;

    out.buf = ctx->error_body;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_mi_error_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_mi_error_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_mi_error_body_filter;

    return NGX_OK;
}


/* "ROUTE_NOT_FOUND", ...: the code of an error, for the metrics' labels. */

ngx_str_t *
ngx_http_mi_error_code(ngx_http_mi_error_e error)
{
    return &ngx_http_mi_errors[error].code;
}
