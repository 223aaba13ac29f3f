
/*
 * ngx_http_mi_module: who calls, and what it may call.  "mi_caller" names
 * the caller from any variable, once a request ($mi_caller); "mi_allow"
 * lines say which callers may call which routes in which workspaces, the
 * first line that matches deciding.  The check comes after the route and
 * its parameters are known, before the body is read; only a line that
 * refuses a full analysis needs the body, and then only its sceneIds.
 */

#include "ngx_http_mi_module.h"


#define NGX_HTTP_MI_ROUTE_BIT_GENERIC   (1 << MI_ROUTE_COUNT)
#define NGX_HTTP_MI_ROUTE_BITS_ALL                                            \
    ((1 << (MI_ROUTE_COUNT + 1)) - 1)


static char *ngx_http_mi_allow_routes(ngx_conf_t *cf,
    ngx_http_mi_allow_t *line, ngx_str_t *value);
static ngx_uint_t ngx_http_mi_route_pattern(u_char *p, size_t len);
static ngx_uint_t ngx_http_mi_name_part(const char *part, size_t part_len,
    u_char *pattern, size_t len);
static char *ngx_http_mi_allow_workspaces(ngx_conf_t *cf,
    ngx_http_mi_allow_t *line, ngx_str_t *value);
static ngx_regex_t *ngx_http_mi_allow_regex(ngx_conf_t *cf,
    ngx_str_t *pattern);
static ngx_int_t ngx_http_mi_regex_match(ngx_http_request_t *r,
    ngx_regex_t *re, ngx_str_t *s);
static ngx_uint_t ngx_http_mi_label(ngx_conf_t *cf, ngx_str_t *caller);
static ngx_uint_t ngx_http_mi_caller_label(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_str_t *caller);
static ngx_int_t ngx_http_mi_allow_match(ngx_http_request_t *r,
    ngx_http_mi_allow_t *line, ngx_uint_t route, ngx_http_mi_ctx_t *ctx);


static ngx_str_t  ngx_http_mi_no_caller = ngx_string(NGX_HTTP_MI_NO_CALLER);


/*
 * mi_allow CALLER [route=LIST] [workspace=LIST|~REGEX]
 *          [full_analysis=on|off]
 */

