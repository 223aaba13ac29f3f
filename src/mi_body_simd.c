/*
 * mi_body_simd: "sceneIds" entries a block at a time.  The input is read
 * in fixed windows of 64 bytes; the implementations only classify a
 * window's bytes into bit masks (bit i: byte i), and mi_body_ids() reads
 * the masks: where entries start and end, which are bad, where the run of
 * entries stops.  What an entry that spans two windows needs from the
 * first (its digits so far, whether it began with '0', whether a ','
 * came last) is carried in a few bits, so the next window's loads never
 * wait for this one's result.
 */

#include <string.h>

#include "mi_body_simd.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif


#define MI_BODY_BLOCK        64

typedef char  mi_body_list_fits[MI_BODY_LIST_WINDOW == MI_BODY_BLOCK ? 1 : -1];

/* The largest entry with as many digits; equal-length digit strings
 * compare as their values do. */
#define MI_BODY_ID_MAX       "2147483647"
#define MI_BODY_ID_MAX_LEN   (sizeof(MI_BODY_ID_MAX) - 1)


/* Bit i of each mask stands for byte i of the block. */
typedef struct {
    uint64_t        digit;          /* 0-9 */
    uint64_t        zero;           /* 0 */
    uint64_t        comma;
    uint64_t        space;
} mi_body_classes_t;


typedef void (*mi_body_classify_pt)(const unsigned char *p,
    mi_body_classes_t *cl);

typedef size_t (*mi_body_ids_pt)(const unsigned char *p, size_t len,
    uint32_t budget, uint32_t *entries);

typedef int (*mi_body_list_pt)(const unsigned char *p, size_t len,
    uint32_t *entries, size_t *last);


static inline size_t mi_body_ids_windows(const unsigned char *p, size_t len,
    uint32_t budget, uint32_t *entries, mi_body_classify_pt classify)
    __attribute__ ((always_inline));
static inline int mi_body_list_window(const unsigned char *p, size_t len,
    uint32_t *entries, size_t *last, mi_body_classify_pt classify)
    __attribute__ ((always_inline));
static size_t mi_body_ids_scalar(const unsigned char *p, size_t len,
    uint32_t budget, uint32_t *entries);
static int mi_body_list_scalar(const unsigned char *p, size_t len,
    uint32_t *entries, size_t *last);
static inline void mi_body_classify_scalar(const unsigned char *p,
    mi_body_classes_t *cl);
static mi_body_isa_t mi_body_isa_best(void);

#if defined(__x86_64__)
static size_t mi_body_ids_sse2(const unsigned char *p, size_t len,
    uint32_t budget, uint32_t *entries);
static int mi_body_list_sse2(const unsigned char *p, size_t len,
    uint32_t *entries, size_t *last);
static inline void mi_body_classify_sse2(const unsigned char *p,
    mi_body_classes_t *cl);
static size_t mi_body_ids_avx2(const unsigned char *p, size_t len,
    uint32_t budget, uint32_t *entries);
static int mi_body_list_avx2(const unsigned char *p, size_t len,
    uint32_t *entries, size_t *last);
static inline void mi_body_classify_avx2(const unsigned char *p,
    mi_body_classes_t *cl);
#endif


/* For the portable classifier: bit 0 digit, 1 zero, 2 comma, 3 space. */
static const unsigned char  mi_body_simd_class[256] = {
    [' '] = 8,
    [','] = 4,
    ['0'] = 3,
    ['1' ... '9'] = 1
};


/*
 * Indexed by mi_body_isa_t; NULL where this build has no such code.  Each
 * is the one window loop, compiled with its classifier inlined (and, for
 * AVX2, for a CPU that has POPCNT, as every AVX2 CPU does).
 */
static const struct {
    const char       *name;
    mi_body_ids_pt    ids;
    mi_body_list_pt   list;
} mi_body_isas[MI_BODY_ISA_COUNT] = {
    { "scalar", mi_body_ids_scalar, mi_body_list_scalar },
#if defined(__x86_64__)
    { "sse2", mi_body_ids_sse2, mi_body_list_sse2 },
    { "avx2", mi_body_ids_avx2, mi_body_list_avx2 },
#else
    { "sse2", NULL, NULL },
    { "avx2", NULL, NULL },
#endif
};


static int  mi_body_isa_chosen = -1;


size_t
mi_body_ids(const unsigned char *p, size_t len, uint32_t budget,
    uint32_t *entries)
{
    if (mi_body_isa_chosen < 0) {
        mi_body_isa_chosen = mi_body_isa_best();
    }

    return mi_body_isas[mi_body_isa_chosen].ids(p, len, budget, entries);
}


