
/*
 * ngx_http_mi_module: the checks made before a request is signed: route
 * and method (mi_route), path parameters (the mi_param patterns), content
 * type, and the body of the request routes (mi_body), read wherever nginx
 * keeps it.
 */

#include "ngx_http_mi_module.h"


#define NGX_HTTP_MI_PARAM_MAX      1024    /* bytes of a parameter as sent */
#define NGX_HTTP_MI_READ_CHUNK     8192    /* body bytes read from a file */


static void ngx_http_mi_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mi_check_params(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, mi_route_match_t *m);
static ngx_uint_t ngx_http_mi_json_prefix(u_char *p);
static ngx_int_t ngx_http_mi_check_content_type(ngx_http_request_t *r);
static ngx_int_t ngx_http_mi_check_body(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);


/*
 * Checks route, parameters, content type and, where the route takes one,
 * the body.  Returns NGX_OK to sign, NGX_DONE while the body is read (the
 * verdict then goes to ctx->verdict, still NGX_DONE here), NGX_DECLINED
 * when the request is refused (ctx->error says why), or an error status.
 * The checks below it return NGX_OK, NGX_DECLINED or an error status too.
 */

ngx_int_t
ngx_http_mi_validate(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    u_char                    *allow;
    size_t                     len;
    ngx_int_t                  rc;
    mi_match_rc_t              match;
    ngx_table_elt_t           *h;
    mi_route_match_t           m;
    ngx_http_core_loc_conf_t  *clcf;

    match = mi_route_match(r->method_name.data, r->method_name.len,
                           ctx->target.path.data, ctx->target.path.len, &m);

    if (match == MI_MATCH_NOT_FOUND) {
        return ngx_http_mi_reject(r, NGX_HTTP_MI_ROUTE_NOT_FOUND,
                                  "no scene-summary route matches \"%V\"",
                                  &ctx->target.path);
    }

    if (match == MI_MATCH_METHOD_NOT_ALLOWED) {
        allow = ngx_pnalloc(r->pool, sizeof("GET, POST, DELETE") - 1);
        if (allow == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        len = mi_route_allow(m.allow, (char *) allow,
                             sizeof("GET, POST, DELETE") - 1);

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        h->value.data = allow;
        h->value.len = len;

        return ngx_http_mi_reject(r, NGX_HTTP_MI_METHOD_NOT_ALLOWED,
                                  "method %V is not allowed here; "
                                  "allowed: %*s", &r->method_name,
                                  len, allow);
    }

    ctx->route = m.route;
    ctx->route_name.data = (u_char *) m.route->name;
    ctx->route_name.len = m.route->name_len;

    /* the usual case: each one fits its default pattern as sent */

    if (m.unfit || mlcf->patterns) {
        rc = ngx_http_mi_check_params(r, mlcf, &m);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /*
     * nginx takes the first Content-Type for the request's, the proxy
     * forwards them all, and the API may read another one.
     */

    if (ctx->content_types > 1) {
        return ngx_http_mi_reject(r, NGX_HTTP_MI_UNSUPPORTED_MEDIA_TYPE,
                                  "more than one Content-Type header "
                                  "(%ui)", ctx->content_types);
    }

    if (ctx->content_type_alias) {
        return ngx_http_mi_reject(r, NGX_HTTP_MI_UNSUPPORTED_MEDIA_TYPE,
                                  "header \"%V\" is not Content-Type: "
                                  "send Content-Type", ctx->content_type_alias);
    }

    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return NGX_OK;
    }

    if (m.route->body == MI_ROUTE_NO_BODY) {
        if (r->headers_in.content_length_n > 0) {
            return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_BODY,
                                      "%s takes no request body "
                                      "(Content-Length: %O)",
                                      m.route->name,
                                      r->headers_in.content_length_n);
        }

    } else if (r->headers_in.content_length_n > 0) {
        /* refuse before reading a body that cannot be right */

        rc = ngx_http_mi_check_content_type(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* a chunked body may be empty: it has to be read to know */

    if (m.route->body != MI_ROUTE_NO_BODY
        && ngx_http_mi_body_start(r, mlcf, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->reading_body = 1;
    rc = ngx_http_read_client_request_body(r, ngx_http_mi_body_handler);
    ctx->reading_body = 0;

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

    /*
     * A body that had all arrived with the headers (most of them) was
     * checked inside the call: the checks go on here, without running the
     * phases again.
     */

    return ctx->verdict;
}


/*
 * Called once the whole body is read: checks it and, unless it was called
 * from inside ngx_http_read_client_request_body(), runs the phases again;
 * the phase handler acts on the verdict.
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

    if (ctx->reading_body) {
        return;
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * The route matcher has judged every parameter by its default pattern; a
 * pattern that "mi_param" set is matched here, on the parameter as sent
 * when it holds no '%', else on a decoded copy.  Refusals come in the
 * order of the parameters, each with the first reason that applies.
 * Called only when a parameter did not fit its default pattern as sent,
 * or the location has an "mi_param".
 */

static ngx_int_t
ngx_http_mi_check_params(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    mi_route_match_t *m)
{
    int                     captures[3];
    ssize_t                 n;
    ngx_int_t               rc;
    ngx_str_t               value;
    ngx_uint_t              i;
    mi_param_rc_t           verdict;
    ngx_http_mi_pattern_t  *p;
    u_char                  buf[NGX_HTTP_MI_PARAM_MAX];

    for (i = 0; i < MI_PARAM_COUNT; i++) {

        if (m->param[i].data == NULL) {
            continue;
        }

        if (m->param[i].len > NGX_HTTP_MI_PARAM_MAX) {
            return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_PATH_PARAMETER,
                                      "%s: longer than %d bytes",
                                      mi_param_name(i),
                                      NGX_HTTP_MI_PARAM_MAX);
        }

        p = mlcf->params[i];

        if (p->regex == NULL) {
            verdict = m->check[i];

        } else {
            value.data = (u_char *) m->param[i].data;
            value.len = m->param[i].len;
            verdict = MI_PARAM_VALID;

            if (ngx_strlchr(value.data, value.data + value.len, '%')) {

                /* decoding never makes a value longer: -1 is malformed */

                n = mi_pct_decode(value.data, value.len, buf, sizeof(buf));

                value.data = buf;
                value.len = n;

                if (n < 0) {
                    verdict = MI_PARAM_BAD_ESCAPE;
                }
            }

            if (verdict == MI_PARAM_VALID) {

                /* the pattern must match the whole value, anchored or not */

                rc = ngx_regex_exec(p->regex, &value, captures, 3);

                if (rc < NGX_REGEX_NO_MATCHED) {
                    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                                  ngx_regex_exec_n " failed: %i on \"%s\"",
                                  rc, mi_param_name(i));
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                if (rc == NGX_REGEX_NO_MATCHED
                    || captures[0] != 0 || (size_t) captures[1] != value.len)
                {
                    verdict = MI_PARAM_MISMATCH;
                }
            }
        }

        if (verdict == MI_PARAM_BAD_ESCAPE) {
            return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_PATH_PARAMETER,
                                      "%s: \"%*s\" has a malformed "
                                      "percent-escape", mi_param_name(i),
                                      m->param[i].len, m->param[i].data);
        }

        if (verdict == MI_PARAM_MISMATCH) {
            return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_PATH_PARAMETER,
                                      "%s: \"%*s\" does not match %V",
                                      mi_param_name(i), m->param[i].len,
                                      m->param[i].data, &p->source);
        }
    }

    return NGX_OK;
}


/*
 * Whether p starts with "application/json" in any case: two words, each
 * byte of a letter read with its case bit set ('A' and 'a' both read 'a';
 * nothing else does), the '/' read as it is.
 */

static ngx_uint_t
ngx_http_mi_json_prefix(u_char *p)
{
    uint64_t  w0, w1, f0, f1, t0, t1;

    static const u_char  type[16] = {
        'a', 'p', 'p', 'l', 'i', 'c', 'a', 't',
        'i', 'o', 'n', '/', 'j', 's', 'o', 'n'
    };

    static const u_char  fold[16] = {
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x00, 0x20, 0x20, 0x20, 0x20
    };

    ngx_memcpy(&w0, p, 8);
    ngx_memcpy(&w1, p + 8, 8);
    ngx_memcpy(&f0, fold, 8);
    ngx_memcpy(&f1, fold + 8, 8);
    ngx_memcpy(&t0, type, 8);
    ngx_memcpy(&t1, type + 8, 8);

    return (((w0 | f0) ^ t0) | ((w1 | f1) ^ t1)) == 0;
}


/* "application/json", any case, with or without parameters. */

static ngx_int_t
ngx_http_mi_check_content_type(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    h = r->headers_in.content_type;

    if (h == NULL) {
        return ngx_http_mi_reject(r, NGX_HTTP_MI_UNSUPPORTED_MEDIA_TYPE,
                                  "a request body needs Content-Type: "
                                  "application/json; none was sent");
    }

    p = h->value.data;
    last = p + h->value.len;

    if (last - p >= 16 && ngx_http_mi_json_prefix(p)) {
        p += 16;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p == last || *p == ';') {
            return NGX_OK;
        }
    }

    return ngx_http_mi_reject(r, NGX_HTTP_MI_UNSUPPORTED_MEDIA_TYPE,
                              "Content-Type \"%V\" is not application/json",
                              &h->value);
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

    mi_body_init(ck, ctx->route->body == MI_ROUTE_ASSET_REQUEST_BODY
                     ? MI_BODY_ASSET_REQUEST : MI_BODY_INDEX_REQUEST,
                 (uint32_t) mlcf->max_scene_ids);

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
        return NGX_OK;

    case MI_BODY_INVALID_JSON:
        return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_JSON, "%s",
                                  mi_body_message(ck));

    default: /* MI_BODY_INVALID_BODY */
        return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_BODY, "%s",
                                  mi_body_message(ck));
    }
}
