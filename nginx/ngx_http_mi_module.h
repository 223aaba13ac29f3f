
/*
 * ngx_http_mi_module: what the module's nginx files share.  Where each
 * piece lives (docs/design.md has the request's path through them):
 *
 *   ../ngx_http_mi_module.c  directives, configuration, postconfiguration
 *   ngx_http_mi_handler.c    the request path: the rewrite and precontent
 *                            phase handlers, the request-target, signing
 *   ngx_http_mi_ctx.c        a request's context, found after a redirect
 *   ngx_http_mi_validate.c   route, parameter and header checks
 *   ngx_http_mi_policy.c     who calls (mi_caller), and what it may call
 *                            (mi_allow)
 *   ngx_http_mi_deprecation.c the index-scoped routes NCP removes
 *                            (mi_index_routes)
 *   ngx_http_mi_body.c       the request body: read, filtered, checked
 *   ngx_http_mi_headers.c    the request headers the upstream sees
 *   ngx_http_mi_keys.c       the key directives, key files, keys in use
 *   ngx_http_mi_role.c       Server Role keys: fetched by the workers from
 *                            the metadata service, kept in a shared zone
 *   ngx_http_mi_error.c      JSON errors, nginx's error pages replaced
 *   ngx_http_mi_endpoint.c   what mi_metrics and mi_health share
 *   ngx_http_mi_metrics.c    the counters' shared zone, counted at the log
 *                            phase
 *   ngx_http_mi_prometheus.c the counters in Prometheus's format (mi_metrics)
 *   ngx_http_mi_health.c     the readiness rule and its JSON (mi_health)
 *   ngx_http_mi_variables.c  the $mi_ variables
 *   ngx_http_mi_request_id.c $mi_request_id
 *   ngx_http_mi_log.c        why the upstream refused a signed request
 *   ngx_http_mi_refusal.c    which refusal: a 401's errorCode, read from
 *                            its body for the readiness rule
 *   ngx_http_mi_resolve.c    mi_resolve: an upstream balancer that finds
 *                            the API's name again while nginx runs
 */

#ifndef _NGX_HTTP_MI_MODULE_H_INCLUDED_
#define _NGX_HTTP_MI_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "mi_body.h"
#include "mi_credentials.h"
#include "mi_prom.h"
#include "mi_refusal.h"
#include "mi_role.h"
#include "mi_route.h"
#include "mi_sign.h"
#include "mi_utf8.h"


/* debian/changelog's version: config gives it to the compiler */
#ifndef NGX_HTTP_MI_VERSION
#error "NGX_HTTP_MI_VERSION is not defined: build with the module's config"
#endif

#define NGX_HTTP_MI_MESSAGE_MAX    512

/*
 * The readiness rule: this many authentication failures in a row make the
 * gateway degraded, for this many seconds after the last of them.
 */
#define NGX_HTTP_MI_AUTH_FAILURES  3
#define NGX_HTTP_MI_HEALTH_WINDOW  60


/* The codes of the JSON errors: the module's refusals, then nginx's own. */
typedef enum {
    NGX_HTTP_MI_ROUTE_NOT_FOUND = 0,
    NGX_HTTP_MI_METHOD_NOT_ALLOWED,
    NGX_HTTP_MI_INVALID_PATH_PARAMETER,
    NGX_HTTP_MI_UNSUPPORTED_MEDIA_TYPE,
    NGX_HTTP_MI_INVALID_JSON,
    NGX_HTTP_MI_INVALID_BODY,
    NGX_HTTP_MI_BODY_TOO_LARGE,
    NGX_HTTP_MI_BODY_UNAVAILABLE,
    NGX_HTTP_MI_CREDENTIALS_UNAVAILABLE,
    NGX_HTTP_MI_CALLER_UNKNOWN,
    NGX_HTTP_MI_CALLER_NOT_ALLOWED,
    NGX_HTTP_MI_FULL_ANALYSIS_NOT_ALLOWED,
    NGX_HTTP_MI_ROUTE_REMOVED,

    NGX_HTTP_MI_BAD_REQUEST,
    NGX_HTTP_MI_UNAUTHORIZED,
    NGX_HTTP_MI_FORBIDDEN,
    NGX_HTTP_MI_NOT_FOUND,
    NGX_HTTP_MI_REQUEST_TIMEOUT,
    NGX_HTTP_MI_URI_TOO_LONG,
    NGX_HTTP_MI_RATE_LIMITED,
    NGX_HTTP_MI_HEADERS_TOO_LARGE,
    NGX_HTTP_MI_INTERNAL_ERROR,
    NGX_HTTP_MI_NOT_IMPLEMENTED,
    NGX_HTTP_MI_UPSTREAM_UNAVAILABLE,
    NGX_HTTP_MI_SERVICE_UNAVAILABLE,
    NGX_HTTP_MI_UPSTREAM_TIMEOUT,
    NGX_HTTP_MI_GATEWAY_ERROR,

    NGX_HTTP_MI_ERROR_COUNT                 /* not a code: how many */
} ngx_http_mi_error_e;


