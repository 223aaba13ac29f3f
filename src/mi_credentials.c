/*
 * mi_credentials: the reader of NCP CLI credentials files, for the
 * "mi_credentials_file" directive, and of secret key files, for
 * "mi_secret_key_file" (both read by the nginx master at start and at
 * every reload).
 *
 * The whole file is read line by line, so that a damaged line anywhere is
 * found, but only the profile asked for is kept.  Values are never copied:
 * the caller owns the one buffer that holds the secret and wipes it.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mi_credentials.h"


#define MI_CRED_ACCESS_KEY  "ncloud_access_key_id"
#define MI_CRED_SECRET_KEY  "ncloud_secret_access_key"

/* what to change, said with every refusal of a quote or a comment */
#define MI_CRED_HINT        " (NCP keys are letters and digits)"

#define mi_cred_ws(c)       ((c) == ' ' || (c) == '\t')
#define mi_cred_blank(c)    (mi_cred_ws(c) || (c) == '\r' || (c) == '\n')
#define mi_cred_quote(c)    ((c) == '"' || (c) == '\'')


typedef struct {
    const unsigned char  *start;
    const unsigned char  *end;
} mi_cred_span_t;


/* What one key of the profile asked for has been given, and where. */
typedef struct {
    const char           *name;
    mi_cred_span_t        value;
    size_t                line;         /* 0 while not given */
} mi_cred_key_t;


typedef struct {
    mi_credentials_t     *cr;
    const char           *profile;
    size_t                profile_len;
    size_t                line;         /* the line being read */
    size_t                profile_line; /* 0 while the profile is not seen */
    int                   in_profile;   /* the lines are in the profile */
    int                   in_any;       /* a profile has started */
    mi_cred_key_t         keys[2];
} mi_cred_parser_t;


static mi_credentials_rc_t mi_cred_line(mi_cred_parser_t *ps,
    mi_cred_span_t s);
static mi_credentials_rc_t mi_cred_section(mi_cred_parser_t *ps,
    mi_cred_span_t s);
static mi_credentials_rc_t mi_cred_pair(mi_cred_parser_t *ps,
    mi_cred_span_t s, const unsigned char *eq);
static mi_credentials_rc_t mi_cred_key(mi_cred_parser_t *ps,
    mi_cred_key_t *key, mi_cred_span_t value);
static mi_cred_span_t mi_cred_trim(const unsigned char *start,
    const unsigned char *end);
static size_t mi_cred_line_of(const unsigned char *p,
    const unsigned char *at);
static int mi_cred_is(mi_cred_span_t s, const char *text, size_t len);
static mi_credentials_rc_t mi_cred_fail(mi_cred_parser_t *ps,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 2, 3)))
#endif
    ;
static mi_credentials_rc_t mi_cred_fail_line(mi_cred_parser_t *ps,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 2, 3)))
#endif
    ;


mi_credentials_rc_t
mi_credentials_parse(mi_credentials_t *cr, const unsigned char *p,
    size_t len, const char *profile, size_t profile_len)
{
    size_t                i;
    mi_cred_span_t        s;
    mi_cred_parser_t      ps;
    const unsigned char  *end, *eol;

    memset(cr, 0, sizeof(mi_credentials_t));
    memset(&ps, 0, sizeof(mi_cred_parser_t));

    ps.cr = cr;
    ps.profile = profile;
    ps.profile_len = profile_len;
    ps.keys[0].name = MI_CRED_ACCESS_KEY;
    ps.keys[1].name = MI_CRED_SECRET_KEY;

    end = p + len;

    /* Windows editors write one */

    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        p += 3;
    }

    while (p < end) {
        ps.line++;

        eol = memchr(p, '\n', (size_t) (end - p));
        if (eol == NULL) {
            eol = end;
        }

        s.start = p;
        s.end = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;

        for (i = 0; s.start + i < s.end; i++) {
            if ((s.start[i] < 0x20 && s.start[i] != '\t')
                || s.start[i] == 0x7F)
            {
                return mi_cred_fail_line(&ps, "control character");
            }
        }

        if (mi_cred_line(&ps, mi_cred_trim(s.start, s.end))
            != MI_CREDENTIALS_OK)
        {
            return MI_CREDENTIALS_ERROR;
        }

        p = (eol < end) ? eol + 1 : end;
    }

    if (ps.profile_line == 0) {
        return mi_cred_fail(&ps, "profile \"%.*s\" not found",
                            (int) profile_len, profile);
    }

    for (i = 0; i < 2; i++) {
        if (ps.keys[i].line == 0) {
            return mi_cred_fail(&ps, "profile \"%.*s\" (line %zu) has no "
                                "\"%s\"", (int) profile_len, profile,
                                ps.profile_line, ps.keys[i].name);
        }
    }

    cr->access_key = ps.keys[0].value.start;
    cr->access_key_len = ps.keys[0].value.end - ps.keys[0].value.start;
    cr->secret_key = ps.keys[1].value.start;
    cr->secret_key_len = ps.keys[1].value.end - ps.keys[1].value.start;

    return MI_CREDENTIALS_OK;
}


