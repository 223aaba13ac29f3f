
/*
 * mi_resolve: an upstream balancer that finds the API's name again while
 * nginx runs, so that "keepalive" can pool the connections to it on every
 * nginx (a variable in proxy_pass has no pool, and "server ... resolve"
 * needs nginx 1.27.3).
 *
 * The upstream has a fixed number of slots, the round robin's peers; each
 * worker resolves the name through the http level "resolver" at once, and
 * again the moment the resolver's answer expires (valid=, else the DNS
 * TTL), when the resolver asks DNS: a change is followed within valid=
 * and DNS's round trip, as nginx's own "server ... resolve" does.  After a
 * failure it asks again every quarter of a second, which the resolver
 * answers from its cache of the failure or by asking DNS once that has
 * expired.  The answer's addresses go to the slots.  A slot keeps its
 * address while the answer has it, so the keepalive module's cached
 * connections, which it matches by address, stay useful; a slot whose
 * address left the answer is marked down, and gets the next new address.
 * The slots never go away: round robin keeps a "tried" bitmap of them per
 * request.
 *
 * Each request's peer address is a copy in its pool: the keepalive module
 * caches a connection under pc->sockaddr when the request ends, and the
 * slot may have another address by then.  The slots' addresses are also
 * written to a small shared zone, which a reload keeps, so that new
 * workers start with them before their own resolver has answered.
 */

#include "ngx_http_mi_module.h"


#define NGX_HTTP_MI_RESOLVE_SLOTS      4
#define NGX_HTTP_MI_RESOLVE_MAX_SLOTS  32
#define NGX_HTTP_MI_RESOLVE_RETRY      250
#define NGX_HTTP_MI_RESOLVE_MAX_WAIT   3600000


typedef struct {
    socklen_t                       socklen;
    ngx_sockaddr_t                  sockaddr;
} ngx_http_mi_resolve_addr_t;


/* In the shared zone: the slots' addresses after the last answer. */
typedef struct {
    ngx_uint_t                      naddrs;
    ngx_http_mi_resolve_addr_t      addrs[NGX_HTTP_MI_RESOLVE_MAX_SLOTS];
} ngx_http_mi_resolve_shm_t;


typedef struct {
    ngx_str_t                       host;
    in_port_t                       port;
    ngx_uint_t                      slots;

    ngx_http_upstream_srv_conf_t   *upstream;
    ngx_resolver_t                 *resolver;
    ngx_msec_t                      resolver_timeout;

    ngx_http_upstream_rr_peers_t   *peers;
    ngx_http_mi_resolve_addr_t     *addrs;      /* one a slot */

    ngx_shm_zone_t                 *zone;
    ngx_http_mi_resolve_shm_t      *shared;

    ngx_event_t                     timer;
    ngx_uint_t                      failures;   /* in a row */
} ngx_http_mi_resolve_conf_t;


/* A request's peer data: round robin's, then what the copies come from. */
typedef struct {
    ngx_http_upstream_rr_peer_data_t   rrp;     /* must be first */
    ngx_pool_t                        *pool;
} ngx_http_mi_resolve_peer_data_t;


static ngx_int_t ngx_http_mi_resolve_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_mi_resolve_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_mi_resolve_get_peer(ngx_peer_connection_t *pc,
    void *data);
static ngx_int_t ngx_http_mi_resolve_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_mi_resolve_timer(ngx_event_t *ev);
static void ngx_http_mi_resolve_handler(ngx_resolver_ctx_t *ctx);
static void ngx_http_mi_resolve_update(ngx_http_mi_resolve_conf_t *rcf,
    ngx_http_mi_resolve_addr_t *addrs, ngx_uint_t naddrs, ngx_log_t *log);
static void ngx_http_mi_resolve_share(ngx_http_mi_resolve_conf_t *rcf);


/*
 * mi_resolve NAME[:PORT] [slots=N], in an upstream block, before
 * "keepalive": the keepalive module keeps the balancer's init that it
 * finds when its own directive is read.
 */

