/*
 * libFuzzer harness of mi_credentials.  The first input byte picks the
 * profile asked for, or a secret key file; the rest is the file.
 *
 * It aborts when the keys found are not spans of the input that follow
 * their own name and '=' on one line, are empty, hold a byte a header
 * cannot, '#' or ';', or start or end with a quote mark; when a secret
 * key file's secret is not the file without the blanks around it, or
 * starts or ends with a quote mark, or holds a '#'; or when an error
 * message is anything but one of the fixed forms with line numbers and
 * the profile name in it: no byte of a file (a secret) can ever reach a
 * log through a message.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mi_credentials.h"


/* NULL: the file is a secret key file */
static const char  *profiles[] = { "DEFAULT", "prod", "a", NULL };

#define N_PROFILES  (sizeof(profiles) / sizeof(profiles[0]))

#define HINT  " (NCP keys are letters and digits)"


/* every message, with its numbers as N and the profile as P */
static const char  *forms[] = {
    "profile \"P\" not found",
    "profile \"P\" (line N) has no \"ncloud_access_key_id\"",
    "profile \"P\" (line N) has no \"ncloud_secret_access_key\"",
    "line N: control character",
    "line N: expected \"[profile]\", \"name = value\" or a comment",
    "line N: no \"]\" after \"[\"",
    "line N: text after \"]\"",
    "line N: empty profile name",
    "line N: \"[\" in a profile name",
    "line N: profile \"P\" given twice (first at line N)",
    "line N: \"=\" without a name",
    "line N: \"name = value\" before the first \"[profile]\"",
    "line N: \"ncloud_access_key_id\" given twice in profile \"P\" "
        "(first at line N)",
    "line N: \"ncloud_secret_access_key\" given twice in profile \"P\" "
        "(first at line N)",
    "line N: \"ncloud_access_key_id\" is empty",
    "line N: \"ncloud_secret_access_key\" is empty",
    "line N: \"ncloud_access_key_id\" has a space or a character outside "
        "printable ASCII, at position N",
    "line N: \"ncloud_secret_access_key\" has a space or a character "
        "outside printable ASCII, at position N",
    "line N: \"ncloud_access_key_id\" starts or ends with a quote mark: "
        "write the value without quotes" HINT,
    "line N: \"ncloud_secret_access_key\" starts or ends with a quote "
        "mark: write the value without quotes" HINT,
    "line N: \"ncloud_access_key_id\" has \"#\" at position N: a comment "
        "goes on a line of its own" HINT,
    "line N: \"ncloud_access_key_id\" has \";\" at position N: a comment "
        "goes on a line of its own" HINT,
    "line N: \"ncloud_secret_access_key\" has \"#\" at position N: a "
        "comment goes on a line of its own" HINT,
    "line N: \"ncloud_secret_access_key\" has \";\" at position N: a "
        "comment goes on a line of its own" HINT,
};

/* those of a secret key file */
static const char  *secret_forms[] = {
    "line N: the secret starts or ends with a quote mark: write it without "
        "quotes" HINT,
    "line N: \"#\" in the secret: the file holds the secret alone, without "
        "comments" HINT,
};


static void
check(int ok)
{
    if (!ok) {
        abort();
    }
}


/* The value at v..v+len follows "name =" (and blanks) on its line. */

static void
check_value(const uint8_t *data, const uint8_t *v, size_t len,
    const char *name)
{
    size_t          i, n;
    const uint8_t  *p;

    check(len > 0);

    for (i = 0; i < len; i++) {
        check(v[i] > 0x20 && v[i] < 0x7F && v[i] != '#' && v[i] != ';');
    }

    check(v[0] != '"' && v[0] != '\'' && v[len - 1] != '"'
          && v[len - 1] != '\'');

    p = v;

    while (p > data && (p[-1] == ' ' || p[-1] == '\t')) {
        p--;
    }

    check(p > data && p[-1] == '=');
    p--;

    while (p > data && (p[-1] == ' ' || p[-1] == '\t')) {
        p--;
    }

    n = strlen(name);
    check((size_t) (p - data) >= n && memcmp(p - n, name, n) == 0);
}


