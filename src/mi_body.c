/*
 * mi_body: a streaming checker of the scene-summary request bodies.
 *
 * The body is read one byte at a time, and every decision is taken at one
 * byte, so a verdict cannot depend on where the pieces split.  Only the
 * top-level object and the "sceneIds" array are ever entered: any deeper
 * value is a rule violation at its first byte, so no nesting stack is
 * needed and the state stays a fixed-size struct.
 *
 * Offsets in messages: a structural error points at the offending byte;
 * an ill-formed token (UTF-8 sequence, escape, literal, number) points at
 * its first byte; a rule violation points at the value or name it is about.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mi_body.h"
#include "mi_body_simd.h"


#define MI_BODY_SCENE_ID_MAX  2147483647u
#define MI_BODY_LOCALE_MIN    2
#define MI_BODY_LOCALE_MAX    35
#define MI_BODY_SUBTAG_MAX    8

/* room kept at the end of a message for " at byte <uint64>" */
#define MI_BODY_AT_LEN        sizeof(" at byte 18446744073709551615")

#define mi_body_ws(c)                                                        \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

#define mi_body_digit(c)      ((c) >= '0' && (c) <= '9')

#define mi_body_alpha(c)                                                     \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))

/* the first byte of any JSON value */
#define mi_body_value_start(c)                                               \
    ((c) == '{' || (c) == '[' || (c) == '"' || (c) == '-'                    \
     || mi_body_digit(c) || (c) == 't' || (c) == 'f' || (c) == 'n')

/* how most bodies begin: the prefix mi_body_prefix() takes at once */
#define MI_BODY_PREFIX        "{\"sceneIds\":["

#define MI_BODY_CONFLICT                                                     \
    "locale: only allowed on a full analysis (without sceneIds)"


enum {
    mi_st_top = 0,          /* before the object, whitespace only so far */
    mi_st_bom1,             /* EF at byte 0 */
    mi_st_bom2,             /* EF BB at byte 0 */
    mi_st_obj_open,         /* after '{' */
    mi_st_obj_key,          /* after ',' between members */
    mi_st_key,              /* in a member name */
    mi_st_colon,
    mi_st_value,            /* after ':' */
    mi_st_null,             /* in "null", lit letters matched */
    mi_st_locale,           /* in the "locale" string */
    mi_st_arr_open,         /* after the '[' of "sceneIds" */
    mi_st_arr_elem,         /* after ',' between entries */
    mi_st_zero,             /* an entry that is "0" so far */
    mi_st_int,
    mi_st_arr_next,         /* after an entry and whitespace */
    mi_st_obj_next,         /* after a member value */
    mi_st_done              /* after the closing '}' */
};


enum {
    mi_str_char = 0,
    mi_str_esc,             /* after '\' */
    mi_str_hex,             /* in \uXXXX, hex_left digits to go */
    mi_str_u8,              /* continuation 80..BF */
    mi_str_u8_e0,           /* A0..BF: no overlong 3-byte form */
    mi_str_u8_ed,           /* 80..9F: no UTF-16 surrogate */
    mi_str_u8_f0,           /* 90..BF: no overlong 4-byte form */
    mi_str_u8_f4            /* 80..8F: nothing above U+10FFFF */
};


enum {
    mi_member_none = 0,
    mi_member_scene_ids,
    mi_member_locale
};


/* ^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$ as a DFA */
enum {
    mi_loc_start = 0,
    mi_loc_alpha1,
    mi_loc_alpha2,
    mi_loc_alpha3,
    mi_loc_sep,
    mi_loc_sub,             /* locale_run alphanumerics after a separator */
    mi_loc_dead
};


static size_t mi_body_prefix(mi_body_check_t *ck, const unsigned char *p,
    size_t len);
static size_t mi_body_list(mi_body_check_t *ck, const unsigned char *p,
    size_t len);