int
mi_body_ids_list(const unsigned char *p, size_t len, uint32_t *entries,
    size_t *last)
{
    if (mi_body_isa_chosen < 0) {
        mi_body_isa_chosen = mi_body_isa_best();
    }

    return mi_body_isas[mi_body_isa_chosen].list(p, len, entries, last);
}


/*
 * A whole list in one window, read from its masks: where entries start
 * (byte 0 and each byte after a ','), each start a digit, a digit last,
 * no '0' starting an entry and followed by a digit, no run of 10 digits.
 */

static inline int
mi_body_list_window(const unsigned char *p, size_t len, uint32_t *entries,
    size_t *last, mi_body_classify_pt classify)
{
    uint64_t           all, d, starts, r2, r4;
    mi_body_classes_t  cl;
    unsigned char      w[MI_BODY_BLOCK];

    /* padded with NULs, which are in no class */

    memcpy(w, p, len);
    memset(w + len, 0, MI_BODY_BLOCK - len);

    classify(w, &cl);

    all = (len == MI_BODY_BLOCK) ? ~(uint64_t) 0
                                 : ((uint64_t) 1 << len) - 1;
    d = cl.digit;
    starts = (cl.comma << 1 | 1) & all;

    r2 = d & (d >> 1);
    r4 = r2 & (r2 >> 2);

    if ((d | cl.comma) != all
        || (starts & ~d) != 0
        || (d >> (len - 1) & 1) == 0
        || (starts & cl.zero & (d >> 1)) != 0
        || (r4 & (r4 >> 4) & (r2 >> 8)) != 0)
    {
        return 0;
    }

    *entries = (uint32_t) __builtin_popcountll(starts);
    *last = 63 - __builtin_clzll(starts);

    return 1;
}


static inline size_t
mi_body_ids_windows(const unsigned char *p, size_t len, uint32_t budget,
    uint32_t *entries, mi_body_classify_pt classify)
{
    int                   at, stopped;
    size_t                n, pos, end, last_pos;
    uint32_t              count, k;
    uint64_t              d, c, sp, after, starts, bad, run, first, keep;
    uint64_t              r2, r4, r8, r10, r11, ten;
    uint64_t              start_in, comma_in, zero_in, digits_in;
    uint64_t              last, last_sp;
    mi_body_classes_t     cl;
    const unsigned char  *w;
    unsigned char         tail[MI_BODY_BLOCK];

    pos = 0;
    count = 0;
    last = 0;
    last_pos = 0;
    last_sp = 0;

    /* what the window before says about byte 0: p[0] starts an entry */

    start_in = 1;
    comma_in = 0;
    zero_in = 0;
    digits_in = 0;

    while (pos < len && count < budget) {
        w = p + pos;
        n = len - pos;

        /*
         * The last window is copied, padded with NULs: they stop the run
         * of entries, and nothing past the input is ever read.
         */

        if (n < MI_BODY_BLOCK) {
            memcpy(tail, w, n);
            memset(tail + n, 0, MI_BODY_BLOCK - n);
            w = tail;
        }

        classify(w, &cl);

        /*
         * Most windows of a big body hold digits and commas only, every
         * entry there shorter than 10 digits and well formed: they are
         * taken with a few masks; any other goes the general way below.
         */

        d = cl.digit;
        c = cl.comma;

        if ((d | c) == ~(uint64_t) 0) {
            starts = c << 1 | comma_in | start_in;
            bad = (starts & ~d) | (starts & cl.zero & (d >> 1)) | (zero_in & d);

            r2 = d & (d >> 1);
            r4 = r2 & (r2 >> 2);
            r10 = r4 & (r4 >> 4) & (r2 >> 8);

            k = (uint32_t) __builtin_popcountll(c);

            /* no run of 10 digits: ~d has a bit set */

            if ((bad | r10) == 0
                && digits_in + __builtin_ctzll(~d) < MI_BODY_ID_MAX_LEN
                && k <= budget - count)
            {
                count += k;
                last = c;
                last_pos = pos;
                last_sp = 0;

                comma_in = c >> 63;
                start_in = 0;
                zero_in = (starts & cl.zero) >> 63;
                digits_in = __builtin_clzll(~d);

                pos += MI_BODY_BLOCK;
                continue;
            }
        }

        /* one space may follow a ',' ("1, 2", as Python writes arrays) */

        after = cl.comma << 1 | comma_in;
        sp = cl.space & after;

        /* the bits before the first byte that is no part of a run (all
         * of them when there is none: 0 - 1) */

        run = ~(cl.digit | cl.comma | sp);
        stopped = (run != 0);
        run = (run & -run) - 1;

        d = cl.digit & run;
        c = cl.comma & run;
        sp &= run;

        starts = ((after & ~sp) | (sp << 1) | start_in) & run;

        bad = starts & ~d;                      /* an empty entry */
        bad |= starts & cl.zero & (d >> 1);     /* a leading zero */
        bad |= zero_in & d;                     /* one across windows */

        /* bit i of rN: N digits from byte i on */

        r2 = d & (d >> 1);
        r4 = r2 & (r2 >> 2);
        r8 = r4 & (r4 >> 4);
        r10 = r8 & (r2 >> 8);

        /*
         * An entry carried from the window before is judged by its whole
         * length: its digits here are not an entry of their own.  Half
         * the windows carry one, so this takes no branch that a CPU could
         * mispredict; with 63 or 64 digits here, either is too many.
         */

        first = __builtin_ctzll(~d | (uint64_t) 1 << 63);
        r10 &= ~((((uint64_t) 1 << first) - 1) & -(uint64_t) !!digits_in);
        digits_in += first & -(uint64_t) !!digits_in;

        if (digits_in >= MI_BODY_ID_MAX_LEN) {
            if (digits_in > MI_BODY_ID_MAX_LEN
                || memcmp(p + pos + first - digits_in, MI_BODY_ID_MAX,
                          MI_BODY_ID_MAX_LEN) > 0)
            {
                bad |= 1;
            }
        }

        r11 = r10 & (d >> 10);
        bad |= r11;                             /* 11 digits or more */

        for (ten = r10 & starts & ~r11; ten != 0; ten &= ten - 1) {
            at = __builtin_ctzll(ten);

            if (memcmp(w + at, MI_BODY_ID_MAX, MI_BODY_ID_MAX_LEN) > 0) {
                bad |= ten & -ten;
            }
        }

        /* the entries before the first bad one, each ended by its ',' */

        if (bad != 0) {
            c &= (bad & -bad) - 1;
            stopped = 1;
        }

        k = (uint32_t) __builtin_popcountll(c);

        if (k > budget - count) {
            keep = 0;

            for (k = 0; k < budget - count; k++) {
                keep |= c & -c;
                c &= c - 1;
            }

            c = keep;
            stopped = 1;
        }

        count += k;

        if (c != 0) {
            last = c;
            last_pos = pos;
            last_sp = sp;
        }

        if (stopped) {
            break;
        }

        comma_in = cl.comma >> 63;
        start_in = sp >> 63;
        zero_in = (starts & cl.zero) >> 63;
        digits_in = ~d ? (uint64_t) __builtin_clzll(~d)
                       : digits_in + MI_BODY_BLOCK;

        pos += MI_BODY_BLOCK;
    }

    /* after the last ',' taken, and the space after it */

    end = 0;

    if (last != 0) {
        at = 63 - __builtin_clzll(last);
        end = last_pos + at + 1 + (at < 63 && (last_sp >> (at + 1) & 1));

        /* a ',' that ended a window may have its space in the next */

        if (end < len && p[end - 1] == ',' && p[end] == ' ') {
            end++;
        }
    }

    *entries = count;

    return end;
}


