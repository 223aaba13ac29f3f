/*
 * mi_role: the metadata service's answers read in place (see mi_role.h).
 * Called by the worker that fetched them (nginx/ngx_http_mi_role.c), once
 * per renewal.
 */

#include "mi_role.h"

#include <string.h>


typedef struct {
    const unsigned char  *p;
    const unsigned char  *last;
} mi_role_scan_t;


static void mi_role_space(mi_role_scan_t *s);
static int mi_role_string(mi_role_scan_t *s, mi_role_str_t *out,
    int *escaped);
static int mi_role_skip_value(mi_role_scan_t *s);
static int mi_role_digits(const unsigned char *p, size_t n, int *v);
static int64_t mi_role_days(int y, int m, int d);


static void
mi_role_space(mi_role_scan_t *s)
{
    while (s->p < s->last
           && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r'
               || *s->p == '\n'))
    {
        s->p++;
    }
}


/* A string at s->p (the opening quote); out: the bytes between quotes. */

static int
mi_role_string(mi_role_scan_t *s, mi_role_str_t *out, int *escaped)
{
    const unsigned char  *start;

    *escaped = 0;

    if (s->p == s->last || *s->p != '"') {
        return -1;
    }

    start = ++s->p;

    while (s->p < s->last && *s->p != '"') {

        if (*s->p < 0x20) {
            return -1;
        }

        if (*s->p == '\\') {
            if (s->p + 1 == s->last) {
                return -1;
            }

            if (s->p[1] != '/') {
                *escaped = 1;
            }

            s->p++;
        }

        s->p++;
    }

    if (s->p == s->last) {
        return -1;
    }

    out->data = start;
    out->len = s->p - start;
    s->p++;

    return 0;
}


/* Any value: a string, a scalar, or an object or array skipped whole. */

static int
mi_role_skip_value(mi_role_scan_t *s)
{
    int            escaped;
    size_t         depth;
    mi_role_str_t  str;

    if (s->p == s->last) {
        return -1;
    }

    if (*s->p == '"') {
        return mi_role_string(s, &str, &escaped);
    }

    if (*s->p == '{' || *s->p == '[') {
        depth = 0;

        while (s->p < s->last) {
            if (*s->p == '"') {
                if (mi_role_string(s, &str, &escaped) != 0) {
                    return -1;
                }

                continue;
            }

            if (*s->p == '{' || *s->p == '[') {
                depth++;

            } else if (*s->p == '}' || *s->p == ']') {
                if (--depth == 0) {
                    s->p++;
                    return 0;
                }
            }

            s->p++;
        }

        return -1;
    }

    if (!((*s->p >= '0' && *s->p <= '9') || *s->p == '-'
          || (*s->p >= 'a' && *s->p <= 'z')))
    {
        return -1;
    }

    while (s->p < s->last
           && ((*s->p >= '0' && *s->p <= '9') || *s->p == '-'
               || *s->p == '+' || *s->p == '.'
               || (*s->p >= 'a' && *s->p <= 'z')
               || (*s->p >= 'A' && *s->p <= 'Z')))
    {
        s->p++;
    }

    return 0;
}


