
/*
 * ngx_http_mi_module: signs requests for the NAVER Cloud Platform Media
 * Intelligence API (NCP API Gateway signature v2), so that proxy_pass
 * forwards them with credentials that only this nginx holds.
 *
 * This file is the nginx glue: directives, configuration, the precontent
 * phase handler, header edits and variables.  A request flows one way:
 * target -> route match -> parameter check -> body check (all three in
 * ngx_http_mi_validate.c) -> sign -> headers; a refusal is answered by
 * ngx_http_mi_error.c.  The pure steps live in src/: mi_route.c (the route
 * table), mi_body.c (the JSON body checker) and mi_sign.c (signature v2);
 * mi_credentials.c reads the file of "mi_credentials_file".
 */

#include "ngx_http_mi_module.h"

#include <openssl/crypto.h>


#define NGX_HTTP_MI_SECRET_MAX     4096


/* Sets up key->state from the text of a key file; logs why it cannot. */
typedef ngx_int_t (*ngx_http_mi_key_parse_pt)(ngx_conf_t *cf,
    ngx_http_mi_key_t *key, u_char *text, size_t len, void *data);


typedef struct {
    ngx_str_t                   profile;
    ngx_str_t                   access_key;     /* read from the file */
} ngx_http_mi_credentials_t;


static ngx_int_t ngx_http_mi_rewrite_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mi_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mi_target(ngx_http_request_t *r,
    ngx_http_mi_target_t *t);
static ngx_int_t ngx_http_mi_sign(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);
static void ngx_http_mi_ctx_release(void *data);

