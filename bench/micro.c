/*
 * bench/micro: what the module's own steps cost, in ns per operation, each
 * beside its floor or yardstick:
 *   - mi_sign_v2 against a bare HMAC-SHA256 of the same string-to-sign
 *     with the same precomputed key states (the least any signer can do);
 *   - the route match with its default parameter checks;
 *   - the body checker on a 5,000-id body, in GB/s, under each
 *     implementation of mi_body_simd, against simdjson parsing the same
 *     bytes.
 * Each figure is the median of RUNS runs of about 20 ms of the thread's
 * own CPU time (time spent waiting for a busy machine's CPU is left out;
 * what other processes do to its caches is not), with min and max beside
 * it.  A figure compared with another is measured in alternate runs, and
 * their ratio is the median of the runs' ratios.
 */

#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "mi_body.h"
#include "mi_body_simd.h"
#include "mi_route.h"
#include "mi_sign.h"


#define RUNS     15
#define RUN_NS   20000000.0


typedef int (*micro_fn_t)(void);


typedef struct {
    double   median;
    double   min;
    double   max;
} micro_stat_t;


void micro_simdjson_load(const char *p, size_t len);
int micro_simdjson_dom(void);
int micro_simdjson_ondemand(void);
const char *micro_simdjson_implementation(void);


static volatile int   sink;

static mi_sign_key_t  key;
static unsigned char  message[256];
static size_t         message_len;

static const char  method[] = "POST";
static const char  path[] =
    "/api/v1/workspaces/my-workspace/projects/1234/assets/5678"
    "/scene-summary";
static const char  status_path[] =
    "/api/v1/workspaces/my-workspace/projects/1234/assets/5678"
    "/indexes/1001/scene-summaries/101/status";
static const char  timestamp[] = "1700000000000";
static const char  access_key[] = "ACCESS_KEY_ID";

static char           *body;
static size_t          body_len;


static double
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return ts.tv_sec * 1e9 + ts.tv_nsec;
}


