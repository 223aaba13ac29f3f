/*
 * The pure parts of the metrics: label quoting, histogram buckets.
 */

#include "mi_prom.h"


size_t
mi_prom_quote(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t          n;
    unsigned char   c;

    n = 0;

    while (len--) {
        c = *src++;

        if (c == '"' || c == '\\') {
            if (dst) {
                dst[n] = '\\';
                dst[n + 1] = c;
            }

            n += 2;
            continue;
        }

        if (dst) {
            dst[n] = (c < 0x20 || c > 0x7e) ? '?' : c;
        }

        n++;
    }

    return n;
}


/* The bounds are a dozen at most: a linear scan beats a bisection. */

size_t
mi_prom_bucket(const uint64_t *bounds, size_t n, uint64_t value)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (value <= bounds[i]) {
            return i;
        }
    }

    return n;
}
