/* inspect_internal.h - what strings.c takes from inspect.c (internal). */
#ifndef MG_INSPECT_INTERNAL_H
#define MG_INSPECT_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"

/* [addr, end) lies in one readable mapping of pid that memgrep may read
 * (mg_read_present's rules and codes): 0, or a negative code with err
 * filled. */
int mg_check_range(pid_t pid, uint64_t addr, uint64_t end, mg_error *err);

#endif
