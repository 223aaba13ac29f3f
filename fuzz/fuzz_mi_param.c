/*
 * libFuzzer harness of mi_param.  The first input byte picks the
 * parameter; the rest is its value as sent.  It aborts when the verdict of
 * the default pattern, judged alone or by the route matcher inside a path,
 * differs from decoding the value and matching it with PCRE2.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../t/unit/mi_param_ref.h"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    mi_route_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             in_path;
    mi_param_t      p;
    mi_param_rc_t   expect;
    unsigned char  *raw;

    if (size == 0) {
        return 0;
    }

    p = data[0] % MI_PARAM_COUNT;

    /* an exactly sized copy: ASan sees any read past either end */

    raw = malloc(size - 1 ? size - 1 : 1);
    if (raw == NULL) {
        abort();
    }

    memcpy(raw, data + 1, size - 1);

    expect = mi_param_ref(p, raw, size - 1);

    if (mi_param_check(p, raw, size - 1) != expect) {
        abort();
    }

    in_path = mi_param_ref_in_path(p, raw, size - 1);

    if (in_path != -1 && in_path != (int) expect) {
        abort();
    }

    free(raw);

    return 0;
}
