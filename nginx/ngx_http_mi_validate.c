
/*
 * ngx_http_mi_module: the checks made before the body is read, one step a
 * function: the route and method (mi_route), the path parameters (the
 * mi_param patterns), the headers (Content-Type), and what the announced
 * body allows.  Each step returns NGX_OK to go on, NGX_DECLINED when the
 * request is refused (ngx_http_mi_reject has recorded why), or an error
 * status.  The body itself is ngx_http_mi_body.c's.
 */

#include "ngx_http_mi_module.h"


#define NGX_HTTP_MI_PARAM_MAX      1024    /* bytes of a parameter as sent */


static ngx_int_t ngx_http_mi_check_route(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx, mi_route_match_t *m);
static ngx_int_t ngx_http_mi_check_params(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, mi_route_match_t *m);
static ngx_int_t ngx_http_mi_workspace(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx, mi_route_match_t *m);
static ngx_int_t ngx_http_mi_check_headers(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx);
static ngx_int_t ngx_http_mi_check_announced_body(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx);


/* The steps in order; the first that does not pass gives the verdict. */

ngx_int_t
ngx_http_mi_validate(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    ngx_int_t         rc;
    mi_route_match_t  m;

    rc = ngx_http_mi_check_route(r, ctx, &m);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the usual case: each one fits its default pattern as sent */

    if (m.unfit || mlcf->patterns) {
        rc = ngx_http_mi_check_params(r, mlcf, &m);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_mi_workspace(r, ctx, &m) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_mi_check_headers(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_mi_check_announced_body(r, ctx);
}


/* One of the scene-summary routes, with its method; 405 lists the others. */

static ngx_int_t
ngx_http_mi_check_route(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx,
    mi_route_match_t *m)
{
    u_char           *allow;
    size_t            len;
    mi_match_rc_t     match;
    ngx_table_elt_t  *h;

    match = mi_route_match(r->method_name.data, r->method_name.len,
                           ctx->target.path.data, ctx->target.path.len, m);

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

        len = mi_route_allow(m->allow, (char *) allow,
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

    ctx->route = m->route;
    ctx->route_name.data = (u_char *) m->route->name;
    ctx->route_name.len = m->route->name_len;

    return NGX_OK;
}


/*
 * The workspace as its parameter was validated: percent-decoded once if it
 * holds a '%', for the caller's policy.
 */

static ngx_int_t
ngx_http_mi_workspace(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx,
    mi_route_match_t *m)
{
    u_char     *p;
    ssize_t     n;
    mi_span_t  *ws;

    ws = &m->param[MI_PARAM_WORKSPACE_NAME];

    if (ngx_strlchr((u_char *) ws->data, (u_char *) ws->data + ws->len, '%')
        == NULL)
    {
        ctx->workspace.data = (u_char *) ws->data;
        ctx->workspace.len = ws->len;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, ws->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    /* validated: the escapes are well formed */

    n = mi_pct_decode(ws->data, ws->len, p, ws->len);

    ctx->workspace.data = p;
    ctx->workspace.len = (n < 0) ? 0 : n;

    return NGX_OK;
}


/*
 * nginx takes the first Content-Type for the request's, the proxy
 * forwards them all, and the API may read another one.
 */

static ngx_int_t
ngx_http_mi_check_headers(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx)
{
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

    return NGX_OK;
}


/*
 * A body announced with Content-Length is refused before it is read when
 * it cannot be right: on a route that takes none, or not JSON.  A chunked
 * one is judged once read (ngx_http_mi_body.c): it may be empty.
 */

static ngx_int_t
ngx_http_mi_check_announced_body(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx)
{
    if (r->headers_in.content_length_n <= 0) {
        return NGX_OK;
    }

    if (ctx->route->body == MI_ROUTE_NO_BODY) {
        return ngx_http_mi_reject(r, NGX_HTTP_MI_INVALID_BODY,
                                  "%s takes no request body "
                                  "(Content-Length: %O)",
                                  ctx->route->name,
                                  r->headers_in.content_length_n);
    }

    return ngx_http_mi_check_content_type(r);
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


/* "application/json", any case, with or without parameters. */

ngx_int_t
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

    if (last - p >= 16
        && ngx_strncasecmp(p, (u_char *) "application/json", 16) == 0)
    {
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
