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
 * A string-to-sign up to this long is hashed with one SHA256_Update();
 * a longer one (a long query) in pieces of this size.
 */
#define MI_SIGN_BUF      1024


/* The string-to-sign, written contiguously, for one SHA256_Update(). */
typedef struct {
    SHA256_CTX     *ctx;
    size_t          len;
    unsigned char   buf[MI_SIGN_BUF];
} mi_sign_msg_t;


static inline void mi_sign_add(mi_sign_msg_t *msg, const unsigned char *p,
    size_t len);


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
mi_sign_key_wipe(mi_sign_key_t *key)
{
    OPENSSL_cleanse(key, sizeof(mi_sign_key_t));
}


void
mi_sign_v2(const mi_sign_key_t *key, mi_sign_str_t method, mi_sign_str_t path,
    int has_args, mi_sign_str_t args, mi_sign_str_t timestamp,
    mi_sign_str_t access_key, unsigned char *out)
{
    SHA256_CTX     ctx;
    mi_sign_msg_t  msg;
    unsigned char  digest[SHA256_DIGEST_LENGTH];

    ctx = key->inner;

    msg.ctx = &ctx;
    msg.len = 0;

    mi_sign_add(&msg, method.data, method.len);
    mi_sign_add(&msg, (const unsigned char *) " ", 1);
    mi_sign_add(&msg, path.data, path.len);

    if (has_args) {
        mi_sign_add(&msg, (const unsigned char *) "?", 1);
        mi_sign_add(&msg, args.data, args.len);
    }

    mi_sign_add(&msg, (const unsigned char *) "\n", 1);
    mi_sign_add(&msg, timestamp.data, timestamp.len);
    mi_sign_add(&msg, (const unsigned char *) "\n", 1);
    mi_sign_add(&msg, access_key.data, access_key.len);

    SHA256_Update(&ctx, msg.buf, msg.len);
    SHA256_Final(digest, &ctx);

    ctx = key->outer;

    SHA256_Update(&ctx, digest, sizeof(digest));
    SHA256_Final(digest, &ctx);

    (void) mi_base64_encode(digest, sizeof(digest), out);

    OPENSSL_cleanse(&ctx, sizeof(ctx));
}


/* Appends to the string-to-sign; hashes what is there when it is full. */

static inline void
mi_sign_add(mi_sign_msg_t *msg, const unsigned char *p, size_t len)
{
    size_t  n;

    while (len > sizeof(msg->buf) - msg->len) {
        n = sizeof(msg->buf) - msg->len;
        memcpy(msg->buf + msg->len, p, n);
        SHA256_Update(msg->ctx, msg->buf, sizeof(msg->buf));

        msg->len = 0;
        p += n;
        len -= n;
    }

    memcpy(msg->buf + msg->len, p, len);
    msg->len += len;
}


size_t
mi_sign_timestamp(uint64_t ms, unsigned char *out)
{
    size_t          n;
    unsigned char  *p, digits[MI_TIMESTAMP_LEN];

    p = digits + sizeof(digits);

    do {
        *--p = (unsigned char) ('0' + ms % 10);
        ms /= 10;
    } while (ms != 0);

    n = digits + sizeof(digits) - p;
    memcpy(out, p, n);

    return n;
}


size_t
mi_base64_encode(const unsigned char *src, size_t len, unsigned char *dst)
{
    unsigned char       *d;
    static const char    basis[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    d = dst;

    while (len > 2) {
        *d++ = basis[(src[0] >> 2) & 0x3f];
        *d++ = basis[((src[0] & 3) << 4) | (src[1] >> 4)];
        *d++ = basis[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *d++ = basis[src[2] & 0x3f];

        src += 3;
        len -= 3;
    }

    if (len) {
        *d++ = basis[(src[0] >> 2) & 0x3f];

        if (len == 1) {
            *d++ = basis[(src[0] & 3) << 4];
            *d++ = '=';

        } else {
            *d++ = basis[((src[0] & 3) << 4) | (src[1] >> 4)];
            *d++ = basis[(src[1] & 0x0f) << 2];
        }

        *d++ = '=';
    }

    return d - dst;
}
