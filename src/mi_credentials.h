/*
 * mi_credentials: the access key and the secret key of one profile of a
 * credentials file in the format of NCP's CLI (~/.ncloud/configure, written
 * by "ncloud configure"), so that the file the NCP tools use can serve:
 *
 *   [DEFAULT]
 *   ncloud_access_key_id = ACCESS_KEY_ID
 *   ncloud_secret_access_key = SECRET_KEY
 *   ncloud_api_url = https://ncloud.apigw.ntruss.com
 *
 * and the secret of a file that holds it alone (mi_secret_key_file).
 *
 * Pure C: no nginx, no allocation.  The keys are returned as spans of the
 * caller's buffer; no message ever holds a byte of a value.
 *
 * The rules, line by line (lines end with LF or CRLF):
 *   - spaces and tabs around a line, a name or a value are ignored; an
 *     empty line, and a line whose first other character is '#' or ';',
 *     is skipped (a '#' or ';' after a value is part of the value, and
 *     refused there);
 *   - "[NAME]" starts a profile; "name = value" sets a name in it; any
 *     other line, a "name = value" before the first profile, and a control
 *     character anywhere (other than a tab) are errors;
 *   - in the profile asked for, both keys must be given exactly once,
 *     non-empty, in printable ASCII without spaces (they go into a header
 *     and an HMAC as they are), neither starting nor ending with a quote
 *     mark (quotes are not taken off: NCP keys are letters and digits) and
 *     without '#' or ';' (a comment glued to the value); other names
 *     (ncloud_api_url, ...) and other profiles are not looked at further;
 *     a profile is not completed from [DEFAULT], and may be given only
 *     once.
 * A UTF-8 byte order mark at the start is skipped.
 */

#ifndef MI_CREDENTIALS_H
#define MI_CREDENTIALS_H


#include <stddef.h>


#define MI_CREDENTIALS_MESSAGE_MAX  160

/* the longest profile name: messages quote it whole */
#define MI_CREDENTIALS_PROFILE_MAX  64


typedef enum {
    MI_CREDENTIALS_OK = 0,
    MI_CREDENTIALS_ERROR            /* the message says why */
} mi_credentials_rc_t;


typedef struct {
    const unsigned char  *access_key;
    size_t                access_key_len;
    const unsigned char  *secret_key;
    size_t                secret_key_len;
    char                  message[MI_CREDENTIALS_MESSAGE_MAX];
} mi_credentials_t;


/*
 * Finds profile (profile_len bytes, at most MI_CREDENTIALS_PROFILE_MAX) in
 * the len bytes at p.  On MI_CREDENTIALS_OK the key fields point into p; on
 * an error the message says why in printable ASCII, e.g. "line 4:
 * \"ncloud_secret_access_key\" is empty" or "profile \"prod\" not found".
 */
mi_credentials_rc_t mi_credentials_parse(mi_credentials_t *cr,
    const unsigned char *p, size_t len, const char *profile,
    size_t profile_len);

/*
 * The secret of a file that holds it alone: the len bytes at p without the
 * spaces, tabs and line ends around them.  On MI_CREDENTIALS_OK secret_key
 * points into p, and secret_key_len is 0 when there is nothing else (the
 * caller refuses an empty file in its own words); the access key stays
 * NULL.  A secret that starts or ends with a quote mark, or holds a '#' (a
 * comment), is an error whose message names the line, e.g. "line 1: \"#\"
 * in the secret: ...".
 */
mi_credentials_rc_t mi_credentials_secret(mi_credentials_t *cr,
    const unsigned char *p, size_t len);


#endif /* MI_CREDENTIALS_H */