static void mi_body_byte(mi_body_check_t *ck, unsigned char c);
static void mi_body_value(mi_body_check_t *ck, unsigned char c);
static void mi_body_element(mi_body_check_t *ck, unsigned char c);
static void mi_body_digit_in(mi_body_check_t *ck, unsigned char c);
static void mi_body_after_element(mi_body_check_t *ck, unsigned char c);
static void mi_body_string_start(mi_body_check_t *ck, unsigned state);
static void mi_body_string_byte(mi_body_check_t *ck, unsigned char c);
static void mi_body_utf8_lead(mi_body_check_t *ck, unsigned char c);
static void mi_body_utf8_next(mi_body_check_t *ck, unsigned char c);
static void mi_body_escape(mi_body_check_t *ck, unsigned char c);
static void mi_body_hex(mi_body_check_t *ck, unsigned char c);
static void mi_body_unit(mi_body_check_t *ck, uint32_t u);
static void mi_body_flush_surrogate(mi_body_check_t *ck);
static void mi_body_emit(mi_body_check_t *ck, uint32_t cp);
static void mi_body_key_byte(mi_body_check_t *ck, unsigned char b);
static unsigned mi_body_locale_next(mi_body_check_t *ck, uint32_t cp);
static void mi_body_string_end(mi_body_check_t *ck);
static void mi_body_member(mi_body_check_t *ck);
static void mi_body_unknown(mi_body_check_t *ck);
static void mi_body_locale_end(mi_body_check_t *ck);
static void mi_body_fail(mi_body_check_t *ck, mi_body_rc_t rc, uint64_t at,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 4, 5)))
#endif
    ;


/* what the byte path reaches after MI_BODY_PREFIX, and after it and "1]}" */
static mi_body_check_t  mi_body_after_prefix[2];
static mi_body_check_t  mi_body_after_list[2];


void
mi_body_init(mi_body_check_t *ck, mi_body_schema_t schema,
    uint32_t max_scene_ids)
{
    /* the message is written only on an error: it needs no more */

    memset(ck, 0, offsetof(mi_body_check_t, message));
    ck->message[0] = '\0';

    ck->schema = schema;
    ck->max_scene_ids = max_scene_ids;
    ck->state = mi_st_top;
    ck->rc = MI_BODY_MORE;
}


mi_body_rc_t
mi_body_feed(mi_body_check_t *ck, const unsigned char *p, size_t len)
{
    size_t    i, start, n;
    uint32_t  v, d, entries;

    i = 0;

    if (ck->offset == 0 && ck->state == mi_st_top && ck->rc == MI_BODY_MORE) {
        i = mi_body_prefix(ck, p, len);

        if (i != 0 && len - i <= MI_BODY_LIST_WINDOW + sizeof("]}") - 1) {
            i += mi_body_list(ck, p + i, len - i);
        }
    }

    /* offset stays on the byte that failed, so it names the stop point */

    for ( /* void */ ; i < len && ck->rc == MI_BODY_MORE; i++) {

        /*
         * Most of a large body is sceneIds entries: whole ones are taken
         * a block at a time (mi_body_simd); whatever they leave, up to the
         * end of an entry, goes the byte-at-a-time way.
         */

        if ((ck->state == mi_st_arr_elem || ck->state == mi_st_arr_open)
            && mi_body_digit(p[i]))
        {
            n = mi_body_ids(p + i, len - i,
                            ck->max_scene_ids - ck->scene_ids, &entries);

            if (n != 0) {
                ck->scene_ids += entries;
                ck->offset += n;
                ck->state = mi_st_arr_elem;
                i += n;

                if (i == len) {
                    break;
                }
            }
        }

        /* the digits of an entry the blocks did not take, all at once */

        if (ck->state == mi_st_int) {
            start = i;
            v = ck->value;

            while (i < len && (d = (uint32_t) p[i] - '0') < 10
                   && v <= (MI_BODY_SCENE_ID_MAX - d) / 10)
            {
                v = v * 10 + d;
                i++;
            }

            ck->value = v;
            ck->offset += i - start;

            if (i == len) {
                break;
            }
        }

        mi_body_byte(ck, p[i]);

        if (ck->rc == MI_BODY_MORE) {
            ck->offset++;
        }
    }

    return ck->rc;
}


