/* core.h - an ELF core file of a process's present pages (dump --core),
 * for gdb: `gdb EXE FILE` then x/s ADDR prints what the process held.
 *
 * Layout: the ELF header, the notes (NT_PRSTATUS, NT_PRPSINFO, NT_AUXV,
 * NT_FILE), the data from cli_core_data_offset on (written by the caller:
 * each dumped piece where it likes, pages that are not present left as
 * holes), then the program headers: PT_NOTE and one PT_LOAD per present
 * run. Nothing about the process is stopped or traced, so the registers
 * of NT_PRSTATUS are zero. */
#ifndef MEMGREP_CLI_CORE_H
#define MEMGREP_CLI_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "memgrep/memgrep.h"

/* One present run: [vaddr, vaddr + size) at offset of the file. */
typedef struct cli_core_load {
    uint64_t vaddr, size, offset;
    const char *perms; /* "rw-p": the segment's flags */
} cli_core_load;

/* The notes for proc, whose mappings are list[0..n) (NT_FILE names every
 * file mapping). *out is malloc'd, *len bytes. Returns 0, or -1 after one
 * line. */
int cli_core_notes(const mg_proc_info *proc, const mg_region_info *list, size_t n, uint8_t **out,
                   size_t *len);

/* Where the data may start: past the header and notes, page aligned. */
uint64_t cli_core_data_offset(size_t notes_len);

/* Write the header and notes at the start of fd and the program headers
 * at phoff (past the data: page aligned). name: the file, for messages.
 * Returns 0, or -1 after one line. */
int cli_core_finish(int fd, const char *name, const uint8_t *notes, size_t notes_len,
                    const cli_core_load *loads, size_t n, uint64_t phoff);

#endif
