/* fuzz_hex.c - hex patterns: mg_patterns_add(MG_PATTERN_HEX) and the
 * parser under it, mg_hex_parse, against a reference reading of the rule
 * "pairs of hex digits or ??, blanks between pairs, one fixed byte at
 * least". mg_hex_parse gets output buffers of exactly len/2 bytes, so a
 * write past the bytes a string can hold is an AddressSanitizer error. */
#include <errno.h>

#include "fuzz.h"
#include "memgrep/memgrep.h"

int mg_hex_parse(const char *text, size_t len, uint8_t *bytes, uint8_t *mask, size_t *bad);

static int hexval(char c)
{
    const char *d = "0123456789abcdef", *u = "0123456789ABCDEF";
    for (int i = 0; i < 16; i++)
        if (c == d[i] || c == u[i])
            return i;
    return -1;
}

/* Reference: number of pairs, or -1 if invalid; fills bytes/mask. */
static int reference(const char *s, size_t len, uint8_t *bytes, uint8_t *mask)
{
    int n = 0, fixed = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
        } else if (i + 1 < len && s[i] == '?' && s[i + 1] == '?') {
            bytes[n] = 0, mask[n++] = 0, i += 2;
        } else if (i + 1 < len && hexval(s[i]) >= 0 && hexval(s[i + 1]) >= 0) {
            bytes[n] = (uint8_t)(hexval(s[i]) * 16 + hexval(s[i + 1]));
            mask[n++] = 0xff, fixed++, i += 2;
        } else {
            return -1;
        }
    }
    return fixed ? n : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    size_t cap = size / 2 ? size / 2 : 1;
    uint8_t *bytes = malloc(cap), *mask = malloc(cap), *rbytes = malloc(cap), *rmask = malloc(cap);
    FUZZ_CHECK(bytes && mask && rbytes && rmask, "out of memory");

    size_t bad = SIZE_MAX;
    int n = mg_hex_parse(text, size, bytes, mask, &bad);
    int want = reference(text, size, rbytes, rmask);
    FUZZ_CHECK(n == (want < 0 ? -EINVAL : want), "mg_hex_parse %d, reference %d", n, want);
    if (n >= 0)
        FUZZ_CHECK(!memcmp(bytes, rbytes, (size_t)n) && !memcmp(mask, rmask, (size_t)n),
                   "bytes differ from the reference");
    else
        FUZZ_CHECK(bad <= size, "bad offset %zu past the end (%zu)", bad, size);

    mg_patterns *p;
    FUZZ_CHECK(mg_patterns_new(&p) == 0, "mg_patterns_new");
    mg_error err = {{0}};
    int id = mg_patterns_add(p, MG_PATTERN_HEX, text, size, MG_PATTERN_WIDE, "fuzz", &err);
    if (want >= 0) {
        FUZZ_CHECK(id == 0, "valid hex refused: %d %s", id, err.message);
        mg_pattern_info info;
        FUZZ_CHECK(mg_patterns_info(p, 0, &info) == 0, "info");
        FUZZ_CHECK(info.min_width == (unsigned)want && info.max_width == (unsigned)want,
                   "width %u..%u, expected %d", info.min_width, info.max_width, want);
        FUZZ_CHECK(info.flags == 0, "hex pattern kept flags %u", info.flags);
    } else {
        FUZZ_CHECK(id == MG_EPATTERN, "invalid hex: rc %d", id);
        FUZZ_CHECK(mg_patterns_count(p) == 0, "invalid hex added");
        FUZZ_CHECK(err.message[0] && !strchr(err.message, '\n'), "message: %s", err.message);
    }
    mg_patterns_free(&p);
    free(bytes), free(mask), free(rbytes), free(rmask), free(text);
    return 0;
}
