/*
 * Unit tests of mi_sign: the vectors of shared/mi-api.md, Base64 per
 * RFC 4648, and keys of every length checked against OpenSSL's one-shot
 * HMAC(), which shares no code with mi_sign's precomputed states; the key
 * fingerprint against sha256sum and OpenSSL's EVP digest.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mi_sign.h"


#define S(lit)                                                                \
    (mi_sign_str_t) { (const unsigned char *) (lit), sizeof(lit) - 1 }


static void
sign_target(const char *secret, const char *method, const char *target,
    const char *ts, const char *ak, char *out)
{
    const char     *q;
    mi_sign_key_t   key;
    mi_sign_str_t   m, path, args, t, a;

    mi_sign_key_init(&key, (const unsigned char *) secret, strlen(secret));

    q = strchr(target, '?');

    m = (mi_sign_str_t) { (const unsigned char *) method, strlen(method) };
    path = (mi_sign_str_t) { (const unsigned char *) target,
                             q ? (size_t) (q - target) : strlen(target) };
    args = (mi_sign_str_t) { (const unsigned char *) (q ? q + 1 : ""),
                             q ? strlen(q + 1) : 0 };
    t = (mi_sign_str_t) { (const unsigned char *) ts, strlen(ts) };
    a = (mi_sign_str_t) { (const unsigned char *) ak, strlen(ak) };

    mi_sign_v2(&key, m, path, q != NULL, args, t, a, (unsigned char *) out);
    out[MI_SIGNATURE_LEN] = '\0';

    mi_sign_key_wipe(&key);
}


static void
test_vectors(void **state)
{
    char  sig[MI_SIGNATURE_LEN + 1];

    (void) state;

    sign_target("ncp-secret-example", "GET", "/photos/puppy.jpg?query1=&query2",
                "1700000000000", "ACCESS_KEY_ID", sig);
    assert_string_equal(sig, "iPe1hFfjl7BPGhFZJGCY5XZgH6eWMwCWlSdSkKU+SPE=");

    sign_target("ncp-secret-example", "POST",
                "/api/v1/workspaces/my-workspace/projects/1234/assets/5678"
                "/scene-summary",
                "1700000000000", "ACCESS_KEY_ID", sig);
    assert_string_equal(sig, "mefw2b+Eg3FkIuaqcl7HebxQLeCg2xhSpQ57wbEeXnI=");

    sign_target("ncp-secret-example", "POST",
                "/api/v1/workspaces/my-workspace/projects/1234/assets/5678"
                "/indexes/1001/scene-summaries",
                "1700000000000", "ACCESS_KEY_ID", sig);
    assert_string_equal(sig, "zHwtJhChqeuu0/Ta4BrX4VjOtkQtqrFN6hGlkYhGDIU=");
}


/* An empty query ("/p?") is signed with its '?'; no query is signed without. */
static void
test_empty_args_differ(void **state)
{
    char  a[MI_SIGNATURE_LEN + 1], b[MI_SIGNATURE_LEN + 1];

    (void) state;

    sign_target("k", "GET", "/p?", "1", "AK", a);
    sign_target("k", "GET", "/p", "1", "AK", b);
    assert_string_not_equal(a, b);
}


/*
 * The fingerprint docs/ngx_http_mi_module.md tells operators to compute
 * by hand:
 *   printf 'mi-secret-fingerprint:%s' ncp-secret-example | sha256sum
 * and it differs for secrets that differ in one byte.
 */
static void
test_fingerprint(void **state)
{
    unsigned char  fp[MI_FINGERPRINT_LEN + 1], other[MI_FINGERPRINT_LEN + 1];

    (void) state;

    memset(fp, 0, sizeof(fp));
    mi_key_fingerprint((const unsigned char *) "ncp-secret-example", 18, fp);
    assert_string_equal((char *) fp, "3b72ba3a");

    memset(other, 0, sizeof(other));
    mi_key_fingerprint((const unsigned char *) "ncp-secret-examplf", 18,
                       other);
    assert_string_not_equal((char *) fp, (char *) other);
}


static void
test_against_openssl_hmac(void **state)
{
    size_t          klen, mlen;
    char            sig[MI_SIGNATURE_LEN + 1];
    unsigned int    dlen;
    unsigned char   secret[200], msg[256], digest[32];
    unsigned char   ref[MI_SIGNATURE_LEN + 1];
    mi_sign_key_t   key;
    mi_sign_str_t   method, path, args, ts, ak;

    (void) state;

    for (klen = 1; klen < sizeof(secret); klen++) {
        memset(secret, 0, sizeof(secret));
        for (size_t i = 0; i < klen; i++) {
            secret[i] = (unsigned char) (i * 7 + klen);
        }

        mi_sign_key_init(&key, secret, klen);

        method = S("DELETE");
        path = S("/a%20b/c+d/%EA%B0%80");
        args = S("x='()'&y=%2F");
        ts = S("1700000000123");
        ak = S("AK-with-a-longer-name");

        mi_sign_v2(&key, method, path, 1, args, ts, ak, (unsigned char *) sig);
        sig[MI_SIGNATURE_LEN] = '\0';

        mlen = (size_t) snprintf((char *) msg, sizeof(msg),
                                 "DELETE /a%%20b/c+d/%%EA%%B0%%80"
                                 "?x='()'&y=%%2F\n1700000000123\n"
                                 "AK-with-a-longer-name");

        HMAC(EVP_sha256(), secret, (int) klen, msg, mlen, digest, &dlen);
        assert_int_equal(dlen, 32);
        assert_int_equal(EVP_EncodeBlock(ref, digest, 32), MI_SIGNATURE_LEN);

        assert_string_equal(sig, (char *) ref);

        mi_sign_key_wipe(&key);
    }
}


