/*
 * mi_prom: the pure parts of the metrics: quoting a label value and finding
 * a histogram bucket.  Pure C: no nginx, no allocation.
 *
 * A quoted value is printable ASCII with '"' and '\' escaped by a '\',
 * which is a valid Prometheus label value and a valid JSON string body
 * alike; any other byte (a newline, a control, a non-ASCII byte of a file
 * name) becomes '?', as in the module's error messages.
 */

#ifndef MI_PROM_H
#define MI_PROM_H


#include <stddef.h>
#include <stdint.h>


/*
 * Writes src quoted to dst and returns the length written; with dst NULL
 * only returns the length (at most 2 * len).
 */
size_t mi_prom_quote(unsigned char *dst, const unsigned char *src,
    size_t len);

/*
 * Whether a and b quote to the same text: one series for a scraper.  They
 * may differ where mi_prom_quote writes '?' for both.
 */
int mi_prom_same_label(const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen);

/*
 * The index of the first of n ascending upper bounds that value does not
 * exceed, or n (the +Inf bucket) when it exceeds them all.
 */
size_t mi_prom_bucket(const uint64_t *bounds, size_t n, uint64_t value);


#endif /* MI_PROM_H */
