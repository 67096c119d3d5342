/* fuzz_size.c - mg_cli_parse_size against strtoull: accepted iff the text is
 * digits with at most one K/M/G suffix and the value fits; the value
 * formats back to a string that parses to the same value. */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    uint64_t v = 0x5a5a5a5a;
    int rc = mg_cli_parse_size(s, &v);

    /* Reference. */
    size_t digits = strspn(s, "0123456789");
    const char *suffix = s + digits;
    unsigned shift = 0;
    bool syntax = digits > 0;
    if (*suffix) {
        const char *at = strchr("kKmMgG", *suffix);
        syntax = syntax && at && suffix[1] == '\0';
        shift = at ? 10 * (unsigned)(1 + (at - "kKmMgG") / 2) : 0;
    }
    if (!syntax) {
        FUZZ_CHECK(rc == -EINVAL, "\"%s\": rc %d, expected -EINVAL", s, rc);
    } else {
        errno = 0;
        unsigned long long base = strtoull(s, NULL, 10);
        bool range = errno != ERANGE && base <= (UINT64_MAX >> shift);
        FUZZ_CHECK(rc == (range ? 0 : -ERANGE), "\"%s\": rc %d", s, rc);
        if (range)
            FUZZ_CHECK(v == (uint64_t)base << shift, "\"%s\": %" PRIu64, s, v);
    }
    if (rc == 0) {
        char again[32];
        uint64_t v2;
        snprintf(again, sizeof(again), "%" PRIu64, v);
        FUZZ_CHECK(mg_cli_parse_size(again, &v2) == 0 && v2 == v, "%s does not round-trip", again);
        if (v % (1u << 20) == 0) {
            snprintf(again, sizeof(again), "%" PRIu64 "M", v >> 20);
            FUZZ_CHECK(mg_cli_parse_size(again, &v2) == 0 && v2 == v, "%s does not round-trip",
                       again);
        }
    } else {
        FUZZ_CHECK(v == 0x5a5a5a5a, "output written on failure");
    }
    free(s);
    return 0;
}
