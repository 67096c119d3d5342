/* findings_internal.h - the kinds of mg_findings_get that have files of
 * their own: patched_code (patched.c) and preload (preload.c). Internal. */
#ifndef MG_FINDINGS_INTERNAL_H
#define MG_FINDINGS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"

/* How a mapped file was read to compare it (mg_finding.file_read), least
 * intrusive first. */
typedef enum mg_file_read {
    MG_FILE_READ_DIRECT = 0,
    MG_FILE_READ_CACHED,
    MG_FILE_READ_BUFFERED,
} mg_file_read;

/* What patched_code found: patches (malloc'd, MG_MAX_PATCHES entries of
 * room) whose paths point into the region list it was given. */
typedef struct mg_patched {
    size_t regions;
    uint64_t bytes;
    mg_region first;
    mg_patch *patches;
    size_t n_patches, patches_total;
    bool textrel;
    mg_file_read how;
} mg_patched;

/* Compare the private copies of pid's (a thread group id) executable
 * private file mappings in list with their files. Returns 0 (then
 * mg_patched_free) or a negative code with err filled. */
int mg_patched_find(pid_t pid, const mg_region_info *list, size_t n, mg_patched *out,
                    mg_error *err);
void mg_patched_free(mg_patched *p);

/* "direct", "cached", "buffered". */
const char *mg_file_read_name(mg_file_read how);

/* The libraries of pid's preload lists (LD_PRELOAD of /proc/PID/environ,
 * then /etc/ld.so.preload under its root) that are mapped in list: *out
 * (malloc'd, paths into list, sources static) and *n. Returns 0 or
 * -ENOMEM. */
int mg_preload_find(pid_t pid, const mg_region_info *list, size_t n, mg_preload **out,
                    size_t *n_out);

#endif
