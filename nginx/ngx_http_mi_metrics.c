
/*
 * ngx_http_mi_module: counting.  At the log phase a request is counted
 * from what the phase handler recorded (route, signed or refused, error)
 * and what the upstream module recorded (status, time), with atomic adds
 * into one shared memory zone (ngx_http_mi_metrics.h): every worker counts
 * into it, no lock is taken, nothing is allocated, and a reload that keeps
 * the zone's name and size keeps its counts.  The module's own endpoints,
 * mi_metrics (ngx_http_mi_prometheus.c) and mi_health, read it.
 */

#include "ngx_http_mi_metrics.h"


#define NGX_HTTP_MI_METRICS_NAME     "mi_metrics"
#define NGX_HTTP_MI_METRICS_SIZE     (64 * 1024)

/* The errors whose refusal comes after the body was read and checked. */
#define NGX_HTTP_MI_BODY_CHECKED                                              \
    ((1 << NGX_HTTP_MI_INVALID_JSON) | (1 << NGX_HTTP_MI_INVALID_BODY))


/*
 * The readiness rule counts the upstream's authentication failures in a
 * row (a 401 with the API Gateway's errorCode "200": the access key, the
 * signature or the clock) in one word with the keys they are about: the
 * keys' id (ngx_http_mi_keys_id) in the high half, the count in the low
 * half.  One compare-and-swap then counts a failure, and one resets the
 * count at a success, only for the keys the worker signs with: the old
 * workers of a reload that changed the keys count no more, and the new
 * keys start from zero.  With a 32-bit ngx_atomic_t, 16 bits of the id
 * are kept.
 */
#define NGX_HTTP_MI_RUN_SHIFT        (sizeof(ngx_atomic_uint_t) * 4)
#define NGX_HTTP_MI_RUN_COUNT                                                 \
    (((ngx_atomic_uint_t) 1 << NGX_HTTP_MI_RUN_SHIFT) - 1)
#define ngx_http_mi_run_keys(id)                                              \
    ((ngx_atomic_uint_t) (id) << NGX_HTTP_MI_RUN_SHIFT)


static ngx_int_t ngx_http_mi_metrics_log_handler(ngx_http_request_t *r);
static void ngx_http_mi_count_upstream(ngx_http_request_t *r,
    ngx_http_mi_metrics_t *m, ngx_uint_t route, ngx_http_mi_ctx_t *ctx);
static void ngx_http_mi_count_auth_failure(ngx_http_mi_metrics_t *m,
    uint32_t keys_id, time_t now);
static void ngx_http_mi_count_success(ngx_http_mi_metrics_t *m,
    uint32_t keys_id, time_t now);
static ngx_int_t ngx_http_mi_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_mi_metrics_slots(ngx_shm_zone_t *shm_zone,
    ngx_slab_pool_t *shpool, ngx_http_mi_metrics_t *m,
    ngx_http_mi_main_conf_t *mmcf);


/*
 * The API answers within a second when it is well (a summary is a job it
 * runs later); the top buckets catch the gateway's 504 at proxy_read_timeout
 * (60 s by default).  In milliseconds, as nginx measures.
 */
const uint64_t  ngx_http_mi_latency_bounds[] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000
};

/*
 * An empty body asks for a full analysis (le="0"); a sceneIds entry takes
 * 2 to 11 bytes, so 10000 of them stay under 128 KiB.
 */
const uint64_t  ngx_http_mi_body_bounds[] = {
    0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576
};


/* Counts one request of a signing location, once, as it is logged. */

