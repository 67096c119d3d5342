/* hunt_pack.h - the bundled hunt packs, embedded at build time by embed.py. */
#ifndef MEMGREP_HUNT_PACK_H
#define MEMGREP_HUNT_PACK_H

#include <stddef.h>

/* hunt/linux.txt, in mg_patterns_add_list() format; NUL-terminated too. */
extern const char mg_hunt_linux[];
extern const size_t mg_hunt_linux_len;

#endif
