
/*
 * ngx_http_mi_module: readiness.  "mi_health" answers whether this gateway
 * can sign calls the API accepts, from what it already knows: its keys
 * (the configuration, and the Server Role's zone) and what the upstream
 * answered lately (the metrics zone).  It never calls the API itself.
 */

#include "ngx_http_mi_module.h"


#define NGX_HTTP_MI_ISO8601_LEN  (sizeof("1970-01-01T00:00:00Z") - 1)


static u_char *ngx_http_mi_write_string(u_char *p, ngx_str_t *s);
static u_char *ngx_http_mi_write_age(u_char *p, time_t when);
static u_char *ngx_http_mi_write_time(u_char *p, time_t when);


static ngx_str_t  ngx_http_mi_health_status[] = {
    ngx_string("degraded"),
    ngx_string("ok")
};


/*
 * The rule, as docs/ngx_http_mi_module.md states it: ready when at least
 * one location signs (nginx refuses a configuration where one lacks its
 * access key or secret) and the Server Role, if any, has a key that is not
 * about to expire unrenewed (ngx_http_mi_role_state), unless the
 * upstream's last answers about these keys were
 * NGX_HTTP_MI_AUTH_FAILURES authentication failures or more in a row, the last of them within the window.  Only the API Gateway's
 * errorCode "200" counts, which no client can ask for; a success ends the
 * run, and a configuration with other keys starts afresh.  The window lets
 * a gateway that a load balancer took out of rotation be tried again.
 */

ngx_uint_t
ngx_http_mi_ready(ngx_http_request_t *r, ngx_http_mi_upstream_health_t *uh)
{
    ngx_http_mi_main_conf_t   *mmcf;
    ngx_http_mi_role_state_t   st;

    ngx_http_mi_metrics_upstream(r, uh);

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);

    if (mmcf->keys.nelts == 0 && mmcf->role == NULL) {
        return 0;
    }

    if (mmcf->role) {
        ngx_http_mi_role_state(mmcf->role, &st);

        if (!st.ready) {
            return 0;
        }
    }

    return uh->auth_failures < NGX_HTTP_MI_AUTH_FAILURES
           || ngx_time() - uh->last_auth_failure >= NGX_HTTP_MI_HEALTH_WINDOW;
}


/*
 * {"status":"ok","version":"X.Y.Z","keys":[{"source":"file",
 * "location_key":"/etc/...","access_key":"AK...","fingerprint":"1a2b3c4d",
 * "loaded_at":"2026-10-01T12:00:00Z","expires_at":null,"last_refresh_at":
 * "2026-10-01T12:00:00Z","last_refresh_result":"success"},{"source":
 * "server_role","role":"...","access_key":"...","fingerprint":"...",
 * "expires_at":"...","last_refresh_at":"...","last_refresh_result":
 * "failure"}],"upstream":{"last_success_age_seconds":3,
 * "consecutive_authentication_failures":0,
 * "last_authentication_failure_age_seconds":null}}, with 200 when ready
 * and 503 when not.
 */

ngx_int_t
ngx_http_mi_health_handler(ngx_http_request_t *r)
{
    u_char                         *p;
    size_t                          size;
    ngx_int_t                       rc;
    ngx_str_t                       role, access_key;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, ready;
    ngx_http_mi_key_use_t          *use;
    ngx_http_mi_main_conf_t        *mmcf;
    ngx_http_mi_role_state_t        st;
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
        size += sizeof("{\"source\":\"server_role\",\"location_key\":\"\","
                       "\"access_key\":\"\",\"fingerprint\":\"\","
                       "\"loaded_at\":\"\",\"expires_at\":null,"
                       "\"last_refresh_at\":\"\","
                       "\"last_refresh_result\":\"success\"},")
                + 2 * (use[i].key->file.len + use[i].access_key.len)
                + MI_FINGERPRINT_LEN + 2 * NGX_HTTP_MI_ISO8601_LEN;
    }

    if (mmcf->role) {
        ngx_http_mi_role_state(mmcf->role, &st);

        size += sizeof("{\"source\":\"server_role\",\"role\":\"\","
                       "\"access_key\":\"\",\"fingerprint\":\"\","
                       "\"expires_at\":\"\",\"last_refresh_at\":\"\","
                       "\"last_refresh_result\":\"failure\"},")
                + 2 * (st.role_len + st.access_key_len)
                + MI_FINGERPRINT_LEN + 2 * NGX_HTTP_MI_ISO8601_LEN;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"status\":\"%V\",\"version\":\""
                    NGX_HTTP_MI_VERSION "\",\"keys\":[",
                    &ngx_http_mi_health_status[ready]);

    for (i = 0; i < mmcf->keys.nelts; i++) {
        p = ngx_sprintf(p, "%s{\"source\":\"%V\",\"location_key\":",
                        i ? "," : "",
                        &ngx_http_mi_sources[use[i].key->source]);
        p = ngx_http_mi_write_string(p, &use[i].key->file);
        p = ngx_sprintf(p, ",\"access_key\":");
        p = ngx_http_mi_write_string(p, &use[i].access_key);
        p = ngx_sprintf(p, ",\"fingerprint\":\"%*s\",\"loaded_at\":",
                        (size_t) MI_FINGERPRINT_LEN, use[i].key->fingerprint);
        p = ngx_http_mi_write_time(p, use[i].key->loaded);

        /* read once by the master: that was its refresh, and it worked */

        p = ngx_sprintf(p, ",\"expires_at\":null,\"last_refresh_at\":");
        p = ngx_http_mi_write_time(p, use[i].key->loaded);
        p = ngx_sprintf(p, ",\"last_refresh_result\":\"success\"}");
    }

    if (mmcf->role) {
        role.len = st.role_len;
        role.data = st.role;
        access_key.len = st.access_key_len;
        access_key.data = st.access_key;

        p = ngx_sprintf(p, "%s{\"source\":\"server_role\",\"role\":",
                        mmcf->keys.nelts ? "," : "");
        p = st.role_len ? ngx_http_mi_write_string(p, &role)
                        : ngx_sprintf(p, "null");
        p = ngx_sprintf(p, ",\"access_key\":");
        p = st.expires ? ngx_http_mi_write_string(p, &access_key)
                       : ngx_sprintf(p, "null");
        p = st.expires ? ngx_sprintf(p, ",\"fingerprint\":\"%*s\"",
                                     (size_t) MI_FINGERPRINT_LEN,
                                     st.fingerprint)
                       : ngx_sprintf(p, ",\"fingerprint\":null");
        p = ngx_sprintf(p, ",\"expires_at\":");
        p = ngx_http_mi_write_time(p, st.expires);
        p = ngx_sprintf(p, ",\"last_refresh_at\":");
        p = ngx_http_mi_write_time(p, st.last_refresh);
        p = ngx_sprintf(p, ",\"last_refresh_result\":\"%s\"}",
                        st.last_result == NGX_HTTP_MI_ROLE_OK ? "success"
                        : st.last_result == NGX_HTTP_MI_ROLE_FAILED
                          ? "failure" : "none");
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


/* A time in ISO 8601, in UTC, or null for none (0). */

static u_char *
ngx_http_mi_write_time(u_char *p, time_t when)
{
    ngx_tm_t  tm;

    if (when == 0) {
        return ngx_sprintf(p, "null");
    }

    ngx_gmtime(when, &tm);

    return ngx_sprintf(p, "\"%4d-%02d-%02dT%02d:%02d:%02dZ\"",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}