char *
ngx_http_mi_resolve(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                        *p;
    size_t                         len;
    ngx_str_t                     *value, name;
    ngx_url_t                      u;
    ngx_int_t                      n;
    ngx_http_mi_main_conf_t       *mmcf;
    ngx_http_upstream_server_t    *us;
    ngx_http_mi_resolve_conf_t    *rcf, **rcfp;
    ngx_http_upstream_srv_conf_t  *uscf;

    value = cf->args->elts;

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_resolve\" must come first in the upstream "
                           "block, before \"keepalive\" and any other "
                           "balancing directive");
        return NGX_CONF_ERROR;
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mi_resolve_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = 443;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.host.len == 0
        || u.uri.len || u.family == AF_UNIX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_resolve\": \"%V\" is not a NAME or "
                           "NAME:PORT%s%s", &value[1],
                           u.err ? ": " : "", u.err ? u.err : "");
        return NGX_CONF_ERROR;
    }

    rcf->host = u.host;
    rcf->port = u.port;
    rcf->slots = NGX_HTTP_MI_RESOLVE_SLOTS;
    rcf->upstream = uscf;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "slots=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mi_resolve\": invalid parameter \"%V\"",
                               &value[2]);
            return NGX_CONF_ERROR;
        }

        n = ngx_atoi(value[2].data + 6, value[2].len - 6);

        if (n < 1 || n > NGX_HTTP_MI_RESOLVE_MAX_SLOTS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mi_resolve\": \"%V\": from 1 to %d slots",
                               &value[2], NGX_HTTP_MI_RESOLVE_MAX_SLOTS);
            return NGX_CONF_ERROR;
        }

        rcf->slots = n;
    }

    /*
     * nginx refuses an upstream block without a server: this entry, which
     * only the balancer reads, stands for the name.  Its addresses are
     * never resolved at configuration time, so nginx starts without DNS.
     */

    us = ngx_array_push(uscf->servers);
    if (us == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(us, sizeof(ngx_http_upstream_server_t));

    us->name = value[1];
    us->weight = 1;
    us->max_fails = 1;
    us->fail_timeout = 10;

    uscf->peer.init_upstream = ngx_http_mi_resolve_init_upstream;

    /* the zone that carries the addresses over a reload */

    len = sizeof("mi_resolve:") - 1 + uscf->host.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    name.data = p;
    name.len = ngx_sprintf(p, "mi_resolve:%V", &uscf->host) - p;

    rcf->zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize,
                                      &ngx_http_mi_module);
    if (rcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (rcf->zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_resolve\": a second one in upstream "
                           "\"%V\"", &uscf->host);
        return NGX_CONF_ERROR;
    }

    rcf->zone->init = ngx_http_mi_resolve_init_zone;
    rcf->zone->data = rcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    if (mmcf->resolves.elts == NULL
        && ngx_array_init(&mmcf->resolves, cf->pool, 2,
                          sizeof(ngx_http_mi_resolve_conf_t *))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rcfp = ngx_array_push(&mmcf->resolves);
    if (rcfp == NULL) {
        return NGX_CONF_ERROR;
    }

    *rcfp = rcf;

    return NGX_CONF_OK;
}


/*
 * The slots, all down until the name resolves (a request then gets nginx's
 * "no live upstreams", a 502), and the resolver of the http level: the
 * upstream block has none of its own before nginx 1.27.3.
 */

