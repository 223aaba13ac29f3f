/*
 * mi_utf8: a value made valid UTF-8 for a log line, so that nginx's
 * escape=json turns any bytes a client sent into a valid JSON string.
 * Pure C: no nginx, no allocation.
 *
 * Each byte that does not belong to a well-formed UTF-8 character (the
 * Unicode Standard, table 3-7) becomes U+FFFD, EF BF BD: a byte 80..BF
 * alone, C0, C1 and F5..FF, an overlong form, a surrogate (ED A0..BF), a
 * code point past U+10FFFF, a sequence cut short.  So do the bytes of the
 * 66 noncharacters (U+FDD0..U+FDEF, and U+FFFE and U+FFFF in each plane):
 * well-formed, but strict decoders (Perl's Encode among them) refuse a
 * line that holds one.  One U+FFFD per byte, so that a reader can count
 * what was replaced.  Valid text is left as it is.
 */

#ifndef MI_UTF8_H
#define MI_UTF8_H


#include <stddef.h>


#define MI_UTF8_REPLACEMENT      "\xef\xbf\xbd"
#define MI_UTF8_REPLACEMENT_LEN  3


/*
 * Writes src repaired to dst and returns the length written; with dst NULL
 * only returns the length (at most 3 * len).  The length is len exactly
 * when src is valid UTF-8.
 */
size_t mi_utf8_repair(unsigned char *dst, const unsigned char *src,
    size_t len);


#endif /* MI_UTF8_H */