/*
 * A secret key file has no lines of its own: blanks and line ends around
 * the secret go, and the line is counted only to name it in a message.
 */

mi_credentials_rc_t
mi_credentials_secret(mi_credentials_t *cr, const unsigned char *p,
    size_t len)
{
    mi_cred_parser_t      ps;
    const unsigned char  *start, *end, *hash;

    memset(cr, 0, sizeof(mi_credentials_t));
    memset(&ps, 0, sizeof(mi_cred_parser_t));

    ps.cr = cr;

    start = p;
    end = p + len;

    while (start < end && mi_cred_blank(*start)) {
        start++;
    }

    while (end > start && mi_cred_blank(end[-1])) {
        end--;
    }

    cr->secret_key = start;

    if (start == end) {
        return MI_CREDENTIALS_OK;
    }

    if (mi_cred_quote(*start) || mi_cred_quote(end[-1])) {
        ps.line = mi_cred_line_of(p, mi_cred_quote(*start) ? start : end - 1);

        return mi_cred_fail_line(&ps, "the secret starts or ends with a "
                                 "quote mark: write it without quotes"
                                 MI_CRED_HINT);
    }

    hash = memchr(start, '#', (size_t) (end - start));

    if (hash != NULL) {
        ps.line = mi_cred_line_of(p, hash);

        return mi_cred_fail_line(&ps, "\"#\" in the secret: the file holds "
                                 "the secret alone, without comments"
                                 MI_CRED_HINT);
    }

    cr->secret_key_len = end - start;

    return MI_CREDENTIALS_OK;
}


/* One line, without its end and the blanks around it. */

static mi_credentials_rc_t
mi_cred_line(mi_cred_parser_t *ps, mi_cred_span_t s)
{
    const unsigned char  *eq;

    if (s.start == s.end || *s.start == '#' || *s.start == ';') {
        return MI_CREDENTIALS_OK;
    }

    if (*s.start == '[') {
        return mi_cred_section(ps, s);
    }

    eq = memchr(s.start, '=', (size_t) (s.end - s.start));

    if (eq == NULL) {
        return mi_cred_fail_line(ps, "expected \"[profile]\", "
                                 "\"name = value\" or a comment");
    }

    return mi_cred_pair(ps, s, eq);
}


static mi_credentials_rc_t
mi_cred_section(mi_cred_parser_t *ps, mi_cred_span_t s)
{
    mi_cred_span_t        name;
    const unsigned char  *close;

    close = memchr(s.start, ']', (size_t) (s.end - s.start));

    if (close == NULL) {
        return mi_cred_fail_line(ps, "no \"]\" after \"[\"");
    }

    if (close + 1 != s.end) {
        return mi_cred_fail_line(ps, "text after \"]\"");
    }

    name = mi_cred_trim(s.start + 1, close);

    if (name.start == name.end) {
        return mi_cred_fail_line(ps, "empty profile name");
    }

    if (memchr(name.start, '[', (size_t) (name.end - name.start)) != NULL) {
        return mi_cred_fail_line(ps, "\"[\" in a profile name");
    }

    ps->in_any = 1;
    ps->in_profile = mi_cred_is(name, ps->profile, ps->profile_len);

    if (!ps->in_profile) {
        return MI_CREDENTIALS_OK;
    }

    /* two would be merged by some readers and not by others */

    if (ps->profile_line != 0) {
        return mi_cred_fail_line(ps, "profile \"%.*s\" given twice "
                                 "(first at line %zu)",
                                 (int) ps->profile_len, ps->profile,
                                 ps->profile_line);
    }

    ps->profile_line = ps->line;

    return MI_CREDENTIALS_OK;
}


