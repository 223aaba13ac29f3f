/*
 * libFuzzer harness of mi_role: any bytes as a credentials document from
 * the metadata service, and as an Expiration.  It aborts when a member
 * found lies outside the input, or holds a byte a member never may (a
 * quote, a control character, an escape other than "\/").
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mi_role.h"


static void
check_member(const mi_role_str_t *m, const unsigned char *start, size_t size)
{
    size_t  i;

    if (m->data == NULL) {
        return;
    }

    if (m->data < start || m->data + m->len > start + size) {
        abort();
    }

    for (i = 0; i < m->len; i++) {
        if (m->data[i] < 0x20 || m->data[i] == '"') {
            if (i > 0 && m->data[i - 1] == '\\') {
                continue;
            }

            abort();
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t                t;
    unsigned char         *copy;
    mi_role_credentials_t  cr;

    /* an exactly sized copy: ASan sees any read past either end */

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data, size);

    if (mi_role_parse(&cr, copy, size) == 0) {
        check_member(&cr.access_key, copy, size);
        check_member(&cr.secret_key, copy, size);
        check_member(&cr.expiration, copy, size);
        check_member(&cr.code, copy, size);
        check_member(&cr.message, copy, size);

        if (cr.expiration.data) {
            (void) mi_role_time(cr.expiration.data, cr.expiration.len, &t);
        }

    } else if (cr.error == NULL) {
        abort();
    }

    (void) mi_role_time(copy, size, &t);
    (void) mi_role_first_line(copy, size);

    free(copy);

    return 0;
}