/*
 * The common start of a body, '{"sceneIds":[', taken at once: the state
 * after it is the one the byte-at-a-time checker reaches, worked out once
 * by running it over these bytes.  Returns the bytes taken.
 */

static size_t
mi_body_prefix(mi_body_check_t *ck, const unsigned char *p, size_t len)
{
    uint32_t  max;

    if (len < sizeof(MI_BODY_PREFIX) - 1
        || memcmp(p, MI_BODY_PREFIX, sizeof(MI_BODY_PREFIX) - 1) != 0)
    {
        return 0;
    }

    max = ck->max_scene_ids;
    memcpy(ck, &mi_body_after_prefix[ck->schema],
           offsetof(mi_body_check_t, message));
    ck->max_scene_ids = max;

    return sizeof(MI_BODY_PREFIX) - 1;
}


/*
 * The rest of a small body in the usual shape, entries then "]}" and
 * nothing more ("1,22,333]}"), at once: right after the prefix, when all
 * of it came in one buffer and its entries fit in a window, read from
 * the window's masks (mi_body_ids_list).  It takes all of it or nothing:
 * a byte not of this shape, an entry the byte-at-a-time checker would
 * refuse (a leading zero, too large, one too many) or merely read
 * differently (a space, 10 digits) leaves ck as it was, and the byte
 * path, which decides, starts over.  The state it ends in is that path's
 * after '{"sceneIds":[1]}', with the entries' count, the last one's value
 * and where it began.  A longer list goes the block-at-a-time way, which
 * is faster once it has more than one window.
 */

static size_t
mi_body_list(mi_body_check_t *ck, const unsigned char *p, size_t len)
{
    size_t    i, n, start;
    uint32_t  v, count, max;
    uint64_t  offset;

    if (len < 3 || p[len - 2] != ']' || p[len - 1] != '}') {
        return 0;
    }

    n = len - 2;
    max = ck->max_scene_ids;

    if (!mi_body_ids_list(p, n, &count, &start)
        || count > max - ck->scene_ids)
    {
        return 0;
    }

    /* at most 9 digits */

    for (v = 0, i = start; i < n; i++) {
        v = v * 10 + (p[i] - '0');
    }

    offset = ck->offset;
    count += ck->scene_ids;

    memcpy(ck, &mi_body_after_list[ck->schema],
           offsetof(mi_body_check_t, message));

    ck->offset = offset + len;
    ck->max_scene_ids = max;
    ck->scene_ids = count;
    ck->value = v;
    ck->value_start = offset + start;

    return len;
}


/* The states the fast paths leave, worked out by the byte path. */

void
mi_body_tables_init(void)
{
    size_t  i;
    int     schema;

    static const char  list[] = MI_BODY_PREFIX "1]}";

    for (schema = 0; schema < 2; schema++) {
        mi_body_init(&mi_body_after_prefix[schema], schema,
                     MI_BODY_DEFAULT_MAX_SCENE_IDS);

        for (i = 0; i < sizeof(MI_BODY_PREFIX) - 1; i++) {
            mi_body_byte(&mi_body_after_prefix[schema], MI_BODY_PREFIX[i]);
            mi_body_after_prefix[schema].offset++;
        }

        mi_body_init(&mi_body_after_list[schema], schema,
                     MI_BODY_DEFAULT_MAX_SCENE_IDS);

        for (i = 0; i < sizeof(list) - 1; i++) {
            mi_body_byte(&mi_body_after_list[schema], list[i]);
            mi_body_after_list[schema].offset++;
        }
    }

}


mi_body_rc_t
mi_body_finish(mi_body_check_t *ck)
{
    if (ck->rc != MI_BODY_MORE) {
        return ck->rc;
    }

    switch (ck->state) {

    case mi_st_done:
        return MI_BODY_OK;

    case mi_st_top:
        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: empty, expected a JSON object");
        break;

    case mi_st_bom1:
    case mi_st_bom2:
        mi_body_fail(ck, MI_BODY_INVALID_JSON, 0,
                     "body: expected a JSON object");
        break;

    case mi_st_key:
    case mi_st_locale:
        if (ck->str_state >= mi_str_u8) {
            mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset - ck->seq_len,
                         "body: invalid UTF-8");
            break;
        }

        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: unexpected end of input");
        break;

    default:
        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: unexpected end of input");
        break;
    }

    return ck->rc;
}