int
mi_role_parse(mi_role_credentials_t *cr, const unsigned char *text,
    size_t len)
{
    int              escaped;
    size_t           i;
    mi_role_str_t    name, value, *member;
    mi_role_scan_t   s;

    static const struct {
        const char  *name;
        size_t       offset;
    } members[] = {
        { "AccessKeyId", offsetof(mi_role_credentials_t, access_key) },
        { "SecretAccessKey", offsetof(mi_role_credentials_t, secret_key) },
        { "Expiration", offsetof(mi_role_credentials_t, expiration) },
        { "Code", offsetof(mi_role_credentials_t, code) },
        { "Message", offsetof(mi_role_credentials_t, message) }
    };

    memset(cr, 0, sizeof(mi_role_credentials_t));

    s.p = text;
    s.last = text + len;

    mi_role_space(&s);

    if (s.p == s.last || *s.p != '{') {
        cr->error = "not a JSON object";
        return -1;
    }

    s.p++;
    mi_role_space(&s);

    if (s.p < s.last && *s.p == '}') {
        s.p++;
        goto end;
    }

    for ( ;; ) {
        if (mi_role_string(&s, &name, &escaped) != 0) {
            cr->error = "a member's name is not a string";
            return -1;
        }

        mi_role_space(&s);

        if (s.p == s.last || *s.p != ':') {
            cr->error = "no \":\" after a member's name";
            return -1;
        }

        s.p++;
        mi_role_space(&s);

        member = NULL;

        for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
            if (!escaped && name.len == strlen(members[i].name)
                && memcmp(name.data, members[i].name, name.len) == 0)
            {
                member = (mi_role_str_t *) ((char *) cr + members[i].offset);
                break;
            }
        }

        if (member != NULL && s.p < s.last && *s.p == '"') {
            if (mi_role_string(&s, &value, &escaped) != 0) {
                cr->error = "a string does not end";
                return -1;
            }

            if (escaped) {
                cr->error = "an escape in a credentials member";
                return -1;
            }

            *member = value;

        } else if (mi_role_skip_value(&s) != 0) {
            cr->error = "a member's value is not JSON";
            return -1;
        }

        mi_role_space(&s);

        if (s.p < s.last && *s.p == ',') {
            s.p++;
            mi_role_space(&s);
            continue;
        }

        if (s.p < s.last && *s.p == '}') {
            s.p++;
            break;
        }

        cr->error = "no \",\" or \"}\" after a member";
        return -1;
    }

end:

    mi_role_space(&s);

    if (s.p != s.last) {
        cr->error = "bytes after the JSON object";
        return -1;
    }

    return 0;
}


static int
mi_role_digits(const unsigned char *p, size_t n, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (p[i] - '0');
    }

    return 0;
}


/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */

static int64_t
mi_role_days(int y, int m, int d)
{
    int64_t  era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


int
mi_role_time(const unsigned char *s, size_t len, int64_t *t)
{
    int                   year, month, day, hour, min, sec, zh, zm, sign;
    const unsigned char  *p, *last;

    static const int  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };

    if (len < sizeof("YYYY-MM-DDTHH:MM:SSZ") - 1) {
        return -1;
    }

    if (mi_role_digits(s, 4, &year) != 0 || s[4] != '-'
        || mi_role_digits(s + 5, 2, &month) != 0 || s[7] != '-'
        || mi_role_digits(s + 8, 2, &day) != 0
        || (s[10] != 'T' && s[10] != 't')
        || mi_role_digits(s + 11, 2, &hour) != 0 || s[13] != ':'
        || mi_role_digits(s + 14, 2, &min) != 0 || s[16] != ':'
        || mi_role_digits(s + 17, 2, &sec) != 0)
    {
        return -1;
    }

    if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1]
        || (month == 2 && day == 29
            && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
        || hour > 23 || min > 59 || sec > 60)
    {
        return -1;
    }

    p = s + 19;
    last = s + len;

    if (p < last && *p == '.') {
        p++;

        if (p == last || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p == last) {
        return -1;
    }

    zh = 0;
    zm = 0;
    sign = 1;

    if (*p == 'Z' || *p == 'z') {
        p++;

    } else if (*p == '+' || *p == '-') {
        sign = (*p == '-') ? -1 : 1;
        p++;

        if (last - p == 5 && p[2] == ':') {
            if (mi_role_digits(p, 2, &zh) != 0
                || mi_role_digits(p + 3, 2, &zm) != 0)
            {
                return -1;
            }

        } else if (last - p == 4) {
            if (mi_role_digits(p, 2, &zh) != 0
                || mi_role_digits(p + 2, 2, &zm) != 0)
            {
                return -1;
            }

        } else {
            return -1;
        }

        if (zh > 23 || zm > 59) {
            return -1;
        }

        p = last;

    } else {
        return -1;
    }

    if (p != last) {
        return -1;
    }

    *t = mi_role_days(year, month, day) * 86400
         + (int64_t) hour * 3600 + min * 60 + sec
         - sign * ((int64_t) zh * 3600 + zm * 60);

    return 0;
}


size_t
mi_role_first_line(const unsigned char *text, size_t len)
{
    size_t  n;

    for (n = 0; n < len && text[n] != '\n' && text[n] != '\r'; n++) {
        /* void */
    }

    return n;
}
