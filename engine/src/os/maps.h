/* maps.h - /proc/PID/maps parser and region classification (internal). */
#ifndef MG_MAPS_H
#define MG_MAPS_H

#include "memgrep/memgrep.h"

/* A snapshot of one process's maps: regions in address order; every
 * region's path points into `strings`. */
typedef struct mg_maps {
    mg_region *regions;
    size_t n;
    char *strings;
} mg_maps;

/*
 * Parse one maps line (no trailing newline needed):
 *   55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0          [heap]
 *   7f1c2a000000-7f1c2a001000 r--p 00002000 fd:01 1234  /opt/my app/lib.so (deleted)
 * On success fills r (r->path is NOT set) and points *path and *path_len at the
 * path inside line, " (deleted)" removed (r->deleted set). No allocation.
 * Returns 0 or -EINVAL for a malformed or truncated line.
 */
int mg_maps_parse_line(const char *line, size_t len, mg_region *r, const char **path,
                       size_t *path_len);

/* Kind of a region from its path and perms (perms[3] 's' = shared). */
mg_region_kind mg_region_classify(const char *path, size_t path_len, const char *perms);

/* Anonymous memory of any kind (anon, heap, stack): what --include-noread
 * reads without r, and what small-region batches and direct units hold. */
static inline bool mg_region_anon_like(const mg_region *r)
{
    return r->kind == MG_REGION_ANON || r->kind == MG_REGION_HEAP || r->kind == MG_REGION_STACK;
}

/* Parse a whole maps text. Malformed lines (e.g. a truncated last line) are
 * skipped. Returns the number of lines skipped (>= 0) or -ENOMEM. */
int mg_maps_parse(const char *text, size_t len, mg_maps *out);

/* Read and parse /proc/PID/maps in one go. Returns >= 0 like mg_maps_parse,
 * or a negative errno from open/read (-ENOENT gone, -EACCES denied). */
int mg_maps_read(pid_t pid, mg_maps *out);

void mg_maps_free(mg_maps *m);

/* Resident bytes of each mapping, from /proc/PID/smaps: Rss plus the
 * hugetlb pages (Private_Hugetlb, Shared_Hugetlb), which Rss leaves out.
 * Pages of the zero page are in none of them: a mapping whose present
 * pages are all the zero page shows 0. In address order. */
typedef struct mg_smaps {
    struct mg_smaps_entry {
        uint64_t start, end, resident;
    } * e;
    size_t n;
} mg_smaps;

/* Parse a whole smaps text (headers as in maps, then "Name: N kB" lines);
 * lines it can't read are skipped. Returns 0 or -ENOMEM. */
int mg_smaps_parse(const char *text, size_t len, mg_smaps *out);

/* Read and parse /proc/PID/smaps. Returns 0 or a negative errno. */
int mg_smaps_read(pid_t pid, mg_smaps *out);

/* The resident bytes of the mapping that is exactly [start, end) into
 * *resident: 0, or -ENOENT when smaps had no such mapping (it changed). */
int mg_smaps_resident(const mg_smaps *s, uint64_t start, uint64_t end, uint64_t *resident);

void mg_smaps_free(mg_smaps *s);

#endif