/* The request headers the module adds. */
typedef enum {
    NGX_HTTP_MI_TIMESTAMP_HEADER = 0,
    NGX_HTTP_MI_ACCESS_KEY_HEADER,
    NGX_HTTP_MI_SIGNATURE_HEADER,
    NGX_HTTP_MI_CONTENT_TYPE_HEADER
} ngx_http_mi_header_e;


typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   code;
} ngx_http_mi_error_t;


typedef struct {
    ngx_regex_t                *regex;      /* NULL: the default, mi_param */
    ngx_str_t                   source;
} ngx_http_mi_pattern_t;


/* Where a key comes from, as mi_health and mi_metrics name it. */
typedef enum {
    NGX_HTTP_MI_SOURCE_STATIC = 0,  /* mi_access_key, mi_secret_key_file */
    NGX_HTTP_MI_SOURCE_FILE,        /* mi_credentials_file */
    NGX_HTTP_MI_SOURCE_ENV,         /* mi_credentials_env */
    NGX_HTTP_MI_SOURCE_SERVER_ROLE  /* mi_server_role */
} ngx_http_mi_source_e;


/* nginx names no 410 */
#define NGX_HTTP_MI_GONE              410

/* mi_index_routes */
#define NGX_HTTP_MI_INDEX_ON          1
#define NGX_HTTP_MI_INDEX_DEPRECATED  2
#define NGX_HTTP_MI_INDEX_OFF         3


/* The longest caller name, and the label of a request without one. */
#define NGX_HTTP_MI_CALLER_MAX     128
#define NGX_HTTP_MI_NO_CALLER      "-"

/*
 * The "caller" label's values: "-" (no identity), "other" (a caller no
 * mi_allow line names), then the callers of the mi_allow lines, the text
 * of a regex line included, at most this long.
 */
#define NGX_HTTP_MI_LABEL_MAX      256
#define NGX_HTTP_MI_LABEL_NONE     0
#define NGX_HTTP_MI_LABEL_OTHER    1


/* A workspace of an "mi_allow" line: a name, a prefix or a regex. */
typedef struct {
    ngx_str_t                   name;
    ngx_regex_t                *regex;
    ngx_uint_t                  prefix;     /* the name ended with '*' */
} ngx_http_mi_workspace_t;


/* One "mi_allow" line. */
typedef struct {
    ngx_str_t                   caller;     /* a name, or a regex's text */
    ngx_regex_t                *regex;      /* NULL: caller is a name */
    ngx_uint_t                  routes;     /* bits: 1 << route index, and
                                               1 << MI_ROUTE_COUNT for
                                               "generic" */
    ngx_array_t                *workspaces; /* NULL: any, even none */
    ngx_flag_t                  full_analysis;
    ngx_uint_t                  label;      /* in the main conf's labels */
} ngx_http_mi_allow_t;


typedef struct {
    mi_sign_key_t              *state;      /* on pages of its own */
    ngx_http_mi_source_e        source;
    ngx_str_t                   file;
    u_char                      fingerprint[MI_FINGERPRINT_LEN];
    time_t                      loaded;     /* when the master read it */
} ngx_http_mi_key_t;


/* An access key id and a secret that some signing location uses. */
typedef struct {
    ngx_str_t                   access_key;
    ngx_http_mi_key_t          *key;
} ngx_http_mi_key_use_t;


#define NGX_HTTP_MI_ROLE_NAME_MAX  128

/* A Server Role key as the zone holds it: the secret's states, not it. */
typedef struct {
    time_t                      expires;    /* 0: no key */
    time_t                      fetched;
    size_t                      access_key_len;
    u_char                      access_key[MI_ROLE_ACCESS_KEY_MAX];
    size_t                      role_len;
    u_char                      role[NGX_HTTP_MI_ROLE_NAME_MAX];
    u_char                      fingerprint[MI_FINGERPRINT_LEN];
    mi_sign_key_t               state;
} ngx_http_mi_role_key_t;


