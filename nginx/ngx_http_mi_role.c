
/*
 * ngx_http_mi_module: NCP Server Role credentials.  "mi_server_role" names
 * the metadata service; the workers fetch a temporary key from it through
 * the event loop (as OCSP stapling fetches its responses: a connection of
 * their own, no client request), one worker at a time for the whole nginx,
 * and keep it in a shared zone that a reload keeps, so every worker signs
 * with it and a reload never loses it.
 *
 * The zone (ngx_http_mi_role_shm_t) holds:
 *   - the key: the access key id, the HMAC states of the secret (never the
 *     secret itself), its fingerprint and expiry, written under a sequence
 *     counter (odd while written): a reader copies it and tries again if
 *     the counter moved, so no reader sees half a key and none waits;
 *   - the lease: until when one worker fetches, set by compare-and-set, so
 *     that a worker that dies mid-fetch only delays the next one;
 *   - the renewal's state: when the next attempt is due, the failures in a
 *     row, the last attempt and its result, the counters of the metrics.
 * Its pages are left out of core dumps (MADV_DONTDUMP), as the key files'.
 *
 * Each worker looks every NGX_HTTP_MI_ROLE_TICK ms whether a renewal is
 * due: "refresh" before the key's expiry, or at once without a key, or at
 * the time a failure's backoff set.  The one that takes the lease fetches:
 * PUT /latest/api/token (metadata v2; a 403, 404 or 405 means v1: no
 * token), GET .../security-credentials/ for the role's name unless
 * "role=" gives it, then GET .../security-credentials/{role}.
 */

#include "ngx_http_mi_module.h"

#include "mi_role.h"


#define NGX_HTTP_MI_ROLE_TICK        500
#define NGX_HTTP_MI_ROLE_ZONE_SIZE   (8 * ngx_pagesize)
#define NGX_HTTP_MI_ROLE_BUFFER      16384
#define NGX_HTTP_MI_ROLE_TOKEN_MAX   1024
#define NGX_HTTP_MI_ROLE_BACKOFF_MAX 60000      /* ms */
#define NGX_HTTP_MI_ROLE_READ_TRIES  (64 * 1024)

#define NGX_HTTP_MI_ROLE_PATH  "/latest/meta-data/iam/security-credentials/"


typedef enum {
    NGX_HTTP_MI_ROLE_TOKEN = 0,
    NGX_HTTP_MI_ROLE_LIST,
    NGX_HTTP_MI_ROLE_CREDENTIALS
} ngx_http_mi_role_step_e;


/* One fetch, in the worker holding the lease, in a pool of its own. */
typedef struct {
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    ngx_http_mi_role_conf_t    *rcf;
    ngx_peer_connection_t       peer;
    ngx_buf_t                  *request;
    ngx_buf_t                  *response;
    ngx_http_mi_role_step_e     step;
    ngx_str_t                   path;       /* of the step, for the logs */
    ngx_str_t                   token;      /* empty: metadata v1 */
    ngx_str_t                   role;
    ngx_atomic_uint_t           lease;
} ngx_http_mi_role_fetch_t;


static ngx_int_t ngx_http_mi_role_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_mi_role_tick(ngx_event_t *ev);
static ngx_uint_t ngx_http_mi_role_take_lease(ngx_http_mi_role_shm_t *shm,
    ngx_http_mi_role_conf_t *rcf, ngx_atomic_uint_t *lease);
static void ngx_http_mi_role_start(ngx_http_mi_role_conf_t *rcf,
    ngx_atomic_uint_t lease);
static void ngx_http_mi_role_step(ngx_http_mi_role_fetch_t *f);
static void ngx_http_mi_role_write_handler(ngx_event_t *wev);
static void ngx_http_mi_role_read_handler(ngx_event_t *rev);
static void ngx_http_mi_role_dummy_handler(ngx_event_t *ev);
static void ngx_http_mi_role_answer(ngx_http_mi_role_fetch_t *f);
static ngx_int_t ngx_http_mi_role_store(ngx_http_mi_role_fetch_t *f,
    u_char *body, size_t len);
static void ngx_http_mi_role_done(ngx_http_mi_role_fetch_t *f,
    ngx_uint_t ok);
static void ngx_http_mi_role_fail(ngx_http_mi_role_fetch_t *f,
    const char *fmt, ...);
static ngx_int_t ngx_http_mi_role_split(ngx_http_mi_role_fetch_t *f,
    ngx_uint_t *status, u_char **body, size_t *len);