static ngx_int_t ngx_http_mi_ctx_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mi_version_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static char *ngx_http_mi_sign_flag(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mi_access_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mi_secret_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mi_credentials_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_mi_profile_arg(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_str_t *profile);
static char *ngx_http_mi_not_with_credentials(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_mi_loc_conf_t *mlcf);
static ngx_http_mi_key_t *ngx_http_mi_load_key(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_mi_key_parse_pt parse, void *data);
static mi_sign_key_t *ngx_http_mi_alloc_key_pages(ngx_conf_t *cf,
    ngx_str_t *directive);
static ngx_int_t ngx_http_mi_read_key_file(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_http_mi_key_t *key,
    ngx_http_mi_key_parse_pt parse, void *data);
static ngx_int_t ngx_http_mi_not_regular(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_http_mi_key_t *key);
static ngx_int_t ngx_http_mi_parse_secret(ngx_conf_t *cf,
    ngx_http_mi_key_t *key, u_char *text, size_t len, void *data);
static ngx_int_t ngx_http_mi_parse_credentials(ngx_conf_t *cf,
    ngx_http_mi_key_t *key, u_char *text, size_t len, void *data);
static void ngx_http_mi_wipe_key(void *data);

static char *ngx_http_mi_param(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mi_check_access_key(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_mi_check_max_scene_ids(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_mi_compile(ngx_conf_t *cf,
    ngx_http_mi_pattern_t *p, ngx_str_t *source, ngx_str_t *name);

static ngx_int_t ngx_http_mi_add_variables(ngx_conf_t *cf);
static void *ngx_http_mi_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_mi_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_mi_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mi_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_mi_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_mi_init_module(ngx_cycle_t *cycle);


static ngx_conf_post_t  ngx_http_mi_access_key_post = {
    ngx_http_mi_check_access_key
};


static ngx_conf_post_t  ngx_http_mi_max_scene_ids_post = {
    ngx_http_mi_check_max_scene_ids
};


static ngx_command_t  ngx_http_mi_commands[] = {

    { ngx_string("mi_sign"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_mi_sign_flag,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mi_loc_conf_t, sign),
      NULL },

    { ngx_string("mi_access_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mi_access_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mi_loc_conf_t, access_key),
      &ngx_http_mi_access_key_post },

    { ngx_string("mi_secret_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mi_secret_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mi_credentials_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_mi_credentials_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mi_validate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mi_loc_conf_t, validate),
      NULL },

    { ngx_string("mi_param"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_mi_param,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mi_max_scene_ids"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mi_loc_conf_t, max_scene_ids),
      &ngx_http_mi_max_scene_ids_post },

    { ngx_string("mi_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_mi_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    /* post: the location's content handler */

    { ngx_string("mi_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mi_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_mi_metrics_handler },

    { ngx_string("mi_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mi_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_mi_health_handler },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mi_module_ctx = {
    ngx_http_mi_add_variables,             /* preconfiguration */
    ngx_http_mi_init,                      /* postconfiguration */

    ngx_http_mi_create_main_conf,          /* create main configuration */
    ngx_http_mi_init_main_conf,            /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_mi_create_loc_conf,           /* create location configuration */
    ngx_http_mi_merge_loc_conf             /* merge location configuration */
};


ngx_module_t  ngx_http_mi_module = {
    NGX_MODULE_V1,
    &ngx_http_mi_module_ctx,               /* module context */
    ngx_http_mi_commands,                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_mi_init_module,               /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_mi_vars[] = {

    { ngx_string("mi_timestamp"), NULL, ngx_http_mi_ctx_variable,
      offsetof(ngx_http_mi_ctx_t, timestamp), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mi_route"), NULL, ngx_http_mi_ctx_variable,
      offsetof(ngx_http_mi_ctx_t, route_name), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mi_error_code"), NULL, ngx_http_mi_ctx_variable,
      offsetof(ngx_http_mi_ctx_t, error_code), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mi_version"), NULL, ngx_http_mi_version_variable,
      0, 0, 0 },

    { ngx_string("mi_request_id"), NULL, ngx_http_mi_request_id_variable,
      0, 0, 0 },

      ngx_http_null_variable
};


ngx_str_t  ngx_http_mi_json_type = ngx_string("application/json");

static ngx_str_t  ngx_http_mi_generic_route = ngx_string("generic");
static ngx_str_t  ngx_http_mi_version = ngx_string(NGX_HTTP_MI_VERSION);

/* the last timestamp formatted: nginx's time changes once a millisecond */
static time_t      ngx_http_mi_ts_sec = -1;
static ngx_msec_t  ngx_http_mi_ts_msec;
static size_t      ngx_http_mi_ts_len;
static u_char      ngx_http_mi_ts[MI_TIMESTAMP_LEN];


/*
 * Every location an internal request enters (a redirect, error_page, a
 * named location, post_action, a subrequest) starts with the client's own
 * headers, whatever a signing location made of them before.
 */

static ngx_int_t
ngx_http_mi_rewrite_handler(ngx_http_request_t *r)
{
    if (!r->internal) {
        return NGX_DECLINED;
    }

    return ngx_http_mi_headers_restore(r);
}


/*
 * A request's context from the worker's spare ones, given back when the
 * request's pool is destroyed, after the request is logged.  A context
 * holds the header view's own part, the record of the client's headers and
 * the body checker's state, about 1 KB that r->pool would otherwise take on
 * top of nginx's own use, often in a block of its own; r->pool holds the
 * 24-byte cleanup only.  At most NGX_HTTP_MI_CTX_SPARE are kept: as many as
 * a busy worker has requests in flight, not as many as it ever had.
 */

#define NGX_HTTP_MI_CTX_SPARE  256

static ngx_http_mi_ctx_t  *ngx_http_mi_ctx_spare;
static ngx_uint_t          ngx_http_mi_ctx_nspare;


ngx_http_mi_ctx_t *
ngx_http_mi_ctx_create(ngx_http_request_t *r)
{
    ngx_http_mi_ctx_t   *ctx;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    ctx = ngx_http_mi_ctx_spare;

    if (ctx) {
        NGX_HTTP_MI_UNPOISON(ctx, sizeof(ngx_http_mi_ctx_t));
        ngx_http_mi_ctx_spare = ctx->next;
        ngx_http_mi_ctx_nspare--;

    } else {
        ctx = ngx_alloc(sizeof(ngx_http_mi_ctx_t), r->connection->log);
        if (ctx == NULL) {
            return NULL;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mi ctx: new, %uz bytes", sizeof(ngx_http_mi_ctx_t));
    }

    ngx_memzero(ctx, offsetof(ngx_http_mi_ctx_t, target));

    ctx->request = r;

    cln->handler = ngx_http_mi_ctx_release;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_mi_module);

    return ctx;
}


/*
 * The context of the last signing location r was in: its own or, once an
 * internal redirect (error_page, X-Accel-Redirect) took r elsewhere and
 * nginx forgot it, the one still in r's pool, the newest first.  For what
 * is logged: the metrics and the $mi_ variables.
 */

ngx_http_mi_ctx_t *
ngx_http_mi_ctx_last(ngx_http_request_t *r)
{
    ngx_http_mi_ctx_t   *ctx;
    ngx_pool_cleanup_t  *cln;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mi_module);

    if (ctx) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_mi_ctx_release) {
            ctx = cln->data;

            if (ctx->request == r) {
                return ctx;
            }
        }
    }

    return NULL;
}


static void
ngx_http_mi_ctx_release(void *data)
{
    ngx_http_mi_ctx_t  *ctx = data;

    if (ngx_http_mi_ctx_nspare == NGX_HTTP_MI_CTX_SPARE) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "mi ctx: freed, the spare list is full");
        ngx_free(ctx);
        return;
    }

    ctx->next = ngx_http_mi_ctx_spare;
    ngx_http_mi_ctx_spare = ctx;
    ngx_http_mi_ctx_nspare++;

    /* under AddressSanitizer, a spare context is not to be touched */
    NGX_HTTP_MI_POISON(ctx, sizeof(ngx_http_mi_ctx_t));
}


/*
 * The precontent phase of a signing location: check, then sign.  When the
 * body has to be read first, ngx_http_mi_body_handler records the verdict
 * in the context and runs the phases again, which brings the request back
 * here to act on it.
 */

static ngx_int_t
ngx_http_mi_handler(ngx_http_request_t *r)
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

        if (ngx_http_mi_target(r, &ctx->target) != NGX_OK
            || ngx_http_mi_headers_prepare(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (mlcf->validate) {
            rc = ngx_http_mi_validate(r, mlcf, ctx);

            if (rc == NGX_DONE) {
                /* the body is being read */
                return NGX_DONE;
            }

            ctx->verdict = rc;

        } else {
            ctx->route_name = ngx_http_mi_generic_route;
            ctx->verdict = NGX_OK;
        }
    }

    switch (ctx->verdict) {

    case NGX_OK:
        if (!ctx->signed_request) {
            if (ngx_http_mi_sign(r, mlcf, ctx) != NGX_OK) {
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


/* Signs the request and puts the view with the signing headers in place. */

static ngx_int_t
ngx_http_mi_sign(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    ngx_time_t            *tp;
    mi_sign_str_t          method, path, args, ts, ak;
    ngx_table_elt_t       *content_type;
    ngx_http_mi_target_t  *t;

    t = &ctx->target;

    /* the epoch in milliseconds: ngx_current_msec is monotonic, not epoch */

    tp = ngx_timeofday();

    if (tp->sec != ngx_http_mi_ts_sec || tp->msec != ngx_http_mi_ts_msec) {
        ngx_http_mi_ts_sec = tp->sec;
        ngx_http_mi_ts_msec = tp->msec;
        ngx_http_mi_ts_len = mi_sign_timestamp((uint64_t) tp->sec * 1000
                                               + tp->msec, ngx_http_mi_ts);
    }

    /* all of the buffer: a copy of known size is a few moves, not a call */

    ngx_memcpy(ctx->timestamp_buf, ngx_http_mi_ts, MI_TIMESTAMP_LEN);

    ctx->timestamp.data = ctx->timestamp_buf;
    ctx->timestamp.len = ngx_http_mi_ts_len;

    method.data = r->method_name.data;
    method.len = r->method_name.len;
    path.data = t->path.data;
    path.len = t->path.len;
    args.data = t->args.data;
    args.len = t->args.len;
    ts.data = ctx->timestamp.data;
    ts.len = ctx->timestamp.len;
    ak.data = mlcf->access_key.data;
    ak.len = mlcf->access_key.len;

    mi_sign_v2(mlcf->key->state, method, path, t->has_args, args, ts, ak,
               ctx->signature);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mi sign: \"%V %V%s%V\"", &r->method_name, &t->path,
                   t->has_args ? "?" : "", &t->args);

    if (ngx_http_mi_headers_add(ctx, NGX_HTTP_MI_TIMESTAMP_HEADER,
                                ctx->timestamp.data, ctx->timestamp.len)
        == NULL
        || ngx_http_mi_headers_add(ctx, NGX_HTTP_MI_ACCESS_KEY_HEADER,
                                   mlcf->access_key.data,
                                   mlcf->access_key.len)
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


/* $mi_timestamp, $mi_route, $mi_error_code: an ngx_str_t of the context. */

static ngx_int_t
ngx_http_mi_ctx_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t          *value;
    ngx_http_mi_ctx_t  *ctx;

    ctx = ngx_http_mi_ctx_last(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    value = (ngx_str_t *) ((u_char *) ctx + data);

    if (value->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = value->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = value->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mi_version_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    v->len = ngx_http_mi_version.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ngx_http_mi_version.data;

    return NGX_OK;
}


static char *
ngx_http_mi_sign_flag(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    mlcf->sign_file = cf->conf_file->file.name.data;
    mlcf->sign_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * "mi_access_key" and "mi_secret_key_file" are the two halves that
 * "mi_credentials_file" sets at once: a block holds one form or the other.
 */

static char *
ngx_http_mi_access_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    if (mlcf->credentials_file != NULL) {
        return ngx_http_mi_not_with_credentials(cf, cmd, mlcf);
    }

    return ngx_conf_set_str_slot(cf, cmd, conf);
}


static char *
ngx_http_mi_secret_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    ngx_http_mi_key_t  *key;

    if (mlcf->credentials_file != NULL) {
        return ngx_http_mi_not_with_credentials(cf, cmd, mlcf);
    }

    if (mlcf->key != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    key = ngx_http_mi_load_key(cf, cmd, ngx_http_mi_parse_secret, NULL);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    mlcf->key = key;

    return NGX_CONF_OK;
}


/*
 * mi_credentials_file PATH [profile=NAME]: the access key and the secret
 * from one file in the format of NCP's CLI, so that a rotation replaces
 * one file and a reload picks both up.
 */

static char *
ngx_http_mi_credentials_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    ngx_str_t                  *value;
    ngx_http_mi_key_t          *key;
    ngx_http_mi_credentials_t   cred;

    if (mlcf->credentials_file != NULL) {
        return "is duplicate";
    }

    if (mlcf->access_key.data != NULL || mlcf->key != NGX_CONF_UNSET_PTR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_file\" cannot be combined with "
                           "\"%s\" in the same block",
                           mlcf->access_key.data ? "mi_access_key"
                                                 : "mi_secret_key_file");
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    ngx_str_set(&cred.profile, "DEFAULT");

    if (cf->args->nelts == 3
        && ngx_http_mi_profile_arg(cf, &value[2], &cred.profile) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    key = ngx_http_mi_load_key(cf, cmd, ngx_http_mi_parse_credentials, &cred);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    mlcf->key = key;
    mlcf->access_key = cred.access_key;
    mlcf->credentials_file = cf->conf_file->file.name.data;
    mlcf->credentials_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* "profile=NAME": what a "[NAME]" line can hold, and a message can quote. */

static ngx_int_t
ngx_http_mi_profile_arg(ngx_conf_t *cf, ngx_str_t *arg, ngx_str_t *profile)
{
    u_char  *p, *last;

    if (arg->len <= sizeof("profile=") - 1
        || ngx_strncmp(arg->data, "profile=", sizeof("profile=") - 1) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_file\": invalid parameter "
                           "\"%V\", expected \"profile=NAME\"", arg);
        return NGX_ERROR;
    }

    profile->data = arg->data + sizeof("profile=") - 1;
    profile->len = arg->len - (sizeof("profile=") - 1);

    last = profile->data + profile->len;

    for (p = profile->data; p < last; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '[' || *p == ']') {
            break;
        }
    }

    if (p < last || profile->len > MI_CREDENTIALS_PROFILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_file\": invalid profile name "
                           "\"%V\": at most %d characters of printable "
                           "ASCII, without spaces, \"[\" or \"]\"",
                           profile, MI_CREDENTIALS_PROFILE_MAX);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_mi_not_with_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_mi_loc_conf_t *mlcf)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" cannot be combined with "
                       "\"mi_credentials_file\" (%s:%ui) in the same block",
                       &cmd->name, mlcf->credentials_file,
                       mlcf->credentials_line);

    return NGX_CONF_ERROR;
}


/*
 * The key of a key file directive (its first argument), read here, by the
 * master, at start and at every reload: only the HMAC key states derived
 * from the secret are kept, on pages of their own that core dumps leave
 * out, and wiped when the cycle that read them goes.
 */

static ngx_http_mi_key_t *
ngx_http_mi_load_key(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_mi_key_parse_pt parse, void *data)
{
    ngx_str_t           *value;
    ngx_pool_cleanup_t  *cln;
    ngx_http_mi_key_t   *key;

    value = cf->args->elts;

    key = ngx_pcalloc(cf->pool, sizeof(ngx_http_mi_key_t));
    if (key == NULL) {
        return NULL;
    }

    key->file = value[1];

    if (ngx_conf_full_name(cf->cycle, &key->file, 0) != NGX_OK) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_mi_wipe_key;
    cln->data = key;

    key->state = ngx_http_mi_alloc_key_pages(cf, &cmd->name);
    if (key->state == NULL) {
        return NULL;
    }

    if (ngx_http_mi_read_key_file(cf, &cmd->name, key, parse, data)
        != NGX_OK)
    {
        return NULL;
    }

    return key;
}


/*
 * Anonymous pages for one key's states: madvise(MADV_DONTDUMP) keeps them
 * out of core dumps of the master and of every worker forked from it.
 */

static mi_sign_key_t *
ngx_http_mi_alloc_key_pages(ngx_conf_t *cf, ngx_str_t *directive)
{
    void  *p;

    p = mmap(NULL, sizeof(mi_sign_key_t), PROT_READ|PROT_WRITE,
             MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": mmap() failed", directive);
        return NULL;
    }

#if (NGX_LINUX && defined MADV_DONTDUMP)

    if (madvise(p, sizeof(mi_sign_key_t), MADV_DONTDUMP) == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": madvise(MADV_DONTDUMP) failed",
                           directive);
        (void) munmap(p, sizeof(mi_sign_key_t));
        return NULL;
    }

#endif

    return p;
}


/*
 * Reads the key file into a buffer on the stack, has parse() set up the
 * key states from it, and wipes it.  Only a regular file is read, and
 * nothing here may block: a FIFO or a device named by mistake must fail
 * "nginx -t" or a reload at once, not hang the master.  stat() gives the
 * clear error; the file is then opened with O_NONBLOCK and checked again
 * on the descriptor, in case it was replaced in between.
 */

static ngx_int_t
ngx_http_mi_read_key_file(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_http_mi_key_t *key, ngx_http_mi_key_parse_pt parse, void *data)
{
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_uint_t        mode;
    ngx_file_info_t   fi;
    u_char            buf[NGX_HTTP_MI_SECRET_MAX + 1];

    if (ngx_file_info(key->file.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_file_info_n " \"%V\" failed",
                           directive, &key->file);
        return NGX_ERROR;
    }

    if (!ngx_is_file(&fi)) {
        return ngx_http_mi_not_regular(cf, directive, key);
    }

    fd = ngx_open_file(key->file.data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_open_file_n " \"%V\" failed",
                           directive, &key->file);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_fd_info_n " \"%V\" failed",
                           directive, &key->file);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        (void) ngx_http_mi_not_regular(cf, directive, key);
        goto done;
    }

    mode = ngx_file_access(&fi);

    if (mode & (S_IRWXG|S_IRWXO)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\": \"%V\" is accessible "
                           "by group or others (mode 0%ui%ui%ui), "
                           "use mode 0600", directive, &key->file,
                           (ngx_uint_t) (mode >> 6) & 7,
                           (ngx_uint_t) (mode >> 3) & 7,
                           (ngx_uint_t) mode & 7);
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": " ngx_read_fd_n " \"%V\" failed",
                           directive, &key->file);
        goto done;
    }

    if (n > NGX_HTTP_MI_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": \"%V\" is larger than %d bytes",
                           directive, &key->file, NGX_HTTP_MI_SECRET_MAX);
        goto done;
    }

    rc = parse(cf, key, buf, (size_t) n, data);

done:

    ngx_explicit_memzero(buf, sizeof(buf));

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &key->file);
    }

    return rc;
}


static ngx_int_t
ngx_http_mi_not_regular(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_http_mi_key_t *key)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": \"%V\" is not a regular file",
                       directive, &key->file);

    return NGX_ERROR;
}


/* mi_secret_key_file: the whole file is the secret. */

static ngx_int_t
ngx_http_mi_parse_secret(ngx_conf_t *cf, ngx_http_mi_key_t *key,
    u_char *text, size_t len, void *data)
{
    u_char  *start, *end;

    /* a trailing newline and surrounding whitespace are not the key */

    start = text;
    end = text + len;

    while (start < end && (*start == ' ' || *start == '\t'
                           || *start == '\r' || *start == '\n'))
    {
        start++;
    }

    while (end > start && (end[-1] == ' ' || end[-1] == '\t'
                           || end[-1] == '\r' || end[-1] == '\n'))
    {
        end--;
    }

    if (start == end) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_secret_key_file\": \"%V\" is empty",
                           &key->file);
        return NGX_ERROR;
    }

    mi_sign_key_init(key->state, start, end - start);
    mi_key_fingerprint(start, end - start, key->fingerprint);
    key->loaded = ngx_time();

    return NGX_OK;
}


