/*
 * mi_sign: NCP API Gateway signature v2.  Pure C over libcrypto's SHA-256.
 *
 *   signature = Base64(HMAC-SHA256(secret,
 *       METHOD " " request-target "\n" timestamp "\n" access-key))
 *
 * The HMAC key is set up once (mi_sign_key_init: the inner and outer SHA-256
 * states after the padded key); signing a request then copies those states
 * on the stack, so it neither allocates nor touches the secret again.
 */

#ifndef MI_SIGN_H
#define MI_SIGN_H


#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>


/* Base64 of a 32-byte HMAC-SHA256, with '=' padding. */
#define MI_SIGNATURE_LEN  44

/*
 * A secret's fingerprint: the first 8 hex digits of SHA-256 over this label
 * and the secret, so that two hosts' secrets can be compared in their logs
 * without either being revealed:
 *   printf 'mi-secret-fingerprint:%s' "$SECRET" | sha256sum | cut -c1-8
 */
#define MI_FINGERPRINT_LABEL  "mi-secret-fingerprint:"
#define MI_FINGERPRINT_LEN    8
/* The most digits of a uint64_t. */
#define MI_TIMESTAMP_LEN  20


typedef struct {
    SHA256_CTX        inner;        /* after (key ^ ipad) */
    SHA256_CTX        outer;        /* after (key ^ opad) */
} mi_sign_key_t;


typedef struct {
    const unsigned char  *data;
    size_t                len;
} mi_sign_str_t;


/* Sets up key from the secret; the caller wipes its own copy of secret. */
void mi_sign_key_init(mi_sign_key_t *key, const unsigned char *secret,
    size_t len);

/* Writes the MI_FINGERPRINT_LEN lowercase hex digits of secret's print. */
void mi_key_fingerprint(const unsigned char *secret, size_t len,
    unsigned char *out);

/* Wipes the key's states. */
void mi_sign_key_wipe(mi_sign_key_t *key);

/*
 * Writes the MI_SIGNATURE_LEN-byte signature of one request to out.
 * The request-target is path, then "?" and args when has_args is set.
 * The string-to-sign is joined on the stack and hashed with one update
 * (a string over 1 KB is hashed piece by piece, as its parts come): no
 * allocation.
 */
void mi_sign_v2(const mi_sign_key_t *key, mi_sign_str_t method,
    mi_sign_str_t path, int has_args, mi_sign_str_t args,
    mi_sign_str_t timestamp, mi_sign_str_t access_key, unsigned char *out);

/*
 * Writes ms in decimal (the timestamp header's value), at most
 * MI_TIMESTAMP_LEN bytes, no NUL; returns the length written.
 */
size_t mi_sign_timestamp(uint64_t ms, unsigned char *out);

/* Builds the Base64 table: once, before the first signature or encoding. */
void mi_sign_init(void);

/* Standard Base64 with padding of len bytes; returns the length written. */
size_t mi_base64_encode(const unsigned char *src, size_t len,
    unsigned char *dst);


#endif /* MI_SIGN_H */