static ngx_uint_t ngx_http_mi_role_word(u_char *p, size_t len,
    ngx_uint_t path);
static uint64_t ngx_http_mi_role_now_ms(void);
static void ngx_http_mi_role_read(ngx_http_mi_role_shm_t *shm,
    ngx_http_mi_role_key_t *key);
static void ngx_http_mi_role_write(ngx_http_mi_role_shm_t *shm,
    ngx_http_mi_role_key_t *key);


static ngx_event_t   ngx_http_mi_role_timer;
static ngx_uint_t    ngx_http_mi_role_fetching;


/*
 * mi_server_role [role=NAME] [metadata=URL] [refresh=TIME] [timeout=TIME]:
 * at http level; a block's own keys take precedence over it.
 */

char *
ngx_http_mi_server_role(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mi_main_conf_t *mmcf = conf;

    ngx_str_t                *value, s, name;
    ngx_uint_t                i;
    ngx_http_mi_role_conf_t  *rcf;

    if (mmcf->role != NULL) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mi_role_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&rcf->metadata, "http://169.254.169.254");
    rcf->refresh = 15 * 60;
    rcf->timeout = 5000;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "role=", 5) == 0) {
            rcf->name.data = value[i].data + 5;
            rcf->name.len = value[i].len - 5;

            if (rcf->name.len == 0
                || rcf->name.len > NGX_HTTP_MI_ROLE_NAME_MAX
                || !ngx_http_mi_role_word(rcf->name.data, rcf->name.len, 1))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"mi_server_role\": invalid role "
                                   "name \"%V\"", &rcf->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "metadata=", 9) == 0) {
            rcf->metadata.data = value[i].data + 9;
            rcf->metadata.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "refresh=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rcf->refresh = ngx_parse_time(&s, 1);
            if (rcf->refresh == (time_t) NGX_ERROR || rcf->refresh == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"mi_server_role\": invalid refresh "
                                   "time \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rcf->timeout = ngx_parse_time(&s, 0);
            if (rcf->timeout == (ngx_msec_t) NGX_ERROR || rcf->timeout == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"mi_server_role\": invalid timeout "
                                   "\"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_server_role\": invalid parameter \"%V\", "
                           "expected role=, metadata=, refresh= or "
                           "timeout=", &value[i]);
        return NGX_CONF_ERROR;
    }

    /* plain HTTP, as the service is: a link-local address on the VM */

    if (rcf->metadata.len <= 7
        || ngx_strncasecmp(rcf->metadata.data, (u_char *) "http://", 7) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_server_role\": metadata=\"%V\" is not an "
                           "\"http://\" URL", &rcf->metadata);
        return NGX_CONF_ERROR;
    }

    while (rcf->metadata.len > 7
           && rcf->metadata.data[rcf->metadata.len - 1] == '/')
    {
        rcf->metadata.len--;
    }

    if (rcf->metadata.len == 7) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_server_role\": metadata= has no host");
        return NGX_CONF_ERROR;
    }

    rcf->url.url.data = rcf->metadata.data + 7;
    rcf->url.url.len = rcf->metadata.len - 7;
    rcf->url.default_port = 80;
    rcf->url.uri_part = 1;

    if (ngx_parse_url(cf->pool, &rcf->url) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_server_role\": metadata=\"%V\": %s",
                           &rcf->metadata,
                           rcf->url.err ? rcf->url.err : "invalid URL");
        return NGX_CONF_ERROR;
    }

    if (rcf->url.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_server_role\": metadata=\"%V\": no address",
                           &rcf->metadata);
        return NGX_CONF_ERROR;
    }

    /* what a reload compares: another role or service fetches at once */

    ngx_crc32_init(rcf->id);
    ngx_crc32_update(&rcf->id, rcf->name.data, rcf->name.len);
    ngx_crc32_update(&rcf->id, rcf->metadata.data, rcf->metadata.len);
    ngx_crc32_final(rcf->id);

    ngx_str_set(&name, "mi_server_role");

    rcf->zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_MI_ROLE_ZONE_SIZE,
                                      &ngx_http_mi_module);
    if (rcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    rcf->zone->init = ngx_http_mi_role_init_zone;
    rcf->zone->data = rcf;

    mmcf->role = rcf;

    return NGX_CONF_OK;
}


/*
 * The zone of the previous cycle (data) is taken over whole, key and all;
 * a new one starts without a key, due for a fetch at once.
 */