static ngx_int_t
ngx_http_mi_resolve_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                     i;
    ngx_http_mi_main_conf_t       *mmcf;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *peers;
    ngx_http_mi_resolve_conf_t    *rcf, **rcfp;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    rcf = NULL;
    rcfp = mmcf->resolves.elts;

    for (i = 0; i < mmcf->resolves.nelts; i++) {
        if (rcfp[i]->upstream == us) {
            rcf = rcfp[i];
            break;
        }
    }

    if (rcf == NULL) {
        return NGX_ERROR;
    }

    if (us->servers->nelts != 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" in %s:%ui has \"mi_resolve\" and "
                      "\"server\": use one or the other",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    if (us->shm_zone) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" in %s:%ui has \"mi_resolve\" and "
                      "\"zone\": mi_resolve keeps each worker's own "
                      "addresses, remove \"zone\"",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->resolver == NULL || clcf->resolver->connections.nelts == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" in %s:%ui: \"mi_resolve\" needs a "
                      "\"resolver\" at http level, outside any server",
                      &us->host, us->file_name, us->line);
        return NGX_ERROR;
    }

    rcf->resolver = clcf->resolver;
    rcf->resolver_timeout = clcf->resolver_timeout == NGX_CONF_UNSET_MSEC
                            ? 30000 : clcf->resolver_timeout;

    peers = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_rr_peers_t));
    if (peers == NULL) {
        return NGX_ERROR;
    }

    peer = ngx_pcalloc(cf->pool,
                       rcf->slots * sizeof(ngx_http_upstream_rr_peer_t));
    if (peer == NULL) {
        return NGX_ERROR;
    }

    rcf->addrs = ngx_pcalloc(cf->pool,
                             rcf->slots * sizeof(ngx_http_mi_resolve_addr_t));
    if (rcf->addrs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < rcf->slots; i++) {
        peer[i].sockaddr = &rcf->addrs[i].sockaddr.sockaddr;
        peer[i].socklen = 0;

        peer[i].name.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN);
        if (peer[i].name.data == NULL) {
            return NGX_ERROR;
        }

        peer[i].server = rcf->host;
        peer[i].weight = 1;
        peer[i].effective_weight = 1;
        peer[i].max_fails = 1;
        peer[i].fail_timeout = 10;
        peer[i].down = 1;

        if (i + 1 < rcf->slots) {
            peer[i].next = &peer[i + 1];
        }
    }

    peers->number = rcf->slots;
    peers->single = (rcf->slots == 1);
    peers->total_weight = rcf->slots;
    peers->tries = 1;
    peers->name = &us->host;
    peers->peer = peer;

    rcf->peers = peers;

    us->peer.init = ngx_http_mi_resolve_init_peer;
    us->peer.data = peers;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mi_resolve_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_mi_resolve_peer_data_t  *rp;

    rp = ngx_palloc(r->pool, sizeof(ngx_http_mi_resolve_peer_data_t));
    if (rp == NULL) {
        return NGX_ERROR;
    }

    rp->pool = r->pool;

    /* round robin takes the peer data it finds there */
    r->upstream->peer.data = &rp->rrp;

    if (ngx_http_upstream_init_round_robin_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    r->upstream->peer.get = ngx_http_mi_resolve_get_peer;

    return NGX_OK;
}


/*
 * Round robin's choice, with the slot's address copied into the request:
 * the connection is cached (and logged) under the address it was opened
 * to, whatever the slot holds when the request ends.
 *
 * nginx gives a request one more try when a cached connection fails
 * (the API closed it as the request arrived), but round robin has marked
 * the slot tried: with every live slot tried, the retry goes to them
 * again, on a new connection, as nginx's single-server upstream does.
 * Only an idempotent request gets that try: nginx never sends a POST
 * again once it was sent.
 */

static ngx_int_t
ngx_http_mi_resolve_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_mi_resolve_peer_data_t *rp = data;

    size_t            n;
    ngx_int_t         rc;
    ngx_str_t        *name;
    struct sockaddr  *sockaddr;

    rc = ngx_http_upstream_get_round_robin_peer(pc, &rp->rrp);

    if (rc == NGX_BUSY && pc->tries > 0 && rp->rrp.current) {
        n = (rp->rrp.peers->number + (8 * sizeof(uintptr_t) - 1))
            / (8 * sizeof(uintptr_t));

        ngx_memzero(rp->rrp.tried, n * sizeof(uintptr_t));

        rc = ngx_http_upstream_get_round_robin_peer(pc, &rp->rrp);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    sockaddr = ngx_palloc(rp->pool, pc->socklen);
    name = ngx_palloc(rp->pool, sizeof(ngx_str_t) + pc->name->len);

    if (sockaddr == NULL || name == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(sockaddr, pc->sockaddr, pc->socklen);
    pc->sockaddr = sockaddr;

    name->len = pc->name->len;
    name->data = (u_char *) (name + 1);
    ngx_memcpy(name->data, pc->name->data, name->len);
    pc->name = name;

    return NGX_OK;
}


/*
 * A reload that keeps the upstream's name keeps the zone, and with it the
 * addresses the previous workers found.
 */

static ngx_int_t
ngx_http_mi_resolve_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t             *shpool;
    ngx_http_mi_resolve_shm_t   *sh;
    ngx_http_mi_resolve_conf_t  *rcf;

    rcf = shm_zone->data;

    if (data) {
        sh = data;

    } else {
        shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            sh = shpool->data;

        } else {
            sh = ngx_slab_calloc(shpool, sizeof(ngx_http_mi_resolve_shm_t));
            if (sh == NULL) {
                return NGX_ERROR;
            }

            shpool->data = sh;
        }
    }

    rcf->shared = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


/* In each worker: the slots from the zone, and a resolution at once. */