static size_t
mi_body_ids_scalar(const unsigned char *p, size_t len, uint32_t budget,
    uint32_t *entries)
{
    return mi_body_ids_windows(p, len, budget, entries,
                               mi_body_classify_scalar);
}


static int
mi_body_list_scalar(const unsigned char *p, size_t len, uint32_t *entries,
    size_t *last)
{
    return mi_body_list_window(p, len, entries, last,
                               mi_body_classify_scalar);
}


#if defined(__x86_64__)

static int
mi_body_list_sse2(const unsigned char *p, size_t len, uint32_t *entries,
    size_t *last)
{
    return mi_body_list_window(p, len, entries, last, mi_body_classify_sse2);
}


__attribute__ ((target ("avx2,popcnt")))
static int
mi_body_list_avx2(const unsigned char *p, size_t len, uint32_t *entries,
    size_t *last)
{
    return mi_body_list_window(p, len, entries, last, mi_body_classify_avx2);
}


static size_t
mi_body_ids_sse2(const unsigned char *p, size_t len, uint32_t budget,
    uint32_t *entries)
{
    return mi_body_ids_windows(p, len, budget, entries,
                               mi_body_classify_sse2);
}


__attribute__ ((target ("avx2,popcnt")))
static size_t
mi_body_ids_avx2(const unsigned char *p, size_t len, uint32_t budget,
    uint32_t *entries)
{
    return mi_body_ids_windows(p, len, budget, entries,
                               mi_body_classify_avx2);
}

#endif


int
mi_body_isa_set(mi_body_isa_t isa)
{
    if ((unsigned) isa >= MI_BODY_ISA_COUNT || isa > mi_body_isa_best()) {
        return 0;
    }

    mi_body_isa_chosen = isa;

    return 1;
}


