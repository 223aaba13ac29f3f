
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
    time_t            date, skew;
    ngx_uint_t        behind;
    ngx_table_elt_t  *h;

    h = r->upstream->headers_in.date;

    date = h ? ngx_parse_http_time(h->value.data, h->value.len) : NGX_ERROR;

    if (date == NGX_ERROR) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mi: upstream answered %ui to a signed request: "
                      "route %V, access key \"%V\", timestamp %V; "
                      "it sent no Date to compare clocks with: check this "
                      "host's clock, then the key",
                      r->headers_out.status, &ctx->route_name,
                      &mlcf->access_key, &ctx->timestamp);
        return;
    }

    skew = date - ngx_time();
    behind = (skew < 0);

    if (behind) {
        skew = -skew;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "mi: upstream answered %ui to a signed request: "
                  "route %V, access key \"%V\", timestamp %V; its Date is "
                  "%T s %s this host's clock: %s",
                  r->headers_out.status, &ctx->route_name, &mlcf->access_key,
                  &ctx->timestamp, skew, behind ? "behind" : "ahead of",
                  skew > NGX_HTTP_MI_CLOCK_SUSPECT
                  ? "the clock is the likely cause (the API refuses a "
                    "timestamp more than 5 minutes off)"
                  : "the key is the likely cause (the clocks agree within "
                    "4 minutes): check mi_access_key and "
                    "mi_secret_key_file");
}
