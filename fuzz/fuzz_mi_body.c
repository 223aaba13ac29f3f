/*
 * libFuzzer harness of mi_body.  The first input byte picks the schema
 * (bit 0), max_scene_ids (bit 1: 3 or the default) and a split point
 * (bits 2-7, scaled to the body); the rest is the body.
 *
 * It aborts when the verdict or message differs between one feed (under
 * each implementation of mi_body_simd the CPU has), two feeds and
 * byte-at-a-time feeding, when an error is not sticky, or when
 * a message is not "...: ... at byte N" in printable ASCII with N inside
 * the body.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mi_body.h"
#include "mi_body_simd.h"


#define MI_FUZZ_BYTES_MAX  1024


typedef struct {
    mi_body_rc_t  rc;
    char          message[MI_BODY_MESSAGE_MAX];
} mi_fuzz_result_t;


static void
mi_fuzz_fail(const char *what, const mi_fuzz_result_t *a,
    const mi_fuzz_result_t *b)
{
    fprintf(stderr, "mi_body: %s\n  %d \"%s\"\n  %d \"%s\"\n", what,
            a->rc, a->message, b ? b->rc : -1, b ? b->message : "");
    abort();
}


/* Feeds from a heap copy of the exact size, so ASan sees any overread. */

static mi_body_rc_t
mi_fuzz_feed(mi_body_check_t *ck, const uint8_t *p, size_t len)
{
    mi_body_rc_t    rc;
    unsigned char  *copy;

    if (len == 0) {
        return mi_body_feed(ck, NULL, 0);
    }

    copy = malloc(len);

    if (copy == NULL) {
        abort();
    }

    memcpy(copy, p, len);
    rc = mi_body_feed(ck, copy, len);
    free(copy);

    return rc;
}


static void
mi_fuzz_check_message(const mi_fuzz_result_t *r, size_t len)
{
    size_t               i;
    const char          *at;
    unsigned long long   n;
    char                *end;

    for (i = 0; i < MI_BODY_MESSAGE_MAX && r->message[i] != '\0'; i++) {
        if (r->message[i] < 0x20 || r->message[i] > 0x7E) {
            mi_fuzz_fail("message not printable ASCII", r, NULL);
        }
    }

    if (i == MI_BODY_MESSAGE_MAX) {
        mi_fuzz_fail("message not NUL-terminated", r, NULL);
    }

    if (r->rc == MI_BODY_OK) {
        if (i != 0) {
            mi_fuzz_fail("message on a valid body", r, NULL);
        }

        return;
    }

    if (r->rc != MI_BODY_INVALID_JSON && r->rc != MI_BODY_INVALID_BODY) {
        mi_fuzz_fail("unexpected rc after finish", r, NULL);
    }

    at = strstr(r->message, " at byte ");

    if (at == NULL || strstr(r->message, ": ") == NULL) {
        mi_fuzz_fail("message not \"<where>: <what> at byte <N>\"", r, NULL);
    }

    while (strstr(at + 1, " at byte ") != NULL) {
        at = strstr(at + 1, " at byte ");
    }

    n = strtoull(at + sizeof(" at byte ") - 1, &end, 10);

    if (*end != '\0' || n > len) {
        mi_fuzz_fail("offset missing or beyond the body", r, NULL);
    }
}


/* Ends a check; the verdict must then hold whatever comes after it. */

static void
mi_fuzz_finish(mi_body_check_t *ck, mi_body_rc_t fed, const uint8_t *body,
    size_t len, mi_fuzz_result_t *r)
{
    r->rc = mi_body_finish(ck);
    memcpy(r->message, mi_body_message(ck), MI_BODY_MESSAGE_MAX);

    if (fed != MI_BODY_MORE && fed != r->rc) {
        mi_fuzz_fail("finish changed the verdict of feed", r, NULL);
    }

    mi_fuzz_check_message(r, len);

    if (r->rc == MI_BODY_OK) {
        return;
    }

    if (mi_fuzz_feed(ck, body, len) != r->rc || mi_body_finish(ck) != r->rc
        || memcmp(mi_body_message(ck), r->message, MI_BODY_MESSAGE_MAX) != 0)
    {
        mi_fuzz_fail("error not sticky", r, NULL);
    }
}


static void
mi_fuzz_compare(const char *how, const mi_fuzz_result_t *a,
    const mi_fuzz_result_t *b)
{
    if (a->rc != b->rc || strcmp(a->message, b->message) != 0) {
        mi_fuzz_fail(how, a, b);
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    mi_body_tables_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t             i, len, split;
    uint32_t           max;
    const uint8_t     *body;
    mi_body_rc_t       rc, first;
    mi_body_check_t    ck, moved;
    mi_body_isa_t      isa;
    mi_body_schema_t   schema;
    mi_fuzz_result_t   one, two, bytes;

    if (size == 0) {
        return 0;
    }

    schema = (data[0] & 1) ? MI_BODY_ASSET_REQUEST : MI_BODY_INDEX_REQUEST;
    max = (data[0] & 2) ? 3 : MI_BODY_DEFAULT_MAX_SCENE_IDS;

    body = data + 1;
    len = size - 1;
    split = (size_t) (data[0] >> 2) * (len + 1) / 64;

    mi_body_init(&ck, schema, max);
    rc = mi_fuzz_feed(&ck, body, len);
    mi_fuzz_finish(&ck, rc, body, len, &one);

    for (isa = 0; isa < MI_BODY_ISA_COUNT; isa++) {
        if (mi_body_isa_set(isa)) {
            mi_body_init(&ck, schema, max);
            rc = mi_fuzz_feed(&ck, body, len);
            mi_fuzz_finish(&ck, rc, body, len, &two);
            mi_fuzz_compare("implementations differ", &one, &two);
        }
    }

    /* two feeds, an empty one between, the state moved by a plain copy */

    mi_body_init(&ck, schema, max);
    rc = mi_fuzz_feed(&ck, body, split);
    memcpy(&moved, &ck, sizeof(mi_body_check_t));
    memset(&ck, 0xA5, sizeof(mi_body_check_t));

    if (mi_fuzz_feed(&moved, body, 0) != rc) {
        mi_fuzz_fail("an empty feed changed the verdict", &one, NULL);
    }

    if (rc == MI_BODY_MORE) {
        rc = mi_fuzz_feed(&moved, body + split, len - split);

    } else if (mi_fuzz_feed(&moved, body + split, len - split) != rc) {
        mi_fuzz_fail("error not sticky across feeds", &one, NULL);
    }

    mi_fuzz_finish(&moved, rc, body, len, &two);
    mi_fuzz_compare("one feed and two feeds differ", &one, &two);

    if (len > MI_FUZZ_BYTES_MAX) {
        return 0;
    }

    mi_body_init(&ck, schema, max);
    first = MI_BODY_MORE;

    /* straight from the input: a heap copy per byte fills ASan's quarantine */

    for (i = 0; i < len; i++) {
        rc = mi_body_feed(&ck, body + i, 1);

        if (first == MI_BODY_MORE && rc != MI_BODY_MORE) {
            first = rc;

            if (ck.offset != i) {
                mi_fuzz_fail("offset not on the deciding byte", &one, NULL);
            }

        } else if (first != MI_BODY_MORE && rc != first) {
            mi_fuzz_fail("error not sticky byte by byte", &one, NULL);
        }
    }

    mi_fuzz_finish(&ck, first, body, len, &bytes);
    mi_fuzz_compare("one feed and byte by byte differ", &one, &bytes);

    return 0;
}