/* The Server Role's key as mi_health and mi_metrics show it: no secret. */
typedef struct {
    size_t                      access_key_len;
    u_char                      access_key[MI_ROLE_ACCESS_KEY_MAX];
    size_t                      role_len;
    u_char                      role[NGX_HTTP_MI_ROLE_NAME_MAX];
    u_char                      fingerprint[MI_FINGERPRINT_LEN];
    time_t                      expires;    /* 0: no key */
    time_t                      last_refresh;   /* 0: none yet */
    ngx_uint_t                  last_result;
    ngx_atomic_uint_t           refreshes[2];   /* succeeded, failed */
    ngx_uint_t                  ready;
} ngx_http_mi_role_state_t;


#define NGX_HTTP_MI_ROLE_NONE    0
#define NGX_HTTP_MI_ROLE_OK      1
#define NGX_HTTP_MI_ROLE_FAILED  2

/* The Server Role zone (ngx_http_mi_role.c says who writes what). */
typedef struct {
    ngx_atomic_t                seq;        /* odd while key is written */
    ngx_atomic_t                lease;      /* until when (s); 0: free */
    ngx_atomic_t                lease_pid;  /* the last holder */
    ngx_http_mi_role_key_t      key;

    ngx_shmtx_t                *mutex;      /* the zone's: of the writers */
    uint64_t                    renew_at;   /* epoch ms of the next try */
    ngx_uint_t                  failures;   /* in a row */
    time_t                      last_refresh;
    ngx_uint_t                  last_result;    /* NGX_HTTP_MI_ROLE_ */
    ngx_atomic_t                refreshes[2];   /* succeeded, failed */
    uint32_t                    id;         /* of the role and service */
} ngx_http_mi_role_shm_t;


/* mi_server_role */
typedef struct {
    ngx_str_t                   name;       /* empty: the service's */
    ngx_str_t                   metadata;   /* the URL, for the logs */
    ngx_url_t                   url;
    time_t                      refresh;
    ngx_msec_t                  timeout;
    uint32_t                    id;
    ngx_shm_zone_t             *zone;
    ngx_http_mi_role_shm_t     *shm;
} ngx_http_mi_role_conf_t;


typedef struct {
    ngx_http_mi_pattern_t       params[MI_PARAM_COUNT];
    ngx_array_t                 keys;       /* of ngx_http_mi_key_use_t */
    ngx_http_mi_role_conf_t    *role;       /* NULL: no mi_server_role */

    ngx_shm_zone_t             *metrics;    /* NULL: nothing is counted */
    ngx_uint_t                  metrics_wanted;  /* mi_metrics, mi_health */
    uint32_t                    keys_id;    /* a hash of the keys in use */
    ngx_int_t                   request_id_index;
    ngx_int_t                   status_index;

    ngx_array_t                 resolves;   /* of mi_resolve's, by pointer */
    ngx_int_t                   caller_index;

    ngx_array_t                 labels;     /* of ngx_str_t: "caller" */
    void                      **slots;      /* each label's counts */
} ngx_http_mi_main_conf_t;


/* What the upstream answered lately, for the readiness rule. */
typedef struct {
    time_t                      last_success;       /* 0: none yet */
    time_t                      last_auth_failure;  /* 0: none yet */
    ngx_uint_t                  auth_failures;      /* in a row, with
                                                       these keys */
} ngx_http_mi_upstream_health_t;


typedef struct {
    ngx_flag_t                  sign;
    ngx_str_t                   access_key;
    ngx_http_mi_key_t          *key;
    ngx_http_mi_role_conf_t    *role;       /* signs with the role's key */

    ngx_flag_t                  validate;
    ngx_uint_t                  max_scene_ids;
    ngx_http_mi_pattern_t      *params[MI_PARAM_COUNT];
    ngx_uint_t                  patterns;   /* of params[], set by mi_param */

    /* where "mi_sign on" was set, for errors found at merge time */
    u_char                     *sign_file;
    ngx_uint_t                  sign_line;

    ngx_str_t                  *endpoint;   /* "mi_metrics", "mi_health":
                                               never signed */

    ngx_http_complex_value_t   *caller;     /* mi_caller */
    ngx_array_t                *allow;      /* of ngx_http_mi_allow_t */
    u_char                     *allow_file; /* where the first mi_allow is */
    ngx_uint_t                  allow_line;

    ngx_uint_t                  index_routes;   /* NGX_HTTP_MI_INDEX_* */
    time_t                      deprecation;
    time_t                      sunset;

    /* where "mi_credentials_file" set access_key and key, as one pair */
    u_char                     *credentials_file;
    ngx_uint_t                  credentials_line;
} ngx_http_mi_loc_conf_t;


