/* findings.h - the findings of a process (mg_finding) made of what its
 * caller read of it: mg_findings_get (inspect/findings.c) and the sweep's
 * targets (sweep/target.c) alike. The kinds that read more have files of
 * their own: patched_code (patched.c), preload (preload.c); make.c grades
 * and packs them. Internal. */
#ifndef MG_FINDINGS_H
#define MG_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "os/procs.h"

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

/* Runs [start, end) of present pages that are private copies (not page
 * cache) in private code mappings (mg_private_code), in address order,
 * each inside one mapping. */
typedef struct mg_copies {
    uint64_t (*runs)[2];
    size_t n, cap;
} mg_copies;

/* Append a run: 0 or -ENOMEM. */
int mg_copies_add(mg_copies *c, uint64_t start, uint64_t end);
void mg_copies_free(mg_copies *c);

/* A private file mapping readable and executable: what patched_code
 * compares with its file. */
bool mg_private_code(const mg_region *r);

/* Compare the private copies of pid's (a thread group id) executable
 * private file mappings in rs with their files: the copies walked already
 * (walked, by a sweep's planner), or, walked NULL, found here through
 * pagemap_fd (pid's /proc/PID/pagemap). A copy is read if pagemap shows it
 * present still: by process_vm_readv, or through mem_fd (its
 * /proc/PID/mem, -1 if none: such a page is not compared) where a copy is
 * shared after fork. The caller checks afterwards that pid is still the
 * process it read. Returns 0 (then mg_patched_free) or a negative code with
 * err filled. */
int mg_patched_find(pid_t pid, const mg_region *rs, size_t n, int pagemap_fd, int mem_fd,
                    const mg_copies *walked, mg_patched *out, mg_error *err);
void mg_patched_free(mg_patched *p);

/* "direct", "cached", "buffered". */
const char *mg_file_read_name(mg_file_read how);

/* The libraries of pid's preload lists (LD_PRELOAD of its environment
 * env, env_len bytes as /proc/PID/environ shows it, NUL-terminated; NULL:
 * not known; then /etc/ld.so.preload under its root) that are mapped in
 * rs: *out (malloc'd, paths into rs, sources static) and *n. Returns 0 or
 * -ENOMEM. */
int mg_preload_find(pid_t pid, const char *env, size_t env_len, const mg_region *rs, size_t n,
                    mg_preload **out, size_t *n_out);

/* Pages of arguments and environment read at once by mg_read_args_env. */
#define MG_ARGS_ENV_PAGES 64

/* argv[0] (malloc'd; "" if it cannot be read) and the environment (*env
 * malloc'd and NUL-terminated, *env_len its bytes, as /proc/PID/environ;
 * NULL if it cannot be read) of pid, whose stat st says where they lie and
 * whose pagemap is open (pagemap_fd). Only present pages are read: the
 * two together from its memory (process_vm_readv) when they lie together,
 * every page present, in MG_ARGS_ENV_PAGES pages; else /proc/PID/cmdline
 * and /proc/PID/environ, each if its pages are present. The caller checks
 * afterwards that pid is still the process st describes. Returns 0 or
 * -ENOMEM. */
int mg_read_args_env(pid_t pid, const mg_proc_stat *st, int pagemap_fd, char **argv0, char **env,
                     size_t *env_len);

/* What a finding is made of that its caller has read already (a sweep's
 * target, or mg_findings_get): the process (thread-group id, comm, exe,
 * its stat), its maps, its open pagemap and mem (-1: none), and the
 * private copies of its code if a walk found them (NULL: found here). */
typedef struct mg_findings_src {
    pid_t pid;
    const char *comm, *exe;
    const mg_proc_stat *st;
    const mg_region *regions;
    size_t n_regions;
    int pagemap_fd, mem_fd;
    const mg_copies *copies;
} mg_findings_src;

/* The findings of src, reading only what it does not hold: the tracer
 * (/proc/PID/task), argv[0], the preload lists, and the copies of code
 * pages against their files. The caller checks afterwards that the
 * process is still the one src describes. *out and *n as
 * mg_findings_get's. */
int mg_findings_make(const mg_findings_src *src, mg_finding **out, size_t *n, mg_error *err);

#endif