char *
ngx_http_mi_allow(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_loc_conf_t *mlcf = conf;

    char                 *rv;
    ngx_str_t            *value, opt;
    ngx_uint_t            i, seen;
    ngx_http_mi_allow_t  *line;

    value = cf->args->elts;

    if (mlcf->allow == NGX_CONF_UNSET_PTR) {
        mlcf->allow = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_mi_allow_t));
        if (mlcf->allow == NULL) {
            return NGX_CONF_ERROR;
        }

        mlcf->allow_file = cf->conf_file->file.name.data;
        mlcf->allow_line = cf->conf_file->line;
    }

    line = ngx_array_push(mlcf->allow);
    if (line == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(line, sizeof(ngx_http_mi_allow_t));

    line->routes = NGX_HTTP_MI_ROUTE_BITS_ALL;
    line->full_analysis = 1;

    if (value[1].len > 1 && value[1].data[0] == '~') {

        /* the text is the metrics' label: printable ASCII, as names are */

        for (i = 1; i < value[1].len; i++) {
            if (value[1].data[i] <= 0x20 || value[1].data[i] >= 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"mi_allow\": the regex \"%V\" has a "
                                   "byte that is not printable ASCII",
                                   &value[1]);
                return NGX_CONF_ERROR;
            }
        }

        opt.data = value[1].data + 1;
        opt.len = value[1].len - 1;

        line->regex = ngx_http_mi_allow_regex(cf, &opt);
        if (line->regex == NULL) {
            return NGX_CONF_ERROR;
        }

    } else if (!ngx_http_mi_caller_valid(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_allow\": \"%V\" is not a caller name "
                           "(1-%d bytes of A-Z a-z 0-9 . _ ~ : / @ + -) "
                           "nor a \"~regex\"", &value[1],
                           NGX_HTTP_MI_CALLER_MAX);
        return NGX_CONF_ERROR;
    }

    if (value[1].len > NGX_HTTP_MI_LABEL_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_allow\": \"%V\" is longer than %d bytes",
                           &value[1], NGX_HTTP_MI_LABEL_MAX);
        return NGX_CONF_ERROR;
    }

    line->caller = value[1];

    line->label = ngx_http_mi_label(cf, &value[1]);
    if (line->label == (ngx_uint_t) NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    seen = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "route=", 6) == 0) {
            if (seen & 1) {
                goto duplicate;
            }

            seen |= 1;

            opt.data = value[i].data + 6;
            opt.len = value[i].len - 6;

            rv = ngx_http_mi_allow_routes(cf, line, &opt);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "workspace=", 10) == 0) {
            if (seen & 2) {
                goto duplicate;
            }

            seen |= 2;

            opt.data = value[i].data + 10;
            opt.len = value[i].len - 10;

            rv = ngx_http_mi_allow_workspaces(cf, line, &opt);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "full_analysis=", 14) == 0) {
            if (seen & 4) {
                goto duplicate;
            }

            seen |= 4;

            if (ngx_strcmp(value[i].data + 14, "on") == 0) {
                line->full_analysis = 1;

            } else if (ngx_strcmp(value[i].data + 14, "off") == 0) {
                line->full_analysis = 0;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"mi_allow\": \"%V\": on or off",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_allow\": unknown parameter \"%V\", known: "
                           "route=, workspace=, full_analysis=", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"mi_allow\": \"%V\" is duplicate", &value[i]);
    return NGX_CONF_ERROR;
}


/*
 * The "caller" label of a line: its caller as written (a regex with its
 * '~'), one label for every line that has the same text.
 */

static ngx_uint_t
ngx_http_mi_label(ngx_conf_t *cf, ngx_str_t *caller)
{
    ngx_str_t                *label;
    ngx_uint_t                i;
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    label = mmcf->labels.elts;

    for (i = 0; i < mmcf->labels.nelts; i++) {
        if (label[i].len == caller->len
            && ngx_strncmp(label[i].data, caller->data, caller->len) == 0)
        {
            return i;
        }
    }

    label = ngx_array_push(&mmcf->labels);
    if (label == NULL) {
        return NGX_ERROR;
    }

    *label = *caller;

    return mmcf->labels.nelts - 1;
}


/*
 * route=NAME,... : names as $mi_route has them, "*" on either side of the
 * dot ("*.status", "asset.*"), "*" alone for every route, "generic" for
 * mi_validate off.  A name that no route has is a mistake: refused.
 */

static char *
ngx_http_mi_allow_routes(ngx_conf_t *cf, ngx_http_mi_allow_t *line,
    ngx_str_t *value)
{
    u_char      *p, *last, *comma;
    ngx_uint_t   bits, routes;

    routes = 0;

    p = value->data;
    last = p + value->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        bits = (comma > p) ? ngx_http_mi_route_pattern(p, comma - p) : 0;

        if (bits == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mi_allow\": unknown route \"%*s\" in "
                               "\"route=%V\", known: index.request, "
                               "index.result, index.status, index.cancel, "
                               "asset.request, asset.result, asset.status, "
                               "asset.cancel, generic, and \"*\" on either "
                               "side of the dot", comma - p, p, value);
            return NGX_CONF_ERROR;
        }

        routes |= bits;

        if (comma == last) {
            break;
        }

        p = comma + 1;
    }

    line->routes = routes;

    return NGX_CONF_OK;
}


/* The routes a pattern names, as bits; 0 for none. */