typedef struct {
    ngx_str_t                   path;       /* request-target before '?' */
    ngx_str_t                   args;       /* after '?' */
    ngx_uint_t                  has_args;   /* a '?' is sent, maybe empty */
} ngx_http_mi_target_t;


/* The client's headers while a view of them is in place. */
typedef struct {
    ngx_list_t                  headers;
    ngx_http_request_t         *request;    /* r->main */
    ngx_table_elt_t            *content_type;
    ngx_table_elt_t            *authorization;
#if (nginx_version >= 1023000)
    ngx_table_elt_t            *cookie;
#else
    ngx_uint_t                  cookies;    /* r->headers_in.cookies.nelts */
#endif
#if (nginx_version >= 1029008)
    ngx_table_elt_t            *proxy_authorization;
#endif
} ngx_http_mi_headers_t;


/* the signing headers and a Content-Type */
#define NGX_HTTP_MI_ADDED_HEADERS  4


typedef struct ngx_http_mi_ctx_s  ngx_http_mi_ctx_t;

/*
 * A request's context, with everything the module keeps for the request:
 * the data of a cleanup of r->pool (ngx_http_mi_ctx.c), zeroed whole.
 */
struct ngx_http_mi_ctx_s {
    ngx_int_t                   verdict;    /* of the checks, acted upon */
    const mi_route_t           *route;
    ngx_str_t                   route_name;
    ngx_str_t                   error_code;
    ngx_http_mi_error_e         error;
    ngx_uint_t                  caller_label;
    ngx_str_t                   message;    /* why the request is refused */
    time_t                      retry_after;    /* 0: no Retry-After */
    ngx_buf_t                  *error_body; /* replaces nginx's error page */
    ngx_http_mi_headers_t      *headers;
    ngx_uint_t                  content_types;
    ngx_str_t                  *content_type_alias;  /* "Content_Type" */
    ngx_str_t                   timestamp;
    ngx_str_t                   caller;     /* "-": no identity */
    ngx_str_t                   workspace;  /* as validated; empty: none */
    time_t                      deprecation;    /* of a deprecated route */
    time_t                      sunset;
    mi_body_check_t            *body;       /* fed by the body filter */
    ngx_http_request_t         *request;
    unsigned                    signed_request:1;
    unsigned                    error_body_sent:1;
    unsigned                    body_seen:1;    /* the filter saw it all */
    unsigned                    refusal_read:1; /* the upstream's 401 body */
    unsigned                    scene_ids:1;    /* the body named some */
    unsigned                    partial_only:1; /* a full analysis is
                                                   refused */
    unsigned                    deprecated:1;   /* an index route, told
                                                   so */

    ngx_http_mi_target_t        target;
    ngx_http_mi_headers_t       record;     /* where headers is, if new */
    ngx_list_t                  view;       /* what the upstream will see */
    u_char                      timestamp_buf[MI_TIMESTAMP_LEN];
    u_char                      signature[MI_SIGNATURE_LEN];
    ngx_list_part_t             own;        /* the view's last part */
    ngx_table_elt_t             added[NGX_HTTP_MI_ADDED_HEADERS];
    mi_body_check_t             body_check; /* where body is */
    mi_refusal_t                refusal;    /* of the upstream's 401 */
};


/* ngx_http_mi_handler.c */
ngx_int_t ngx_http_mi_rewrite_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_mi_precontent_handler(ngx_http_request_t *r);

/* ngx_http_mi_ctx.c */
ngx_http_mi_ctx_t *ngx_http_mi_ctx_create(ngx_http_request_t *r);
ngx_http_mi_ctx_t *ngx_http_mi_get_module_ctx(ngx_http_request_t *r);

/* ngx_http_mi_validate.c */
ngx_int_t ngx_http_mi_validate(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);
ngx_int_t ngx_http_mi_check_content_type(ngx_http_request_t *r);

