/* parse.h - the CLI's value parsers: sizes and durations.
 *
 * Pure functions: no printing, no errno, no locale. The caller names the
 * option in its message. Both reject NULL, an empty string, a sign, leading
 * or trailing blanks and any trailing junk. */
#ifndef MEMGREP_CLI_PARSE_H
#define MEMGREP_CLI_PARSE_H

#include <stdint.h>

#include "memgrep/memgrep.h"

/* Longest duration accepted: the engine's (MG_MAX_SECONDS). */
#define MG_CLI_MAX_DURATION MG_MAX_SECONDS

/*
 * Bytes with an optional binary suffix: "65536", "64K", "1M", "2G" (the
 * suffix in either case, K = 1024). Decimal digits only.
 * Returns 0 with *out set, -EINVAL for a malformed string or a NULL
 * argument, -ERANGE if the value does not fit in 64 bits. *out is left
 * untouched on failure.
 */
int mg_cli_parse_size(const char *s, uint64_t *out);

/*
 * A duration: a decimal number with an optional fraction and an optional
 * unit: "1.5" (seconds), "500ms", "30s", "2m", "1h" (lower case only).
 * No exponent, no hex, no "inf" or "nan"; at least one digit before the
 * point and one after it if there is a point.
 * Returns 0 with *seconds set (0 <= *seconds <= MG_CLI_MAX_DURATION),
 * -EINVAL for a malformed string or a NULL argument, -ERANGE if longer
 * than MG_CLI_MAX_DURATION. *seconds is left untouched on failure.
 */
int mg_cli_parse_duration(const char *s, double *seconds);

#endif