static ngx_int_t
ngx_http_mi_role_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_mi_role_shm_t   *shm;
    ngx_http_mi_role_conf_t  *rcf;

    rcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

#if (NGX_LINUX && defined MADV_DONTDUMP)

    if (madvise(shm_zone->shm.addr, shm_zone->shm.size, MADV_DONTDUMP) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, ngx_errno,
                      "mi_server_role: madvise(MADV_DONTDUMP) failed");
        return NGX_ERROR;
    }

#endif

    if (data) {
        shm = data;

    } else if (shm_zone->shm.exists) {
        shm = shpool->data;

    } else {
        shm = ngx_slab_calloc(shpool, sizeof(ngx_http_mi_role_shm_t));
        if (shm == NULL) {
            return NGX_ERROR;
        }

        shpool->data = shm;
        shm->id = rcf->id;
    }

    if (shm->id != rcf->id) {
        /* the key in use is kept until the new role's arrives */
        shm->id = rcf->id;
        shm->renew_at = 0;
        shm->failures = 0;
    }

    shm->mutex = &shpool->mutex;
    rcf->shm = shm;
    shm_zone->data = shm;

    return NGX_OK;
}


/* In each worker: the timer that looks whether a renewal is due. */

ngx_int_t
ngx_http_mi_role_init_process(ngx_cycle_t *cycle)
{
    ngx_http_mi_main_conf_t  *mmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mi_module);

    if (mmcf == NULL || mmcf->role == NULL) {
        return NGX_OK;
    }

    ngx_http_mi_role_timer.handler = ngx_http_mi_role_tick;
    ngx_http_mi_role_timer.data = mmcf->role;
    ngx_http_mi_role_timer.log = cycle->log;
    ngx_http_mi_role_timer.cancelable = 1;

    /* the workers look at slightly different times */

    ngx_add_timer(&ngx_http_mi_role_timer,
                  1 + (ngx_msec_t) (ngx_random() % 50));

    return NGX_OK;
}


static void
ngx_http_mi_role_tick(ngx_event_t *ev)
{
    uint64_t                  now;
    ngx_atomic_uint_t         lease;
    ngx_http_mi_role_shm_t   *shm;
    ngx_http_mi_role_conf_t  *rcf;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    rcf = ev->data;
    shm = rcf->shm;

    now = ngx_http_mi_role_now_ms();

    if (!ngx_http_mi_role_fetching
        && now >= shm->renew_at
        && ngx_http_mi_role_take_lease(shm, rcf, &lease))
    {
        ngx_http_mi_role_start(rcf, lease);
    }

    ngx_add_timer(ev, NGX_HTTP_MI_ROLE_TICK);
}


/*
 * The lease is the second until which its holder fetches, set from a value
 * in the past by compare-and-set: of the workers that saw it free, one
 * wins.  Long enough for the fetch's three exchanges and their timeouts.
 */

static ngx_uint_t
ngx_http_mi_role_take_lease(ngx_http_mi_role_shm_t *shm,
    ngx_http_mi_role_conf_t *rcf, ngx_atomic_uint_t *lease)
{
    time_t             now;
    ngx_atomic_uint_t  old, until;

    now = ngx_time();
    old = shm->lease;

    if ((time_t) old > now) {
        return 0;
    }

    until = now + 4 * (rcf->timeout / 1000 + 1) + 2;

    if (!ngx_atomic_cmp_set(&shm->lease, old, until)) {
        return 0;
    }

    /* another worker may have renewed between the look and the lease */

    if (ngx_http_mi_role_now_ms() < shm->renew_at) {
        (void) ngx_atomic_cmp_set(&shm->lease, until, 0);
        return 0;
    }

    shm->lease_pid = ngx_pid;
    *lease = until;

    return 1;
}


static void
ngx_http_mi_role_start(ngx_http_mi_role_conf_t *rcf, ngx_atomic_uint_t lease)
{
    ngx_pool_t                *pool;
    ngx_http_mi_role_fetch_t  *f;

    pool = ngx_create_pool(2048, ngx_cycle->log);
    if (pool == NULL) {
        goto failed;
    }

    f = ngx_pcalloc(pool, sizeof(ngx_http_mi_role_fetch_t));
    if (f == NULL) {
        ngx_destroy_pool(pool);
        goto failed;
    }

    f->pool = pool;
    f->log = ngx_cycle->log;
    f->rcf = rcf;
    f->lease = lease;
    f->role = rcf->name;
    f->step = NGX_HTTP_MI_ROLE_TOKEN;

    f->request = ngx_create_temp_buf(pool, 1024 + NGX_HTTP_MI_ROLE_TOKEN_MAX
                                           + NGX_HTTP_MI_ROLE_NAME_MAX
                                           + rcf->url.host.len
                                           + rcf->url.uri.len);
    f->response = ngx_create_temp_buf(pool, NGX_HTTP_MI_ROLE_BUFFER);

    if (f->request == NULL || f->response == NULL) {
        ngx_destroy_pool(pool);
        goto failed;
    }

    ngx_http_mi_role_fetching = 1;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, f->log, 0, "mi server role: fetch");

    ngx_http_mi_role_step(f);

    return;

