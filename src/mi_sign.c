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
    SHA256_CTX     ctx;
    unsigned char  digest[SHA256_DIGEST_LENGTH];

    ctx = key->inner;

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
    SHA256_Final(digest, &ctx);

    ctx = key->outer;

    SHA256_Update(&ctx, digest, sizeof(digest));
    SHA256_Final(digest, &ctx);

    (void) mi_base64_encode(digest, sizeof(digest), out);

    OPENSSL_cleanse(&ctx, sizeof(ctx));
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