/*
 * mi_credentials_file: one profile of an NCP CLI file.  The access key is
 * copied, as it is sent with every request; the secret only sets up the
 * key states, and stays in the caller's buffer, which is wiped.
 */

static ngx_int_t
ngx_http_mi_parse_credentials(ngx_conf_t *cf, ngx_http_mi_key_t *key,
    u_char *text, size_t len, void *data)
{
    ngx_http_mi_credentials_t  *cred = data;

    mi_credentials_t  cr;

    if (mi_credentials_parse(&cr, text, len, (char *) cred->profile.data,
                             cred->profile.len)
        != MI_CREDENTIALS_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_credentials_file\": \"%V\": %s",
                           &key->file, cr.message);
        return NGX_ERROR;
    }

    cred->access_key.len = cr.access_key_len;
    cred->access_key.data = ngx_pnalloc(cf->pool, cr.access_key_len);
    if (cred->access_key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(cred->access_key.data, cr.access_key, cr.access_key_len);

    mi_sign_key_init(key->state, cr.secret_key, cr.secret_key_len);
    mi_key_fingerprint(cr.secret_key, cr.secret_key_len, key->fingerprint);
    key->loaded = ngx_time();

    return NGX_OK;
}


static void
ngx_http_mi_wipe_key(void *data)
{
    ngx_http_mi_key_t  *key = data;

    if (key->state == NULL) {
        return;
    }

    mi_sign_key_wipe(key->state);

    (void) munmap(key->state, sizeof(mi_sign_key_t));

    key->state = NULL;
}


