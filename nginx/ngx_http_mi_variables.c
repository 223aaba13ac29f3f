
/*
 * ngx_http_mi_module: the $mi_ variables.  $mi_timestamp, $mi_route and
 * $mi_error_code read the context of the last signing location the request
 * was in (so that a request redirected out of one is logged as what the
 * module made of it); $mi_version is the module's; $mi_request_id is
 * ngx_http_mi_request_id.c's.  $mi_status and $mi_utf8_NAME are for the
 * JSON access log: a number where $status may be "000", and another
 * variable's value made valid UTF-8, which escape=json alone does not do.
 */

#include "ngx_http_mi_module.h"

#if (NGX_HTTP_SSL)
#include <openssl/x509v3.h>
#endif


static ngx_int_t ngx_http_mi_ctx_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mi_route_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mi_version_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mi_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mi_caller_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mi_utf8_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_mi_ssl_san_uri_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
#endif


static ngx_http_variable_t  ngx_http_mi_vars[] = {

    { ngx_string("mi_timestamp"), NULL, ngx_http_mi_ctx_variable,
      offsetof(ngx_http_mi_ctx_t, timestamp), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mi_route"), NULL, ngx_http_mi_route_variable,
      offsetof(ngx_http_mi_ctx_t, route_name), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mi_error_code"), NULL, ngx_http_mi_ctx_variable,
      offsetof(ngx_http_mi_ctx_t, error_code), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mi_version"), NULL, ngx_http_mi_version_variable,
      0, 0, 0 },

    { ngx_string("mi_request_id"), NULL, ngx_http_mi_request_id_variable,
      0, 0, 0 },

    { ngx_string("mi_status"), NULL, ngx_http_mi_status_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mi_caller"), NULL, ngx_http_mi_caller_variable,
      0, 0, 0 },

#if (NGX_HTTP_SSL)

    { ngx_string("mi_ssl_client_san_uri"), NULL,
      ngx_http_mi_ssl_san_uri_variable, 0, 0, 0 },

#endif

    { ngx_string("mi_utf8_"), NULL, ngx_http_mi_utf8_variable,
      0, NGX_HTTP_VAR_PREFIX|NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_mi_version = ngx_string(NGX_HTTP_MI_VERSION);
static ngx_str_t  ngx_http_mi_utf8_prefix = ngx_string("mi_utf8_");


/* $mi_timestamp, $mi_error_code: an ngx_str_t of the context. */

static ngx_int_t
ngx_http_mi_ctx_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t          *value;
    ngx_http_mi_ctx_t  *ctx;

    ctx = ngx_http_mi_get_module_ctx(r);

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



/*
 * $mi_route: the route's name, "none" in a signing location whose request
 * matched no route (as the metrics label it), empty outside one.
 */

static ngx_int_t
ngx_http_mi_route_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mi_ctx_t  *ctx;

    static ngx_str_t  none = ngx_string("none");

    ctx = ngx_http_mi_get_module_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ctx->route_name.len) {
        v->len = ctx->route_name.len;
        v->data = ctx->route_name.data;

    } else {
        v->len = none.len;
        v->data = none.data;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

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


/*
 * $mi_status: $status without the zeros nginx pads it with, so a JSON
 * number: 0 where $status is "000" (no status was set: the client went
 * away first), 9 where it is "009" (an HTTP/0.9 answer, which has none).
 */

static ngx_int_t
ngx_http_mi_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                     *p, *last;
    ngx_http_mi_main_conf_t    *mmcf;
    ngx_http_variable_value_t  *status;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);

    status = ngx_http_get_indexed_variable(r, mmcf->status_index);

    if (status == NULL) {
        return NGX_ERROR;
    }

    if (status->not_found || status->len == 0) {
        p = (u_char *) "0";
        last = p + 1;

    } else {
        p = status->data;
        last = p + status->len;

        while (p < last - 1 && *p == '0') {
            p++;
        }
    }

    v->len = last - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/*
 * $mi_caller: the value of "mi_caller" if it is a caller's name, else "-"
 * (no identity).  Cacheable: the first evaluation is kept for the request,
 * redirects included; the signing location makes it before the header
 * view hides the headers it may come from.
 */

static ngx_int_t
ngx_http_mi_caller_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                caller;
    ngx_http_mi_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mi_module);

    ngx_str_set(&caller, NGX_HTTP_MI_NO_CALLER);

    if (mlcf->caller) {
        if (ngx_http_complex_value(r, mlcf->caller, &caller) != NGX_OK) {
            return NGX_ERROR;
        }

        if (!ngx_http_mi_caller_valid(&caller)) {
            ngx_str_set(&caller, NGX_HTTP_MI_NO_CALLER);
        }
    }

    v->len = caller.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = caller.data;

    return NGX_OK;
}