failed:

    (void) ngx_atomic_cmp_set(&rcf->shm->lease, lease, 0);
}


/* Sends the request of f->step on a connection of its own. */

static void
ngx_http_mi_role_step(ngx_http_mi_role_fetch_t *f)
{
    u_char                   *p;
    ngx_int_t                 rc;
    ngx_addr_t               *addr;
    ngx_http_mi_role_conf_t  *rcf;

    rcf = f->rcf;
    p = f->request->start;

    switch (f->step) {

    case NGX_HTTP_MI_ROLE_TOKEN:
        ngx_str_set(&f->path, "/latest/api/token");
        p = ngx_sprintf(p, "PUT %V/latest/api/token HTTP/1.0\r\n"
                        "X-NCP-METADATA-TOKEN-TTL-SECONDS: 21600\r\n"
                        "Content-Length: 0\r\n", &rcf->url.uri);
        break;

    case NGX_HTTP_MI_ROLE_LIST:
        ngx_str_set(&f->path, NGX_HTTP_MI_ROLE_PATH);
        p = ngx_sprintf(p, "GET %V" NGX_HTTP_MI_ROLE_PATH " HTTP/1.0\r\n",
                        &rcf->url.uri);
        break;

    default: /* NGX_HTTP_MI_ROLE_CREDENTIALS */
        f->path.len = sizeof(NGX_HTTP_MI_ROLE_PATH) - 1 + f->role.len;
        f->path.data = ngx_pnalloc(f->pool, f->path.len);
        if (f->path.data == NULL) {
            ngx_http_mi_role_done(f, 0);
            return;
        }

        ngx_sprintf(f->path.data, NGX_HTTP_MI_ROLE_PATH "%V", &f->role);

        p = ngx_sprintf(p, "GET %V%V HTTP/1.0\r\n", &rcf->url.uri, &f->path);
        break;
    }

    if (f->token.len) {
        p = ngx_sprintf(p, "X-NCP-METADATA-TOKEN: %V\r\n", &f->token);
    }

    p = ngx_sprintf(p, "Host: %V\r\nConnection: close\r\n\r\n",
                    &rcf->url.host);

    f->request->pos = f->request->start;
    f->request->last = p;
    f->response->pos = f->response->start;
    f->response->last = f->response->start;

    addr = &rcf->url.addrs[0];

    ngx_memzero(&f->peer, sizeof(ngx_peer_connection_t));

    f->peer.sockaddr = addr->sockaddr;
    f->peer.socklen = addr->socklen;
    f->peer.name = &addr->name;
    f->peer.get = ngx_event_get_peer;
    f->peer.log = f->log;
    f->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&f->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (f->peer.connection) {
            ngx_close_connection(f->peer.connection);
            f->peer.connection = NULL;
        }

        ngx_http_mi_role_fail(f, "cannot connect");
        return;
    }

    f->peer.connection->data = f;
    f->peer.connection->pool = f->pool;
    f->peer.connection->read->handler = ngx_http_mi_role_read_handler;
    f->peer.connection->write->handler = ngx_http_mi_role_write_handler;

    ngx_add_timer(f->peer.connection->read, rcf->timeout);
    ngx_add_timer(f->peer.connection->write, rcf->timeout);

    if (rc == NGX_OK) {
        ngx_http_mi_role_write_handler(f->peer.connection->write);
    }
}


static void
ngx_http_mi_role_write_handler(ngx_event_t *wev)
{
    ssize_t                    n, size;
    ngx_connection_t          *c;
    ngx_http_mi_role_fetch_t  *f;

    c = wev->data;
    f = c->data;

    if (wev->timedout) {
        ngx_http_mi_role_fail(f, "timed out");
        return;
    }

    size = f->request->last - f->request->pos;

    n = ngx_send(c, f->request->pos, size);

    if (n == NGX_ERROR) {
        ngx_http_mi_role_fail(f, "send() failed");
        return;
    }

    if (n > 0) {
        f->request->pos += n;

        if (n == size) {
            wev->handler = ngx_http_mi_role_dummy_handler;

            if (wev->timer_set) {
                ngx_del_timer(wev);
            }

            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_mi_role_fail(f, "write event failed");
            }

            return;
        }
    }

    if (!wev->timer_set) {
        ngx_add_timer(wev, f->rcf->timeout);
    }
}


