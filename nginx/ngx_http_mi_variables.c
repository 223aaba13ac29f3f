
/*
 * ngx_http_mi_module: the $mi_ variables.  $mi_timestamp, $mi_route and
 * $mi_error_code read the context of the last signing location the request
 * was in (so that a request redirected out of one is logged as what the
 * module made of it); $mi_version is the module's; $mi_request_id is
 * ngx_http_mi_request_id.c's.
 */

#include "ngx_http_mi_module.h"


static ngx_int_t ngx_http_mi_ctx_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mi_version_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


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


static ngx_str_t  ngx_http_mi_version = ngx_string(NGX_HTTP_MI_VERSION);


/* $mi_timestamp, $mi_route, $mi_error_code: an ngx_str_t of the context. */

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