ngx_int_t
ngx_http_mi_resolve_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i;
    ngx_slab_pool_t             *shpool;
    ngx_http_mi_main_conf_t     *mmcf;
    ngx_http_mi_resolve_shm_t    seed;
    ngx_http_mi_resolve_conf_t  *rcf, **rcfp;

    /* the cache manager and loader run this too: they proxy nothing */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mi_module);

    if (mmcf == NULL) {
        return NGX_OK;
    }

    rcfp = mmcf->resolves.elts;

    for (i = 0; i < mmcf->resolves.nelts; i++) {
        rcf = rcfp[i];

        shpool = (ngx_slab_pool_t *) rcf->zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);
        seed = *rcf->shared;
        ngx_shmtx_unlock(&shpool->mutex);

        if (seed.naddrs) {
            ngx_http_mi_resolve_update(rcf, seed.addrs, seed.naddrs,
                                       cycle->log);
        }

        rcf->timer.handler = ngx_http_mi_resolve_timer;
        rcf->timer.data = rcf;
        rcf->timer.log = cycle->log;
        rcf->timer.cancelable = 1;

        ngx_add_timer(&rcf->timer, 1);
    }

    return NGX_OK;
}


static void
ngx_http_mi_resolve_timer(ngx_event_t *ev)
{
    ngx_resolver_ctx_t          *ctx;
    ngx_http_mi_resolve_conf_t  *rcf;

    rcf = ev->data;

    ctx = ngx_resolve_start(rcf->resolver, NULL);

    if (ctx == NULL || ctx == NGX_NO_RESOLVER) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "mi_resolve: \"%V\" could not be resolved: "
                      "no resolver", &rcf->host);
        ngx_add_timer(ev, NGX_HTTP_MI_RESOLVE_RETRY);
        return;
    }

    ctx->name = rcf->host;
    ctx->handler = ngx_http_mi_resolve_handler;
    ctx->data = rcf;
    ctx->timeout = rcf->resolver_timeout;
    ctx->cancelable = 1;

    /* the handler may run at once, from the resolver's cache */

    if (ngx_resolve_name(ctx) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "mi_resolve: \"%V\" could not be resolved",
                      &rcf->host);
        ngx_add_timer(ev, NGX_HTTP_MI_RESOLVE_RETRY);
    }
}


/* A DNS failure keeps the last good addresses. */

static void
ngx_http_mi_resolve_handler(ngx_resolver_ctx_t *ctx)
{
    ngx_int_t                    wait;
    ngx_uint_t                   i, n, level;
    ngx_log_t                   *log;
    ngx_time_t                  *tp;
    ngx_http_mi_resolve_addr_t   addrs[NGX_HTTP_MI_RESOLVE_MAX_SLOTS];
    ngx_http_mi_resolve_conf_t  *rcf;

    rcf = ctx->data;
    log = rcf->timer.log;

    if (ctx->state) {
        /* once an outage, then quieter: the timer asks again and again */
        level = rcf->failures ? NGX_LOG_INFO : NGX_LOG_ERR;

        ngx_log_error(level, log, 0,
                      "mi_resolve: \"%V\" could not be resolved (%i: %s), "
                      "the last addresses found are kept",
                      &ctx->name, ctx->state,
                      ngx_resolver_strerror(ctx->state));
        rcf->failures++;

    } else {
        if (rcf->failures) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "mi_resolve: \"%V\" resolved again after %ui "
                          "failures", &ctx->name, rcf->failures);
            rcf->failures = 0;
        }

        n = ngx_min(ctx->naddrs, NGX_HTTP_MI_RESOLVE_MAX_SLOTS);

        for (i = 0; i < n; i++) {
            addrs[i].socklen = ctx->addrs[i].socklen;
            ngx_memcpy(&addrs[i].sockaddr, ctx->addrs[i].sockaddr,
                       ctx->addrs[i].socklen);
            ngx_inet_set_port(&addrs[i].sockaddr.sockaddr, rcf->port);
        }

        ngx_http_mi_resolve_update(rcf, addrs, n, log);
        ngx_http_mi_resolve_share(rcf);
    }

    /*
     * The resolver answers from its cache while ngx_time() is at most
     * ctx->valid: the next answer is asked for at the start of the second
     * after, when the resolver asks DNS.  A wait computed from a clock a
     * little behind ends early, and the cache answers again with the same
     * ctx->valid and a wait of a millisecond or so.
     */

    tp = ngx_timeofday();

    if (ctx->state == NGX_OK && ctx->valid >= tp->sec) {
        wait = (ctx->valid + 1 - tp->sec) * 1000 - (ngx_int_t) tp->msec;
        wait = ngx_max(wait, 1);
        wait = ngx_min(wait, NGX_HTTP_MI_RESOLVE_MAX_WAIT);

    } else {
        wait = NGX_HTTP_MI_RESOLVE_RETRY;
    }

    ngx_resolve_name_done(ctx);

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(&rcf->timer, (ngx_msec_t) wait);
    }
}