/* The answer is read whole, until the service closes the connection. */

static void
ngx_http_mi_role_read_handler(ngx_event_t *rev)
{
    ssize_t                    n;
    ngx_connection_t          *c;
    ngx_http_mi_role_fetch_t  *f;

    c = rev->data;
    f = c->data;

    if (rev->timedout) {
        ngx_http_mi_role_fail(f, "timed out");
        return;
    }

    for ( ;; ) {
        if (f->response->last == f->response->end) {
            ngx_http_mi_role_fail(f, "answer larger than %d bytes",
                                  NGX_HTTP_MI_ROLE_BUFFER);
            return;
        }

        n = ngx_recv(c, f->response->last,
                     f->response->end - f->response->last);

        if (n > 0) {
            f->response->last += n;
            continue;
        }

        if (n == 0) {
            ngx_http_mi_role_answer(f);
            return;
        }

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_mi_role_fail(f, "read event failed");
            }

            return;
        }

        ngx_http_mi_role_fail(f, "recv() failed");
        return;
    }
}


static void
ngx_http_mi_role_dummy_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                   "mi server role dummy handler");
}


/* One answer, whole: the next step, or the key. */

static void
ngx_http_mi_role_answer(ngx_http_mi_role_fetch_t *f)
{
    u_char      *body;
    size_t       len;
    ngx_uint_t   status;

    ngx_close_connection(f->peer.connection);
    f->peer.connection = NULL;

    if (ngx_http_mi_role_split(f, &status, &body, &len) != NGX_OK) {
        ngx_http_mi_role_fail(f, "invalid HTTP answer");
        return;
    }

    switch (f->step) {

    case NGX_HTTP_MI_ROLE_TOKEN:

        if (status == NGX_HTTP_FORBIDDEN || status == NGX_HTTP_NOT_FOUND
            || status == NGX_HTTP_NOT_ALLOWED)
        {
            /* no metadata v2 here: v1, without a token */
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, f->log, 0,
                           "mi server role: token refused (%ui), v1",
                           status);

        } else if (status != NGX_HTTP_OK) {
            ngx_http_mi_role_fail(f, "answered %ui", status);
            return;

        } else {
            len = mi_role_first_line(body, len);

            if (len == 0 || len > NGX_HTTP_MI_ROLE_TOKEN_MAX
                || !ngx_http_mi_role_word(body, len, 0))
            {
                ngx_http_mi_role_fail(f, "answered an invalid token "
                                      "(%uz bytes)", len);
                return;
            }

            f->token.data = ngx_pnalloc(f->pool, len);
            if (f->token.data == NULL) {
                ngx_http_mi_role_done(f, 0);
                return;
            }

            f->token.len = len;
            ngx_memcpy(f->token.data, body, len);
        }

        f->step = f->role.len ? NGX_HTTP_MI_ROLE_CREDENTIALS
                              : NGX_HTTP_MI_ROLE_LIST;
        ngx_http_mi_role_step(f);
        return;

    case NGX_HTTP_MI_ROLE_LIST:

        if (status != NGX_HTTP_OK) {
            ngx_http_mi_role_fail(f, "answered %ui", status);
            return;
        }

        len = mi_role_first_line(body, len);

        if (len == 0 || len > NGX_HTTP_MI_ROLE_NAME_MAX
            || !ngx_http_mi_role_word(body, len, 1))
        {
            ngx_http_mi_role_fail(f, "named no role (%uz bytes)", len);
            return;
        }

        f->role.data = ngx_pnalloc(f->pool, len);
        if (f->role.data == NULL) {
            ngx_http_mi_role_done(f, 0);
            return;
        }

        f->role.len = len;
        ngx_memcpy(f->role.data, body, len);

        f->step = NGX_HTTP_MI_ROLE_CREDENTIALS;
        ngx_http_mi_role_step(f);
        return;

    default: /* NGX_HTTP_MI_ROLE_CREDENTIALS */

        if (status != NGX_HTTP_OK) {
            ngx_http_mi_role_fail(f, "answered %ui", status);
            return;
        }

        if (ngx_http_mi_role_store(f, body, len) == NGX_OK) {
            ngx_http_mi_role_done(f, 1);
        }

        return;
    }
}


