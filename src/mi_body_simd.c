/*
 * mi_body_simd: "sceneIds" entries a block at a time.  A block is 64 bytes
 * from the first byte of an entry; the implementations only classify its
 * bytes into bit masks (bit i: byte i), and mi_body_ids_block() reads the
 * masks: where the run of entries ends, which entries are bad, where the
 * last whole one ends.  The next block starts after it, at an entry again,
 * so no entry ever spans two blocks.
 */

#include <string.h>

#include "mi_body_simd.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif


#define MI_BODY_BLOCK        64

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


static size_t mi_body_ids_block(const unsigned char *p,
    const mi_body_classes_t *cl, uint32_t budget, uint32_t *entries);
static void mi_body_classify_scalar(const unsigned char *p,
    mi_body_classes_t *cl);
static mi_body_isa_t mi_body_isa_best(void);

#if defined(__x86_64__)
static void mi_body_classify_sse2(const unsigned char *p,
    mi_body_classes_t *cl);
static void mi_body_classify_avx2(const unsigned char *p,
    mi_body_classes_t *cl);
#endif


/* For the portable classifier: bit 0 digit, 1 zero, 2 comma, 3 space. */
static const unsigned char  mi_body_simd_class[256] = {
    [' '] = 8,
    [','] = 4,
    ['0'] = 3,
    ['1' ... '9'] = 1
};


/* Indexed by mi_body_isa_t; NULL where this build has no such code. */
static const struct {
    const char           *name;
    mi_body_classify_pt   classify;
} mi_body_isas[MI_BODY_ISA_COUNT] = {
    { "scalar", mi_body_classify_scalar },
#if defined(__x86_64__)
    { "sse2", mi_body_classify_sse2 },
    { "avx2", mi_body_classify_avx2 },
#else
    { "sse2", NULL },
    { "avx2", NULL },
#endif
};


static int  mi_body_isa_chosen = -1;


size_t
mi_body_ids(const unsigned char *p, size_t len, uint32_t budget,
    uint32_t *entries)
{
    size_t                n, pos;
    uint32_t              e, total;
    mi_body_classes_t     cl;
    mi_body_classify_pt   classify;
    const unsigned char  *block;
    unsigned char         tail[MI_BODY_BLOCK];

    if (mi_body_isa_chosen < 0) {
        mi_body_isa_chosen = mi_body_isa_best();
    }

    classify = mi_body_isas[mi_body_isa_chosen].classify;

    pos = 0;
    total = 0;

    while (pos < len && total < budget) {
        block = p + pos;
        n = len - pos;

        /*
         * The last block is copied, padded with NULs: they end any run of
         * entries, and nothing past the input is ever read.
         */

        if (n < MI_BODY_BLOCK) {
            memcpy(tail, block, n);
            memset(tail + n, 0, MI_BODY_BLOCK - n);
            block = tail;
        }

        classify(block, &cl);

        n = mi_body_ids_block(block, &cl, budget - total, &e);

        pos += n;
        total += e;

        if (n == 0 || block == tail) {
            break;
        }

        /* a ',' that ended the block may have its space in the next */

        if (p[pos - 1] == ',' && pos < len && p[pos] == ' ') {
            pos++;
        }
    }

    *entries = total;

    return pos;
}


/*
 * One block from the first byte of an entry: the length of its whole
 * entries (each with its ',' and the space after it, if any), at most
 * budget of them, up to the first byte that is not part of a run of
 * entries or the first bad entry, whichever comes first.
 */

