
/*
 * ngx_http_mi_module: what the error log tells the operator beyond the
 * refusals.  At start and at every reload, one "notice" line per key in
 * use, with a fingerprint of its secret, so that a rotation can be
 * confirmed; and one "warn" line when the upstream refuses a signed
 * request, naming the likelier cause: the clock or the key.
 */

#include "ngx_http_mi_module.h"


/*
 * NCP refuses a timestamp more than 5 minutes from its clock; a clock more
 * than 4 minutes from the upstream's, as its Date header tells, is the
 * likely cause of a refusal (Date has a resolution of a second, and the
 * request took some time to get there).
 */
#define NGX_HTTP_MI_CLOCK_SUSPECT  240


static ngx_uint_t ngx_http_mi_str_eq(ngx_str_t *a, ngx_str_t *b);


/*
 * Remembers, at configuration time, a key that a signing location uses;
 * each one is logged once per configuration by ngx_http_mi_log_keys().
 * Locations that name the same file in directives of their own read it
 * each, and use one key.
 */

ngx_int_t
ngx_http_mi_key_in_use(ngx_conf_t *cf, ngx_http_mi_loc_conf_t *mlcf)
{
    ngx_uint_t                i;
    ngx_http_mi_key_t        *key;
    ngx_http_mi_key_use_t    *use;
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    key = mlcf->key;
    use = mmcf->keys.elts;

    for (i = 0; i < mmcf->keys.nelts; i++) {
        if (ngx_memcmp(use[i].key->fingerprint, key->fingerprint,
                       MI_FINGERPRINT_LEN) == 0
            && ngx_http_mi_str_eq(&use[i].key->file, &key->file)
            && ngx_http_mi_str_eq(&use[i].access_key, &mlcf->access_key))
        {
            return NGX_OK;
        }
    }

    use = ngx_array_push(&mmcf->keys);
    if (use == NULL) {
        return NGX_ERROR;
    }

    use->access_key = mlcf->access_key;
    use->key = mlcf->key;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_mi_str_eq(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && ngx_memcmp(a->data, b->data, a->len) == 0;
}


/* By the master, for each configuration it loads: start and reload. */

void
ngx_http_mi_log_keys(ngx_cycle_t *cycle)
{
    ngx_uint_t                i;
    ngx_http_mi_key_use_t    *use;
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mi_module);

    if (mmcf == NULL) {
        return;
    }

    use = mmcf->keys.elts;

    for (i = 0; i < mmcf->keys.nelts; i++) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "mi: access key \"%V\", secret fingerprint %*s "
                      "(from \"%V\")", &use[i].access_key,
                      (size_t) MI_FINGERPRINT_LEN, use[i].key->fingerprint,
                      &use[i].key->file);
    }
}


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
