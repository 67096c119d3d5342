/* fuzz_pattern_list.c - mg_patterns_add_list over a whole pattern list.
 *
 * The first byte chooses the flags (caseless, wide), the rest is the list.
 * Accepted: one pattern per non-blank, non-comment line, each named
 * "fuzz:LINE", of the kind its prefix says. Refused: nothing added (all or
 * nothing), and one line of message. The set is not compiled: Hyperscan's
 * compiler is not the parser under test (hs_expression_info still checks
 * every regex). */
#include <errno.h>

#include "fuzz.h"
#include "memgrep/memgrep.h"

static size_t count_lines(const char *s, size_t len, size_t *patterns)
{
    size_t lines = 0;
    *patterns = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - s) : len, n = e - i;
        if (n && s[i + n - 1] == '\r')
            n--;
        bool blank = true;
        for (size_t k = 0; k < n && blank; k++)
            blank = s[i + k] == ' ' || s[i + k] == '\t';
        if (!blank && s[i] != '#')
            ++*patterns;
        lines++;
        i = e + 1;
    }
    return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & (MG_PATTERN_CASELESS | MG_PATTERN_WIDE);
    char *text = fuzz_copy(data + 1, size - 1);
    size_t len = size - 1, expected;
    count_lines(text, len, &expected);

    mg_patterns *p;
    FUZZ_CHECK(mg_patterns_new(&p) == 0, "mg_patterns_new");
    /* One pattern first: a failed list must leave it alone. */
    FUZZ_CHECK(mg_patterns_add(p, MG_PATTERN_LITERAL, "x", 1, 0, "first", NULL) == 0, "first");
    mg_error err = {{0}};
    int rc = mg_patterns_add_list(p, text, len, "fuzz", flags, &err);
    if (rc >= 0) {
        FUZZ_CHECK((size_t)rc == expected, "added %d, expected %zu", rc, expected);
        FUZZ_CHECK(mg_patterns_count(p) == 1 + (size_t)rc, "count %zu after adding %d",
                   mg_patterns_count(p), rc);
        for (unsigned id = 1; id <= (unsigned)rc; id++) {
            mg_pattern_info info;
            FUZZ_CHECK(mg_patterns_info(p, id, &info) == 0, "info %u", id);
            FUZZ_CHECK(!strncmp(info.source, "fuzz:", 5), "source \"%s\"", info.source);
            FUZZ_CHECK(info.len > 0 && info.text[info.len] == '\0', "text of %u", id);
            FUZZ_CHECK(info.min_width <= info.max_width, "widths %u > %u", info.min_width,
                       info.max_width);
            FUZZ_CHECK(info.kind != MG_PATTERN_HEX || info.min_width == info.max_width,
                       "hex pattern of variable width");
            FUZZ_CHECK(memmem(text, len, info.text, info.len), "text not from the list");
        }
        mg_patterns_max_width(p, 4096);
    } else {
        FUZZ_CHECK(rc == MG_EPATTERN || rc == -ENOMEM, "rc %d (%s)", rc, mg_strerror(rc));
        FUZZ_CHECK(mg_patterns_count(p) == 1, "failed list left %zu patterns",
                   mg_patterns_count(p));
        FUZZ_CHECK(err.message[0], "no message");
        FUZZ_CHECK(!strchr(err.message, '\n'), "message of several lines: %s", err.message);
        FUZZ_CHECK(!strncmp(err.message, "fuzz:", 5), "message names no line: %s", err.message);
    }
    mg_patterns_free(&p);
    FUZZ_CHECK(p == NULL, "mg_patterns_free left the pointer");
    free(text);
    return 0;
}