static size_t
mi_body_ids_block(const unsigned char *p, const mi_body_classes_t *cl,
    uint32_t budget, uint32_t *entries)
{
    int       at;
    uint32_t  n;
    uint64_t  d, c, sp, run, starts, bad, ten, keep, r2, r4, r8, r10;

    /* one space may follow a ',' ("1, 2", as Python writes arrays) */

    sp = cl->space & (cl->comma << 1);

    run = ~(cl->digit | cl->comma | sp);
    run = run ? (run & -run) - 1 : ~(uint64_t) 0;

    d = cl->digit & run;
    c = cl->comma & run;
    sp &= run;

    starts = (1 | ((c << 1) & ~sp) | (sp << 1)) & run;

    bad = starts & ~d;                          /* an empty entry */
    bad |= starts & cl->zero & (d >> 1);        /* a leading zero */

    /* bit i of rN: N digits from byte i on */

    r2 = d & (d >> 1);
    r4 = r2 & (r2 >> 2);
    r8 = r4 & (r4 >> 4);
    r10 = r8 & (r2 >> 8);

    bad |= r10 & (d >> 10);                     /* 11 digits or more */

    for (ten = r10 & starts & ~bad; ten != 0; ten &= ten - 1) {
        at = __builtin_ctzll(ten);

        if (memcmp(p + at, MI_BODY_ID_MAX, MI_BODY_ID_MAX_LEN) > 0) {
            bad |= ten & -ten;
        }
    }

    /* the entries before the first bad one, each ended by its ',' */

    if (bad != 0) {
        c &= (bad & -bad) - 1;
    }

    n = (uint32_t) __builtin_popcountll(c);

    if (n > budget) {
        keep = 0;

        for (n = 0; n < budget; n++) {
            keep |= c & -c;
            c &= c - 1;
        }

        c = keep;
    }

    *entries = n;

    if (c == 0) {
        return 0;
    }

    at = 63 - __builtin_clzll(c);

    if (at < 63 && (sp >> (at + 1) & 1)) {
        at++;
    }

    return (size_t) at + 1;
}


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
    unsigned int  a, b, c, d, lo, hi;

    if (!__get_cpuid(1, &a, &b, &c, &d)
        || !(c & bit_OSXSAVE) || !(c & bit_AVX))
    {
        return MI_BODY_ISA_SSE2;
    }

    __asm__ ("xgetbv" : "=a" (lo), "=d" (hi) : "c" (0));

    if ((lo & 6) != 6 || __get_cpuid_max(0, NULL) < 7) {
        return MI_BODY_ISA_SSE2;
    }

    __cpuid_count(7, 0, a, b, c, d);

    return (b & bit_AVX2) ? MI_BODY_ISA_AVX2 : MI_BODY_ISA_SSE2;
#else
    return MI_BODY_ISA_SCALAR;
#endif
}


static void
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

/* Signed byte compares: bytes 0x80-0xFF are negative, so never digits. */

static void
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


__attribute__ ((target ("avx2")))
static void
mi_body_classify_avx2(const unsigned char *p, mi_body_classes_t *cl)
{
    int      i;
    __m256i  x, digit;

    cl->digit = 0;
    cl->zero = 0;
    cl->comma = 0;
    cl->space = 0;

    for (i = 0; i < MI_BODY_BLOCK; i += 32) {
        x = _mm256_loadu_si256((const __m256i *) (p + i));

        digit = _mm256_and_si256(
                    _mm256_cmpgt_epi8(x, _mm256_set1_epi8('0' - 1)),
                    _mm256_cmpgt_epi8(_mm256_set1_epi8('9' + 1), x));

#define mi_body_mask32(v)                                                    \
    ((uint64_t) (uint32_t) _mm256_movemask_epi8(v) << i)

        cl->digit |= mi_body_mask32(digit);
        cl->zero |= mi_body_mask32(_mm256_cmpeq_epi8(x,
                                                     _mm256_set1_epi8('0')));
        cl->comma |= mi_body_mask32(_mm256_cmpeq_epi8(x,
                                                      _mm256_set1_epi8(',')));
        cl->space |= mi_body_mask32(_mm256_cmpeq_epi8(x,
                                                      _mm256_set1_epi8(' ')));
    }
}

#endif