static ngx_uint_t
ngx_http_mi_route_pattern(u_char *p, size_t len)
{
    u_char      *dot;
    size_t       prefix_len;
    ngx_uint_t   i, bits;
    const char  *name, *suffix;

    if (len == 1 && *p == '*') {
        return NGX_HTTP_MI_ROUTE_BITS_ALL;
    }

    if (len == sizeof("generic") - 1
        && ngx_strncmp(p, "generic", len) == 0)
    {
        return NGX_HTTP_MI_ROUTE_BIT_GENERIC;
    }

    dot = ngx_strlchr(p, p + len, '.');

    if (dot == NULL) {
        return 0;
    }

    bits = 0;

    for (i = 0; i < MI_ROUTE_COUNT; i++) {
        name = mi_routes[i].name;
        suffix = strchr(name, '.');
        prefix_len = suffix - name;
        suffix++;

        if (ngx_http_mi_name_part(name, prefix_len, p, dot - p)
            && ngx_http_mi_name_part(suffix, ngx_strlen(suffix), dot + 1,
                                     p + len - dot - 1))
        {
            bits |= (ngx_uint_t) 1 << i;
        }
    }

    return bits;
}


static ngx_uint_t
ngx_http_mi_name_part(const char *part, size_t part_len, u_char *pattern,
    size_t len)
{
    if (len == 1 && *pattern == '*') {
        return 1;
    }

    return len == part_len && ngx_strncmp(pattern, part, len) == 0;
}


/*
 * workspace=NAME,... : names as the path has them once validated, each
 * one exact or, ending with '*', a prefix; or workspace=~REGEX alone.
 */

static char *
ngx_http_mi_allow_workspaces(ngx_conf_t *cf, ngx_http_mi_allow_t *line,
    ngx_str_t *value)
{
    u_char                   *p, *last, *comma;
    ngx_str_t                 re;
    ngx_http_mi_workspace_t  *ws;

    line->workspaces = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_mi_workspace_t));
    if (line->workspaces == NULL) {
        return NGX_CONF_ERROR;
    }

    if (value->len > 1 && value->data[0] == '~') {
        ws = ngx_array_push(line->workspaces);
        if (ws == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(ws, sizeof(ngx_http_mi_workspace_t));

        re.data = value->data + 1;
        re.len = value->len - 1;

        ws->name = re;
        ws->regex = ngx_http_mi_allow_regex(cf, &re);

        return ws->regex ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    p = value->data;
    last = p + value->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        if (comma == p || ngx_strlchr(p, comma - 1, '*') != NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mi_allow\": invalid workspace \"%*s\" in "
                               "\"workspace=%V\": a name, a name ending "
                               "with \"*\", or \"~regex\" alone",
                               comma - p, p, value);
            return NGX_CONF_ERROR;
        }

        ws = ngx_array_push(line->workspaces);
        if (ws == NULL) {
            return NGX_CONF_ERROR;
        }

        ws->regex = NULL;
        ws->name.data = p;
        ws->name.len = comma - p;
        ws->prefix = (comma[-1] == '*');

        if (ws->prefix) {
            ws->name.len--;
        }

        if (comma == last) {
            break;
        }

        p = comma + 1;
    }

    return NGX_CONF_OK;
}


static ngx_regex_t *
ngx_http_mi_allow_regex(ngx_conf_t *cf, ngx_str_t *pattern)
{
    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_regex_compile_t  rc;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = *pattern;
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"mi_allow\" \"%V\": %V",
                           pattern, &rc.err);
        return NULL;
    }

    return rc.regex;
}


/*
 * A level with "mi_allow" lines of its own replaces the outer level's; one
 * without inherits them.  Lines need a caller to judge.
 */

