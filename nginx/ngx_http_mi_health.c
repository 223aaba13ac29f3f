
/*
 * ngx_http_mi_module: readiness.  "mi_health" answers whether this gateway
 * can sign calls the API accepts, from what it already knows: its keys
 * (the configuration) and what the upstream answered lately (the metrics
 * zone).  It never calls the API itself.
 */

#include "ngx_http_mi_module.h"


#define NGX_HTTP_MI_ISO8601_LEN  (sizeof("1970-01-01T00:00:00Z") - 1)


static u_char *ngx_http_mi_write_string(u_char *p, ngx_str_t *s);
static u_char *ngx_http_mi_write_age(u_char *p, time_t when);


static ngx_str_t  ngx_http_mi_health_status[] = {
    ngx_string("degraded"),
    ngx_string("ok")
};


/*
 * The rule, as docs/ngx_http_mi_module.md states it: ready when at least
 * one location signs (nginx refuses a configuration where one lacks its
 * access key or secret), unless the upstream's last answers about these
 * keys were NGX_HTTP_MI_AUTH_FAILURES authentication failures or more in
 * a row, the last of them within the window.  Only the API Gateway's
 * errorCode "200" counts, which no client can ask for; a success ends the
 * run, and a configuration with other keys starts afresh.  The window lets
 * a gateway that a load balancer took out of rotation be tried again.
 */

ngx_uint_t
ngx_http_mi_ready(ngx_http_request_t *r, ngx_http_mi_upstream_health_t *uh)
{
    ngx_http_mi_main_conf_t  *mmcf;

    ngx_http_mi_metrics_upstream(r, uh);

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);

    if (mmcf->keys.nelts == 0) {
        return 0;
    }

    return uh->auth_failures < NGX_HTTP_MI_AUTH_FAILURES
           || ngx_time() - uh->last_auth_failure >= NGX_HTTP_MI_HEALTH_WINDOW;
}


/*
 * {"status":"ok","version":"X.Y.Z","keys":[{"location_key":"/etc/...",
 * "access_key":"AK...","fingerprint":"1a2b3c4d","loaded_at":
 * "2026-10-01T12:00:00Z"}],"upstream":{"last_success_age_seconds":3,
 * "consecutive_authentication_failures":0,
 * "last_authentication_failure_age_seconds":null}}, with 200 when ready
 * and 503 when not.
 */

ngx_int_t
ngx_http_mi_health_handler(ngx_http_request_t *r)
{
    u_char                         *p;
    size_t                          size;
    ngx_tm_t                        tm;
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, ready;
    ngx_http_mi_key_use_t          *use;
    ngx_http_mi_main_conf_t        *mmcf;
    ngx_http_mi_upstream_health_t   uh;

    rc = ngx_http_mi_endpoint_start(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);
    use = mmcf->keys.elts;

    ready = ngx_http_mi_ready(r, &uh);

    size = sizeof("{\"status\":\"degraded\",\"version\":\"\",\"keys\":[],"
                  "\"upstream\":{\"last_success_age_seconds\":,"
                  "\"consecutive_authentication_failures\":,"
                  "\"last_authentication_failure_age_seconds\":}}\n")
           + sizeof(NGX_HTTP_MI_VERSION) + 3 * NGX_TIME_T_LEN;

    for (i = 0; i < mmcf->keys.nelts; i++) {
        size += sizeof("{\"location_key\":\"\",\"access_key\":\"\","
                       "\"fingerprint\":\"\",\"loaded_at\":\"\"},")
                + 2 * (use[i].key->file.len + use[i].access_key.len)
                + MI_FINGERPRINT_LEN + NGX_HTTP_MI_ISO8601_LEN;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"status\":\"%V\",\"version\":\""
                    NGX_HTTP_MI_VERSION "\",\"keys\":[",
                    &ngx_http_mi_health_status[ready]);

    for (i = 0; i < mmcf->keys.nelts; i++) {
        ngx_gmtime(use[i].key->loaded, &tm);

        p = ngx_sprintf(p, "{\"location_key\":");
        p = ngx_http_mi_write_string(p, &use[i].key->file);
        p = ngx_sprintf(p, ",\"access_key\":");
        p = ngx_http_mi_write_string(p, &use[i].access_key);
        p = ngx_sprintf(p, ",\"fingerprint\":\"%*s\","
                        "\"loaded_at\":\"%4d-%02d-%02dT%02d:%02d:%02dZ\"}%s",
                        (size_t) MI_FINGERPRINT_LEN, use[i].key->fingerprint,
                        tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                        tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                        i + 1 < mmcf->keys.nelts ? "," : "");
    }

    p = ngx_sprintf(p, "],\"upstream\":{\"last_success_age_seconds\":");
    p = ngx_http_mi_write_age(p, uh.last_success);
    p = ngx_sprintf(p, ",\"consecutive_authentication_failures\":%ui,"
                    "\"last_authentication_failure_age_seconds\":",
                    uh.auth_failures);
    p = ngx_http_mi_write_age(p, uh.last_auth_failure);

    b->last = ngx_sprintf(p, "}}\n");

    return ngx_http_mi_send_text(r, ready ? NGX_HTTP_OK
                                          : NGX_HTTP_SERVICE_UNAVAILABLE,
                                 &ngx_http_mi_json_type, b);
}


/* A JSON string: mi_prom_quote's output is one, printable ASCII only. */

static u_char *
ngx_http_mi_write_string(u_char *p, ngx_str_t *s)
{
    *p++ = '"';
    p += mi_prom_quote(p, s->data, s->len);
    *p++ = '"';

    return p;
}


/* Seconds since when, or null for never (0). */

static u_char *
ngx_http_mi_write_age(u_char *p, time_t when)
{
    if (when == 0) {
        return ngx_sprintf(p, "null");
    }

    return ngx_sprintf(p, "%T", ngx_max(ngx_time() - when, 0));
}
