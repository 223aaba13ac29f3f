
/*
 * ngx_http_mi_module: the request path of a signing location.  The
 * rewrite phases give every internal request the client's own headers
 * back; the precontent phase checks the request (ngx_http_mi_validate.c,
 * then ngx_http_mi_body.c), records the verdict in the context and acts
 * on it: a refusal is answered as JSON (ngx_http_mi_error.c), a request
 * that passed is signed and goes on to proxy_pass with the header view
 * (ngx_http_mi_headers.c) in place.
 */

#include "ngx_http_mi_module.h"


static ngx_int_t ngx_http_mi_check(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);
static ngx_int_t ngx_http_mi_target(ngx_http_request_t *r,
    ngx_http_mi_target_t *t);
static ngx_int_t ngx_http_mi_role_check(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_role_key_t *key);
static ngx_int_t ngx_http_mi_sign(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);


static ngx_str_t  ngx_http_mi_generic_route = ngx_string("generic");


/*
 * Every location an internal request enters (a redirect, error_page, a
 * named location, post_action, a subrequest) starts with the client's own
 * headers, whatever a signing location made of them before.
 */

ngx_int_t
ngx_http_mi_rewrite_handler(ngx_http_request_t *r)
{
    if (!r->internal) {
        return NGX_DECLINED;
    }

    return ngx_http_mi_headers_restore(r);
}


/*
 * The precontent phase of a signing location: check, then sign.  When the
 * body has to be read first, the body handler records the verdict in the
 * context and runs the phases again, which brings the request back here to
 * act on it.
 */