char *
ngx_http_mi_merge_policy(ngx_conf_t *cf, ngx_http_mi_loc_conf_t *prev,
    ngx_http_mi_loc_conf_t *conf)
{
    ngx_conf_merge_ptr_value(conf->caller, prev->caller, NULL);
    ngx_conf_merge_ptr_value(conf->allow, prev->allow, NULL);

    if (conf->allow_file == NULL) {
        conf->allow_file = prev->allow_file;
        conf->allow_line = prev->allow_line;
    }

    if (conf->allow != NULL && conf->caller == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_allow\" in %s:%ui has no \"mi_caller\" in "
                           "scope", conf->allow_file, conf->allow_line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* 1 to 128 bytes of A-Z a-z 0-9 . _ ~ : / @ + -, and not "-" alone. */

ngx_uint_t
ngx_http_mi_caller_valid(ngx_str_t *name)
{
    u_char  *p, *last, c;

    if (name->len == 0 || name->len > NGX_HTTP_MI_CALLER_MAX
        || (name->len == 1 && name->data[0] == '-'))
    {
        return 0;
    }

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        c = *p;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            continue;
        }

        switch (c) {
        case '.': case '_': case '~': case ':': case '/': case '@':
        case '+': case '-':
            continue;
        }

        return 0;
    }

    return 1;
}


/*
 * The caller's name, kept in the context: $mi_caller, evaluated once for
 * the request before the header view hides what it was made from.
 */

ngx_int_t
ngx_http_mi_caller(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx)
{
    ngx_http_mi_main_conf_t    *mmcf;
    ngx_http_variable_value_t  *v;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);

    v = ngx_http_get_indexed_variable(r, mmcf->caller_index);

    if (v == NULL) {
        return NGX_ERROR;
    }

    ctx->caller.data = v->data;
    ctx->caller.len = v->len;

    ctx->caller_label = ngx_http_mi_caller_label(r,
                           ngx_http_get_module_loc_conf(r, ngx_http_mi_module),
                           &ctx->caller);

    return NGX_OK;
}


/*
 * The caller's label in the metrics, bounded by the configuration: the
 * first mi_allow line whose caller matches, whatever the route, gives it;
 * "other" when none does, "-" without identity.
 */

static ngx_uint_t
ngx_http_mi_caller_label(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_str_t *caller)
{
    ngx_uint_t            i;
    ngx_http_mi_allow_t  *line;

    if (caller->len == ngx_http_mi_no_caller.len
        && ngx_strncmp(caller->data, ngx_http_mi_no_caller.data,
                       caller->len)
           == 0)
    {
        return NGX_HTTP_MI_LABEL_NONE;
    }

    if (mlcf->allow == NULL) {
        return NGX_HTTP_MI_LABEL_OTHER;
    }

    line = mlcf->allow->elts;

    for (i = 0; i < mlcf->allow->nelts; i++) {

        if (line[i].regex) {
            if (ngx_regex_exec(line[i].regex, caller, NULL, 0) >= 0) {
                return line[i].label;
            }

            continue;
        }

        if (line[i].caller.len == caller->len
            && ngx_strncmp(line[i].caller.data, caller->data, caller->len)
               == 0)
        {
            return line[i].label;
        }
    }

    return NGX_HTTP_MI_LABEL_OTHER;
}


/*
 * The policy, if the location has one: the first line whose caller, route
 * and workspace match decides.  NGX_OK, NGX_DECLINED (refused, recorded)
 * or an error status.
 */

