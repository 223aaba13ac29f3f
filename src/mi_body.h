/*
 * mi_body: a streaming, constant-memory checker for the JSON bodies of the
 * two scene-summary request routes.  Pure C: no nginx, no allocation.
 *
 * The body is fed in any number of pieces (mi_body_feed), then closed
 * (mi_body_finish).  The verdict never depends on where the pieces split.
 * The first token or value that makes the body invalid decides the
 * verdict, reported at the byte where it begins; nothing after it is
 * looked at.
 *
 * Accepted: one strict RFC 8259 JSON object in UTF-8, optional JSON
 * whitespace around it, members:
 *   "sceneIds": null, or a non-empty array of plain JSON integers in
 *               0..2147483647 (no sign, fraction, exponent, quotes),
 *               at most max_scene_ids of them; repeats allowed;
 *   "locale":   (MI_BODY_ASSET_REQUEST only) null, or a string of 2-35
 *               characters matching ^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$;
 *               not together with a non-null "sceneIds".
 * Member names are compared after JSON unescaping; a member given twice,
 * or any other member, is rejected.
 */

#ifndef MI_BODY_H
#define MI_BODY_H


#include <stddef.h>
#include <stdint.h>


typedef enum {
    MI_BODY_INDEX_REQUEST = 0,      /* members: sceneIds */
    MI_BODY_ASSET_REQUEST           /* members: sceneIds, locale */
} mi_body_schema_t;


typedef enum {
    MI_BODY_MORE = 0,               /* valid so far: feed more or finish */
    MI_BODY_OK,                     /* mi_body_finish only: a valid body */
    MI_BODY_INVALID_JSON,           /* not strict RFC 8259 JSON / UTF-8 */
    MI_BODY_INVALID_BODY            /* JSON so far, but breaks a rule */
} mi_body_rc_t;


#define MI_BODY_MESSAGE_MAX  192
#define MI_BODY_DEFAULT_MAX_SCENE_IDS  10000


/*
 * All state lives in this struct: no pointers, fixed size, safe to keep
 * on the stack or in a request context.  Fields other than "offset" and
 * "message" are private to mi_body.c.
 */
typedef struct {
    uint64_t          offset;       /* bytes consumed so far */
    uint64_t          value_start;  /* offset where the current value began */
    uint64_t          key_start;    /* offset where the current key began */
    uint32_t          max_scene_ids;
    uint32_t          scene_ids;    /* entries seen in "sceneIds" */
    uint32_t          value;        /* integer being read */
    uint32_t          cp;           /* \uXXXX code unit being read */
    uint32_t          high_surrogate;  /* \uD800-\uDBFF awaiting its pair */
    uint32_t          key_len;      /* decoded length, not truncated */
    uint8_t           state;        /* read on every byte: not a bit-field */
    uint8_t           str_state;    /* escape / \u / UTF-8 sub-state */
    unsigned          schema:2;
    unsigned          member:2;     /* whose value is being read */
    unsigned          lit:2;        /* letters of "null" matched */
    unsigned          str_left:2;   /* UTF-8 continuation bytes expected */
    unsigned          seq_len:2;    /* UTF-8 bytes read of this sequence */
    unsigned          hex_left:3;   /* \u hex digits expected */
    unsigned          seen_scene_ids:1;
    unsigned          scene_ids_set:1;  /* "sceneIds" is not null */
    unsigned          seen_locale:1;
    unsigned          locale_set:1;     /* "locale" is not null */
    unsigned          locale_state:4;
    unsigned          locale_run:4;
    unsigned          locale_len:6;     /* decoded characters, saturated */
    unsigned char     key[32];      /* decoded member name, truncated */
    mi_body_rc_t      rc;           /* sticky once an error was found */
    char              message[MI_BODY_MESSAGE_MAX];
} mi_body_check_t;


/* Works out the fast paths' states: once, before the first check. */
void mi_body_tables_init(void);

/* Starts a check; max_scene_ids is the most entries "sceneIds" may have. */
void mi_body_init(mi_body_check_t *ck, mi_body_schema_t schema,
    uint32_t max_scene_ids);

/*
 * Consumes len bytes.  Returns MI_BODY_MORE while the body is valid so far,
 * else an error code (and every later call returns the same code).
 */
mi_body_rc_t mi_body_feed(mi_body_check_t *ck, const unsigned char *p,
    size_t len);

/* Ends the body: MI_BODY_OK, or the error that the end of input makes. */
mi_body_rc_t mi_body_finish(mi_body_check_t *ck);

/*
 * After an error: "<where>: <what> at byte <N>", printable ASCII only,
 * e.g. "sceneIds[3]: not an integer at byte 41".  Offsets count from 0.
 */
const char *mi_body_message(const mi_body_check_t *ck);


#endif /* MI_BODY_H */