static char *
ngx_http_mi_param(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    ngx_str_t              *value;
    ngx_uint_t              i;
    ngx_http_mi_pattern_t  *p;

    value = cf->args->elts;

    for (i = 0; i < MI_PARAM_COUNT; i++) {
        if (ngx_strcmp(value[1].data, mi_param_name(i)) == 0) {
            break;
        }
    }

    if (i == MI_PARAM_COUNT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_param\": unknown parameter \"%V\", "
                           "known: workspace_name, project_id, asset_id, "
                           "index_id, scene_summary_id", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (mlcf->params[i] != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_param\": \"%V\" is duplicate", &value[1]);
        return NGX_CONF_ERROR;
    }

    p = ngx_palloc(cf->pool, sizeof(ngx_http_mi_pattern_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mi_compile(cf, p, &value[2], &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mlcf->params[i] = p;

    return NGX_CONF_OK;
}


/* The key is sent as a header value, as it is: visible ASCII only. */

static char *
ngx_http_mi_check_access_key(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *key = data;

    u_char  *p;

    if (key->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_access_key\" is empty");
        return NGX_CONF_ERROR;
    }

    for (p = key->data; p < key->data + key->len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mi_access_key\" has a character that "
                               "cannot be sent in a header, at position %uz",
                               (size_t) (p - key->data));
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* The count is kept in a uint32_t by the body checker. */

static char *
ngx_http_mi_check_max_scene_ids(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *n = data;

    ngx_str_t  *value;

    if (*n < 1 || *n > 0xffffffff) {
        value = cf->args->elts;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_max_scene_ids\" must be between 1 and "
                           "4294967295, not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mi_compile(ngx_conf_t *cf, ngx_http_mi_pattern_t *p,
    ngx_str_t *source, ngx_str_t *name)
{
    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_regex_compile_t  rc;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = *source;
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"mi_param\" \"%V\": %V",
                           name, &rc.err);
        return NGX_ERROR;
    }

    p->regex = rc.regex;
    p->source = *source;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mi_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_mi_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_mi_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mi_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mmcf->keys, cf->pool, 1,
                       sizeof(ngx_http_mi_key_use_t))
        != NGX_OK)
    {
        return NULL;
    }

    return mmcf;
}