ngx_int_t
ngx_http_mi_check_policy(ngx_http_request_t *r, ngx_http_mi_loc_conf_t *mlcf,
    ngx_http_mi_ctx_t *ctx)
{
    ngx_int_t             rc;
    ngx_str_t             workspace;
    ngx_uint_t            i, route;
    ngx_http_mi_allow_t  *line;

    if (mlcf->allow == NULL) {
        return NGX_OK;
    }

    if (ctx->caller.len == ngx_http_mi_no_caller.len
        && ngx_strncmp(ctx->caller.data, ngx_http_mi_no_caller.data,
                       ctx->caller.len)
           == 0)
    {
        return ngx_http_mi_reject(r, NGX_HTTP_MI_CALLER_UNKNOWN,
                                  "no caller identity: this gateway "
                                  "serves only known callers");
    }

    route = ctx->route ? (ngx_uint_t) (ctx->route - mi_routes)
                       : MI_ROUTE_COUNT;

    line = mlcf->allow->elts;

    for (i = 0; i < mlcf->allow->nelts; i++) {
        rc = ngx_http_mi_allow_match(r, &line[i], route, ctx);

        if (rc == NGX_DECLINED) {
            continue;
        }

        if (rc != NGX_OK) {
            return rc;
        }

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mi allow: \"%V\" by line %ui (\"%V\")",
                       &ctx->caller, i + 1, &line[i].caller);

        if (line[i].full_analysis
            || ctx->route == NULL || ctx->route->body == MI_ROUTE_NO_BODY)
        {
            return NGX_OK;
        }

        /* no body at all is a full analysis: known before reading it */

        if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
            return ngx_http_mi_check_full_analysis(r, ctx);
        }

        ctx->partial_only = 1;

        return NGX_OK;
    }

    if (ctx->workspace.len) {
        workspace = ctx->workspace;

    } else {
        ngx_str_set(&workspace, "(none)");
    }

    return ngx_http_mi_reject(r, NGX_HTTP_MI_CALLER_NOT_ALLOWED,
                              "caller \"%V\" may not call %V in "
                              "workspace %V", &ctx->caller,
                              &ctx->route_name, &workspace);
}


/* Once the body is checked: a full analysis, if no sceneIds were given. */

ngx_int_t
ngx_http_mi_check_full_analysis(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx)
{
    if (ctx->scene_ids) {
        return NGX_OK;
    }

    return ngx_http_mi_reject(r, NGX_HTTP_MI_FULL_ANALYSIS_NOT_ALLOWED,
                              "caller \"%V\" may not ask %V for a full "
                              "analysis: send the sceneIds to analyse",
                              &ctx->caller, &ctx->route_name);
}


/* NGX_OK: the line matches; NGX_DECLINED: it does not; or an error status. */

static ngx_int_t
ngx_http_mi_allow_match(ngx_http_request_t *r, ngx_http_mi_allow_t *line,
    ngx_uint_t route, ngx_http_mi_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_http_mi_workspace_t  *ws;

    if (!(line->routes & ((ngx_uint_t) 1 << route))) {
        return NGX_DECLINED;
    }

    if (line->regex) {
        rc = ngx_http_mi_regex_match(r, line->regex, &ctx->caller);
        if (rc != NGX_OK) {
            return rc;
        }

    } else if (line->caller.len != ctx->caller.len
               || ngx_strncmp(line->caller.data, ctx->caller.data,
                              ctx->caller.len)
                  != 0)
    {
        return NGX_DECLINED;
    }

    if (line->workspaces == NULL) {
        return NGX_OK;
    }

    /* a generic request names no workspace: only a line without any */

    if (ctx->workspace.len == 0) {
        return NGX_DECLINED;
    }

    ws = line->workspaces->elts;

    for (i = 0; i < line->workspaces->nelts; i++) {

        if (ws[i].regex) {
            return ngx_http_mi_regex_match(r, ws[i].regex, &ctx->workspace);
        }

        if (ws[i].prefix ? ctx->workspace.len >= ws[i].name.len
                         : ctx->workspace.len == ws[i].name.len)
        {
            if (ngx_strncmp(ctx->workspace.data, ws[i].name.data,
                            ws[i].name.len)
                == 0)
            {
                return NGX_OK;
            }
        }
    }

    return NGX_DECLINED;
}


/* As nginx's "~" everywhere: a match anywhere in s, unless anchored. */

static ngx_int_t
ngx_http_mi_regex_match(ngx_http_request_t *r, ngx_regex_t *re,
    ngx_str_t *s)
{
    ngx_int_t  rc;

    rc = ngx_regex_exec(re, s, NULL, 0);

    if (rc == NGX_REGEX_NO_MATCHED) {
        return NGX_DECLINED;
    }

    if (rc < 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      ngx_regex_exec_n " failed: %i on \"%V\"", rc, s);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}