static int
blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


/* The secret of a secret key file is the file without blanks around it. */

static void
check_secret(const uint8_t *data, size_t size, const uint8_t *v, size_t len)
{
    size_t  i;

    check(v >= data && v + len <= data + size);

    for (i = 0; data + i < v; i++) {
        check(blank(data[i]));
    }

    for (i = (size_t) (v - data) + len; i < size; i++) {
        check(blank(data[i]));
    }

    if (len == 0) {
        return;
    }

    check(!blank(v[0]) && !blank(v[len - 1]));
    check(v[0] != '"' && v[0] != '\'' && v[len - 1] != '"'
          && v[len - 1] != '\'');
    check(memchr(v, '#', len) == NULL);
}


static void
check_message(const char *message, const char *profile)
{
    char          norm[MI_CREDENTIALS_MESSAGE_MAX];
    size_t        i, n, plen, nforms;
    const char   *m, **f;

    plen = profile ? strlen(profile) : 0;
    n = 0;

    for (m = message; *m; ) {
        check(n + 2 < sizeof(norm));

        if (*m >= '0' && *m <= '9') {
            while (*m >= '0' && *m <= '9') {
                m++;
            }

            norm[n++] = 'N';
            continue;
        }

        if (profile && *m == '"' && strncmp(m + 1, profile, plen) == 0
            && m[plen + 1] == '"')
        {
            norm[n++] = '"';
            norm[n++] = 'P';
            m += plen + 1;
            continue;
        }

        norm[n++] = *m++;
    }

    norm[n] = '\0';

    f = profile ? forms : secret_forms;
    nforms = profile ? sizeof(forms) / sizeof(forms[0])
                     : sizeof(secret_forms) / sizeof(secret_forms[0]);

    for (i = 0; i < nforms; i++) {
        if (strcmp(norm, f[i]) == 0) {
            return;
        }
    }

    fprintf(stderr, "unexpected message: \"%s\"\n", message);
    abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t              *file;
    const char           *profile;
    mi_credentials_t      cr;
    mi_credentials_rc_t   rc;

    if (size == 0) {
        return 0;
    }

    profile = profiles[data[0] % N_PROFILES];

    /* a block of the exact size: ASan sees a read past the end */

    file = malloc(size - 1 ? size - 1 : 1);
    check(file != NULL);
    memcpy(file, data + 1, size - 1);

    if (profile == NULL) {
        rc = mi_credentials_secret(&cr, file, size - 1);

        if (rc == MI_CREDENTIALS_OK) {
            check(cr.access_key == NULL && cr.access_key_len == 0);
            check_secret(file, size - 1, cr.secret_key, cr.secret_key_len);

        } else {
            check(rc == MI_CREDENTIALS_ERROR);
            check(strlen(cr.message) < MI_CREDENTIALS_MESSAGE_MAX - 1);
            check_message(cr.message, NULL);
        }

        free(file);

        return 0;
    }

    rc = mi_credentials_parse(&cr, file, size - 1, profile, strlen(profile));

    if (rc == MI_CREDENTIALS_OK) {
        check(cr.access_key >= file
              && cr.access_key + cr.access_key_len <= file + size - 1);
        check(cr.secret_key >= file
              && cr.secret_key + cr.secret_key_len <= file + size - 1);
        check_value(file, cr.access_key, cr.access_key_len,
                    "ncloud_access_key_id");
        check_value(file, cr.secret_key, cr.secret_key_len,
                    "ncloud_secret_access_key");

    } else {
        check(rc == MI_CREDENTIALS_ERROR);
        check(strlen(cr.message) < MI_CREDENTIALS_MESSAGE_MAX - 1);
        check_message(cr.message, profile);
    }

    free(file);

    return 0;
}
