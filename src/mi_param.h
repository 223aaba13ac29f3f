/*
 * mi_param: the default patterns of the path parameters, checked without a
 * regex engine.  Pure C: no nginx, no allocation, no copy.
 *
 * A parameter is judged as PCRE2 would judge its percent-decoded value
 * against the default pattern, matching the whole value:
 *   workspace_name   ^[a-z0-9-]{3,63}$
 *   the four ids     ^[1-9][0-9]{0,18}$
 * The route matcher scans each parameter once, ANDing mi_param_class over
 * its bytes, and hands the result to mi_param_judge(); only a value that
 * holds a '%' is decoded, one byte at a time, never into a copy.
 */

#ifndef MI_PARAM_H
#define MI_PARAM_H


#include <stddef.h>
#include <sys/types.h>


typedef enum {
    MI_PARAM_WORKSPACE_NAME = 0,
    MI_PARAM_PROJECT_ID,
    MI_PARAM_ASSET_ID,
    MI_PARAM_INDEX_ID,
    MI_PARAM_SCENE_SUMMARY_ID,
    MI_PARAM_COUNT
} mi_param_t;


typedef enum {
    MI_PARAM_VALID = 0,
    MI_PARAM_MISMATCH,              /* the decoded value fails the pattern */
    MI_PARAM_BAD_ESCAPE             /* "%", "%4", "%zz": nothing to match */
} mi_param_rc_t;


/* Class bits of a byte as sent; '%' and every byte outside them have none. */
#define MI_PARAM_DIGIT     0x01     /* 0-9 */
#define MI_PARAM_NONZERO   0x02     /* 1-9 */
#define MI_PARAM_NAME      0x04     /* a-z 0-9 - */
#define MI_PARAM_CLASSES   0x07     /* the AND over no byte at all */

extern const unsigned char  mi_param_class[256];


/*
 * One default pattern: every byte in "all", the first one in "first",
 * min..max bytes; indexed by mi_param_t.
 */
typedef struct {
    unsigned char   all;
    unsigned char   first;
    unsigned char   min;
    unsigned char   max;
    const char     *pattern;
} mi_param_rule_t;

extern const mi_param_rule_t  mi_param_rules[MI_PARAM_COUNT];


/*
 * Whether raw[0..len), as sent, fits p's default pattern: the common case,
 * inline in the route matcher's scan.  When it does not, mi_param_judge()
 * says why (or finds that the decoded value fits after all).
 */
static inline int
mi_param_fits(mi_param_t p, unsigned classes, size_t len, unsigned char first)
{
    const mi_param_rule_t  *rule;

    rule = &mi_param_rules[p];

    return (classes & rule->all) && len >= rule->min && len <= rule->max
           && (mi_param_class[first] & rule->first);
}


/*
 * The verdict of p's default pattern on raw[0..len), the parameter as
 * sent; classes is the AND of mi_param_class over those bytes.
 */
mi_param_rc_t mi_param_judge(mi_param_t p, const unsigned char *raw,
    size_t len, unsigned classes);

/* The same, scanning raw itself. */
mi_param_rc_t mi_param_check(mi_param_t p, const unsigned char *raw,
    size_t len);

/* The default pattern's source, as error messages quote it. */
const char *mi_param_pattern(mi_param_t p);

/*
 * Percent-decodes src into dst (at most cap bytes, no NUL added).
 * Returns the decoded length, or -1 on a malformed escape ("%", "%4",
 * "%zz") or when the result does not fit.  '+' is left as it is.
 */
ssize_t mi_pct_decode(const unsigned char *src, size_t len,
    unsigned char *dst, size_t cap);


#endif /* MI_PARAM_H */
