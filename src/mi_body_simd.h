/*
 * mi_body_simd: the entries of a "sceneIds" array, 64 bytes at a time.
 * Pure C: no nginx, no allocation.
 *
 * mi_body's byte-at-a-time checker hands its input here at the first byte
 * of an entry; this takes the run of whole entries that follows, each one
 * a valid entry followed by its ',' (and at most one space), and gives the
 * rest back.  It never decides an error: whatever it does not take, the
 * byte-at-a-time checker reads as before, so verdicts and messages are the
 * same whichever implementation runs, and wherever the input is split.
 *
 * Three implementations classify the bytes (SSE2, which every x86-64 has;
 * AVX2, chosen at run time where the CPU and the OS have it; and portable
 * C for every other CPU); one piece of plain C reads the classes.
 */

#ifndef MI_BODY_SIMD_H
#define MI_BODY_SIMD_H


#include <stddef.h>
#include <stdint.h>


typedef enum {
    MI_BODY_ISA_SCALAR = 0,
    MI_BODY_ISA_SSE2,
    MI_BODY_ISA_AVX2,
    MI_BODY_ISA_COUNT
} mi_body_isa_t;


/*
 * How many bytes at the start of p[0..len) are whole entries, each a JSON
 * integer in 0..2147483647 without sign or leading zero, followed by ','
 * or ", ": "12,0, 7,".  At most budget entries are taken; their number is
 * stored in *entries.  Returns 0 when not even one is.
 */
size_t mi_body_ids(const unsigned char *p, size_t len, uint32_t budget,
    uint32_t *entries);

/* The longest list mi_body_ids_list() reads: one window. */
#define MI_BODY_LIST_WINDOW  64

/*
 * Whether all of p[0..len), 0 < len <= MI_BODY_LIST_WINDOW, is a list of
 * entries and nothing else: "1,22,333", each of 1 to 9 digits without a
 * leading zero, one ',' between two.  Sets *entries, and *last to where
 * the last one begins.  A space, an entry of 10 digits and the like give
 * 0, and the caller's byte-at-a-time path decides them.
 */
int mi_body_ids_list(const unsigned char *p, size_t len, uint32_t *entries,
    size_t *last);

/*
 * Chooses the implementation mi_body_ids and mi_body_ids_list use from now
 * on; returns 0
 * (and changes nothing) when this CPU cannot run it.  Without a call, the
 * first mi_body_ids chooses the best one the CPU has.
 */
int mi_body_isa_set(mi_body_isa_t isa);

/* The implementation in use: "avx2", "sse2" or "scalar". */
const char *mi_body_isa_name(void);


#endif /* MI_BODY_SIMD_H */