const char *
mi_body_message(const mi_body_check_t *ck)
{
    return ck->message;
}


/* One byte at ck->offset; on an error it sets ck->rc and the message. */

static void
mi_body_byte(mi_body_check_t *ck, unsigned char c)
{
    switch (ck->state) {

    case mi_st_top:
        if (mi_body_ws(c)) {
            return;
        }

        if (c == '{') {
            ck->state = mi_st_obj_open;
            return;
        }

        /* a byte order mark gets its own message, so look at all three */

        if (c == 0xEF && ck->offset == 0) {
            ck->state = mi_st_bom1;
            return;
        }

        if (mi_body_value_start(c)) {
            mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->offset,
                         "body: not a JSON object");
            return;
        }

        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: expected a JSON object");
        return;

    case mi_st_bom1:
        if (c == 0xBB) {
            ck->state = mi_st_bom2;
            return;
        }

        mi_body_fail(ck, MI_BODY_INVALID_JSON, 0,
                     "body: expected a JSON object");
        return;

    case mi_st_bom2:
        if (c == 0xBF) {
            mi_body_fail(ck, MI_BODY_INVALID_JSON, 0,
                         "body: byte order mark (U+FEFF) is not allowed");
            return;
        }

        mi_body_fail(ck, MI_BODY_INVALID_JSON, 0,
                     "body: expected a JSON object");
        return;

    case mi_st_obj_open:
    case mi_st_obj_key:
        if (mi_body_ws(c)) {
            return;
        }

        if (c == '"') {
            ck->key_start = ck->offset;
            ck->key_len = 0;
            mi_body_string_start(ck, mi_st_key);
            return;
        }

        if (ck->state == mi_st_obj_open) {
            if (c == '}') {
                ck->state = mi_st_done;
                return;
            }

            mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                         "body: expected a member name or '}'");
            return;
        }

        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: expected a member name");
        return;

    case mi_st_key:
    case mi_st_locale:
        mi_body_string_byte(ck, c);
        return;

    case mi_st_colon:
        if (mi_body_ws(c)) {
            return;
        }

        if (c == ':') {
            ck->state = mi_st_value;
            return;
        }

        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: expected ':'");
        return;

    case mi_st_value:
        if (mi_body_ws(c)) {
            return;
        }

        mi_body_value(ck, c);
        return;

    case mi_st_null:
        if (c != "null"[ck->lit]) {
            mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->value_start,
                         "body: invalid literal");
            return;
        }

        if (ck->lit == 3) {
            ck->state = mi_st_obj_next;

        } else {
            ck->lit++;
        }

        return;

    case mi_st_arr_open:
    case mi_st_arr_elem:
        if (mi_body_ws(c)) {
            return;
        }

        if (c == ']' && ck->state == mi_st_arr_open) {
            mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->value_start,
                         "sceneIds: empty array (omit it or use null"
                         " for a full analysis)");
            return;
        }

        mi_body_element(ck, c);
        return;

    case mi_st_zero:
    case mi_st_int:
        mi_body_digit_in(ck, c);
        return;

    case mi_st_arr_next:
        mi_body_after_element(ck, c);
        return;

    case mi_st_obj_next:
        if (mi_body_ws(c)) {
            return;
        }

        if (c == ',') {
            ck->state = mi_st_obj_key;
            return;
        }

        if (c == '}') {
            ck->state = mi_st_done;
            return;
        }

        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: expected ',' or '}'");
        return;

    default: /* mi_st_done */
        if (mi_body_ws(c)) {
            return;
        }

        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: trailing data after the JSON object");
        return;
    }
}


/*
 * The first byte of a member value.  A wrong type is judged before the
 * sceneIds/locale conflict: it is the more precise message.
 */

