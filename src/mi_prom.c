/*
 * The pure parts of the metrics: label quoting, histogram buckets.
 */

#include "mi_prom.h"


/* A byte's one-byte code: itself, or '?' outside printable ASCII. */
#define mi_prom_code(c)  (((c) < 0x20 || (c) > 0x7e) ? '?' : (c))


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
            dst[n] = mi_prom_code(c);
        }

        n++;
    }

    return n;
}


/*
 * mi_prom_quote writes each byte as a code of its own: '"' and '\\' as two
 * bytes that start with '\\', which no one-byte code is, and every other
 * byte as one.  So two texts quote the same exactly when they are as long
 * and each pair of bytes has the same code: the same byte, or two bytes
 * that both become '?'.
 */

int
mi_prom_same_label(const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen)
{
    size_t  i;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        if (a[i] != b[i]
            && (mi_prom_code(a[i]) != '?' || mi_prom_code(b[i]) != '?'))
        {
            return 0;
        }
    }

    return 1;
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
