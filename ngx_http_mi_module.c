
/*
 * ngx_http_mi_module: signs requests for the NAVER Cloud Platform Media
 * Intelligence API (NCP API Gateway signature v2), so that proxy_pass
 * forwards them with credentials that only this nginx holds.
 *
 * This file is the module's table of contents, all of it configuration:
 * the directives, the configuration's create and merge, and the
 * postconfiguration that puts the handlers and filters of nginx/ in their
 * places.  nginx/ngx_http_mi_module.h lists where each piece lives; the
 * pure steps (route table, body checker, signature v2, credentials file)
 * live in src/.
 */

#include "ngx_http_mi_module.h"

#include <openssl/crypto.h>


static char *ngx_http_mi_sign_flag(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mi_param(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mi_check_max_scene_ids(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_mi_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mi_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_mi_compile(ngx_conf_t *cf,
    ngx_http_mi_pattern_t *p, ngx_str_t *source, ngx_str_t *name);

static ngx_int_t ngx_http_mi_preconfiguration(ngx_conf_t *cf);
static void *ngx_http_mi_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_mi_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_mi_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mi_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_mi_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_mi_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_mi_init_process(ngx_cycle_t *cycle);


static char *ngx_http_mi_date(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_post_t  ngx_http_mi_max_scene_ids_post = {
    ngx_http_mi_check_max_scene_ids
};


static ngx_conf_enum_t  ngx_http_mi_index_routes[] = {
    { ngx_string("on"), NGX_HTTP_MI_INDEX_ON },
    { ngx_string("deprecated"), NGX_HTTP_MI_INDEX_DEPRECATED },
    { ngx_string("off"), NGX_HTTP_MI_INDEX_OFF },
    { ngx_null_string, 0 }
};


/*
 * The index routes' dates: the removal NCP announced for January 2027,
 * and the deprecation as the API reference of October 2026 records it.
 */
#define NGX_HTTP_MI_SUNSET       1798761600     /* 2027-01-01T00:00:00Z */
#define NGX_HTTP_MI_DEPRECATION  1790812800     /* 2026-10-01T00:00:00Z */


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

    { ngx_string("mi_credentials_env"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mi_credentials_env,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mi_server_role"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_ANY,
      ngx_http_mi_server_role,
      NGX_HTTP_MAIN_CONF_OFFSET,
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

    { ngx_string("mi_caller"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mi_loc_conf_t, caller),
      NULL },

    { ngx_string("mi_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mi_allow,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mi_index_routes"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mi_loc_conf_t, index_routes),
      &ngx_http_mi_index_routes },

    { ngx_string("mi_index_routes_sunset"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mi_date,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mi_loc_conf_t, sunset),
      NULL },

    { ngx_string("mi_index_routes_deprecation"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mi_date,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mi_loc_conf_t, deprecation),
      NULL },

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

    { ngx_string("mi_resolve"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE12,
      ngx_http_mi_resolve,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mi_module_ctx = {
    ngx_http_mi_preconfiguration,          /* preconfiguration */
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
    ngx_http_mi_init_process,              /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};




ngx_str_t  ngx_http_mi_json_type = ngx_string("application/json");



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


/* An HTTP-date, as Sunset has it: "Fri, 01 Jan 2027 00:00:00 GMT". */

static char *
ngx_http_mi_date(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    time_t     *t;
    ngx_str_t  *value;

    t = (time_t *) (p + cmd->offset);

    if (*t != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    *t = ngx_parse_http_time(value[1].data, value[1].len);

    if (*t == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": \"%V\" is not an HTTP-date, such as "
                           "\"Fri, 01 Jan 2027 00:00:00 GMT\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
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


/* mi_metrics_zone NAME SIZE */

static char *
ngx_http_mi_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_main_conf_t *mmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (mmcf->metrics) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_metrics_zone\": the zone name is empty");
        return NGX_CONF_ERROR;
    }

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_metrics_zone\": invalid size \"%V\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    /* the callers' labels are counted once the configuration is read */

    if ((size_t) size < ngx_http_mi_metrics_min_size(2)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_metrics_zone\": size \"%V\" is too small, "
                           "at least %uzk", &value[2],
                           ngx_http_mi_metrics_min_size(2) / 1024);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mi_metrics_add_zone(cf, mmcf, &value[1], size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * "mi_metrics" and "mi_health": the location answers with the handler in
 * cmd->post, and the metrics zone is needed.
 */

static char *
ngx_http_mi_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_mi_main_conf_t   *mmcf;

    if (mlcf->endpoint) {
        if (mlcf->endpoint == &cmd->name) {
            return "is duplicate";
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" and \"%V\" in one location",
                           mlcf->endpoint, &cmd->name);
        return NGX_CONF_ERROR;
    }

    mlcf->endpoint = &cmd->name;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (ngx_http_handler_pt) cmd->post;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);
    mmcf->metrics_wanted = 1;

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


/*
 * Before the configuration is read: the pure code's static tables (a key
 * read by a directive is fingerprinted at once) and the variables.
 */

static ngx_int_t
ngx_http_mi_preconfiguration(ngx_conf_t *cf)
{
    mi_sign_init();
    mi_route_init();
    mi_body_tables_init();

    return ngx_http_mi_variables_add(cf);
}


static void *
ngx_http_mi_create_main_conf(ngx_conf_t *cf)
{
    ngx_str_t                *label;
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

    /* the labels every configuration has: NGX_HTTP_MI_LABEL_NONE, _OTHER */

    if (ngx_array_init(&mmcf->labels, cf->pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NULL;
    }

    label = ngx_array_push_n(&mmcf->labels, 2);
    if (label == NULL) {
        return NULL;
    }

    ngx_str_set(&label[NGX_HTTP_MI_LABEL_NONE], NGX_HTTP_MI_NO_CALLER);
    ngx_str_set(&label[NGX_HTTP_MI_LABEL_OTHER], "other");

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
     *     conf->role = NULL;
     *     conf->allow_file = NULL;
     *     conf->allow_line = 0;
     */

    conf->sign = NGX_CONF_UNSET;
    conf->key = NGX_CONF_UNSET_PTR;
    conf->validate = NGX_CONF_UNSET;
    conf->max_scene_ids = NGX_CONF_UNSET_UINT;
    conf->caller = NGX_CONF_UNSET_PTR;
    conf->allow = NGX_CONF_UNSET_PTR;
    conf->index_routes = NGX_CONF_UNSET_UINT;
    conf->deprecation = NGX_CONF_UNSET;
    conf->sunset = NGX_CONF_UNSET;

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

    if (ngx_http_mi_merge_policy(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_uint_value(conf->index_routes, prev->index_routes,
                              NGX_HTTP_MI_INDEX_DEPRECATED);
    ngx_conf_merge_value(conf->deprecation, prev->deprecation,
                         NGX_HTTP_MI_DEPRECATION);
    ngx_conf_merge_value(conf->sunset, prev->sunset, NGX_HTTP_MI_SUNSET);

    if (conf->sign_file == NULL) {
        conf->sign_file = prev->sign_file;
        conf->sign_line = prev->sign_line;
    }

    if (!conf->sign) {
        return NGX_CONF_OK;
    }

    /* a block's own keys, then the Server Role's */

    if (conf->access_key.len == 0 && conf->key == NULL
        && mmcf->role != NULL)
    {
        conf->role = mmcf->role;
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

    /* the hour between two deprecation warnings is kept in the zone */

    if (conf->validate && conf->index_routes == NGX_HTTP_MI_INDEX_DEPRECATED) {
        mmcf->metrics_wanted = 1;
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

    *h = ngx_http_mi_precontent_handler;

    if (ngx_http_mi_metrics_init(cf) != NGX_OK
        || ngx_http_mi_request_id_init(cf) != NGX_OK
        || ngx_http_mi_variables_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_mi_headers_init();

    if (ngx_http_mi_body_filter_init(cf) != NGX_OK
        || ngx_http_mi_refusal_filter_init(cf) != NGX_OK
        || ngx_http_mi_deprecation_filter_init(cf) != NGX_OK)
    {
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


/*
 * Each worker finds the names of its mi_resolve upstreams and watches the
 * Server Role's key for renewal.
 */

static ngx_int_t
ngx_http_mi_init_process(ngx_cycle_t *cycle)
{
    ngx_http_mi_request_id_init_process();

    if (ngx_http_mi_resolve_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_mi_role_init_process(cycle);
}
