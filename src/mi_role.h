/*
 * mi_role: what the NCP metadata service answers for a Server Role, read
 * without nginx.  The credentials document is a flat JSON object:
 *
 *   {"AccessKeyId": "...", "SecretAccessKey": "...",
 *    "Expiration": "2026-12-31T08:53:47Z", ...}
 *
 * and, on an error, "Code" and "Message".  mi_role_parse finds those
 * members in place (no copy: the caller wipes its buffer), and
 * mi_role_time reads an RFC 3339 time as the SDKs see it.
 */

#ifndef MI_ROLE_H
#define MI_ROLE_H


#include <stddef.h>
#include <stdint.h>


/* The longest access key id kept; NCP's are 20 characters. */
#define MI_ROLE_ACCESS_KEY_MAX  128


typedef struct {
    const unsigned char  *data;     /* NULL: absent */
    size_t                len;
} mi_role_str_t;


typedef struct {
    mi_role_str_t         access_key;
    mi_role_str_t         secret_key;
    mi_role_str_t         expiration;
    mi_role_str_t         code;
    mi_role_str_t         message;
    const char           *error;    /* why the text is not such an object */
} mi_role_credentials_t;


/*
 * Finds the members in text (a JSON object); 0 on success, -1 with
 * cr->error set when the text is not a JSON object of the expected form.
 * A member found holds the string's bytes between the quotes; a string
 * with an escape in it other than "\/" is refused, as none of the members
 * may hold one.  Members of other names and types are skipped.
 */
int mi_role_parse(mi_role_credentials_t *cr, const unsigned char *text,
    size_t len);

/*
 * Reads "YYYY-MM-DDTHH:MM:SS" with optional fractional seconds and a zone
 * of "Z", "+HH:MM" or "+HHMM" (either sign) into seconds since the epoch;
 * 0 on success, -1 on anything else.
 */
int mi_role_time(const unsigned char *s, size_t len, int64_t *t);

/* The first line of the role list: its length, without "\r\n". */
size_t mi_role_first_line(const unsigned char *text, size_t len);


#endif /* MI_ROLE_H */