static ngx_int_t
ngx_http_mi_metrics_log_handler(ngx_http_request_t *r)
{
    off_t                       size;
    ngx_uint_t                  route, i;
    ngx_http_mi_ctx_t          *ctx;
    ngx_http_mi_metrics_t      *m;
    ngx_http_mi_main_conf_t    *mmcf;
    ngx_http_mi_caller_slot_t  *slot;

    /* a redirect may have taken r out of its signing location: still counted */

    ctx = ngx_http_mi_get_module_ctx(r);

    if (ctx == NULL) {
        return NGX_OK;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);
    m = mmcf->metrics->data;
    slot = mmcf->slots[ctx->caller_label];

    if (ctx->route) {
        route = ctx->route - mi_routes;

    } else {
        /* only mi_validate off names a request without a route */
        route = ctx->route_name.len ? NGX_HTTP_MI_ROUTE_GENERIC
                                    : NGX_HTTP_MI_ROUTE_NONE;
    }

    if (ctx->signed_request) {
        (void) ngx_atomic_fetch_add(
                                &slot->requests[route][NGX_HTTP_MI_SIGNED], 1);
        ngx_http_mi_count_upstream(r, m, route, ctx);

        if (ctx->deprecated) {
            ngx_http_mi_count_deprecated(r, ctx, slot, route);
        }

    } else if (ctx->error_code.len) {
        (void) ngx_atomic_fetch_add(
                             &slot->requests[route][NGX_HTTP_MI_REJECTED], 1);
        (void) ngx_atomic_fetch_add(&slot->rejections[route][ctx->error], 1);

        if (!(NGX_HTTP_MI_BODY_CHECKED & (1 << ctx->error))) {
            return NGX_OK;
        }

    } else {
        /*
         * neither: nginx ended the request without an answer (the client
         * left, memory ran out), or an error_page answered it; an error
         * answered with the module's JSON, a 500 too, has its code
         */
        return NGX_OK;
    }

    if (ctx->route == NULL || ctx->route->body == MI_ROUTE_NO_BODY) {
        return NGX_OK;
    }

    /* read and checked: nginx has the decoded size of a chunked body */

    size = ngx_max(r->headers_in.content_length_n, 0);

    i = mi_prom_bucket(ngx_http_mi_body_bounds, NGX_HTTP_MI_BODY_BOUNDS,
                       (uint64_t) size);

    (void) ngx_atomic_fetch_add(&m->body[route][i], 1);
    (void) ngx_atomic_fetch_add(&m->body_bytes[route], size);

    return NGX_OK;
}


/*
 * The last upstream attempt gives the status; a 502 or 504 without a
 * response header is nginx's own (refused, reset, timed out, no live
 * upstream): "error".  The time is that of every attempt.  A request whose
 * client left before any answer (no status) is not an upstream outcome.
 */

static void
ngx_http_mi_count_upstream(ngx_http_request_t *r, ngx_http_mi_metrics_t *m,
    ngx_uint_t route, ngx_http_mi_ctx_t *ctx)
{
    ngx_uint_t                  i, class, status;
    ngx_msec_t                  ms;
    ngx_http_mi_main_conf_t    *mmcf;
    ngx_http_upstream_state_t  *state, *last;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return;
    }

    state = r->upstream_states->elts;
    last = &state[r->upstream_states->nelts - 1];
    status = last->status;

    if (status == 0) {
        return;
    }

    if (last->header_time == (ngx_msec_t) -1
        || status < NGX_HTTP_OK || status > 599)
    {
        class = NGX_HTTP_MI_NO_RESPONSE;

    } else {
        class = status / 100 - 2;
    }

    (void) ngx_atomic_fetch_add(&m->upstream[route][class], 1);

    ms = 0;

    for (i = 0; i < r->upstream_states->nelts; i++) {
        if (state[i].response_time != (ngx_msec_t) -1) {
            ms += state[i].response_time;
        }
    }

    i = mi_prom_bucket(ngx_http_mi_latency_bounds, NGX_HTTP_MI_LATENCY_BOUNDS,
                       ms);

    (void) ngx_atomic_fetch_add(&m->latency[route][i], 1);
    (void) ngx_atomic_fetch_add(&m->latency_ms[route], ms);

    /*
     * The readiness rule: answers below 500 tell whether the key works.
     * Of the refusals, only an authentication failure is about the key;
     * a permission denied (a 401 with errorCode "210", or a 403) is about
     * what the request asked for, which any client chooses.
     */

    if (class == NGX_HTTP_MI_NO_RESPONSE || class == NGX_HTTP_MI_5XX) {
        return;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);

    if (status == NGX_HTTP_UNAUTHORIZED || status == NGX_HTTP_FORBIDDEN) {
        i = (status == NGX_HTTP_UNAUTHORIZED) ? NGX_HTTP_MI_401
                                              : NGX_HTTP_MI_403;

        (void) ngx_atomic_fetch_add(&m->denied[route][i], 1);

        if (status == NGX_HTTP_UNAUTHORIZED
            && ctx->refusal.verdict == MI_REFUSAL_AUTHENTICATION)
        {
            ngx_http_mi_count_auth_failure(m, mmcf->keys_id, ngx_time());
        }

        return;
    }

    ngx_http_mi_count_success(m, mmcf->keys_id, ngx_time());
}


