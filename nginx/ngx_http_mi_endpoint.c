
/*
 * ngx_http_mi_module: what the module's own endpoints share.  A location
 * with "mi_metrics" or "mi_health" answers with its handler
 * (ngx_http_mi_prometheus.c, ngx_http_mi_health.c), which takes GET and
 * HEAD only; every answer the module makes itself, its JSON errors
 * included, is one buffer sent by ngx_http_mi_send_text().
 */

#include "ngx_http_mi_module.h"


/* The endpoints answer GET and HEAD; a body sent anyway is dropped. */

ngx_int_t
ngx_http_mi_endpoint_start(ngx_http_request_t *r)
{
    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    return ngx_http_discard_request_body(r);
}


/*
 * Answers a whole response held in one buffer: the one road of every
 * response the module makes (its refusals, mi_metrics, mi_health).
 */

ngx_int_t
ngx_http_mi_send_text(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_lowcase = NULL;

    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