/*
 * The slots take the answer: a slot whose address is still in it keeps
 * it, a slot whose address left it goes down (its cached connections get
 * no new request and close at keepalive_timeout), and the new addresses
 * go to the slots that are down, with no TLS session yet.  Requests in
 * flight keep their own copy of their address (get_peer).
 */

static void
ngx_http_mi_resolve_update(ngx_http_mi_resolve_conf_t *rcf,
    ngx_http_mi_resolve_addr_t *addrs, ngx_uint_t naddrs, ngx_log_t *log)
{
    ngx_uint_t                    i, j, live;
    ngx_http_upstream_rr_peer_t  *peer;
    u_char                        used[NGX_HTTP_MI_RESOLVE_MAX_SLOTS];

    peer = rcf->peers->peer;

    ngx_memzero(used, sizeof(used));

    for (i = 0; i < rcf->slots; i++) {
        if (peer[i].down) {
            continue;
        }

        for (j = 0; j < naddrs; j++) {
            if (!used[j]
                && ngx_cmp_sockaddr(peer[i].sockaddr, peer[i].socklen,
                                    &addrs[j].sockaddr.sockaddr,
                                    addrs[j].socklen, 1)
                   == NGX_OK)
            {
                used[j] = 1;
                break;
            }
        }

        if (j == naddrs) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "mi_resolve: \"%V\": %V left the answer",
                          &rcf->host, &peer[i].name);
            peer[i].down = 1;
        }
    }

    i = 0;

    for (j = 0; j < naddrs; j++) {
        if (used[j]) {
            continue;
        }

        while (i < rcf->slots && !peer[i].down) {
            i++;
        }

        if (i == rcf->slots) {
            break;
        }

        ngx_memcpy(peer[i].sockaddr, &addrs[j].sockaddr, addrs[j].socklen);
        peer[i].socklen = addrs[j].socklen;
        peer[i].name.len = ngx_sock_ntop(peer[i].sockaddr, peer[i].socklen,
                                         peer[i].name.data,
                                         NGX_SOCKADDR_STRLEN, 1);
        peer[i].down = 0;
        peer[i].fails = 0;
        peer[i].current_weight = 0;
        peer[i].effective_weight = peer[i].weight;

#if (NGX_HTTP_SSL)
        if (peer[i].ssl_session) {
            ngx_ssl_free_session(peer[i].ssl_session);
            peer[i].ssl_session = NULL;
        }
#endif

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "mi_resolve: \"%V\": %V in slot %ui",
                      &rcf->host, &peer[i].name, i);
    }

    live = 0;

    for (i = 0; i < rcf->slots; i++) {
        if (!peer[i].down) {
            live++;
        }
    }

    /*
     * As nginx does for an upstream of one server, a lone address is never
     * taken out after a failure (max_fails): it is the only way to the API.
     */

    for (i = 0; i < rcf->slots; i++) {
        if (live > 1 && peer[i].max_fails == 0) {
            peer[i].fails = 0;
        }

        peer[i].max_fails = (live > 1);
    }

    rcf->peers->tries = live ? live : 1;
}


/* The slots' addresses, for the workers of the next reload. */

static void
ngx_http_mi_resolve_share(ngx_http_mi_resolve_conf_t *rcf)
{
    ngx_uint_t                    i, n;
    ngx_slab_pool_t              *shpool;
    ngx_http_upstream_rr_peer_t  *peer;
    ngx_http_mi_resolve_shm_t    *sh;

    peer = rcf->peers->peer;
    sh = rcf->shared;
    shpool = (ngx_slab_pool_t *) rcf->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    n = 0;

    for (i = 0; i < rcf->slots; i++) {
        if (peer[i].down) {
            continue;
        }

        sh->addrs[n].socklen = peer[i].socklen;
        ngx_memcpy(&sh->addrs[n].sockaddr, peer[i].sockaddr,
                   peer[i].socklen);
        n++;
    }

    sh->naddrs = n;

    ngx_shmtx_unlock(&shpool->mutex);
}