ngx_int_t
ngx_http_mi_precontent_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_mi_ctx_t       *ctx;
    ngx_http_mi_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mi_module);

    if (!mlcf->sign) {
        return NGX_DECLINED;
    }

    /*
     * A subrequest shares its parent's body and connection state, and a
     * module that issues one (mirror, auth_request, SSI) does not expect
     * it to be refused or to read a body: subrequests are refused rather
     * than forwarded unsigned.
     */

    if (r != r->main) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mi_sign: subrequest \"%V\" not signed: subrequests "
                      "are not supported", &r->uri);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx == NULL) {
        ctx = ngx_http_mi_ctx_create(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ctx->verdict = NGX_DONE;  /* until the checks have one */

        if (ngx_http_mi_caller(r, ctx) != NGX_OK
            || ngx_http_mi_target(r, &ctx->target) != NGX_OK
            || ngx_http_mi_headers_prepare(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* without a valid key, nothing is read or checked: 503 at once */

        rc = mlcf->role ? ngx_http_mi_role_check(r, mlcf, NULL) : NGX_OK;

        if (rc == NGX_OK) {
            rc = ngx_http_mi_check(r, mlcf, ctx);
        }

        if (rc == NGX_DONE) {
            /* the body is being read; its handler brings r back here */
            return NGX_DONE;
        }

        ctx->verdict = rc;
    }

    /* a caller that may not ask for a full analysis: the body says */

    if (ctx->verdict == NGX_OK && ctx->partial_only) {
        ctx->partial_only = 0;
        ctx->verdict = ngx_http_mi_check_full_analysis(r, ctx);
    }

    switch (ctx->verdict) {

    case NGX_OK:
        if (!ctx->signed_request) {
            rc = ngx_http_mi_sign(r, mlcf, ctx);

            if (rc == NGX_DECLINED) {
                /* the Server Role's key expired while the body came */
                ctx->verdict = NGX_DONE;
                ngx_http_finalize_request(r, ngx_http_mi_send_error(r, ctx));
                return NGX_DONE;
            }

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }

            ctx->signed_request = 1;
        }

        return NGX_DECLINED;

    case NGX_DECLINED:
        /* refused: ctx->error says why */
        ctx->verdict = NGX_DONE;
        ngx_http_finalize_request(r, ngx_http_mi_send_error(r, ctx));
        return NGX_DONE;

    default:
        /* NGX_DONE once answered, NGX_ERROR or an error status */
        return ctx->verdict;
    }
}


/*
 * The checks before signing: the route, its parameters and the headers,
 * the index routes' removal, the caller's policy, then the body, which
 * may have to be read first.  Returns the verdict (NGX_OK: sign;
 * NGX_DECLINED: refused, ctx->error says why; an error status), or
 * NGX_DONE while the body is read.
 */

static ngx_int_t
ngx_http_mi_check(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (!mlcf->validate) {
        ctx->route_name = ngx_http_mi_generic_route;

        rc = ngx_http_mi_check_policy(r, mlcf, ctx);
        if (rc != NGX_OK) {
            return rc;
        }

        /* no body is checked, but none is forwarded in part either */

        return ngx_http_mi_body_available(r);
    }

    rc = ngx_http_mi_validate(r, mlcf, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_mi_check_index_route(r, mlcf, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_mi_check_policy(r, mlcf, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_mi_body_read(r, mlcf, ctx);
}


/*
 * The request-target exactly as ngx_http_proxy_create_request() writes it
 * for a proxy_pass without a URI part: the client's unparsed URI while
 * nginx still has it, else the (re-escaped) URI and the arguments.
 */

static ngx_int_t
ngx_http_mi_target(ngx_http_request_t *r, ngx_http_mi_target_t *t)
{
    u_char     *p, *q, *last;
    uintptr_t   escape;

    if (r->valid_unparsed_uri) {
        p = r->unparsed_uri.data;
        last = p + r->unparsed_uri.len;

        /*
         * nginx's parser found the first '?' already: args_start is just
         * past it, and NULL without one.  Should it ever point elsewhere,
         * the '?' is looked for.
         */

        q = r->args_start;

        if (q > p && q <= last && q[-1] == '?') {
            q--;

        } else if (q != NULL) {
            q = memchr(p, '?', last - p);
        }

        if (q == NULL) {
            t->path = r->unparsed_uri;
            ngx_str_null(&t->args);
            t->has_args = 0;
            return NGX_OK;
        }

        t->path.data = p;
        t->path.len = q - p;
        t->args.data = q + 1;
        t->args.len = r->unparsed_uri.len - t->path.len - 1;
        t->has_args = 1;

        return NGX_OK;
    }

    t->path = r->uri;
    t->args = r->args;
    t->has_args = (r->args.len > 0);

    if (!r->quoted_uri && !r->internal) {
        return NGX_OK;
    }

    escape = 2 * ngx_escape_uri(NULL, r->uri.data, r->uri.len,
                                NGX_ESCAPE_URI);
    if (escape == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, r->uri.len + escape);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_escape_uri(p, r->uri.data, r->uri.len, NGX_ESCAPE_URI);

    t->path.data = p;
    t->path.len = r->uri.len + escape;

    return NGX_OK;
}


/*
 * A location that signs with the Server Role's key: NGX_OK with a copy of
 * it in key (when key is not NULL, the caller wipes it), or NGX_DECLINED
 * with the request refused, 503 CREDENTIALS_UNAVAILABLE and Retry-After,
 * when no key is valid now: before the first one arrives, or after one
 * expired with no other.
 */

static ngx_int_t
ngx_http_mi_role_check(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_role_key_t *key)
{
    time_t                   retry;
    ngx_int_t                rc;
    ngx_http_mi_ctx_t       *ctx;
    ngx_http_mi_role_key_t   copy;

    if (ngx_http_mi_role_key(mlcf->role, key ? key : &copy, &retry)
        == NGX_OK)
    {
        if (key == NULL) {
            ngx_explicit_memzero(&copy, sizeof(ngx_http_mi_role_key_t));
        }

        return NGX_OK;
    }

    rc = ngx_http_mi_reject(r, NGX_HTTP_MI_CREDENTIALS_UNAVAILABLE,
                            "no valid Server Role credentials yet: "
                            "retry later");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);
    ctx->retry_after = retry;

    return NGX_DECLINED;
}


/* Signs the request and puts the view with the signing headers in place. */

static ngx_int_t
ngx_http_mi_sign(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_str_t                access_key;
    ngx_time_t              *tp;
    mi_sign_str_t            method, path, args, ts, ak;
    ngx_table_elt_t         *content_type;
    ngx_http_mi_target_t    *t;
    const mi_sign_key_t     *state;
    ngx_http_mi_role_key_t   role;

    t = &ctx->target;

    if (mlcf->role) {
        rc = ngx_http_mi_role_check(r, mlcf, &role);
        if (rc != NGX_OK) {
            return rc;
        }

        /* the access key id is no secret: the header keeps a copy */

        access_key.len = role.access_key_len;
        access_key.data = ngx_pnalloc(r->pool, access_key.len);
        if (access_key.data == NULL) {
            ngx_explicit_memzero(&role, sizeof(ngx_http_mi_role_key_t));
            return NGX_ERROR;
        }

        ngx_memcpy(access_key.data, role.access_key, access_key.len);
        state = &role.state;

    } else {
        access_key = mlcf->access_key;
        state = mlcf->key->state;
    }

    /* the epoch in milliseconds: ngx_current_msec is monotonic, not epoch */

    tp = ngx_timeofday();

    ctx->timestamp.data = ctx->timestamp_buf;
    ctx->timestamp.len = mi_sign_timestamp((uint64_t) tp->sec * 1000
                                           + tp->msec, ctx->timestamp_buf);

    method.data = r->method_name.data;
    method.len = r->method_name.len;
    path.data = t->path.data;
    path.len = t->path.len;
    args.data = t->args.data;
    args.len = t->args.len;
    ts.data = ctx->timestamp.data;
    ts.len = ctx->timestamp.len;
    ak.data = access_key.data;
    ak.len = access_key.len;

    mi_sign_v2(state, method, path, t->has_args, args, ts, ak,
               ctx->signature);

    if (mlcf->role) {
        ngx_explicit_memzero(&role, sizeof(ngx_http_mi_role_key_t));
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mi sign: \"%V %V%s%V\"", &r->method_name, &t->path,
                   t->has_args ? "?" : "", &t->args);

    if (ngx_http_mi_headers_add(ctx, NGX_HTTP_MI_TIMESTAMP_HEADER,
                                ctx->timestamp.data, ctx->timestamp.len)
        == NULL
        || ngx_http_mi_headers_add(ctx, NGX_HTTP_MI_ACCESS_KEY_HEADER,
                                   access_key.data, access_key.len)
           == NULL
        || ngx_http_mi_headers_add(ctx, NGX_HTTP_MI_SIGNATURE_HEADER,
                                   ctx->signature, MI_SIGNATURE_LEN)
           == NULL)
    {
        return NGX_ERROR;
    }

    /* the API wants a JSON content type on every call, GET included */

    content_type = NULL;

    if (r->headers_in.content_type == NULL) {
        content_type = ngx_http_mi_headers_add(ctx,
                                               NGX_HTTP_MI_CONTENT_TYPE_HEADER,
                                               ngx_http_mi_json_type.data,
                                               ngx_http_mi_json_type.len);
        if (content_type == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_http_mi_headers_install(r, ctx, content_type);

    return NGX_OK;
}
