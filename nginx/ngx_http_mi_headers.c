
/*
 * ngx_http_mi_module: the request headers the upstream sees.  The phase
 * handlers call ngx_http_mi_headers_prepare() before the checks,
 * ngx_http_mi_headers_add() and ngx_http_mi_headers_install() once the
 * request is signed, and ngx_http_mi_headers_restore() at the start of
 * every location an internal request enters.
 *
 * nginx's own list of the client's headers is never edited.  Deleting
 * from an ngx_list_t in place has to keep every invariant that nginx's
 * loops and ngx_list_push() rely on (no empty part before the last one,
 * "nalloc" the size of every part, each part's elements within its own
 * allocation, the pointers r->headers_in keeps into the list, and on
 * nginx 1.23+ the "next" chains of repeated headers); an earlier version
 * that tried broke several of them.  Instead the module builds a second
 * list, the "view": its parts are the runs of the client's headers between
 * the stripped ones, in place (the same elements, not copies), then a part
 * of the module's own with the signing headers.  No part is empty, and the
 * last one, the only one ngx_list_push() writes to, is the module's.  The
 * view replaces r->headers_in.headers just before the content phase, where
 * the proxy (like every upstream module) serialises the list in its
 * create_request; the client's list is kept aside untouched, so every
 * pointer into it stays valid.
 *
 * The view must not outlive the signing location: an internal redirect,
 * error_page, named location, post_action or subrequest into a location
 * without "mi_sign" would forward a valid signature elsewhere.  Each of
 * those paths runs the rewrite phase of the location it enters, where
 * ngx_http_mi_headers_restore() gives the request the client's list back
 * (a subrequest in its own copy of headers_in, leaving its parent's
 * alone); a signing location then builds a view of its own.  An internal
 * redirect clears the module's context, so the record of the client's
 * list lives in a request cleanup, found again the way
 * ngx_http_realip_module finds its own; the cleanup also restores the
 * client's list before the request is logged.
 */

#include "ngx_http_mi_module.h"


/* how a header's name equals one of the module's */
#define NGX_HTTP_MI_NAME_EXACT  1
#define NGX_HTTP_MI_NAME_ALIAS  2


static ngx_http_mi_headers_t *ngx_http_mi_headers_find(ngx_http_request_t *r);
static ngx_uint_t ngx_http_mi_header_stripped(ngx_http_mi_ctx_t *ctx,
    ngx_table_elt_t *h);
static ngx_uint_t ngx_http_mi_headers_signed(ngx_list_t *list);
static ngx_uint_t ngx_http_mi_header_is(ngx_table_elt_t *h, ngx_str_t *name,
    ngx_uint_t prefix);
static ngx_inline ngx_uint_t ngx_http_mi_name_equal(u_char *a, u_char *b,
    size_t len);
static void ngx_http_mi_list_move(ngx_list_t *dst, ngx_list_t *src);
static void ngx_http_mi_headers_cleanup(void *data);


/*
 * Indexed by ngx_http_mi_header_e; hashed once, in ngx_http_mi_init.  A
 * view is told from a client's list by these names' addresses: no header
 * nginx parsed has its key there.
 */
static struct {
    ngx_str_t                   name;
    ngx_uint_t                  hash;
} ngx_http_mi_headers[] = {
    { ngx_string("x-ncp-apigw-timestamp"), 0 },
    { ngx_string("x-ncp-iam-access-key"), 0 },
    { ngx_string("x-ncp-apigw-signature-v2"), 0 },
    { ngx_string("content-type"), 0 },
    { ngx_null_string, 0 }
};


/*
 * Client headers that never reach the upstream.  With
 * "underscores_in_headers on" (or "ignore_invalid_headers off") nginx
 * forwards "X_Ncp_Foo" and "Proxy_Authorization" as they are, and many
 * servers read '_' as '-', so names are compared with '_' taken as '-'.
 */
