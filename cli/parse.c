/* parse.c - the CLI's value parsers: sizes and durations (see parse.h).
 *
 * Hand-written rather than strtoull/strtod: those accept blanks, signs
 * ("-1" wraps to 2^64-1), hex, exponents, "inf" and "nan", and strtod
 * depends on the locale. */
#include "parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int mg_cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || !out || !is_digit(*s))
        return -EINVAL;
    uint64_t v = 0;
    bool overflow = false;
    for (; is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true; /* keep going: junk after the digits is -EINVAL */
        else
            v = v * 10 + d;
    }
    unsigned shift = 0;
    switch (*s) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return -EINVAL;
    }
    if (*s && s[1])
        return -EINVAL;
    if (overflow || v > (UINT64_MAX >> shift))
        return -ERANGE;
    *out = v << shift;
    return 0;
}

int mg_cli_parse_duration(const char *s, double *seconds)
{
    /* Powers of ten exact in a double. */
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const size_t max_p10 = sizeof(p10) / sizeof(p10[0]) - 1;

    if (!s || !seconds || !is_digit(*s))
        return -EINVAL;
    /* The number is mant / 10^scale, mant holding up to 18 significant
     * digits; further fraction digits are below a double's precision. */
    uint64_t mant = 0;
    size_t scale = 0, sig = 0;
    bool too_long = false;
    for (; is_digit(*s); s++) {
        if (sig < 18) {
            mant = mant * 10 + (uint64_t)(*s - '0');
            sig += mant != 0;
        } else {
            too_long = true; /* >= 1e18 seconds: out of range, unless junk follows */
        }
    }
    if (*s == '.') {
        s++;
        if (!is_digit(*s))
            return -EINVAL;
        for (; is_digit(*s); s++) {
            if (sig < 18) {
                mant = mant * 10 + (uint64_t)(*s - '0');
                sig += mant != 0;
                scale++;
            }
        }
    }
    double unit_mul = 1;
    if (s[0] == '\0' || (s[0] == 's' && s[1] == '\0'))
        ;
    else if (s[0] == 'm' && s[1] == 's' && s[2] == '\0')
        scale += 3; /* milliseconds: one division, one rounding */
    else if (s[0] == 'm' && s[1] == '\0')
        unit_mul = 60;
    else if (s[0] == 'h' && s[1] == '\0')
        unit_mul = 3600;
    else
        return -EINVAL;
    if (too_long)
        return -ERANGE;

    /* Exact while mant < 2^53 and scale <= 22 (the common case); else a
     * few roundings, far below what a duration needs. */
    while (scale && mant % 10 == 0)
        mant /= 10, scale--;
    double v = (double)mant;
    for (; scale > max_p10; scale -= max_p10)
        v /= p10[max_p10];
    v = v / p10[scale] * unit_mul;
    if (!(v <= MG_CLI_MAX_DURATION))
        return -ERANGE;
    *seconds = v;
    return 0;
}