static void
mi_body_value(mi_body_check_t *ck, unsigned char c)
{
    ck->value_start = ck->offset;

    if (c == 'n') {
        ck->state = mi_st_null;
        ck->lit = 1;
        return;
    }

    if (!mi_body_value_start(c)) {
        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: expected a value");
        return;
    }

    if (ck->member == mi_member_scene_ids) {
        if (c != '[') {
            mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->offset,
                         "sceneIds: not an array or null");
            return;
        }

        if (ck->locale_set) {
            mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->offset,
                         MI_BODY_CONFLICT);
            return;
        }

        ck->scene_ids_set = 1;
        ck->scene_ids = 0;
        ck->state = mi_st_arr_open;
        return;
    }

    if (c != '"') {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->offset,
                     "locale: not a string or null");
        return;
    }

    if (ck->scene_ids_set) {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->offset, MI_BODY_CONFLICT);
        return;
    }

    ck->locale_set = 1;
    ck->locale_len = 0;
    ck->locale_state = mi_loc_start;
    ck->locale_run = 0;
    mi_body_string_start(ck, mi_st_locale);
}


/* The first byte of a "sceneIds" entry. */

static void
mi_body_element(mi_body_check_t *ck, unsigned char c)
{
    if (!mi_body_value_start(c)) {
        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: expected a value");
        return;
    }

    if (ck->scene_ids >= ck->max_scene_ids) {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->offset,
                     "sceneIds: more than %u entries",
                     (unsigned) ck->max_scene_ids);
        return;
    }

    ck->scene_ids++;
    ck->value_start = ck->offset;

    if (c == '-') {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->offset,
                     "sceneIds[%u]: negative", (unsigned) ck->scene_ids - 1);
        return;
    }

    if (!mi_body_digit(c)) {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->offset,
                     "sceneIds[%u]: not an integer",
                     (unsigned) ck->scene_ids - 1);
        return;
    }

    ck->value = c - '0';
    ck->state = (c == '0') ? mi_st_zero : mi_st_int;
}


/* A byte after the first digit of an entry. */

static void
mi_body_digit_in(mi_body_check_t *ck, unsigned char c)
{
    uint32_t  d;

    if (mi_body_digit(c)) {
        if (ck->state == mi_st_zero) {
            mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->value_start,
                         "body: leading zero");
            return;
        }

        /* stop at the first digit too many: any length, no overflow */

        d = c - '0';

        if (ck->value > (MI_BODY_SCENE_ID_MAX - d) / 10) {
            mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->value_start,
                         "sceneIds[%u]: out of range 0..2147483647",
                         (unsigned) ck->scene_ids - 1);
            return;
        }

        ck->value = ck->value * 10 + d;
        return;
    }

    /* a fraction or exponent can only make a non-integer, valid or not */

    if (c == '.' || c == 'e' || c == 'E') {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->value_start,
                     "sceneIds[%u]: not an integer",
                     (unsigned) ck->scene_ids - 1);
        return;
    }

    mi_body_after_element(ck, c);
}


static void
mi_body_after_element(mi_body_check_t *ck, unsigned char c)
{
    if (mi_body_ws(c)) {
        ck->state = mi_st_arr_next;
        return;
    }

    if (c == ',') {
        ck->state = mi_st_arr_elem;
        return;
    }

    if (c == ']') {
        ck->state = mi_st_obj_next;
        return;
    }

    mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                 "body: expected ',' or ']'");
}


static void
mi_body_string_start(mi_body_check_t *ck, unsigned state)
{
    ck->state = state;
    ck->str_state = mi_str_char;
    ck->high_surrogate = 0;
}


/* A byte inside a member name or the locale string. */

static void
mi_body_string_byte(mi_body_check_t *ck, unsigned char c)
{
    switch (ck->str_state) {

    case mi_str_char:
        if (c == '"') {
            mi_body_string_end(ck);
            return;
        }

        if (c == '\\') {
            ck->str_state = mi_str_esc;
            return;
        }

        if (c < 0x20) {
            mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                         "body: control character in string");
            return;
        }

        if (c >= 0x80) {
            mi_body_utf8_lead(ck, c);
            return;
        }

        mi_body_flush_surrogate(ck);
        mi_body_emit(ck, c);
        return;

    case mi_str_esc:
        mi_body_escape(ck, c);
        return;

    case mi_str_hex:
        mi_body_hex(ck, c);
        return;

    default:
        mi_body_utf8_next(ck, c);
        return;
    }
}


