/* patterns_internal.h - pattern text transforms (internal). */
#ifndef MG_PATTERNS_INTERNAL_H
#define MG_PATTERNS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse hex bytes with "??" wildcards: "4d 5a ?? 00", "4d5a??00". Spaces and
 * tabs between bytes are optional; a byte is exactly two hex digits or "??".
 * bytes/mask get one entry per byte (mask 0 = wildcard); both must hold at
 * least len/2 entries. Returns the number of bytes, or -EINVAL with *bad set
 * to the offset of the first offending character (len if the pattern ends
 * in the middle of a byte or is empty, or only wildcards).
 */
int mg_hex_parse(const char *text, size_t len, uint8_t *bytes, uint8_t *mask, size_t *bad);

/*
 * Rewrite a regular expression so that it matches the UTF-16LE form of what
 * the original matches for ASCII text: every atom (a character, an escape,
 * a class, '.') becomes "(?:ATOM\x00)"; groups, alternation and quantifiers
 * keep their structure. Anchors (^ $ \b \B \A \z \Z) are rejected.
 * Returns 0 with *out malloc'd (NUL-terminated), or -EINVAL with *bad the
 * offending offset, or -ENOMEM.
 */
int mg_regex_widen(const char *re, size_t len, char **out, size_t *bad);

#endif