static mi_credentials_rc_t
mi_cred_pair(mi_cred_parser_t *ps, mi_cred_span_t s, const unsigned char *eq)
{
    size_t          i;
    mi_cred_span_t  name;

    name = mi_cred_trim(s.start, eq);

    if (name.start == name.end) {
        return mi_cred_fail_line(ps, "\"=\" without a name");
    }

    if (!ps->in_any) {
        return mi_cred_fail_line(ps, "\"name = value\" before the "
                                 "first \"[profile]\"");
    }

    if (!ps->in_profile) {
        return MI_CREDENTIALS_OK;
    }

    for (i = 0; i < 2; i++) {
        if (mi_cred_is(name, ps->keys[i].name, strlen(ps->keys[i].name))) {
            return mi_cred_key(ps, &ps->keys[i], mi_cred_trim(eq + 1, s.end));
        }
    }

    return MI_CREDENTIALS_OK;
}


/*
 * A value is sent (the access key) or hashed (the secret) exactly as it
 * is: a space (a comment after the value, say), a byte outside printable
 * ASCII, quotes around it and a comment glued to it are refused rather
 * than guessed at.
 */

static mi_credentials_rc_t
mi_cred_key(mi_cred_parser_t *ps, mi_cred_key_t *key, mi_cred_span_t value)
{
    size_t  i;

    if (key->line != 0) {
        return mi_cred_fail_line(ps, "\"%s\" given twice in profile "
                                 "\"%.*s\" (first at line %zu)", key->name,
                                 (int) ps->profile_len, ps->profile,
                                 key->line);
    }

    if (value.start == value.end) {
        return mi_cred_fail_line(ps, "\"%s\" is empty", key->name);
    }

    for (i = 0; value.start + i < value.end; i++) {
        if (value.start[i] <= 0x20 || value.start[i] >= 0x7F) {
            return mi_cred_fail_line(ps, "\"%s\" has a space or a "
                                     "character outside printable ASCII, "
                                     "at position %zu", key->name, i);
        }
    }

    if (mi_cred_quote(value.start[0]) || mi_cred_quote(value.end[-1])) {
        return mi_cred_fail_line(ps, "\"%s\" starts or ends with a quote "
                                 "mark: write the value without quotes"
                                 MI_CRED_HINT, key->name);
    }

    for (i = 0; value.start + i < value.end; i++) {
        if (value.start[i] == '#' || value.start[i] == ';') {
            return mi_cred_fail_line(ps, "\"%s\" has \"%c\" at position "
                                     "%zu: a comment goes on a line of its "
                                     "own" MI_CRED_HINT, key->name,
                                     value.start[i], i);
        }
    }

    key->line = ps->line;
    key->value = value;

    return MI_CREDENTIALS_OK;
}


static mi_cred_span_t
mi_cred_trim(const unsigned char *start, const unsigned char *end)
{
    mi_cred_span_t  s;

    while (start < end && mi_cred_ws(*start)) {
        start++;
    }

    while (end > start && mi_cred_ws(end[-1])) {
        end--;
    }

    s.start = start;
    s.end = end;

    return s;
}


/* The number of the line that the byte at "at" is on, from 1. */

static size_t
mi_cred_line_of(const unsigned char *p, const unsigned char *at)
{
    size_t  line;

    for (line = 1; p < at; p++) {
        if (*p == '\n') {
            line++;
        }
    }

    return line;
}


static int
mi_cred_is(mi_cred_span_t s, const char *text, size_t len)
{
    return (size_t) (s.end - s.start) == len
           && memcmp(s.start, text, len) == 0;
}


static mi_credentials_rc_t
mi_cred_fail(mi_cred_parser_t *ps, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(ps->cr->message, MI_CREDENTIALS_MESSAGE_MAX, fmt, args);
    va_end(args);

    return MI_CREDENTIALS_ERROR;
}


/* "line N: " and the message: an error on the line being read. */

static mi_credentials_rc_t
mi_cred_fail_line(mi_cred_parser_t *ps, const char *fmt, ...)
{
    int      n;
    va_list  args;

    n = snprintf(ps->cr->message, MI_CREDENTIALS_MESSAGE_MAX, "line %zu: ",
                 ps->line);

    va_start(args, fmt);
    vsnprintf(ps->cr->message + n, MI_CREDENTIALS_MESSAGE_MAX - (size_t) n,
              fmt, args);
    va_end(args);

    return MI_CREDENTIALS_ERROR;
}