/* One more in a row, if the run is about the keys this worker signs with. */

static void
ngx_http_mi_count_auth_failure(ngx_http_mi_metrics_t *m, uint32_t keys_id,
    time_t now)
{
    ngx_atomic_uint_t  old, keys;

    keys = ngx_http_mi_run_keys(keys_id);

    for ( ;; ) {
        old = m->auth_failures;

        if ((old & ~NGX_HTTP_MI_RUN_COUNT) != keys) {
            /* a reload has changed the keys since this worker started */
            return;
        }

        if ((old & NGX_HTTP_MI_RUN_COUNT) == NGX_HTTP_MI_RUN_COUNT
            || ngx_atomic_cmp_set(&m->auth_failures, old, old + 1))
        {
            break;
        }
    }

    if (m->last_auth_failure != (ngx_atomic_uint_t) now) {
        m->last_auth_failure = now;
    }
}


/*
 * A success ends the run of its keys.  Most answers are successes: the
 * word is only read, not written, while the run is at zero, so that the
 * workers do not take its cache line from each other at every request.
 */

static void
ngx_http_mi_count_success(ngx_http_mi_metrics_t *m, uint32_t keys_id,
    time_t now)
{
    ngx_atomic_uint_t  old, keys;

    if (m->last_success != (ngx_atomic_uint_t) now) {
        m->last_success = now;
    }

    keys = ngx_http_mi_run_keys(keys_id);

    for ( ;; ) {
        old = m->auth_failures;

        if (old == keys || (old & ~NGX_HTTP_MI_RUN_COUNT) != keys) {
            return;
        }

        if (ngx_atomic_cmp_set(&m->auth_failures, old, keys)) {
            return;
        }
    }
}


/* What the readiness rule reads: the run counted with this worker's keys. */

void
ngx_http_mi_metrics_upstream(ngx_http_request_t *r,
    ngx_http_mi_upstream_health_t *uh)
{
    ngx_atomic_uint_t         run, keys;
    ngx_http_mi_metrics_t    *m;
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mi_module);
    m = mmcf->metrics->data;

    run = m->auth_failures;
    keys = ngx_http_mi_run_keys(mmcf->keys_id);

    uh->last_success = m->last_success;
    uh->last_auth_failure = m->last_auth_failure;
    uh->auth_failures = 0;

    if ((run & ~NGX_HTTP_MI_RUN_COUNT) == keys) {
        uh->auth_failures = run & NGX_HTTP_MI_RUN_COUNT;
    }
}


/*
 * nginx's slab allocator keeps its pages' headers in the zone; eight pages
 * beside the counters is what nginx's own zones ask at least.  Each value
 * of the "caller" label takes pages of its own.
 */

size_t
ngx_http_mi_metrics_min_size(ngx_uint_t labels)
{
    return ngx_align(sizeof(ngx_http_mi_metrics_t), ngx_pagesize)
           + labels * ngx_align(sizeof(ngx_http_mi_caller_slot_t),
                                ngx_pagesize)
           + 8 * ngx_pagesize;
}