/* Unicode 15, table 3-7: the second byte's range depends on the first. */

static void
mi_body_utf8_lead(mi_body_check_t *ck, unsigned char c)
{
    if (c >= 0xC2 && c <= 0xDF) {
        ck->str_left = 1;
        ck->str_state = mi_str_u8;

    } else if (c == 0xE0) {
        ck->str_left = 2;
        ck->str_state = mi_str_u8_e0;

    } else if (c == 0xED) {
        ck->str_left = 2;
        ck->str_state = mi_str_u8_ed;

    } else if (c >= 0xE1 && c <= 0xEF) {
        ck->str_left = 2;
        ck->str_state = mi_str_u8;

    } else if (c == 0xF0) {
        ck->str_left = 3;
        ck->str_state = mi_str_u8_f0;

    } else if (c >= 0xF1 && c <= 0xF3) {
        ck->str_left = 3;
        ck->str_state = mi_str_u8;

    } else if (c == 0xF4) {
        ck->str_left = 3;
        ck->str_state = mi_str_u8_f4;

    } else {
        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset,
                     "body: invalid UTF-8");
        return;
    }

    ck->seq_len = 1;

    mi_body_flush_surrogate(ck);

    /* the raw bytes are the decoded name; to a locale any is a misfit */

    if (ck->state == mi_st_key) {
        mi_body_key_byte(ck, c);
        return;
    }

    mi_body_emit(ck, 0x80);
}


static void
mi_body_utf8_next(mi_body_check_t *ck, unsigned char c)
{
    unsigned char  lo, hi;

    lo = 0x80;
    hi = 0xBF;

    switch (ck->str_state) {

    case mi_str_u8_e0:
        lo = 0xA0;
        break;

    case mi_str_u8_ed:
        hi = 0x9F;
        break;

    case mi_str_u8_f0:
        lo = 0x90;
        break;

    case mi_str_u8_f4:
        hi = 0x8F;
        break;

    default:
        break;
    }

    if (c < lo || c > hi) {
        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset - ck->seq_len,
                     "body: invalid UTF-8");
        return;
    }

    if (ck->state == mi_st_key) {
        mi_body_key_byte(ck, c);
    }

    ck->seq_len++;
    ck->str_left--;
    ck->str_state = (ck->str_left == 0) ? mi_str_char : mi_str_u8;
}


static void
mi_body_escape(mi_body_check_t *ck, unsigned char c)
{
    uint32_t  cp;

    switch (c) {

    case '"':
    case '\\':
    case '/':
        cp = c;
        break;

    case 'b':
        cp = '\b';
        break;

    case 'f':
        cp = '\f';
        break;

    case 'n':
        cp = '\n';
        break;

    case 'r':
        cp = '\r';
        break;

    case 't':
        cp = '\t';
        break;

    case 'u':
        ck->str_state = mi_str_hex;
        ck->hex_left = 4;
        ck->cp = 0;
        return;

    default:
        mi_body_fail(ck, MI_BODY_INVALID_JSON, ck->offset - 1,
                     "body: invalid escape");
        return;
    }

    ck->str_state = mi_str_char;
    mi_body_flush_surrogate(ck);
    mi_body_emit(ck, cp);
}


static void
mi_body_hex(mi_body_check_t *ck, unsigned char c)
{
    uint32_t  h;

    if (mi_body_digit(c)) {
        h = c - '0';

    } else if (c >= 'a' && c <= 'f') {
        h = c - 'a' + 10;

    } else if (c >= 'A' && c <= 'F') {
        h = c - 'A' + 10;

    } else {
        /* point at the backslash: "\u" and the digits read so far */
        mi_body_fail(ck, MI_BODY_INVALID_JSON,
                     ck->offset - 2 - (4 - ck->hex_left),
                     "body: invalid \\u escape");
        return;
    }

    ck->cp = (ck->cp << 4) | h;
    ck->hex_left--;

    if (ck->hex_left == 0) {
        ck->str_state = mi_str_char;
        mi_body_unit(ck, ck->cp);
    }
}