const char *
mi_body_isa_name(void)
{
    if (mi_body_isa_chosen < 0) {
        mi_body_isa_chosen = mi_body_isa_best();
    }

    return mi_body_isas[mi_body_isa_chosen].name;
}


/*
 * AVX2 needs the CPU to have it and the OS to save the YMM registers
 * (XCR0 bits 1 and 2); cpuid and xgetbv ask both, in any process, with no
 * constructor or ifunc resolver to depend on.
 */

static mi_body_isa_t
mi_body_isa_best(void)
{
#if defined(__x86_64__)
    unsigned int  a, b, c, d, lo, hi, c_popcnt;

    if (!__get_cpuid(1, &a, &b, &c, &d)
        || !(c & bit_OSXSAVE) || !(c & bit_AVX))
    {
        return MI_BODY_ISA_SSE2;
    }

    c_popcnt = c;

    __asm__ ("xgetbv" : "=a" (lo), "=d" (hi) : "c" (0));

    if ((lo & 6) != 6 || __get_cpuid_max(0, NULL) < 7) {
        return MI_BODY_ISA_SSE2;
    }

    __cpuid_count(7, 0, a, b, c, d);

    return ((b & bit_AVX2) && (c_popcnt & bit_POPCNT)) ? MI_BODY_ISA_AVX2
                                                      : MI_BODY_ISA_SSE2;
#else
    return MI_BODY_ISA_SCALAR;
#endif
}


static inline void
mi_body_classify_scalar(const unsigned char *p, mi_body_classes_t *cl)
{
    int       i;
    uint64_t  k;

    cl->digit = 0;
    cl->zero = 0;
    cl->comma = 0;
    cl->space = 0;

    for (i = 0; i < MI_BODY_BLOCK; i++) {
        k = mi_body_simd_class[p[i]];

        cl->digit |= (k & 1) << i;
        cl->zero |= (k >> 1 & 1) << i;
        cl->comma |= (k >> 2 & 1) << i;
        cl->space |= (k >> 3 & 1) << i;
    }
}


#if defined(__x86_64__)

/*
 * Signed byte compares: bytes 0x80-0xFF are negative, so never digits.
 * Each class is a compare and a movemask per 16 or 32 bytes.
 */

static inline void
mi_body_classify_sse2(const unsigned char *p, mi_body_classes_t *cl)
{
    int      i;
    __m128i  x, digit;

    cl->digit = 0;
    cl->zero = 0;
    cl->comma = 0;
    cl->space = 0;

    for (i = 0; i < MI_BODY_BLOCK; i += 16) {
        x = _mm_loadu_si128((const __m128i *) (p + i));

        digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                              _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));

#define mi_body_mask16(v)  ((uint64_t) (uint16_t) _mm_movemask_epi8(v) << i)

        cl->digit |= mi_body_mask16(digit);
        cl->zero |= mi_body_mask16(_mm_cmpeq_epi8(x, _mm_set1_epi8('0')));
        cl->comma |= mi_body_mask16(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')));
        cl->space |= mi_body_mask16(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')));
    }
}


#define mi_body_avx2_mask(v)  ((uint64_t) (uint32_t) _mm256_movemask_epi8(v))

__attribute__ ((target ("avx2")))
static inline void
mi_body_classify_avx2(const unsigned char *p, mi_body_classes_t *cl)
{
    __m256i  lo, hi, below, above;

    lo = _mm256_loadu_si256((const __m256i *) p);
    hi = _mm256_loadu_si256((const __m256i *) (p + 32));

    below = _mm256_set1_epi8('0' - 1);
    above = _mm256_set1_epi8('9' + 1);

    cl->digit = mi_body_avx2_mask(_mm256_and_si256(
                    _mm256_cmpgt_epi8(lo, below), _mm256_cmpgt_epi8(above, lo)))
                | mi_body_avx2_mask(_mm256_and_si256(
                    _mm256_cmpgt_epi8(hi, below), _mm256_cmpgt_epi8(above, hi)))
                  << 32;

    cl->zero = mi_body_avx2_mask(_mm256_cmpeq_epi8(lo, _mm256_set1_epi8('0')))
               | mi_body_avx2_mask(_mm256_cmpeq_epi8(hi,
                                                     _mm256_set1_epi8('0')))
                 << 32;

    cl->comma = mi_body_avx2_mask(_mm256_cmpeq_epi8(lo, _mm256_set1_epi8(',')))
                | mi_body_avx2_mask(_mm256_cmpeq_epi8(hi,
                                                      _mm256_set1_epi8(',')))
                  << 32;

    cl->space = mi_body_avx2_mask(_mm256_cmpeq_epi8(lo, _mm256_set1_epi8(' ')))
                | mi_body_avx2_mask(_mm256_cmpeq_epi8(hi,
                                                      _mm256_set1_epi8(' ')))
                  << 32;
}

#endif
