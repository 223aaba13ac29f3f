/*
 * libFuzzer harness of mi_refusal.  The first input byte picks where the
 * body is cut; the rest is the body.  It aborts when the body read in
 * pieces (cut there, then every so many bytes) gets another verdict than
 * read whole, or when more than MI_REFUSAL_SCAN_MAX bytes were counted.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mi_refusal.h"


static mi_refusal_e
read_piece(mi_refusal_t *rf, const uint8_t *p, size_t len)
{
    mi_refusal_e    v;
    unsigned char  *copy;

    /* an exactly sized copy: ASan sees any read past either end */

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, p, len);

    v = mi_refusal_read(rf, copy, len);

    free(copy);

    return v;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t        cut, step, i, n;
    mi_refusal_t  whole, pieces;
    mi_refusal_e  v;

    if (size == 0) {
        return 0;
    }

    cut = data[0];
    step = data[0] % 13 + 1;
    data++;
    size--;

    memset(&whole, 0, sizeof(whole));
    v = read_piece(&whole, data, size);

    memset(&pieces, 0, sizeof(pieces));
    cut = cut < size ? cut : size;
    (void) read_piece(&pieces, data, cut);

    for (i = cut; i < size; i += n) {
        n = size - i < step ? size - i : step;
        (void) read_piece(&pieces, data + i, n);
    }

    if (read_piece(&pieces, data, 0) != v
        || whole.seen > MI_REFUSAL_SCAN_MAX
        || pieces.seen > MI_REFUSAL_SCAN_MAX)
    {
        abort();
    }

    return 0;
}
