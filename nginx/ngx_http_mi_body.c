
/*
 * ngx_http_mi_module: the request body of a signing location.  It is read
 * with ngx_http_read_client_request_body(); a request body filter feeds
 * each buffer to mi_body while it is still in memory, before nginx's save
 * filter keeps it or writes it to a temporary file; the body handler
 * records the verdict in the context and runs the phases again, where the
 * phase handler (ngx_http_mi_handler.c) acts on it, as nginx's mirror
 * module does.  A body that nginx had read before the request came to this
 * location went past the filter unseen and is read back once, if nginx
 * still holds all of it.
 *
 * nginx passes the body down the filter chain in pieces (HTTP/1.x with
 * Content-Length, or chunked and already decoded; HTTP/2 and HTTP/3 DATA
 * frames), and the save filter, last in the chain, keeps the same
 * buffers in r->request_body->bufs.  The filter only reads them: every
 * chain link and buffer goes on as it came, pos and last untouched, in the
 * same order, so what nginx stores and the proxy forwards is unchanged.
 * The state is one fixed-size checker per request: memory stays the same
 * whatever the body's size.
 */

#include "ngx_http_mi_module.h"


#define NGX_HTTP_MI_READ_CHUNK     8192    /* body bytes read from a file */


static ngx_int_t ngx_http_mi_body_unavailable(ngx_http_request_t *r,
    const char *why);
static void ngx_http_mi_body_init(mi_body_check_t *ck, ngx_http_mi_ctx_t *ctx,
    ngx_http_mi_loc_conf_t *mlcf);
static void ngx_http_mi_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mi_check_body(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);
static ngx_int_t ngx_http_mi_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;


/*
 * Whether the body the client announced can still be signed whole: none
 * was announced, or all of it is still to be read, or nginx holds all of
 * it.  nginx may have begun the body before the request came here: a
 * location streamed it to its upstream (proxy_request_buffering off),
 * which took the buffers it sent, before "error_page ... = @name" led
 * here; or nginx discarded it once the request was answered, before
 * post_action.  Signed, the request would go with the client's length
 * and a part of the body, or none: it is refused, in either "mi_validate"
 * mode.  Returns NGX_OK, or NGX_DECLINED (ctx->error says why).
 */

ngx_int_t
ngx_http_mi_body_available(ngx_http_request_t *r)
{
    off_t                     held;
    ngx_chain_t              *cl;
    ngx_table_elt_t          *h;
    ngx_http_request_body_t  *rb;

    h = r->headers_in.content_length;

    if (!r->headers_in.chunked
        && (h == NULL || ngx_atoof(h->value.data, h->value.len) <= 0))
    {
        return NGX_OK;
    }

    if (r->discard_body) {
        return ngx_http_mi_body_unavailable(r, "was discarded");
    }

#if (NGX_HTTP_V2)

    /* HTTP/2 discards a body by skipping the stream's DATA frames */

    if (r->stream && r->stream->skip_data) {
        return ngx_http_mi_body_unavailable(r, "was discarded");
    }

#endif

    rb = r->request_body;

    if (rb == NULL) {

        /*
         * Not begun (a chunked body has content_length_n -1 until read);
         * or discarded at once, which counts a Content-Length's
         * content_length_n down to 0 and leaves the header as it came
         * (ngx_http_discard_request_body_filter)
         */

        if (h == NULL
            || r->headers_in.content_length_n
               == ngx_atoof(h->value.data, h->value.len))
        {
            return NGX_OK;
        }

        return ngx_http_mi_body_unavailable(r, "was discarded");
    }

    /*
     * Read to its end as nginx tells it (rest 0 and the last buffer
     * saved; a chunked body discarded has an r->request_body without
     * them), with no unbuffered read still going on, and every byte of it
     * still in the buffers: content_length_n is the announced length, or
     * the decoded length of a chunked body read to its end.
     */

    if (rb->rest == 0 && !rb->last_saved) {
        return ngx_http_mi_body_unavailable(r, "was discarded");
    }

    if (rb->rest != 0 || r->reading_body) {
        return ngx_http_mi_body_unavailable(r, "was streamed to another "
                                            "upstream");
    }

    held = 0;

    for (cl = rb->bufs; cl; cl = cl->next) {
        held += ngx_buf_size(cl->buf);
    }

    if (held != r->headers_in.content_length_n) {
        return ngx_http_mi_body_unavailable(r, "was streamed to another "
                                            "upstream");
    }

    return NGX_OK;
}


/*
 * The refusal of a body that cannot be signed whole: a mistake of the
 * configuration, logged as such.  What of the body is still on the wire
 * stays unread: the connection is not kept alive.
 */

static ngx_int_t
ngx_http_mi_body_unavailable(ngx_http_request_t *r, const char *why)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "mi_sign: \"%V\" not signed: its body %s before the "
                  "request came to this location, and nginx no longer "
                  "holds all of it", &r->uri, why);

    r->keepalive = 0;
    r->lingering_close = 1;

    return ngx_http_mi_reject(r, NGX_HTTP_MI_BODY_UNAVAILABLE,
                              "not the whole body: it %s before this "
                              "location", why);
}


