
/*
 * ngx_http_mi_module: $mi_request_id, the id that follows a call from the
 * service through the API: the client's X-Request-ID when it is one safe
 * to pass on, else nginx's $request_id.  The configuration sends it
 * upstream and back (conf/mi-request-id.conf); the JSON log records it.
 *
 * nginx makes $request_id from 16 bytes of RAND_bytes() a request; in
 * OpenSSL 3 each call takes the generator's lock and asks the kernel for
 * the process id (fork detection), which costs as much as the module's
 * signing.  The module draws the same bytes from the same generator 64
 * requests' worth at a time, per worker, and sets $request_id to the id it
 * made, so that the two stay one value.
 */

#include "ngx_http_mi_module.h"

#include <openssl/err.h>
#include <openssl/rand.h>


#define NGX_HTTP_MI_REQUEST_ID_MAX  64
#define NGX_HTTP_MI_RANDOM_ID       16
#define NGX_HTTP_MI_RANDOM_SIZE     (NGX_HTTP_MI_RANDOM_ID * 64)


static ngx_table_elt_t *ngx_http_mi_client_request_id(ngx_http_request_t *r);
static ngx_int_t ngx_http_mi_random_request_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v);


/*
 * Random bytes not yet used, per worker: none in the master, so that no two
 * workers (nor the workers of a reload) share any.
 */
static u_char      ngx_http_mi_random[NGX_HTTP_MI_RANDOM_SIZE];
static ngx_uint_t  ngx_http_mi_random_next = NGX_HTTP_MI_RANDOM_SIZE;


static ngx_str_t  ngx_http_mi_request_id_header = ngx_string("X-Request-ID");


/* RFC 9110 token characters: "!#$%&'*+-.^_`|~", digits and letters. */
static uint32_t  ngx_http_mi_tchar[] = {
    0x00000000, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff,
    0x00000000, 0x00000000, 0x00000000, 0x00000000
};


/*
 * Cacheable: computed once per request, so that the upstream, the response
 * and the log all see the same id.
 */

ngx_int_t
ngx_http_mi_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_table_elt_t            *h;
    ngx_http_variable_value_t  *id;
    ngx_http_mi_main_conf_t    *mmcf;

    h = ngx_http_mi_client_request_id(r);

    if (h) {
        v->len = h->value.len;
        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;
        v->data = h->value.data;

        return NGX_OK;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);

    id = &r->variables[mmcf->request_id_index];

    if (!id->valid && !id->not_found
        && ngx_http_mi_random_request_id(r, id) == NGX_OK)
    {
        *v = *id;
        return NGX_OK;
    }

    /* $request_id read before, or no random bytes: nginx's own */

    id = ngx_http_get_indexed_variable(r, mmcf->request_id_index);

    if (id == NULL || id->not_found) {
        return NGX_ERROR;
    }

    *v = *id;

    return NGX_OK;
}


/* $request_id's form: 32 lowercase hex digits of 16 random bytes */

static ngx_int_t
ngx_http_mi_random_request_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v)
{
    u_char  *id;

    if (ngx_http_mi_random_next == NGX_HTTP_MI_RANDOM_SIZE) {

        if (RAND_bytes(ngx_http_mi_random, NGX_HTTP_MI_RANDOM_SIZE) != 1) {
            ERR_clear_error();
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "mi: RAND_bytes() failed, nginx's $request_id "
                          "used");
            return NGX_ERROR;
        }

        ngx_http_mi_random_next = 0;
    }

    id = ngx_pnalloc(r->pool, NGX_HTTP_MI_RANDOM_ID * 2);
    if (id == NULL) {
        return NGX_ERROR;
    }

    ngx_hex_dump(id, &ngx_http_mi_random[ngx_http_mi_random_next],
                 NGX_HTTP_MI_RANDOM_ID);

    ngx_http_mi_random_next += NGX_HTTP_MI_RANDOM_ID;

    v->len = NGX_HTTP_MI_RANDOM_ID * 2;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = id;

    return NGX_OK;
}


/* a new worker draws its own bytes */

void
ngx_http_mi_request_id_init_process(void)
{
    ngx_http_mi_random_next = NGX_HTTP_MI_RANDOM_SIZE;
}


/*
 * The client's X-Request-ID if it can be passed on as it is: one header,
 * 1 to 64 token characters.  Anything else could split a log line or a
 * header, or be two ids at once; it is replaced, not repaired.
 */

static ngx_table_elt_t *
ngx_http_mi_client_request_id(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *found;

    found = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0
            || h[i].key.len != ngx_http_mi_request_id_header.len
            || ngx_strncasecmp(h[i].key.data,
                               ngx_http_mi_request_id_header.data,
                               ngx_http_mi_request_id_header.len)
               != 0)
        {
            continue;
        }

        if (found) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mi: more than one X-Request-ID header, "
                          "$request_id sent instead");
            return NULL;
        }

        found = &h[i];
    }

    if (found == NULL) {
        return NULL;
    }

    p = found->value.data;
    last = p + found->value.len;

    if (p == last || last - p > NGX_HTTP_MI_REQUEST_ID_MAX) {
        goto invalid;
    }

    for ( /* void */ ; p < last; p++) {
        if (!(ngx_http_mi_tchar[*p >> 5] & (1U << (*p & 0x1f)))) {
            goto invalid;
        }
    }

    return found;

invalid:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mi: X-Request-ID is not 1 to %d token characters, "
                  "$request_id sent instead", NGX_HTTP_MI_REQUEST_ID_MAX);

    return NULL;
}


ngx_int_t
ngx_http_mi_request_id_init(ngx_conf_t *cf)
{
    ngx_str_t                 name = ngx_string("request_id");
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    mmcf->request_id_index = ngx_http_get_variable_index(cf, &name);

    if (mmcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