/*
 * The default patterns are checked by the route matcher itself (mi_param),
 * with no regex: only their sources are kept, for the error messages.
 */

static char *
ngx_http_mi_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_mi_main_conf_t *mmcf = conf;

    ngx_uint_t  i;

    for (i = 0; i < MI_PARAM_COUNT; i++) {
        mmcf->params[i].regex = NULL;
        mmcf->params[i].source.data = (u_char *) mi_param_pattern(i);
        mmcf->params[i].source.len = ngx_strlen(mmcf->params[i].source.data);
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_mi_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_mi_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mi_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->access_key = { 0, NULL };
     *     conf->params[] = NULL;
     *     conf->patterns = 0;
     *     conf->sign_file = NULL;
     *     conf->sign_line = 0;
     *     conf->credentials_file = NULL;
     *     conf->credentials_line = 0;
     */

    conf->sign = NGX_CONF_UNSET;
    conf->key = NGX_CONF_UNSET_PTR;
    conf->validate = NGX_CONF_UNSET;
    conf->max_scene_ids = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_mi_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mi_loc_conf_t *prev = parent;
    ngx_http_mi_loc_conf_t *conf = child;

    ngx_uint_t                i;
    ngx_http_mi_main_conf_t  *mmcf;

    /* the module's own endpoints answer; they are never signed */

    if (conf->endpoint) {
        if (conf->sign == 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mi_sign on\" in %s:%ui and \"%V\" in one "
                               "location", conf->sign_file, conf->sign_line,
                               conf->endpoint);
            return NGX_CONF_ERROR;
        }

        conf->sign = 0;
    }

    /*
     * The pair read from a credentials file is inherited whole: a block
     * that set only one half of it would sign with an access key and a
     * secret that do not belong together.
     */

    if (conf->credentials_file == NULL && prev->credentials_file != NULL
        && (conf->access_key.data == NULL)
           != (conf->key == NGX_CONF_UNSET_PTR))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" without \"%s\" in a block that "
                           "inherits \"mi_credentials_file\" (%s:%ui): "
                           "set both, or neither",
                           conf->access_key.data ? "mi_access_key"
                                                 : "mi_secret_key_file",
                           conf->access_key.data ? "mi_secret_key_file"
                                                 : "mi_access_key",
                           prev->credentials_file, prev->credentials_line);
        return NGX_CONF_ERROR;
    }

    if (conf->credentials_file == NULL && conf->access_key.data == NULL
        && conf->key == NGX_CONF_UNSET_PTR)
    {
        conf->credentials_file = prev->credentials_file;
        conf->credentials_line = prev->credentials_line;
    }

    ngx_conf_merge_value(conf->sign, prev->sign, 0);
    ngx_conf_merge_str_value(conf->access_key, prev->access_key, "");
    ngx_conf_merge_ptr_value(conf->key, prev->key, NULL);
    ngx_conf_merge_value(conf->validate, prev->validate, 1);
    ngx_conf_merge_uint_value(conf->max_scene_ids, prev->max_scene_ids,
                              MI_BODY_DEFAULT_MAX_SCENE_IDS);

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    for (i = 0; i < MI_PARAM_COUNT; i++) {
        if (conf->params[i] == NULL) {
            conf->params[i] = prev->params[i] ? prev->params[i]
                                              : &mmcf->params[i];
        }

        if (conf->params[i]->regex != NULL) {
            conf->patterns++;
        }
    }

    if (conf->sign_file == NULL) {
        conf->sign_file = prev->sign_file;
        conf->sign_line = prev->sign_line;
    }

    if (!conf->sign) {
        return NGX_CONF_OK;
    }

    if (conf->access_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_sign on\" in %s:%ui has no "
                           "\"mi_access_key\" in scope",
                           conf->sign_file, conf->sign_line);
        return NGX_CONF_ERROR;
    }

    if (conf->key == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_sign on\" in %s:%ui has no "
                           "\"mi_secret_key_file\" in scope",
                           conf->sign_file, conf->sign_line);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mi_key_in_use(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mi_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /*
     * Handlers of a phase run in the reverse order of their registration,
     * and this module registers after nginx's own: the rewrite handler
     * restores the client's headers before any other module reads or adds
     * to them, and the precontent handler signs before mirror copies the
     * request into subrequests (whose rewrite phase restores them again).
     */

    /* a redirect enters at the server's rewrites, a named location at its */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_SERVER_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mi_rewrite_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mi_rewrite_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mi_handler;

    if (ngx_http_mi_metrics_init(cf) != NGX_OK
        || ngx_http_mi_request_id_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_mi_headers_init();

    if (ngx_http_mi_body_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_mi_error_filter_init(cf);
}


/*
 * At start and at every reload: which module, for which nginx and OpenSSL,
 * and which keys.
 */

static ngx_int_t
ngx_http_mi_init_module(ngx_cycle_t *cycle)
{
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "ngx_http_mi_module/" NGX_HTTP_MI_VERSION
                  " (nginx/" NGINX_VERSION ", %s)",
                  OpenSSL_version(OPENSSL_VERSION));

    ngx_http_mi_log_keys(cycle);

    return NGX_OK;
}
