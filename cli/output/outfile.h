/* outfile.h - `-o FILE`: results written safely to a file.
 *
 * Hits may hold secrets and memgrep runs as root, so the file is made
 * mode 0600 whatever the umask, and never through a symbolic link. It is
 * created without a name (O_TMPFILE) in FILE's directory and published
 * as FILE when the first record is written (cli_outfile_publish) or at
 * the end: linked to FILE where FILE is absent, else linked to a random
 * name renamed over FILE. So readers see the old FILE or the new one,
 * never a mix; what was found is in FILE as soon as it is written (a
 * SIGKILL loses at most the record being written); a run that fails or
 * is killed before its first record leaves FILE as it was and nothing
 * behind. Where the file system has no O_TMPFILE, a named temporary file
 * (.memgrep-RANDOM.tmp, O_CREAT|O_EXCL|O_NOFOLLOW) is renamed instead:
 * killed before its first record, that one stays. A FILE that is a
 * symbolic link or not a regular file is refused.
 *
 * Life cycle: cli_outfile_open (before the scan, before the sandbox: it
 * creates the file and keeps its directory open), write to
 * cli_outfile_stream (cli_outfile_publish after a record), then exactly
 * one of cli_outfile_commit or cli_outfile_abort. Under the sandbox
 * (sandbox.h) publish, commit and abort only use calls it allows: fsync,
 * linkat, renameat and unlinkat into the kept directory. None of these is
 * async-signal-safe: call them from the normal flow, not from a signal
 * handler.
 */
#ifndef MEMGREP_CLI_OUTFILE_H
#define MEMGREP_CLI_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

typedef struct cli_outfile {
    const char *path; /* FILE as given (not owned) */
    char *base; /* its last component (owned) */
    char tmp[64]; /* the temporary name in the directory; "" once gone */
    int dir_fd; /* FILE's directory, O_RDONLY|O_DIRECTORY; -1: none */
    FILE *f; /* the temporary file; NULL once closed */
    bool active; /* opened and neither committed nor aborted yet */
    bool keep; /* an existing FILE is not replaced (cli_outfile_open_new) */
    bool unnamed; /* O_TMPFILE: no name until published */
    bool published; /* FILE is this file now */
} cli_outfile;

/* What cli_outfile_open would refuse, checked without creating anything:
 * path's directory exists and may be written to, and path is absent or a
 * regular file. For bad input to be reported before the patterns are
 * compiled (open checks again). Returns 0, or -1 after one line on stderr
 * naming path. */
int cli_outfile_check(const char *path);

/* Create the temporary file for path. Returns 0, or -1 after one line on
 * stderr naming path (then o holds nothing to commit or abort). */
int cli_outfile_open(cli_outfile *o, const char *path);

/* As cli_outfile_open, but unless replace an existing FILE is refused
 * ("exists: not replaced without --force"), at open and again at commit
 * (renameat2 RENAME_NOREPLACE where the file system has it). */
int cli_outfile_open_new(cli_outfile *o, const char *path, bool replace);

/* Where the results go. */
FILE *cli_outfile_stream(const cli_outfile *o);

/* The directory descriptor that commit and abort use (the sandbox lets
 * renameat/unlinkat work on it alone), or -1. */
int cli_outfile_dir_fd(const cli_outfile *o);

/* Make the file FILE now (no-op once done): 0, or -1 after one line on
 * stderr ("exists: not replaced without --force", a file turned into a
 * link...). Call it with the stream flushed. */
int cli_outfile_publish(cli_outfile *o);

/* Flush, fsync, publish if not yet done, close, then fsync the directory.
 * Any failure (full disk, I/O error, FILE turned into something else
 * meanwhile) is one line on stderr naming path, the temporary file is
 * removed and -1 returned; 0 on success. Either way o is finished. */
int cli_outfile_commit(cli_outfile *o);

/* Close; before publishing, the file goes and FILE is left as it was;
 * after, FILE keeps what was written. No-op on a finished o, on one
 * whose open failed and on a zeroed one. */
void cli_outfile_abort(cli_outfile *o);

#endif
