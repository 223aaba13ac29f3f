
/*
 * ngx_http_mi_module: what the error log tells the operator when the
 * upstream refuses a signed request: one "warn" line naming the likelier
 * cause, the clock or the key.  The keys' own "notice" lines at start and
 * reload are ngx_http_mi_keys.c's.
 */

#include "ngx_http_mi_module.h"


/*
 * NCP refuses a timestamp more than 5 minutes from its clock; a clock more
 * than 4 minutes from the upstream's, as its Date header tells, is the
 * likely cause of a refusal (Date has a resolution of a second, and the
 * request took some time to get there).
 */
#define NGX_HTTP_MI_CLOCK_SUSPECT  240



/*
 * The upstream answered 401 or 403 to a request the module signed: the
 * signature, the key or the clock is wrong.  The route, the access key id
 * and the timestamp sent are logged with the difference between the
 * upstream's clock (its Date header) and this host's; never the secret or
 * the signature.
 */

void
ngx_http_mi_log_upstream_refusal(ngx_http_request_t *r,
    ngx_http_mi_ctx_t *ctx, ngx_http_mi_loc_conf_t *mlcf)
{
    u_char           *last;
    time_t            date, skew;
    ngx_str_t         keys;
    ngx_uint_t        behind;
    ngx_table_elt_t  *h;
    u_char            buf[NGX_MAX_PATH + 64];

    /* the directives the key came from, as the operator wrote them */

    if (mlcf->credentials_file) {
        last = ngx_snprintf(buf, sizeof(buf), "mi_credentials_file \"%V\"",
                            &mlcf->key->file);

    } else {
        last = ngx_snprintf(buf, sizeof(buf),
                            "mi_access_key and mi_secret_key_file \"%V\"",
                            &mlcf->key->file);
    }

    keys.data = buf;
    keys.len = last - buf;

    h = r->upstream->headers_in.date;

    date = h ? ngx_parse_http_time(h->value.data, h->value.len) : NGX_ERROR;

    if (date == NGX_ERROR) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mi: upstream answered %ui to a signed request: "
                      "route %V, access key \"%V\", timestamp %V; "
                      "it sent no Date to compare clocks with: check this "
                      "host's clock, then the key (%V)",
                      r->headers_out.status, &ctx->route_name,
                      &mlcf->access_key, &ctx->timestamp, &keys);
        return;
    }

    skew = date - ngx_time();
    behind = (skew < 0);

    if (behind) {
        skew = -skew;
    }

    if (skew > NGX_HTTP_MI_CLOCK_SUSPECT) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mi: upstream answered %ui to a signed request: "
                      "route %V, access key \"%V\", timestamp %V; its Date "
                      "is %T s %s this host's clock: the clock is the likely "
                      "cause (the API refuses a timestamp more than 5 "
                      "minutes off)",
                      r->headers_out.status, &ctx->route_name,
                      &mlcf->access_key, &ctx->timestamp, skew,
                      behind ? "behind" : "ahead of");
        return;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "mi: upstream answered %ui to a signed request: "
                  "route %V, access key \"%V\", timestamp %V; its Date is "
                  "%T s %s this host's clock: the key is the likely cause "
                  "(the clocks agree within 4 minutes): check %V",
                  r->headers_out.status, &ctx->route_name, &mlcf->access_key,
                  &ctx->timestamp, skew, behind ? "behind" : "ahead of",
                  &keys);
}