#if (NGX_HTTP_SSL)

/*
 * $mi_ssl_client_san_uri: the URI subject alternative names of the client
 * certificate, in their order, separated by a space (a URI has none).
 * Whether the certificate was verified is $ssl_client_verify's to say:
 * an identity is only what a verified certificate names.  Not found
 * without a certificate or without a URI name.
 */

static ngx_int_t
ngx_http_mi_ssl_san_uri_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    int              i, n;
    u_char          *p;
    size_t           len;
    X509            *cert;
    GENERAL_NAME    *name;
    GENERAL_NAMES   *names;
    const u_char    *uri;

    v->not_found = 1;

    if (r->connection->ssl == NULL) {
        return NGX_OK;
    }

    cert = SSL_get_peer_certificate(r->connection->ssl->connection);
    if (cert == NULL) {
        return NGX_OK;
    }

    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

    X509_free(cert);

    if (names == NULL) {
        return NGX_OK;
    }

    n = sk_GENERAL_NAME_num(names);
    len = 0;

    for (i = 0; i < n; i++) {
        name = sk_GENERAL_NAME_value(names, i);

        if (name->type == GEN_URI) {
            len += ASN1_STRING_length(name->d.uniformResourceIdentifier) + 1;
        }
    }

    if (len == 0) {
        GENERAL_NAMES_free(names);
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        GENERAL_NAMES_free(names);
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; i < n; i++) {
        name = sk_GENERAL_NAME_value(names, i);

        if (name->type != GEN_URI) {
            continue;
        }

        if (p != v->data) {
            *p++ = ' ';
        }

        uri = ASN1_STRING_get0_data(name->d.uniformResourceIdentifier);
        p = ngx_cpymem(p, uri,
                       ASN1_STRING_length(name->d.uniformResourceIdentifier));
    }

    GENERAL_NAMES_free(names);

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}

#endif


/*
 * $mi_utf8_NAME: the value of $NAME with each byte that is not part of a
 * valid UTF-8 character replaced by U+FFFD (mi_utf8.h); escape=json then
 * makes any value a valid JSON string.  Not found where $NAME is not.
 */

static ngx_int_t
ngx_http_mi_utf8_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    u_char                     *p;
    size_t                      len;
    ngx_str_t                   source;
    ngx_http_variable_value_t  *value;

    source.len = name->len - ngx_http_mi_utf8_prefix.len;
    source.data = name->data + ngx_http_mi_utf8_prefix.len;

    value = ngx_http_get_variable(r, &source,
                                  ngx_hash_key(source.data, source.len));

    if (value == NULL) {
        return NGX_ERROR;
    }

    if (value->not_found || !value->valid) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = mi_utf8_repair(NULL, value->data, value->len);

    if (len == value->len) {
        p = value->data;

    } else {
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        (void) mi_utf8_repair(p, value->data, value->len);
    }

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}



/* Preconfiguration: the variables exist before the configuration is read. */

ngx_int_t
ngx_http_mi_variables_add(ngx_conf_t *cf)
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


/*
 * Postconfiguration: $status for $mi_status, and the variable each
 * $mi_utf8_NAME in the configuration reads, so that nginx refuses to start
 * with an unknown NAME ('unknown "NAME" variable'), as it does with any
 * unknown variable.
 */

ngx_int_t
ngx_http_mi_variables_init(ngx_conf_t *cf)
{
    ngx_str_t                   name, status = ngx_string("status");
    ngx_str_t                   caller = ngx_string("mi_caller");
    ngx_uint_t                  i;
    ngx_http_variable_t        *v;
    ngx_http_mi_main_conf_t    *mmcf;
    ngx_http_core_main_conf_t  *cmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    mmcf->status_index = ngx_http_get_variable_index(cf, &status);

    if (mmcf->status_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    mmcf->caller_index = ngx_http_get_variable_index(cf, &caller);

    if (mmcf->caller_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* the names added here join the array, which may move: read it anew */

    for (i = 0; i < cmcf->variables.nelts; i++) {
        v = cmcf->variables.elts;
        name = v[i].name;

        if (name.len < ngx_http_mi_utf8_prefix.len
            || ngx_strncmp(name.data, ngx_http_mi_utf8_prefix.data,
                           ngx_http_mi_utf8_prefix.len)
               != 0)
        {
            continue;
        }

        name.len -= ngx_http_mi_utf8_prefix.len;
        name.data += ngx_http_mi_utf8_prefix.len;

        if (name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"$%V\" names no variable",
                               &ngx_http_mi_utf8_prefix);
            return NGX_ERROR;
        }

        if (ngx_http_get_variable_index(cf, &name) == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
