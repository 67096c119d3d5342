/* inspect_internal.h - what the files of the inspect API share (internal). */
#ifndef MG_INSPECT_INTERNAL_H
#define MG_INSPECT_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "os/maps.h"
#include "os/procs.h"
#include "os/reader.h"
#include "util.h"

/* A range of a process opened for reading (inspect.c): pinned (os/procs.h),
 * its maps snapshot, pagemap and mem. mg_read_present is open, one read,
 * close; mg_strings opens once and reads its chunks, so every chunk is
 * the same process's (its pidfd is checked after each process_vm_readv
 * and the identity after each read). */
typedef struct mg_range {
    mg_proc_pin pin;
    mg_maps maps;
    int pm_fd, mem_fd; /* mem_fd < 0: its errno, reported when a page needs it */
    mg_reader rd;
} mg_range;

/* Open pid for reading [addr, end), which must lie in one readable mapping
 * that memgrep may read (mg_read_present's rules and codes): 0 (then
 * mg_range_close it), or a negative code with err filled. */
int mg_range_open(mg_range *r, pid_t pid, uint64_t addr, uint64_t end, mg_error *err);
/* mg_read_present of [addr, addr + len) (page aligned, inside the range
 * opened) on an open range. */
ssize_t mg_range_read(mg_range *r, uint64_t addr, size_t len, void *buf, uint8_t *present,
                      mg_error *err);
void mg_range_close(mg_range *r);

#endif