/*
 * The credentials document: the key's HMAC states are derived here and
 * written to the zone under the sequence counter; the document itself is
 * wiped with the buffer when the fetch ends.
 */

static ngx_int_t
ngx_http_mi_role_store(ngx_http_mi_role_fetch_t *f, u_char *body, size_t len)
{
    u_char                   *p;
    int64_t                   expires;
    uint64_t                  now, renew, life;
    ngx_tm_t                  tm;
    mi_role_credentials_t     cr;
    ngx_http_mi_role_key_t    key;
    ngx_http_mi_role_shm_t   *shm;

    if (mi_role_parse(&cr, body, len) != 0) {
        ngx_http_mi_role_fail(f, "answered what is not credentials: %s",
                              cr.error);
        return NGX_ERROR;
    }

    if (cr.access_key.data == NULL || cr.secret_key.data == NULL
        || cr.expiration.data == NULL)
    {
        if (cr.code.data != NULL
            && !(cr.code.len == 7
                 && ngx_strncmp(cr.code.data, "Success", 7) == 0))
        {
            /* the service's own error: its code, never the document */
            ngx_http_mi_role_fail(f, "answered the error \"%*s\"",
                                  ngx_min(cr.code.len, 64), cr.code.data);

        } else {
            ngx_http_mi_role_fail(f, "answered credentials without %s",
                                  cr.access_key.data == NULL
                                  ? "AccessKeyId"
                                  : cr.secret_key.data == NULL
                                    ? "SecretAccessKey" : "Expiration");
        }

        return NGX_ERROR;
    }

    for (p = (u_char *) cr.access_key.data;
         p < cr.access_key.data + cr.access_key.len;
         p++)
    {
        if (*p <= 0x20 || *p >= 0x7f) {
            break;
        }
    }

    if (cr.access_key.len == 0 || cr.access_key.len > MI_ROLE_ACCESS_KEY_MAX
        || p < cr.access_key.data + cr.access_key.len
        || cr.secret_key.len == 0)
    {
        ngx_http_mi_role_fail(f, "answered an invalid AccessKeyId or "
                              "SecretAccessKey");
        return NGX_ERROR;
    }

    if (mi_role_time(cr.expiration.data, cr.expiration.len, &expires) != 0)
    {
        ngx_http_mi_role_fail(f, "answered an invalid Expiration \"%*s\"",
                              ngx_min(cr.expiration.len, 64),
                              cr.expiration.data);
        return NGX_ERROR;
    }

    now = ngx_http_mi_role_now_ms();

    if ((uint64_t) expires * 1000 <= now) {
        ngx_http_mi_role_fail(f, "answered credentials that expired at "
                              "\"%*s\"", ngx_min(cr.expiration.len, 64),
                              cr.expiration.data);
        return NGX_ERROR;
    }

    shm = f->rcf->shm;

    /* made on the stack, so that the zone's write is one short copy */

    ngx_memzero(&key, sizeof(ngx_http_mi_role_key_t));

    mi_sign_key_init(&key.state, cr.secret_key.data, cr.secret_key.len);
    mi_key_fingerprint(cr.secret_key.data, cr.secret_key.len,
                       key.fingerprint);
    ngx_memcpy(key.access_key, cr.access_key.data, cr.access_key.len);
    key.access_key_len = cr.access_key.len;
    ngx_memcpy(key.role, f->role.data, f->role.len);
    key.role_len = f->role.len;
    key.expires = (time_t) expires;
    key.fetched = ngx_time();

    /* one writer at a time, beside the lease: a lease may run out */

    ngx_shmtx_lock(shm->mutex);

    ngx_http_mi_role_write(shm, &key);

    ngx_explicit_memzero(&key.state, sizeof(mi_sign_key_t));

    /* refresh before expiry; a key shorter-lived than that, at half-life */

    life = (uint64_t) expires * 1000 - now;
    renew = (uint64_t) expires * 1000 - (uint64_t) f->rcf->refresh * 1000;

    if (life <= (uint64_t) f->rcf->refresh * 1000 || renew < now + life / 2) {
        renew = now + life / 2;
    }

    shm->renew_at = renew;
    shm->failures = 0;

    ngx_shmtx_unlock(shm->mutex);

    ngx_gmtime((time_t) expires, &tm);

    ngx_log_error(NGX_LOG_NOTICE, f->log, 0,
                  "mi: server role \"%V\": access key \"%*s\", secret "
                  "fingerprint %*s, expires "
                  "%4d-%02d-%02dT%02d:%02d:%02dZ",
                  &f->role, cr.access_key.len, cr.access_key.data,
                  (size_t) MI_FINGERPRINT_LEN, key.fingerprint,
                  tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                  tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    return NGX_OK;
}


/*
 * A failed step: logged with the URL, never an answer's body, and retried
 * after a backoff that doubles from 1s up to a third of refresh (at most
 * NGX_HTTP_MI_ROLE_BACKOFF_MAX), with jitter, so that the workers of many
 * VMs do not ask the service at one time.
 */

static void
ngx_http_mi_role_fail(ngx_http_mi_role_fetch_t *f, const char *fmt, ...)
{
    u_char                   *p;
    va_list                   args;
    uint64_t                  backoff, cap, now;
    ngx_http_mi_role_shm_t   *shm;
    u_char                    why[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(why, why + sizeof(why), fmt, args);
    va_end(args);

    ngx_log_error(NGX_LOG_ERR, f->log, 0,
                  "mi_server_role: \"%V%V%V\" %*s",
                  &f->rcf->metadata, &f->rcf->url.uri, &f->path,
                  (size_t) (p - why), why);

    shm = f->rcf->shm;

    cap = (uint64_t) f->rcf->refresh * 1000 / 3;
    cap = ngx_max(ngx_min(cap, NGX_HTTP_MI_ROLE_BACKOFF_MAX), 1000);

    ngx_shmtx_lock(shm->mutex);

    if (shm->failures < 16) {
        shm->failures++;
    }

    backoff = ngx_min((uint64_t) 1000 << (shm->failures - 1), cap);

    now = ngx_http_mi_role_now_ms();
    shm->renew_at = now + backoff / 2 + (uint64_t) ngx_random()
                                        % (backoff / 2 + 1);

    /* an expired key is of no use: wiped */

    if (shm->key.expires && (uint64_t) shm->key.expires * 1000 <= now) {
        ngx_http_mi_role_write(shm, NULL);
    }

    ngx_shmtx_unlock(shm->mutex);

    ngx_http_mi_role_done(f, 0);
}


static void
ngx_http_mi_role_done(ngx_http_mi_role_fetch_t *f, ngx_uint_t ok)
{
    ngx_http_mi_role_shm_t  *shm;

    shm = f->rcf->shm;

    if (f->peer.connection) {
        ngx_close_connection(f->peer.connection);
        f->peer.connection = NULL;
    }

    shm->last_refresh = ngx_time();
    shm->last_result = ok ? NGX_HTTP_MI_ROLE_OK : NGX_HTTP_MI_ROLE_FAILED;
    (void) ngx_atomic_fetch_add(&shm->refreshes[ok ? 0 : 1], 1);

    (void) ngx_atomic_cmp_set(&shm->lease, f->lease, 0);

    ngx_explicit_memzero(f->response->start,
                         f->response->end - f->response->start);

    if (f->token.len) {
        ngx_explicit_memzero(f->token.data, f->token.len);
    }

    ngx_http_mi_role_fetching = 0;

    ngx_destroy_pool(f->pool);
}


/* The status and the body of an HTTP/1.x answer read whole. */

static ngx_int_t
ngx_http_mi_role_split(ngx_http_mi_role_fetch_t *f, ngx_uint_t *status,
    u_char **body, size_t *len)
{
    u_char  *p, *last;

    p = f->response->pos;
    last = f->response->last;

    if (last - p < (ssize_t) sizeof("HTTP/1.x NNN") - 1
        || ngx_strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' '
        || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9'
        || p[11] < '0' || p[11] > '9')
    {
        return NGX_ERROR;
    }

    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

    for (p += 12; p + 3 < last; p++) {
        if (p[0] == '\r' && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
            *body = p + 4;
            *len = last - (p + 4);
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


/*
 * Visible ASCII only: a token and a role name go into request headers and
 * lines; a role name, into a path too.
 */

static ngx_uint_t
ngx_http_mi_role_word(u_char *p, size_t len, ngx_uint_t path)
{
    u_char  *last;

    for (last = p + len; p < last; p++) {
        if (*p <= 0x20 || *p >= 0x7f
            || (path && (*p == '/' || *p == '?' || *p == '%' || *p == '#')))
        {
            return 0;
        }
    }

    return 1;
}


static uint64_t
ngx_http_mi_role_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/*
 * The key to sign a request with, copied under the sequence counter into
 * key (the caller wipes it): NGX_DECLINED when there is none that is valid
 * now, with *retry the seconds after which one may be.
 */

ngx_int_t
ngx_http_mi_role_key(ngx_http_mi_role_conf_t *rcf,
    ngx_http_mi_role_key_t *key, time_t *retry)
{
    uint64_t                 now;
    ngx_http_mi_role_shm_t  *shm;

    shm = rcf->shm;

    ngx_http_mi_role_read(shm, key);

    now = ngx_http_mi_role_now_ms();

    if (key->expires && (uint64_t) key->expires * 1000 > now) {
        return NGX_OK;
    }

    ngx_explicit_memzero(key, sizeof(ngx_http_mi_role_key_t));

    *retry = shm->renew_at > now ? (time_t) ((shm->renew_at - now) / 1000) + 1
                                 : 1;

    return NGX_DECLINED;
}


/*
 * What mi_health and mi_metrics show of the Server Role's key: everything
 * but its states, which are wiped from the copy before it returns.
 */

void
ngx_http_mi_role_state(ngx_http_mi_role_conf_t *rcf,
    ngx_http_mi_role_state_t *st)
{
    uint64_t                 now, expires;
    ngx_http_mi_role_key_t   key;
    ngx_http_mi_role_shm_t  *shm;

    shm = rcf->shm;

    ngx_http_mi_role_read(shm, &key);

    ngx_explicit_memzero(&key.state, sizeof(mi_sign_key_t));

    ngx_memcpy(st->access_key, key.access_key, key.access_key_len);
    st->access_key_len = key.access_key_len;
    ngx_memcpy(st->role, key.role, key.role_len);
    st->role_len = key.role_len;
    ngx_memcpy(st->fingerprint, key.fingerprint, MI_FINGERPRINT_LEN);
    st->expires = key.expires;
    st->last_refresh = shm->last_refresh;
    st->last_result = shm->last_result;
    st->refreshes[0] = shm->refreshes[0];
    st->refreshes[1] = shm->refreshes[1];

    /*
     * Ready while the key is valid, unless renewal has failed and the key
     * expires within a third of refresh: a load balancer should turn to
     * another gateway before this one has to refuse.
     */

    now = ngx_http_mi_role_now_ms();
    expires = (uint64_t) key.expires * 1000;

    st->ready = expires > now
                && !(shm->last_result == NGX_HTTP_MI_ROLE_FAILED
                     && expires - now < (uint64_t) rcf->refresh * 1000 / 3);
}


/*
 * The key copied under the sequence counter: never half of one.  A writer
 * holds the counter odd for one copy of the struct; a reader that finds
 * it odd for too long (a writer killed in the middle) gets no key, and the
 * request a 503, rather than waiting forever.
 */

static void
ngx_http_mi_role_read(ngx_http_mi_role_shm_t *shm,
    ngx_http_mi_role_key_t *key)
{
    ngx_uint_t         n;
    ngx_atomic_uint_t  seq;

    for (n = 0; n < NGX_HTTP_MI_ROLE_READ_TRIES; n++) {
        seq = shm->seq;
        ngx_memory_barrier();

        if (seq & 1) {
            if (n % 1024 == 1023) {
                ngx_sched_yield();

            } else {
                ngx_cpu_pause();
            }

            continue;
        }

        ngx_memcpy(key, &shm->key, sizeof(ngx_http_mi_role_key_t));
        ngx_memory_barrier();

        if (shm->seq == seq) {
            return;
        }
    }

    ngx_explicit_memzero(key, sizeof(ngx_http_mi_role_key_t));
}


/*
 * Replaces the key (NULL: wipes it), the zone's mutex held.  The counter
 * is made even first: a writer killed between its two steps left it odd.
 */

static void
ngx_http_mi_role_write(ngx_http_mi_role_shm_t *shm,
    ngx_http_mi_role_key_t *key)
{
    ngx_atomic_uint_t  seq;

    seq = (shm->seq + 1) & ~((ngx_atomic_uint_t) 1);

    shm->seq = seq + 1;
    ngx_memory_barrier();

    if (key) {
        ngx_memcpy(&shm->key, key, sizeof(ngx_http_mi_role_key_t));

    } else {
        ngx_explicit_memzero(&shm->key, sizeof(ngx_http_mi_role_key_t));
    }

    ngx_memory_barrier();
    shm->seq = seq + 2;
}
