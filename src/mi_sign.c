/*
 * NCP API Gateway signature v2: HMAC-SHA256 with precomputed key states.
 */

/*
 * The SHA256_* functions are deprecated in OpenSSL 3.0 in favour of EVP,
 * but EVP_MD_CTX_copy_ex() in 3.0 duplicates its context on the heap, and
 * HMAC() redoes the key setup on every call.  Copying a SHA256_CTX is a
 * plain struct copy: no allocation and no key work per request.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "mi_sign.h"


#define MI_SHA256_BLOCK  64

/*
 * A string-to-sign up to this long is joined on the stack and hashed with
 * one SHA256_Update(); a longer one (a long query) piece by piece.
 */
#define MI_SIGN_BUF      1024


static inline unsigned char *mi_sign_copy(unsigned char *dst,
    mi_sign_str_t s);


void
mi_sign_key_init(mi_sign_key_t *key, const unsigned char *secret, size_t len)
{
    size_t         i;
    unsigned char  block[MI_SHA256_BLOCK], pad[MI_SHA256_BLOCK];

    /* RFC 2104: a key longer than the block is replaced by its digest */

    memset(block, 0, sizeof(block));

    if (len > MI_SHA256_BLOCK) {
        SHA256(secret, len, block);

    } else {
        memcpy(block, secret, len);
    }

    for (i = 0; i < MI_SHA256_BLOCK; i++) {
        pad[i] = block[i] ^ 0x36;
    }

    SHA256_Init(&key->inner);
    SHA256_Update(&key->inner, pad, MI_SHA256_BLOCK);

    for (i = 0; i < MI_SHA256_BLOCK; i++) {
        pad[i] = block[i] ^ 0x5c;
    }

    SHA256_Init(&key->outer);
    SHA256_Update(&key->outer, pad, MI_SHA256_BLOCK);

    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
}


void
mi_key_fingerprint(const unsigned char *secret, size_t len,
    unsigned char *out)
{
    size_t         i;
    SHA256_CTX     ctx;
    unsigned char  digest[SHA256_DIGEST_LENGTH];

    static const char  hex[] = "0123456789abcdef";

    SHA256_Init(&ctx);
    SHA256_Update(&ctx, MI_FINGERPRINT_LABEL,
                  sizeof(MI_FINGERPRINT_LABEL) - 1);
    SHA256_Update(&ctx, secret, len);
    SHA256_Final(digest, &ctx);

    for (i = 0; i < MI_FINGERPRINT_LEN / 2; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }

    /* the context held the secret in its block buffer */

    OPENSSL_cleanse(&ctx, sizeof(ctx));
    OPENSSL_cleanse(digest, sizeof(digest));
}


void
mi_sign_key_wipe(mi_sign_key_t *key)
{
    OPENSSL_cleanse(key, sizeof(mi_sign_key_t));
}


void
mi_sign_v2(const mi_sign_key_t *key, mi_sign_str_t method, mi_sign_str_t path,
    int has_args, mi_sign_str_t args, mi_sign_str_t timestamp,
    mi_sign_str_t access_key, unsigned char *out)
{
    size_t          len;
    SHA256_CTX      ctx;
    unsigned char  *p, digest[SHA256_DIGEST_LENGTH];
    unsigned char   buf[MI_SIGN_BUF];

    /* the string-to-sign: "METHOD PATH[?ARGS]\nTIMESTAMP\nACCESS_KEY" */

    len = method.len + 1 + path.len + 1 + timestamp.len + 1 + access_key.len;

    if (has_args) {
        len += 1 + args.len;
    }

    ctx = key->inner;

    if (len <= sizeof(buf)) {
        p = mi_sign_copy(buf, method);
        *p++ = ' ';
        p = mi_sign_copy(p, path);

        if (has_args) {
            *p++ = '?';
            p = mi_sign_copy(p, args);
        }

        *p++ = '\n';
        p = mi_sign_copy(p, timestamp);
        *p++ = '\n';
        (void) mi_sign_copy(p, access_key);

        SHA256_Update(&ctx, buf, len);

    } else {
        /* longer than the buffer (a long query): hashed piece by piece */

        SHA256_Update(&ctx, method.data, method.len);
        SHA256_Update(&ctx, " ", 1);
        SHA256_Update(&ctx, path.data, path.len);

        if (has_args) {
            SHA256_Update(&ctx, "?", 1);
            SHA256_Update(&ctx, args.data, args.len);
        }

        SHA256_Update(&ctx, "\n", 1);
        SHA256_Update(&ctx, timestamp.data, timestamp.len);
        SHA256_Update(&ctx, "\n", 1);
        SHA256_Update(&ctx, access_key.data, access_key.len);
    }

    SHA256_Final(digest, &ctx);

    ctx = key->outer;

    SHA256_Update(&ctx, digest, sizeof(digest));
    SHA256_Final(digest, &ctx);

    /*
     * Nothing here needs wiping: SHA256_Final() wipes the block it
     * buffered, and what is left, the digests in ctx and digest, are the
     * signature itself and the inner hash, from which the key cannot be
     * worked out.  The key states themselves are only ever read.
     */

    (void) mi_base64_encode(digest, sizeof(digest), out);
}