/* ngx_http_mi_policy.c */
char *ngx_http_mi_allow(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_mi_merge_policy(ngx_conf_t *cf, ngx_http_mi_loc_conf_t *prev,
    ngx_http_mi_loc_conf_t *conf);
ngx_int_t ngx_http_mi_caller(ngx_http_request_t *r, ngx_http_mi_ctx_t *ctx);
ngx_uint_t ngx_http_mi_caller_valid(ngx_str_t *name);
ngx_int_t ngx_http_mi_check_policy(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);
ngx_int_t ngx_http_mi_check_full_analysis(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx);

/* ngx_http_mi_deprecation.c */
const mi_route_t *ngx_http_mi_successor(const mi_route_t *route);
ngx_int_t ngx_http_mi_check_index_route(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);
ngx_int_t ngx_http_mi_deprecation_filter_init(ngx_conf_t *cf);

/* ngx_http_mi_body.c */
ngx_int_t ngx_http_mi_body_available(ngx_http_request_t *r);
ngx_int_t ngx_http_mi_body_read(ngx_http_request_t *r,
    ngx_http_mi_loc_conf_t *mlcf, ngx_http_mi_ctx_t *ctx);
ngx_int_t ngx_http_mi_body_filter_init(ngx_conf_t *cf);

/* ngx_http_mi_headers.c */
ngx_int_t ngx_http_mi_headers_prepare(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx);
ngx_table_elt_t *ngx_http_mi_headers_add(ngx_http_mi_ctx_t *ctx,
    ngx_http_mi_header_e header, u_char *value, size_t len);
void ngx_http_mi_headers_install(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx, ngx_table_elt_t *content_type);
ngx_int_t ngx_http_mi_headers_restore(ngx_http_request_t *r);
void ngx_http_mi_headers_init(void);

/* ngx_http_mi_keys.c */
char *ngx_http_mi_access_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mi_secret_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mi_credentials_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mi_credentials_env(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mi_key_in_use(ngx_conf_t *cf,
    ngx_http_mi_loc_conf_t *mlcf);
uint32_t ngx_http_mi_keys_id(ngx_http_mi_main_conf_t *mmcf);
void ngx_http_mi_log_keys(ngx_cycle_t *cycle);

/* ngx_http_mi_role.c */
char *ngx_http_mi_server_role(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mi_role_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_mi_role_key(ngx_http_mi_role_conf_t *rcf,
    ngx_http_mi_role_key_t *key, time_t *retry);
void ngx_http_mi_role_state(ngx_http_mi_role_conf_t *rcf,
    ngx_http_mi_role_state_t *st);

/* ngx_http_mi_error.c */
ngx_int_t ngx_http_mi_reject(ngx_http_request_t *r,
    ngx_http_mi_error_e error, const char *fmt, ...);
ngx_int_t ngx_http_mi_send_error(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx);
ngx_int_t ngx_http_mi_error_filter_init(ngx_conf_t *cf);
ngx_str_t *ngx_http_mi_error_code(ngx_http_mi_error_e error);

/* ngx_http_mi_endpoint.c */
ngx_int_t ngx_http_mi_endpoint_start(ngx_http_request_t *r);
ngx_int_t ngx_http_mi_send_text(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);

/* ngx_http_mi_metrics.c */
size_t ngx_http_mi_metrics_min_size(ngx_uint_t labels);
ngx_int_t ngx_http_mi_metrics_add_zone(ngx_conf_t *cf,
    ngx_http_mi_main_conf_t *mmcf, ngx_str_t *name, size_t size);
ngx_int_t ngx_http_mi_metrics_init(ngx_conf_t *cf);
void ngx_http_mi_metrics_upstream(ngx_http_request_t *r,
    ngx_http_mi_upstream_health_t *uh);

/* ngx_http_mi_prometheus.c */
ngx_int_t ngx_http_mi_metrics_handler(ngx_http_request_t *r);

/* ngx_http_mi_health.c */
ngx_int_t ngx_http_mi_health_handler(ngx_http_request_t *r);
ngx_uint_t ngx_http_mi_ready(ngx_http_request_t *r,
    ngx_http_mi_upstream_health_t *uh);

/* ngx_http_mi_variables.c */
ngx_int_t ngx_http_mi_variables_add(ngx_conf_t *cf);
ngx_int_t ngx_http_mi_variables_init(ngx_conf_t *cf);

/* ngx_http_mi_request_id.c */
ngx_int_t ngx_http_mi_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_mi_request_id_init(ngx_conf_t *cf);
void ngx_http_mi_request_id_init_process(void);

/* ngx_http_mi_log.c */
void ngx_http_mi_log_upstream_refusal(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx, ngx_http_mi_loc_conf_t *mlcf);

/* ngx_http_mi_refusal.c */
void ngx_http_mi_upstream_refused(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx, ngx_http_mi_loc_conf_t *mlcf);
ngx_int_t ngx_http_mi_refusal_filter_init(ngx_conf_t *cf);

/* ngx_http_mi_resolve.c */
char *ngx_http_mi_resolve(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_mi_resolve_init_process(ngx_cycle_t *cycle);


extern ngx_conf_post_t  ngx_http_mi_access_key_post;
extern ngx_module_t  ngx_http_mi_module;
extern ngx_str_t     ngx_http_mi_json_type;
extern ngx_str_t     ngx_http_mi_sources[];


#endif /* _NGX_HTTP_MI_MODULE_H_INCLUDED_ */