/*
 * A UTF-16 code unit from \uXXXX.  A high surrogate waits for its low
 * half; RFC 8259's grammar allows lone surrogates, so they pass as one
 * (unmatchable) character each rather than being a JSON error.
 */

static void
mi_body_unit(mi_body_check_t *ck, uint32_t u)
{
    uint32_t  high;

    high = ck->high_surrogate;

    if (high != 0 && u >= 0xDC00 && u <= 0xDFFF) {
        ck->high_surrogate = 0;
        mi_body_emit(ck, 0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00));
        return;
    }

    mi_body_flush_surrogate(ck);

    if (u >= 0xD800 && u <= 0xDBFF) {
        ck->high_surrogate = u;
        return;
    }

    mi_body_emit(ck, u);
}


static void
mi_body_flush_surrogate(mi_body_check_t *ck)
{
    uint32_t  high;

    high = ck->high_surrogate;

    if (high != 0) {
        ck->high_surrogate = 0;
        mi_body_emit(ck, high);
    }
}


/* One decoded character of a member name or the locale. */

static void
mi_body_emit(mi_body_check_t *ck, uint32_t cp)
{
    if (ck->state == mi_st_key) {

        /* UTF-8, surrogates included: the name is only ever displayed */

        if (cp < 0x80) {
            mi_body_key_byte(ck, (unsigned char) cp);

        } else if (cp < 0x800) {
            mi_body_key_byte(ck, (unsigned char) (0xC0 | (cp >> 6)));
            mi_body_key_byte(ck, (unsigned char) (0x80 | (cp & 0x3F)));

        } else if (cp < 0x10000) {
            mi_body_key_byte(ck, (unsigned char) (0xE0 | (cp >> 12)));
            mi_body_key_byte(ck, (unsigned char) (0x80 | ((cp >> 6) & 0x3F)));
            mi_body_key_byte(ck, (unsigned char) (0x80 | (cp & 0x3F)));

        } else {
            mi_body_key_byte(ck, (unsigned char) (0xF0 | (cp >> 18)));
            mi_body_key_byte(ck, (unsigned char) (0x80 | ((cp >> 12) & 0x3F)));
            mi_body_key_byte(ck, (unsigned char) (0x80 | ((cp >> 6) & 0x3F)));
            mi_body_key_byte(ck, (unsigned char) (0x80 | (cp & 0x3F)));
        }

        return;
    }

    if (ck->locale_len <= MI_BODY_LOCALE_MAX) {
        ck->locale_len++;
    }

    ck->locale_state = mi_body_locale_next(ck, cp);
}


static void
mi_body_key_byte(mi_body_check_t *ck, unsigned char b)
{
    if (ck->key_len < sizeof(ck->key)) {
        ck->key[ck->key_len] = b;
    }

    if (ck->key_len < UINT32_MAX) {
        ck->key_len++;
    }
}


static unsigned
mi_body_locale_next(mi_body_check_t *ck, uint32_t cp)
{
    int  alpha, alnum, sep;

    alpha = mi_body_alpha(cp);
    alnum = alpha || mi_body_digit(cp);
    sep = (cp == '-' || cp == '_');

    switch (ck->locale_state) {

    case mi_loc_start:
        return alpha ? mi_loc_alpha1 : mi_loc_dead;

    case mi_loc_alpha1:
        return alpha ? mi_loc_alpha2 : mi_loc_dead;

    case mi_loc_alpha2:
        return alpha ? mi_loc_alpha3 : (sep ? mi_loc_sep : mi_loc_dead);

    case mi_loc_alpha3:
        return sep ? mi_loc_sep : mi_loc_dead;

    case mi_loc_sep:
        if (alnum) {
            ck->locale_run = 1;
            return mi_loc_sub;
        }

        return mi_loc_dead;

    case mi_loc_sub:
        if (alnum && ck->locale_run < MI_BODY_SUBTAG_MAX) {
            ck->locale_run++;
            return mi_loc_sub;
        }

        if (sep && ck->locale_run >= 2) {
            return mi_loc_sep;
        }

        return mi_loc_dead;

    default:
        return mi_loc_dead;
    }
}