/*
 * Reads the body if one was announced (a chunked one may be empty: it has
 * to be read to know), unless it cannot be had whole.  Returns NGX_DONE
 * while it is read, else the verdict: NGX_OK, NGX_DECLINED (ctx->error
 * says why) or an error status.
 */

ngx_int_t
ngx_http_mi_body_read(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_core_loc_conf_t  *clcf;

    rc = ngx_http_mi_body_available(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return NGX_OK;
    }

    /*
     * From here on the filter checks the body as it arrives, on the routes
     * that take one.  A body that nginx has read already, and holds whole
     * (before an internal redirect into this location, say), went past the
     * filter unseen: it is read back once the body handler runs.
     */

    if (ctx->route->body != MI_ROUTE_NO_BODY && r->request_body == NULL) {
        ctx->body = &ctx->body_check;
        ngx_http_mi_body_init(ctx->body, ctx, mlcf);
        ctx->body_seen = 1;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_mi_body_handler);

    if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        /* the rest of the body is still on the wire */
        r->keepalive = 0;
        r->lingering_close = 1;

        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        return ngx_http_mi_reject(r, NGX_HTTP_MI_BODY_TOO_LARGE,
                                  "body larger than client_max_body_size "
                                  "(%O bytes)", clcf->client_max_body_size);
    }

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* ngx_http_read_client_request_body() took a reference */

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/* The one choice of the body's schema: the route's. */

static void
ngx_http_mi_body_init(mi_body_check_t *ck, ngx_http_mi_ctx_t *ctx,
    ngx_http_mi_loc_conf_t *mlcf)
{
    mi_body_init(ck, ctx->route->body == MI_ROUTE_ASSET_REQUEST_BODY
                     ? MI_BODY_ASSET_REQUEST : MI_BODY_INDEX_REQUEST,
                 (uint32_t) mlcf->max_scene_ids);
}


/*
 * Called once the whole body is read, from inside
 * ngx_http_read_client_request_body() when it had all arrived: records
 * the verdict and runs the phases again; the phase handler acts on it.
 */

static void
ngx_http_mi_body_handler(ngx_http_request_t *r)
{
    ngx_http_mi_ctx_t       *ctx;
    ngx_http_mi_loc_conf_t  *mlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);
    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mi_module);

    ctx->verdict = ngx_http_mi_check_body(r, mlcf, ctx);

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * The verdict on the body: the one the request body filter reached as the
 * body arrived, or, for a body nginx had read before the checks began,
 * the body read back wherever nginx keeps it (memory buffers, a temporary
 * file), through the same constant-memory checker.
 */

static ngx_int_t
ngx_http_mi_check_body(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    off_t              size, pos;
    size_t             n;
    ssize_t            read;
    ngx_buf_t         *b;
    ngx_int_t          rc;
    ngx_chain_t       *cl;
    mi_body_rc_t       verdict;
    mi_body_check_t   *ck, unseen;
    u_char             chunk[NGX_HTTP_MI_READ_CHUNK];

    size = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            size += ngx_buf_size(cl->buf);
        }
    }

    if (size == 0) {
        return NGX_OK;
    }

    if (ctx->route->body == MI_ROUTE_NO_BODY) {
        return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_BODY,
                                  "%s takes no request body (got %O bytes)",
                                  ctx->route->name, size);
    }

    /*
     * A chunked body's type is checked once it is known to be non-empty
     * (nginx has set content_length_n to its decoded size by now).
     */

    if (r->headers_in.chunked) {
        rc = ngx_http_mi_check_content_type(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ctx->body_seen) {
        ck = ctx->body;
        verdict = mi_body_finish(ck);
        goto done;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mi body: read before the checks began, read back");

    ck = &unseen;

    ngx_http_mi_body_init(ck, ctx, mlcf);

    verdict = MI_BODY_MORE;

    for (cl = r->request_body->bufs;
         cl && verdict == MI_BODY_MORE;
         cl = cl->next)
    {
        b = cl->buf;

        if (!b->in_file) {
            verdict = mi_body_feed(ck, b->pos, b->last - b->pos);
            continue;
        }

        for (pos = b->file_pos;
             pos < b->file_last && verdict == MI_BODY_MORE;
             pos += read)
        {
            n = (size_t) ngx_min(b->file_last - pos,
                                 (off_t) sizeof(chunk));

            read = ngx_read_file(b->file, chunk, n, pos);

            if (read != (ssize_t) n) {
                ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                              "mi: reading the request body from \"%V\" "
                              "failed", &b->file->name);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            verdict = mi_body_feed(ck, chunk, n);
        }
    }

    if (verdict == MI_BODY_MORE) {
        verdict = mi_body_finish(ck);
    }

done:

    switch (verdict) {

    case MI_BODY_OK:
        ctx->scene_ids = ck->scene_ids_set;
        return NGX_OK;

    case MI_BODY_INVALID_JSON:
        return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_JSON, "%s",
                                  mi_body_message(ck));

    default: /* MI_BODY_INVALID_BODY */
        return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_BODY, "%s",
                                  mi_body_message(ck));
    }
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
