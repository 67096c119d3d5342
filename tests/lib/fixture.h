/* fixture.h - what the fixture process and the tests agree on. */
#ifndef MG_TESTS_FIXTURE_H
#define MG_TESTS_FIXTURE_H

#include <stdint.h>

/* A marker is FIXTURE_MARKER_PREFIX TOKEN "-" NAME ";". */
#define FIXTURE_MARKER_PREFIX "mgt-"

/* The "ctx" plant: the byte at (plant address + d) is fixture_ctx_byte(d)
 * for -FIXTURE_CTX_SPAN <= d < 0 and len <= d < FIXTURE_CTX_SPAN. Every byte
 * value occurs (37 is odd). */
#define FIXTURE_CTX_SPAN 4096

static inline uint8_t fixture_ctx_byte(long d)
{
    return (uint8_t)((unsigned long)(d + FIXTURE_CTX_SPAN) * 37u + 11u);
}

/* comm set by --odd-comm: a quote, a backslash, 0x01 and 0xff. */
#define FIXTURE_ODD_COMM "q\"b\\s\x01\xff-fx"

#endif