static ngx_str_t  ngx_http_mi_ncp_prefix = ngx_string("x-ncp-");
static ngx_str_t  ngx_http_mi_content_type = ngx_string("content-type");

static ngx_str_t  ngx_http_mi_authorization = ngx_string("authorization");
static ngx_str_t  ngx_http_mi_proxy_authorization =
    ngx_string("proxy-authorization");
static ngx_str_t  ngx_http_mi_cookie = ngx_string("cookie");


/*
 * Builds ctx->view from the client's headers: every header but the
 * stripped ones, in the client's order, then a part of the module's own
 * with room for the headers it adds.  The client's headers are not
 * copied: each run of kept headers is a part of the view whose elements
 * are the client's own, in place.  Such a part is never the last one, so
 * ngx_list_push() never writes into the client's list; nothing nginx does
 * with a list reads "nalloc" but ngx_list_push(), and only for the last
 * part.  Counts the Content-Type headers for the checks.
 */

ngx_int_t
ngx_http_mi_headers_prepare(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx)
{
    ngx_uint_t              i, start;
    ngx_list_t             *view;
    ngx_list_part_t        *part, *tail, *own;
    ngx_table_elt_t        *h;
    ngx_http_cleanup_t     *cln;
    ngx_http_mi_headers_t  *hs;

    hs = ngx_http_mi_headers_find(r);

    if (hs == NULL) {
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_mi_headers_cleanup;
        cln->data = &ctx->record;

        hs = &ctx->record;
        hs->request = r;

    } else {
        /* the rewrite phase gave the client's list back; make sure */
        (void) ngx_http_mi_headers_restore(r);
    }

    ctx->headers = hs;

    view = &ctx->view;
    tail = NULL;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;
        start = 0;

        for (i = 0; i <= part->nelts; i++) {

            if (i < part->nelts && !ngx_http_mi_header_stripped(ctx, &h[i])) {
                continue;
            }

            /* h[start] to h[i - 1] are kept: one part of the view */

            if (i > start) {
                if (tail == NULL) {
                    tail = &view->part;

                } else {
                    tail->next = ngx_palloc(r->pool, sizeof(ngx_list_part_t));
                    if (tail->next == NULL) {
                        return NGX_ERROR;
                    }

                    tail = tail->next;
                }

                tail->elts = &h[start];
                tail->nelts = i - start;
            }

            if (i < part->nelts) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "mi strip header: \"%V\"", &h[i].key);
            }

            start = i + 1;
        }
    }

    /* the module's own part, the last one */

    if (tail == NULL) {
        own = &view->part;

    } else {
        own = &ctx->own;
        tail->next = own;
    }

    own->elts = ctx->added;
    own->nelts = 0;
    own->next = NULL;

    view->last = own;
    view->size = sizeof(ngx_table_elt_t);
    view->nalloc = NGX_HTTP_MI_ADDED_HEADERS;
    view->pool = r->pool;

    return NGX_OK;
}


/*
 * Whether the upstream must not see h; counts the Content-Type headers on
 * the way.  Only names that start like a stripped one are compared.
 */

static ngx_uint_t
ngx_http_mi_header_stripped(ngx_http_mi_ctx_t *ctx, ngx_table_elt_t *h)
{
    switch (h->key.len ? h->lowcase_key[0] : 0) {

    case 'x':
        return ngx_http_mi_header_is(h, &ngx_http_mi_ncp_prefix, 1);

    case 'a':
        return ngx_http_mi_header_is(h, &ngx_http_mi_authorization, 0);

    case 'p':
        return ngx_http_mi_header_is(h, &ngx_http_mi_proxy_authorization, 0);

    case 'c':
        switch (ngx_http_mi_header_is(h, &ngx_http_mi_content_type, 0)) {

        case NGX_HTTP_MI_NAME_ALIAS:
            ctx->content_type_alias = &h->key;

            /* fall through */

        case NGX_HTTP_MI_NAME_EXACT:
            ctx->content_types++;
            return 0;
        }

        return ngx_http_mi_header_is(h, &ngx_http_mi_cookie, 0);

    default:
        return 0;
    }
}


