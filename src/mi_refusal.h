/*
 * mi_refusal: which refusal a 401 of the NCP API Gateway is, read from its
 * body as the body arrives, in pieces of any size:
 *
 *   {"error": {"errorCode": "200", "message": "Authentication Failed"}}
 *
 * errorCode "200" is an authentication failure (the access key, the
 * signature or the timestamp); "210" (permission denied) and any other
 * code are not.  Pure C: no nginx, no allocation, a few bytes of state.
 *
 * The first "errorCode" member decides: its value "200", a string, is an
 * authentication failure, any other value is not.  Only the first
 * MI_REFUSAL_SCAN_MAX bytes are read; a body without the member there is
 * not an authentication failure either (undecided while it is shorter,
 * MI_REFUSAL_OTHER once that many bytes were read).  Escapes are not
 * decoded: the gateway writes the member as above.
 */

#ifndef MI_REFUSAL_H
#define MI_REFUSAL_H


#include <stddef.h>


#define MI_REFUSAL_SCAN_MAX  512


typedef enum {
    MI_REFUSAL_UNDECIDED = 0,       /* no "errorCode" member read yet */
    MI_REFUSAL_AUTHENTICATION,      /* "errorCode": "200" */
    MI_REFUSAL_OTHER                /* another errorCode, or none within
                                       MI_REFUSAL_SCAN_MAX bytes */
} mi_refusal_e;


/* Zeroed: before the first byte. */
typedef struct {
    mi_refusal_e    verdict;
    unsigned        state;          /* the name, the ':', the value */
    unsigned        matched;        /* bytes of the name or the value */
    size_t          seen;
} mi_refusal_t;


/*
 * Reads the next len bytes of the body and returns the verdict so far;
 * once it is not MI_REFUSAL_UNDECIDED, later bytes are not looked at.
 */
mi_refusal_e mi_refusal_read(mi_refusal_t *rf, const unsigned char *p,
    size_t len);


#endif /* MI_REFUSAL_H */
