/* vault.h - memory for pattern storage that another memgrep does not scan.
 *
 * What a pattern set holds of its patterns (their text, the Hyperscan
 * database with its literal tables) would be a hit for another memgrep
 * sweeping this process with the same patterns: memgrep would find itself.
 * So it lives in shared mappings of memfds named MG_PATTERN_MEMORY_NAME
 * (/proc/PID/maps shows "/memfd:memgrep-patterns (deleted)"), and a sweep
 * skips such
 * mappings in a process whose executable is the very file memgrep runs
 * from (same device and inode), never by the name alone: any process can
 * name a mapping (planner.c, docs/guide.md "memgrep and other memgreps").
 * Transient copies made on the way (files read, serialised databases) are
 * wiped before they are freed.
 */
#ifndef MG_VAULT_H
#define MG_VAULT_H

#include <stdbool.h>
#include <stddef.h>

/* A bump allocator over named mappings; freed all at once. */
typedef struct mg_vault mg_vault;

/* n bytes (aligned to align, a power of two <= 4096) from *v, created on
 * first use; NULL if out of memory. Never freed one by one. */
void *mg_vault_alloc(mg_vault **v, size_t n, size_t align);
/* Unmap every chunk (the kernel zeroes pages before reuse); *v = NULL. */
void mg_vault_free(mg_vault **v);

/* Wipe the stack below the caller (MG_SCRUB_STACK bytes): what the
 * pattern parser left there in dead frames (factors of regexes, expression
 * text) is gone. The compile calls it before it returns. */
#define MG_SCRUB_STACK (256u * 1024u)
void mg_scrub_stack(void);

/* All n bytes to fd, or all n from it (EINTR retried): 0, or -1 (write:
 * an error or no progress) / -EIO (read: an error or early end). */
int mg_write_full(int fd, const void *p, size_t n);
int mg_read_full(int fd, void *p, size_t n);

#endif

/* hs_compile_multi(res, flags, ids, n, HS_MODE_BLOCK) in a child process,
 * so that the compiler's scratch memory (freed, not wiped: literal tables,
 * expression copies) dies with it; the database comes back serialised,
 * into *v: *bytes, *len. Returns 0; MG_EPATTERN for a compile error (*bad
 * the expression's index or -1, msg its message); another negative code
 * when no child could do it (fork refused, it died): then compile here. */
int mg_vault_compile(mg_vault **v, const char *const *res, const unsigned *flags,
                     const unsigned *ids, unsigned n, char **bytes, size_t *len, int *bad,
                     char *msg, size_t msg_size);
