/* hunt_pack.h - the bundled hunt packs, embedded at build time by embed.py. */
#ifndef MEMGREP_HUNT_PACK_H
#define MEMGREP_HUNT_PACK_H

#include <stddef.h>

/* hunt/linux.txt in mg_patterns_add_list() format, encoded (embed.py):
 * byte i is mg_hunt_linux[i] ^ mg_hunt_linux_key[i % 32]. Decode it only
 * into pattern memory (mg_pattern_memory_alloc), so that neither the
 * binary nor the running memgrep holds it where another memgrep looks. */
extern const unsigned char mg_hunt_linux[];
extern const size_t mg_hunt_linux_len;
extern const unsigned char mg_hunt_linux_key[32];

#endif