static int
compare(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* How many calls of fn take about RUN_NS. */
static long
calibrate(micro_fn_t fn)
{
    long    i, n;
    double  t;

    for (n = 1; ; n *= 2) {
        t = now_ns();

        for (i = 0; i < n; i++) {
            sink += fn();
        }

        t = now_ns() - t;

        if (t > RUN_NS / 10) {
            return (long) (n * (RUN_NS / t)) + 1;
        }
    }
}


static double
run_once(micro_fn_t fn, long n)
{
    long    i;
    double  t;

    t = now_ns();

    for (i = 0; i < n; i++) {
        sink += fn();
    }

    return (now_ns() - t) / n;
}


static micro_stat_t
stat_of(double *runs)
{
    micro_stat_t  s;

    qsort(runs, RUNS, sizeof(double), compare);

    s.median = runs[RUNS / 2];
    s.min = runs[0];
    s.max = runs[RUNS - 1];

    return s;
}


/* ns per call: median, min and max over RUNS runs. */
static micro_stat_t
measure(micro_fn_t fn)
{
    int     r;
    long    n;
    double  runs[RUNS];

    n = calibrate(fn);

    for (r = 0; r < RUNS; r++) {
        runs[r] = run_once(fn, n);
    }

    return stat_of(runs);
}


/* a and b in alternate runs; returns the median of the runs' b/a. */
static double
measure_pair(micro_fn_t a, micro_fn_t b, micro_stat_t *sa, micro_stat_t *sb)
{
    int     r;
    long    na, nb;
    double  ra[RUNS], rb[RUNS], ratio[RUNS];

    na = calibrate(a);
    nb = calibrate(b);

    for (r = 0; r < RUNS; r++) {
        ra[r] = run_once(a, na);
        rb[r] = run_once(b, nb);
        ratio[r] = rb[r] / ra[r];
    }

    *sa = stat_of(ra);
    *sb = stat_of(rb);

    return stat_of(ratio).median;
}


/* The floor: HMAC of the contiguous string-to-sign, key states ready. */
static int
bare_hmac(void)
{
    SHA256_CTX     ctx;
    unsigned char  digest[SHA256_DIGEST_LENGTH];

    ctx = key.inner;
    SHA256_Update(&ctx, message, message_len);
    SHA256_Final(digest, &ctx);

    ctx = key.outer;
    SHA256_Update(&ctx, digest, sizeof(digest));
    SHA256_Final(digest, &ctx);

    return digest[0];
}


/*
 * Back to back, a CPU overlaps one call's tail with the next call's head;
 * a request signs once, among other work.  A fence before each call
 * measures them one at a time.
 */
static void
fence(void)
{
#if defined(__x86_64__)
    __asm__ volatile ("mfence" ::: "memory");
#else
    __sync_synchronize();
#endif
}


static int
bare_hmac_fenced(void)
{
    fence();
    return bare_hmac();
}


#define STR(s)  (mi_sign_str_t) { (const unsigned char *) (s), sizeof(s) - 1 }

static int
sign_v2(void)
{
    unsigned char  out[MI_SIGNATURE_LEN];
    mi_sign_str_t  none = { NULL, 0 };

    mi_sign_v2(&key, STR(method), STR(path), 0, none, STR(timestamp),
               STR(access_key), out);

    return out[0];
}


static int
sign_v2_fenced(void)
{
    fence();
    return sign_v2();
}


/* What the module does for a path: match, then read the verdicts. */
static int
route(const char *m, size_t mlen, const char *p, size_t plen)
{
    int               i, bad;
    mi_route_match_t  match;

    if (mi_route_match((const unsigned char *) m, mlen,
                       (const unsigned char *) p, plen, &match)
        != MI_MATCH_FOUND)
    {
        abort();
    }

    bad = 0;

    for (i = 0; i < MI_PARAM_COUNT; i++) {
        bad |= match.check[i];
    }

    return bad;
}


static int
route_status(void)
{
    return route("GET", 3, status_path, sizeof(status_path) - 1);
}


static int
route_request(void)
{
    return route(method, sizeof(method) - 1, path, sizeof(path) - 1);
}


static int
body_check(void)
{
    mi_body_check_t  ck;

    mi_body_init(&ck, MI_BODY_ASSET_REQUEST, MI_BODY_DEFAULT_MAX_SCENE_IDS);
    (void) mi_body_feed(&ck, (const unsigned char *) body, body_len);

    if (mi_body_finish(&ck) != MI_BODY_OK) {
        abort();
    }

    return 1;
}


static int
simdjson_dom(void)
{
    if (!micro_simdjson_dom()) {
        abort();
    }

    return 1;
}


static int
simdjson_ondemand(void)
{
    if (!micro_simdjson_ondemand()) {
        abort();
    }

    return 1;
}


static void
report_ns(const char *what, micro_stat_t s)
{
    printf("%-44s %9.1f ns  (min %.1f, max %.1f)\n", what, s.median, s.min,
           s.max);
}


static void
report_gbs(const char *what, micro_stat_t s)
{
    /* bytes per ns is GB/s; the fastest run is the max */
    printf("%-44s %9.2f GB/s (min %.2f, max %.2f)  %8.0f ns per body\n",
           what, body_len / s.median, body_len / s.max, body_len / s.min,
           s.median);
}


int
main(void)
{
    int             isa;
    size_t          i, n;
    double          ratio;
    micro_stat_t    hmac, sign, s;
    char            what[64];

    mi_sign_init();
    mi_route_init();
    mi_body_tables_init();

    mi_sign_key_init(&key, (const unsigned char *) "ncp-secret-example",
                     sizeof("ncp-secret-example") - 1);

    message_len = (size_t) snprintf((char *) message, sizeof(message),
                                    "%s %s\n%s\n%s", method, path, timestamp,
                                    access_key);

    body = malloc(64 * 1024);
    if (body == NULL) {
        return 1;
    }

    n = (size_t) sprintf(body, "{\"sceneIds\":[");

    for (i = 1; i <= 5000; i++) {
        n += (size_t) sprintf(body + n, "%s%zu", i > 1 ? "," : "", i);
    }

    n += (size_t) sprintf(body + n, "]}");
    body_len = n;

    printf("signing (string-to-sign %zu bytes), back to back\n", message_len);
    ratio = measure_pair(bare_hmac, sign_v2, &hmac, &sign);
    report_ns("  bare HMAC-SHA256, precomputed key (floor)", hmac);
    report_ns("  mi_sign_v2", sign);
    printf("  mi_sign_v2 / bare HMAC, median of runs     %9.2f\n", ratio);

    printf("signing, one at a time (a fence before each call)\n");
    ratio = measure_pair(bare_hmac_fenced, sign_v2_fenced, &hmac, &sign);
    report_ns("  bare HMAC-SHA256, precomputed key (floor)", hmac);
    report_ns("  mi_sign_v2", sign);
    printf("  mi_sign_v2 / bare HMAC, median of runs     %9.2f\n\n", ratio);

    printf("route match with the default parameter checks\n");
    report_ns("  index.status (5 parameters)", measure(route_status));
    report_ns("  asset.request (3 parameters)", measure(route_request));
    printf("\n");

    printf("body checker, %zu-byte body of 5,000 ids\n", body_len);

    for (isa = MI_BODY_ISA_COUNT - 1; isa >= 0; isa--) {
        if (!mi_body_isa_set(isa)) {
            continue;
        }

        snprintf(what, sizeof(what), "  mi_body (%s)", mi_body_isa_name());
        report_gbs(what, measure(body_check));
    }

    micro_simdjson_load(body, body_len);

    s = measure(simdjson_dom);
    snprintf(what, sizeof(what), "  simdjson %s, DOM parse",
             micro_simdjson_implementation());
    report_gbs(what, s);

    s = measure(simdjson_ondemand);
    snprintf(what, sizeof(what), "  simdjson %s, on demand, every id",
             micro_simdjson_implementation());
    report_gbs(what, s);

    return sink == 42 ? 1 : 0;
}