/*
 * memcpy() of a piece; 8 to 32 bytes (a timestamp, an access key) in
 * overlapping words, as a call would cost more than the copy.
 */

static inline unsigned char *
mi_sign_copy(unsigned char *dst, mi_sign_str_t s)
{
    uint64_t  w0, w1, w2, w3;

    if (s.len >= 8 && s.len <= 16) {
        memcpy(&w0, s.data, 8);
        memcpy(&w1, s.data + s.len - 8, 8);
        memcpy(dst, &w0, 8);
        memcpy(dst + s.len - 8, &w1, 8);

        return dst + s.len;
    }

    if (s.len > 16 && s.len <= 32) {
        memcpy(&w0, s.data, 8);
        memcpy(&w1, s.data + 8, 8);
        memcpy(&w2, s.data + s.len - 16, 8);
        memcpy(&w3, s.data + s.len - 8, 8);
        memcpy(dst, &w0, 8);
        memcpy(dst + 8, &w1, 8);
        memcpy(dst + s.len - 16, &w2, 8);
        memcpy(dst + s.len - 8, &w3, 8);

        return dst + s.len;
    }

    memcpy(dst, s.data, s.len);

    return dst + s.len;
}


/* Two digits at a time, from a table of the hundred pairs. */

size_t
mi_sign_timestamp(uint64_t ms, unsigned char *out)
{
    size_t          n;
    unsigned char  *p, digits[MI_TIMESTAMP_LEN];

    static const char  pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";

    p = digits + sizeof(digits);

    while (ms >= 100) {
        p -= 2;
        memcpy(p, pairs + 2 * (ms % 100), 2);
        ms /= 100;
    }

    if (ms >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * ms, 2);

    } else {
        *--p = (unsigned char) ('0' + ms);
    }

    n = digits + sizeof(digits) - p;
    memcpy(out, p, n);

    return n;
}


/*
 * Three bytes make four characters: two 12-bit halves, each looked up as
 * a pair of characters in a 4096-entry table that mi_sign_init() builds,
 * so that a signature takes 22 lookups rather than 44, six bytes at a time.
 */

static const char     mi_base64_basis[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static unsigned char  mi_base64_pairs[4096][2];


void
mi_sign_init(void)
{
    size_t  i;

    for (i = 0; i < 4096; i++) {
        mi_base64_pairs[i][0] = mi_base64_basis[i >> 6];
        mi_base64_pairs[i][1] = mi_base64_basis[i & 0x3f];
    }
}


size_t
mi_base64_encode(const unsigned char *src, size_t len, unsigned char *dst)
{
    uint32_t        v;
    uint64_t        w;
    unsigned char  *d;

    d = dst;

    /* six bytes, eight characters at a time: one load of 64 bits */

    while (len >= 8) {
        memcpy(&w, src, 8);
#if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
        w = __builtin_bswap64(w);
#endif
        w >>= 16;

        memcpy(d, mi_base64_pairs[w >> 36], 2);
        memcpy(d + 2, mi_base64_pairs[(w >> 24) & 0xfff], 2);
        memcpy(d + 4, mi_base64_pairs[(w >> 12) & 0xfff], 2);
        memcpy(d + 6, mi_base64_pairs[w & 0xfff], 2);

        d += 8;
        src += 6;
        len -= 6;
    }

    while (len > 2) {
        v = (uint32_t) src[0] << 16 | (uint32_t) src[1] << 8 | src[2];

        memcpy(d, mi_base64_pairs[v >> 12], 2);
        memcpy(d + 2, mi_base64_pairs[v & 0xfff], 2);

        d += 4;
        src += 3;
        len -= 3;
    }

    if (len) {
        *d++ = mi_base64_basis[(src[0] >> 2) & 0x3f];

        if (len == 1) {
            *d++ = mi_base64_basis[(src[0] & 3) << 4];
            *d++ = '=';

        } else {
            *d++ = mi_base64_basis[((src[0] & 3) << 4) | (src[1] >> 4)];
            *d++ = mi_base64_basis[(src[1] & 0x0f) << 2];
        }

        *d++ = '=';
    }

    return d - dst;
}