/* Adds one of the module's headers to the view. */

ngx_table_elt_t *
ngx_http_mi_headers_add(ngx_http_mi_ctx_t *ctx, ngx_http_mi_header_e header,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;
    ngx_list_part_t  *own;

    /* the view's own part has room for every header the module adds */

    own = ctx->view.last;

    if (own->nelts == NGX_HTTP_MI_ADDED_HEADERS) {
        return NULL;
    }

    h = (ngx_table_elt_t *) own->elts + own->nelts++;

    h->key = ngx_http_mi_headers[header].name;
    h->lowcase_key = h->key.data;
    h->hash = ngx_http_mi_headers[header].hash;
    h->value.data = value;
    h->value.len = len;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


/*
 * Puts the view in place of the client's headers, keeping the client's
 * list and the r->headers_in pointers the view changes.  The pointers to
 * stripped headers are cleared, so that nothing takes them for the
 * request's (e.g. $http_cookie); content_type is the one the module added,
 * if it did.
 */

void
ngx_http_mi_headers_install(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx,
    ngx_table_elt_t *content_type)
{
    ngx_http_mi_headers_t  *hs;

    hs = ctx->headers;

    ngx_http_mi_list_move(&hs->headers, &r->headers_in.headers);

    hs->content_type = r->headers_in.content_type;
    hs->authorization = r->headers_in.authorization;
#if (nginx_version >= 1023000)
    hs->cookie = r->headers_in.cookie;
#else
    hs->cookies = r->headers_in.cookies.nelts;
#endif
#if (nginx_version >= 1029008)
    hs->proxy_authorization = r->headers_in.proxy_authorization;
#endif

    /* ctx->view is spent: r->headers_in has it now */

    ngx_http_mi_list_move(&r->headers_in.headers, &ctx->view);

    if (content_type) {
        r->headers_in.content_type = content_type;
    }

    r->headers_in.authorization = NULL;
#if (nginx_version >= 1023000)
    r->headers_in.cookie = NULL;
#else
    r->headers_in.cookies.nelts = 0;
#endif
#if (nginx_version >= 1029008)
    r->headers_in.proxy_authorization = NULL;
#endif
}


/*
 * Gives r the client's headers back if it holds a view: r is the request
 * itself after a redirect out of a signing location, or a subrequest,
 * whose headers_in is a copy of its parent's made while the parent held
 * one.  Returns NGX_DECLINED, as a phase handler that lets others run.
 */

ngx_int_t
ngx_http_mi_headers_restore(ngx_http_request_t *r)
{
    ngx_http_mi_headers_t  *hs;

    hs = ngx_http_mi_headers_find(r);

    if (hs == NULL || !ngx_http_mi_headers_signed(&r->headers_in.headers)) {
        return NGX_DECLINED;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mi headers: the client's headers are back");

    ngx_http_mi_list_move(&r->headers_in.headers, &hs->headers);

    r->headers_in.content_type = hs->content_type;
    r->headers_in.authorization = hs->authorization;
#if (nginx_version >= 1023000)
    r->headers_in.cookie = hs->cookie;
#else
    r->headers_in.cookies.nelts = hs->cookies;
#endif
#if (nginx_version >= 1029008)
    r->headers_in.proxy_authorization = hs->proxy_authorization;
#endif

    return NGX_DECLINED;
}


/* The record of the client's headers, if r->main was ever signed. */

static ngx_http_mi_headers_t *
ngx_http_mi_headers_find(ngx_http_request_t *r)
{
    ngx_http_cleanup_t  *cln;
    ngx_http_mi_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_mi_module);

    if (ctx && ctx->headers) {
        return ctx->headers;
    }

    /* a redirect cleared the context: the cleanup still knows */

    for (cln = r->main->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_mi_headers_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


/*
 * Whether list is a view: it holds the module's timestamp header, first
 * in the module's part, the last one unless a module pushed past it.
 */

static ngx_uint_t
ngx_http_mi_headers_signed(ngx_list_t *list)
{
    u_char           *mark;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    mark = ngx_http_mi_headers[NGX_HTTP_MI_TIMESTAMP_HEADER].name.data;

    h = list->last->elts;

    if (list->last->nelts && h[0].key.data == mark) {
        return 1;
    }

    for (part = &list->part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.data == mark) {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * Header names compare equal when they differ only in case (lowcase_key)
 * or by '_' for '-'; with prefix set, name only has to start h's name.
 * Returns NGX_HTTP_MI_NAME_EXACT, NGX_HTTP_MI_NAME_ALIAS (with a '_' for a
 * '-') or 0.
 */

static ngx_uint_t
ngx_http_mi_header_is(ngx_table_elt_t *h, ngx_str_t *name, ngx_uint_t prefix)
{
    u_char      c;
    ngx_uint_t  i;

    if (h->key.len < name->len || (!prefix && h->key.len != name->len)) {
        return 0;
    }

    if (ngx_http_mi_name_equal(h->lowcase_key, name->data, name->len)) {
        return NGX_HTTP_MI_NAME_EXACT;
    }

    for (i = 0; i < name->len; i++) {
        c = h->lowcase_key[i];

        if (c != name->data[i] && !(c == '_' && name->data[i] == '-')) {
            return 0;
        }
    }

    return NGX_HTTP_MI_NAME_ALIAS;
}


/*
 * ngx_memcmp() == 0 of len bytes that both a and b hold: the names here
 * (4 to 24 bytes) in overlapping words, as a call would cost more.
 */

static ngx_inline ngx_uint_t
ngx_http_mi_name_equal(u_char *a, u_char *b, size_t len)
{
    uint32_t  a0, a1, b0, b1;
    uint64_t  c0, c1, c2, d0, d1, d2;

    if (len >= 8 && len <= 24) {
        ngx_memcpy(&c0, a, 8);
        ngx_memcpy(&d0, b, 8);
        ngx_memcpy(&c1, a + (len - 8) / 2, 8);
        ngx_memcpy(&d1, b + (len - 8) / 2, 8);
        ngx_memcpy(&c2, a + len - 8, 8);
        ngx_memcpy(&d2, b + len - 8, 8);

        return ((c0 ^ d0) | (c1 ^ d1) | (c2 ^ d2)) == 0;
    }

    if (len >= 4 && len < 8) {
        ngx_memcpy(&a0, a, 4);
        ngx_memcpy(&b0, b, 4);
        ngx_memcpy(&a1, a + len - 4, 4);
        ngx_memcpy(&b1, b + len - 4, 4);

        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }

    return ngx_memcmp(a, b, len) == 0;
}


/*
 * An ngx_list_t holds its first part inline and points "last" at it while
 * it has one part: a copy of the struct must point at its own.
 */

static void
ngx_http_mi_list_move(ngx_list_t *dst, ngx_list_t *src)
{
    *dst = *src;

    if (src->last == &src->part) {
        dst->last = &dst->part;
    }
}


/*
 * Request cleanups run before the request is logged (in
 * ngx_http_free_request and ngx_http_terminate_request): the access log
 * sees the client's headers, never the signing ones.
 */

static void
ngx_http_mi_headers_cleanup(void *data)
{
    ngx_http_mi_headers_t  *hs = data;

    (void) ngx_http_mi_headers_restore(hs->request);
}


void
ngx_http_mi_headers_init(void)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_mi_headers[i].name.len; i++) {
        ngx_http_mi_headers[i].hash =
                              ngx_hash_key(ngx_http_mi_headers[i].name.data,
                                           ngx_http_mi_headers[i].name.len);
    }
}