static void
mi_body_string_end(mi_body_check_t *ck)
{
    mi_body_flush_surrogate(ck);

    if (ck->state == mi_st_key) {
        mi_body_member(ck);
        return;
    }

    mi_body_locale_end(ck);
}


/* A member name is judged whole, so that the message can name it. */

static void
mi_body_member(mi_body_check_t *ck)
{
    if (ck->key_len == sizeof("sceneIds") - 1
        && memcmp(ck->key, "sceneIds", sizeof("sceneIds") - 1) == 0)
    {
        if (ck->seen_scene_ids) {
            mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->key_start,
                         "sceneIds: duplicate member");
            return;
        }

        ck->seen_scene_ids = 1;
        ck->member = mi_member_scene_ids;
        ck->state = mi_st_colon;
        return;
    }

    if (ck->schema == MI_BODY_ASSET_REQUEST
        && ck->key_len == sizeof("locale") - 1
        && memcmp(ck->key, "locale", sizeof("locale") - 1) == 0)
    {
        if (ck->seen_locale) {
            mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->key_start,
                         "locale: duplicate member");
            return;
        }

        ck->seen_locale = 1;
        ck->member = mi_member_locale;
        ck->state = mi_st_colon;
        return;
    }

    mi_body_unknown(ck);
}


/*
 * The message must be printable ASCII, whatever the client sent: any other
 * byte of the decoded name is shown as '?', as every message quoting the
 * request does (see ngx_http_mi_reject).
 */

static void
mi_body_unknown(mi_body_check_t *ck)
{
    char           name[sizeof(ck->key) + sizeof("...")];
    size_t         i, len;
    unsigned char  b;

    if (ck->key_len == 0) {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->key_start,
                     "\"\": unknown member");
        return;
    }

    len = (ck->key_len < sizeof(ck->key)) ? ck->key_len : sizeof(ck->key);

    for (i = 0; i < len; i++) {
        b = ck->key[i];
        name[i] = (b >= 0x20 && b < 0x7F) ? (char) b : '?';
    }

    if (ck->key_len > sizeof(ck->key)) {
        memcpy(&name[i], "...", 3);
        i += 3;
    }

    name[i] = '\0';

    mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->key_start,
                 "%s: unknown member", name);
}


/* The locale is judged whole: the message then says what is wrong. */

static void
mi_body_locale_end(mi_body_check_t *ck)
{
    if (ck->locale_len < MI_BODY_LOCALE_MIN
        || ck->locale_len > MI_BODY_LOCALE_MAX)
    {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->value_start,
                     "locale: must be 2 to 35 characters long");
        return;
    }

    if (ck->locale_state != mi_loc_alpha2
        && ck->locale_state != mi_loc_alpha3
        && !(ck->locale_state == mi_loc_sub && ck->locale_run >= 2))
    {
        mi_body_fail(ck, MI_BODY_INVALID_BODY, ck->value_start,
                     "locale: not a language tag like \"ko\" or \"en-US\"");
        return;
    }

    ck->state = mi_st_obj_next;
}


static void
mi_body_fail(mi_body_check_t *ck, mi_body_rc_t rc, uint64_t at,
    const char *fmt, ...)
{
    int      n;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(ck->message, MI_BODY_MESSAGE_MAX - MI_BODY_AT_LEN, fmt,
                  args);
    va_end(args);

    if (n < 0) {
        n = 0;

    } else if (n >= (int) (MI_BODY_MESSAGE_MAX - MI_BODY_AT_LEN)) {
        n = MI_BODY_MESSAGE_MAX - MI_BODY_AT_LEN - 1;
    }

    snprintf(ck->message + n, MI_BODY_MESSAGE_MAX - (size_t) n,
             " at byte %llu",
             (unsigned long long) at);

    ck->rc = rc;
}
