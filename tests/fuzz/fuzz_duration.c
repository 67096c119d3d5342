/* fuzz_duration.c - mg_cli_parse_duration against strtod (C locale):
 * accepted iff the text is DIGITS[.DIGITS][ms|s|m|h] and at most
 * MG_CLI_MAX_DURATION seconds; then equal to strtod's value within 1e-14
 * (a few roundings), or within DBL_MIN for subnormal values (below 2.2e-308
 * s a double keeps no relative precision: each of the parser's divisions
 * rounds to a multiple of 4.9e-324). Never NaN, infinite or negative. */
#include <errno.h>
#include <float.h>
#include <math.h>

#include "fuzz.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    double v = -1;
    int rc = mg_cli_parse_duration(s, &v);

    /* Reference syntax. */
    size_t i = strspn(s, "0123456789");
    bool syntax = i > 0;
    if (syntax && s[i] == '.') {
        size_t f = strspn(s + i + 1, "0123456789");
        syntax = f > 0;
        i += 1 + f;
    }
    const char *unit = s + i;
    double mul = 1, div = 1;
    if (!strcmp(unit, "ms"))
        div = 1000;
    else if (!strcmp(unit, "m"))
        mul = 60;
    else if (!strcmp(unit, "h"))
        mul = 3600;
    else if (strcmp(unit, "s") && strcmp(unit, ""))
        syntax = false;

    if (!syntax) {
        FUZZ_CHECK(rc == -EINVAL, "\"%s\": rc %d, expected -EINVAL", s, rc);
        FUZZ_CHECK(v == -1, "output written on failure");
    } else {
        double want = strtod(s, NULL) * mul / div; /* strtod stops at the unit */
        double tol = fmax(want * 1e-14, DBL_MIN);
        if (want > MG_CLI_MAX_DURATION + tol) {
            FUZZ_CHECK(rc == -ERANGE, "\"%s\" = %.17g s: rc %d, expected -ERANGE", s, want, rc);
        } else if (want < MG_CLI_MAX_DURATION - tol) {
            FUZZ_CHECK(rc == 0, "\"%s\": rc %d", s, rc);
            FUZZ_CHECK(isfinite(v) && v >= 0 && v <= MG_CLI_MAX_DURATION, "\"%s\": %g", s, v);
            FUZZ_CHECK(fabs(v - want) <= tol, "\"%s\": %.17g, strtod says %.17g", s, v, want);
        } else {
            FUZZ_CHECK(rc == 0 || rc == -ERANGE, "\"%s\" at the limit: rc %d", s, rc);
        }
    }
    free(s);
    return 0;
}