static void
test_base64_rfc4648(void **state)
{
    size_t          i, n;
    unsigned char   out[16];
    static const char  *in[] = { "", "f", "fo", "foo", "foob", "fooba",
                                 "foobar" };
    static const char  *exp[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
                                  "Zm9vYmE=", "Zm9vYmFy" };

    (void) state;

    for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        n = mi_base64_encode((const unsigned char *) in[i], strlen(in[i]),
                             out);
        assert_int_equal(n, strlen(exp[i]));
        assert_memory_equal(out, exp[i], n);
    }
}


/*
 * Secrets of every length up to 200 bytes, every byte value among them,
 * against EVP over the label and the secret joined in one buffer; and
 * never the start of a plain SHA-256 of the secret.
 */
static void
test_fingerprint_against_evp(void **state)
{
    size_t          i, len;
    char            ref[MI_FINGERPRINT_LEN + 1], plain[MI_FINGERPRINT_LEN + 1];
    unsigned int    dlen;
    unsigned char   secret[200], msg[sizeof(MI_FINGERPRINT_LABEL) + 200];
    unsigned char   digest[32];
    unsigned char   out[MI_FINGERPRINT_LEN];
    const size_t    label = sizeof(MI_FINGERPRINT_LABEL) - 1;

    (void) state;

    for (len = 1; len <= sizeof(secret); len++) {
        for (i = 0; i < len; i++) {
            secret[i] = (unsigned char) (i * 31 + len);
        }

        mi_key_fingerprint(secret, len, out);

        memcpy(msg, MI_FINGERPRINT_LABEL, label);
        memcpy(msg + label, secret, len);

        assert_true(EVP_Digest(msg, label + len, digest, &dlen,
                               EVP_sha256(), NULL));
        snprintf(ref, sizeof(ref), "%02x%02x%02x%02x",
                 digest[0], digest[1], digest[2], digest[3]);
        assert_memory_equal(out, ref, MI_FINGERPRINT_LEN);

        assert_true(EVP_Digest(secret, len, digest, &dlen, EVP_sha256(),
                               NULL));
        snprintf(plain, sizeof(plain), "%02x%02x%02x%02x",
                 digest[0], digest[1], digest[2], digest[3]);
        assert_memory_not_equal(out, plain, MI_FINGERPRINT_LEN);
    }
}


/*
 * Request-targets of every length up to three times the string-to-sign
 * buffer: padded into one block or several (every length up to 300
 * bytes), joined or hashed in pieces (every length around the buffer's
 * size): always HMAC()'s digest.
 */
static void
test_long_targets(void **state)
{
    char            sig[MI_SIGNATURE_LEN + 1];
    size_t          i, len, mlen;
    unsigned int    dlen;
    unsigned char  *target, *msg, digest[32];
    unsigned char   ref[MI_SIGNATURE_LEN + 1];
    mi_sign_key_t   key;
    mi_sign_str_t   path, args;

    (void) state;

    target = malloc(3200);
    msg = malloc(3300);
    assert_non_null(target);
    assert_non_null(msg);

    for (i = 0; i < 3200; i++) {
        target[i] = (unsigned char) ("/abc%20?=&" [i % 10]);
    }

    mi_sign_key_init(&key, (const unsigned char *) "k", 1);

    for (len = 0; len < 3200;
         len += (len < 300 || (len > 990 && len < 1040)) ? 1 : 7)
    {
        path = (mi_sign_str_t) { target, len / 2 };
        args = (mi_sign_str_t) { target + len / 2, len - len / 2 };

        mi_sign_v2(&key, S("GET"), path, 1, args, S("1700000000000"),
                   S("AK"), (unsigned char *) sig);
        sig[MI_SIGNATURE_LEN] = '\0';

        mlen = 0;
        memcpy(msg, "GET ", 4);
        mlen += 4;
        memcpy(msg + mlen, path.data, path.len);
        mlen += path.len;
        msg[mlen++] = '?';
        memcpy(msg + mlen, args.data, args.len);
        mlen += args.len;
        memcpy(msg + mlen, "\n1700000000000\nAK", 17);
        mlen += 17;

        HMAC(EVP_sha256(), "k", 1, msg, mlen, digest, &dlen);
        assert_int_equal(EVP_EncodeBlock(ref, digest, 32), MI_SIGNATURE_LEN);
        assert_string_equal(sig, (char *) ref);
    }

    mi_sign_key_wipe(&key);
    free(target);
    free(msg);
}


static void
test_timestamp(void **state)
{
    size_t          i, n;
    unsigned char   out[MI_TIMESTAMP_LEN + 1];
    char            ref[32];
    static const uint64_t  values[] = {
        0, 1, 9, 10, 99, 100, 1700000000000ULL, 1700000000999ULL,
        9999999999999ULL, 10000000000000ULL, UINT64_MAX
    };

    (void) state;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        memset(out, 0xa5, sizeof(out));
        n = mi_sign_timestamp(values[i], out);
        snprintf(ref, sizeof(ref), "%llu", (unsigned long long) values[i]);

        assert_int_equal(n, strlen(ref));
        assert_memory_equal(out, ref, n);
        assert_true(n <= MI_TIMESTAMP_LEN);
        assert_int_equal(out[n], 0xa5);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_empty_args_differ),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_against_openssl_hmac),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_fingerprint_against_evp),
        cmocka_unit_test(test_long_targets),
        cmocka_unit_test(test_timestamp),
    };

    mi_sign_init();

    return cmocka_run_group_tests_name("mi_sign", tests, NULL, NULL);
}
