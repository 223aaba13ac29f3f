/*
 * The API Gateway's error code in a 401's body, read a piece at a time:
 * a small state machine over "errorCode", optional whitespace, ':',
 * optional whitespace and "200".
 */

#include "mi_refusal.h"


enum {
    MI_REFUSAL_NAME = 0,            /* looking for "errorCode" */
    MI_REFUSAL_COLON,               /* after it: whitespace, then ':' */
    MI_REFUSAL_VALUE                /* after ':': whitespace, then "200" */
};


#define mi_refusal_space(c)                                                   \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')


static const char  mi_refusal_name[] = "\"errorCode\"";
static const char  mi_refusal_authentication[] = "\"200\"";


mi_refusal_e
mi_refusal_read(mi_refusal_t *rf, const unsigned char *p, size_t len)
{
    unsigned char         c;
    const unsigned char  *last;

    if (rf->verdict != MI_REFUSAL_UNDECIDED) {
        return rf->verdict;
    }

    if (len > MI_REFUSAL_SCAN_MAX - rf->seen) {
        len = MI_REFUSAL_SCAN_MAX - rf->seen;
    }

    rf->seen += len;

    for (last = p + len; p < last; p++) {
        c = *p;

        switch (rf->state) {

        case MI_REFUSAL_NAME:

            if (c == (unsigned char) mi_refusal_name[rf->matched]) {
                if (++rf->matched == sizeof(mi_refusal_name) - 1) {
                    rf->state = MI_REFUSAL_COLON;
                    rf->matched = 0;
                }

                break;
            }

            /* the name's only '"' that can start it again is its first */

            rf->matched = (c == '"');
            break;

        case MI_REFUSAL_COLON:

            if (c == ':') {
                rf->state = MI_REFUSAL_VALUE;

            } else if (!mi_refusal_space(c)) {
                /* "errorCode" was a value, not a name */
                rf->state = MI_REFUSAL_NAME;
                rf->matched = (c == '"');
            }

            break;

        default: /* MI_REFUSAL_VALUE */

            if (rf->matched == 0 && mi_refusal_space(c)) {
                break;
            }

            if (c != (unsigned char) mi_refusal_authentication[rf->matched]) {
                rf->verdict = MI_REFUSAL_OTHER;
                return rf->verdict;
            }

            if (++rf->matched == sizeof(mi_refusal_authentication) - 1) {
                rf->verdict = MI_REFUSAL_AUTHENTICATION;
                return rf->verdict;
            }

            break;
        }
    }

    if (rf->seen == MI_REFUSAL_SCAN_MAX) {
        rf->verdict = MI_REFUSAL_OTHER;
    }

    return rf->verdict;
}