ngx_int_t
ngx_http_mi_metrics_add_zone(ngx_conf_t *cf, ngx_http_mi_main_conf_t *mmcf,
    ngx_str_t *name, size_t size)
{
    ngx_shm_zone_t  *shm_zone;

    /* a zone of another module with this name fails here */

    shm_zone = ngx_shared_memory_add(cf, name, size, &ngx_http_mi_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_mi_metrics_init_zone;
    shm_zone->data = mmcf;

    mmcf->metrics = shm_zone;

    return NGX_OK;
}


/*
 * nginx hands over the previous cycle's data when a reload keeps the
 * zone's name and size (the same memory): the counts go on.  Otherwise the
 * zone is new and starts at zero, which Prometheus reads as a reset.  The
 * zone's data is the configuration that made it until here, then the
 * counters.
 */

static ngx_int_t
ngx_http_mi_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t          *shpool;
    ngx_atomic_uint_t         keys;
    ngx_http_mi_metrics_t    *m;
    ngx_http_mi_main_conf_t  *mmcf;

    mmcf = shm_zone->data;

    if (data) {
        m = data;

    } else {
        shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            m = shpool->data;

        } else {
            m = ngx_slab_calloc(shpool, sizeof(ngx_http_mi_metrics_t));
            if (m == NULL) {
                return NGX_ERROR;
            }

            shpool->data = m;
        }
    }

    shm_zone->data = m;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (ngx_http_mi_metrics_slots(shm_zone, shpool, m, mmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * A run of authentication failures with other keys says nothing of
     * these: it starts afresh.  The old workers may still be counting; a
     * compare-and-swap of theirs that comes after this store fails, and
     * they then see keys that are not theirs.
     */

    keys = ngx_http_mi_run_keys(mmcf->keys_id);

    if ((m->auth_failures & ~NGX_HTTP_MI_RUN_COUNT) != keys) {
        m->auth_failures = keys;
        m->last_auth_failure = 0;
    }

    return NGX_OK;
}


/*
 * The counts of each label of this configuration: a slot the zone has for
 * that text already (from an earlier configuration), else a new one.
 */

static ngx_int_t
ngx_http_mi_metrics_slots(ngx_shm_zone_t *shm_zone, ngx_slab_pool_t *shpool,
    ngx_http_mi_metrics_t *m, ngx_http_mi_main_conf_t *mmcf)
{
    ngx_str_t                   *label;
    ngx_uint_t                   i;
    ngx_http_mi_caller_slot_t   *slot, **last;

    label = mmcf->labels.elts;

    for (i = 0; i < mmcf->labels.nelts; i++) {

        last = &m->callers;

        for (slot = m->callers; slot; slot = slot->next) {
            if (slot->len == label[i].len
                && ngx_memcmp(slot->label, label[i].data, slot->len) == 0)
            {
                break;
            }

            last = &slot->next;
        }

        if (slot == NULL) {
            slot = ngx_slab_calloc(shpool, sizeof(ngx_http_mi_caller_slot_t));

            if (slot == NULL) {
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "\"mi_metrics_zone\" \"%V\": no room for the "
                              "caller label \"%V\": the zone keeps the "
                              "labels of earlier configurations until it "
                              "is made anew; make it larger",
                              &shm_zone->shm.name, &label[i]);
                return NGX_ERROR;
            }

            slot->len = label[i].len;
            ngx_memcpy(slot->label, label[i].data, label[i].len);

            /* the workers of the old cycle may be walking the list */

            ngx_memory_barrier();

            *last = slot;
        }

        mmcf->slots[i] = slot;
    }

    return NGX_OK;
}


/*
 * Postconfiguration: the zone named by mi_metrics_zone, else the default
 * one if mi_metrics or mi_health asks for it; without a zone nothing is
 * counted and the log phase is left alone.
 */

ngx_int_t
ngx_http_mi_metrics_init(ngx_conf_t *cf)
{
    size_t                      size;
    ngx_str_t                   name = ngx_string(NGX_HTTP_MI_METRICS_NAME);
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_mi_main_conf_t    *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mi_module);

    if (mmcf->metrics == NULL) {
        if (!mmcf->metrics_wanted) {
            return NGX_OK;
        }

        /* in steps of the default size, so that a caller more or less
           keeps the zone across a reload */

        size = ngx_align(ngx_http_mi_metrics_min_size(mmcf->labels.nelts),
                         NGX_HTTP_MI_METRICS_SIZE);

        if (ngx_http_mi_metrics_add_zone(cf, mmcf, &name, size) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (mmcf->metrics->shm.size
               < ngx_http_mi_metrics_min_size(mmcf->labels.nelts))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mi_metrics_zone\" \"%V\": size %uzk is too "
                           "small for %ui values of the \"caller\" label, "
                           "at least %uzk", &mmcf->metrics->shm.name,
                           mmcf->metrics->shm.size / 1024,
                           mmcf->labels.nelts,
                           ngx_http_mi_metrics_min_size(mmcf->labels.nelts)
                           / 1024);
        return NGX_ERROR;
    }

    mmcf->slots = ngx_pcalloc(cf->pool, mmcf->labels.nelts * sizeof(void *));
    if (mmcf->slots == NULL) {
        return NGX_ERROR;
    }

    /* every location is merged by now: the keys in use are known */

    mmcf->keys_id = ngx_http_mi_keys_id(mmcf);

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mi_metrics_log_handler;

    return NGX_OK;
}
