/* outfile.c - `-o FILE`: a 0600 unnamed file linked into place. */
#include "output/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "messages.h"

/* Attempts at a fresh temporary name (64 random bits each: a clash means
 * someone is guessing, not bad luck). */
#define TMP_TRIES 8

static void report(const cli_outfile *o, const char *what, int err)
{
    cli_usage_error("%s %s: %s", what, o->path, strerror(err));
}

/* Split path into its directory (opened) and last component. */
static int open_dir(cli_outfile *o)
{
    const char *slash = strrchr(o->path, '/');
    const char *base = slash ? slash + 1 : o->path;
    if (!base[0] || !strcmp(base, ".") || !strcmp(base, "..")) {
        report(o, "cannot write output to", EISDIR);
        return -1;
    }
    o->base = strdup(base);
    char *dir = slash ? strndup(o->path, (size_t)(slash - o->path)) : strdup(".");
    if (!o->base || !dir) {
        free(dir);
        report(o, "cannot write output to", ENOMEM);
        return -1;
    }
    /* "/x": the directory is "/" */
    o->dir_fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = errno;
    free(dir);
    if (o->dir_fd < 0) {
        report(o, "cannot create output file", err);
        return -1;
    }
    return 0;
}

/* FILE may be absent or a regular file; never a symbolic link (it would
 * not be followed, but whoever planted it wanted us to), a directory or a
 * device (renaming over /dev/null would replace it). */
static int check_final(const cli_outfile *o)
{
    struct stat st;
    if (fstatat(o->dir_fd, o->base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        report(o, "cannot write output to", errno);
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        cli_usage_error("refusing to write output to %s: it is a symbolic link", o->path);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        cli_usage_error("refusing to write output to %s: not a regular file", o->path);
        return -1;
    }
    if (o->keep) {
        fprintf(stderr, "memgrep: %s exists: not replaced without --force\n", o->path);
        return -1;
    }
    return 0;
}

/* The file without a name (O_TMPFILE): nothing is left behind if we
 * die before it is published. -1 where the file system has no O_TMPFILE. */
static int create_unnamed(cli_outfile *o)
{
    int fd = openat(o->dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0600) < 0 || !(o->f = fdopen(fd, "w"))) {
        close(fd);
        return -1;
    }
    o->unnamed = true;
    return 0;
}

/* A fresh random name for the file in the directory: name[size]. */
static void random_name(char *name, size_t size)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r ^= (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)name;
    snprintf(name, size, ".memgrep-%016llx.tmp", (unsigned long long)r);
}

/* Where O_TMPFILE is missing: a named temporary file, renamed when
 * published (a kill before then leaves it behind). */
static int create_tmp(cli_outfile *o)
{
    int err = EEXIST;
    for (int i = 0; i < TMP_TRIES && err == EEXIST; i++) {
        random_name(o->tmp, sizeof(o->tmp));
        int fd =
            openat(o->dir_fd, o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            err = errno;
            continue;
        }
        /* The umask may have taken bits away; nobody else may read it. */
        if (fchmod(fd, 0600) < 0 || !(o->f = fdopen(fd, "w"))) {
            err = errno;
            close(fd);
            unlinkat(o->dir_fd, o->tmp, 0);
            break;
        }
        return 0;
    }
    o->tmp[0] = '\0';
    report(o, "cannot create output file", err);
    return -1;
}

int cli_outfile_check(const char *path)
{
    cli_outfile o = {.path = path, .dir_fd = -1, .active = true};
    int r = open_dir(&o) < 0 || check_final(&o) < 0 ? -1 : 0;
    if (r == 0 && faccessat(o.dir_fd, ".", W_OK, AT_EACCESS) < 0) {
        report(&o, "cannot create output file", errno);
        r = -1;
    }
    cli_outfile_abort(&o);
    return r;
}

int cli_outfile_open(cli_outfile *o, const char *path)
{
    return cli_outfile_open_new(o, path, true);
}

int cli_outfile_open_new(cli_outfile *o, const char *path, bool replace)
{
    memset(o, 0, sizeof(*o));
    o->keep = !replace;
    o->path = path;
    o->dir_fd = -1;
    o->active = true;
    if (open_dir(o) < 0 || check_final(o) < 0 || (create_unnamed(o) < 0 && create_tmp(o) < 0)) {
        cli_outfile_abort(o);
        return -1;
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 16);
    return 0;
}

FILE *cli_outfile_stream(const cli_outfile *o)
{
    return o->active ? o->f : NULL;
}

int cli_outfile_dir_fd(const cli_outfile *o)
{
    return o->active ? o->dir_fd : -1;
}

/* Link the unnamed file as FILE: straight to its name if FILE is absent
 * (atomic: linkat never replaces), else to a random name renamed over
 * FILE. 0, -EEXIST (FILE exists and may not be replaced) or -errno. */
static int link_unnamed(cli_outfile *o)
{
    char proc[64], tmp[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fileno(o->f));
    if (linkat(AT_FDCWD, proc, o->dir_fd, o->base, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    if (errno != EEXIST || o->keep)
        return -errno;
    for (int i = 0; i < TMP_TRIES; i++) {
        random_name(tmp, sizeof(tmp));
        if (linkat(AT_FDCWD, proc, o->dir_fd, tmp, AT_SYMLINK_FOLLOW) == 0) {
            if (renameat(o->dir_fd, tmp, o->dir_fd, o->base) == 0)
                return 0;
            int err = -errno;
            unlinkat(o->dir_fd, tmp, 0);
            return err;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

int cli_outfile_publish(cli_outfile *o)
{
    if (!o->active || !o->f)
        return -1;
    if (o->published)
        return 0;
    if (check_final(o) < 0)
        return -1;
    int rc = 0;
    if (o->unnamed) {
        rc = link_unnamed(o);
    } else {
        int rn = o->keep ? renameat2(o->dir_fd, o->tmp, o->dir_fd, o->base, RENAME_NOREPLACE) : -1;
        if (o->keep && rn < 0 && errno == EEXIST)
            rc = -EEXIST;
        /* RENAME_NOREPLACE unsupported here: FILE was just checked absent */
        else if (rn < 0 && renameat(o->dir_fd, o->tmp, o->dir_fd, o->base) < 0)
            rc = -errno;
    }
    if (rc == -EEXIST && o->keep) {
        fprintf(stderr, "memgrep: %s exists: not replaced without --force\n", o->path);
        return -1;
    }
    if (rc < 0) {
        report(o, "cannot write output to", -rc);
        return -1;
    }
    o->tmp[0] = '\0';
    o->published = true;
    return 0;
}

int cli_outfile_commit(cli_outfile *o)
{
    if (!o->active || !o->f)
        return -1;
    int err = 0;
    if (fflush(o->f) == EOF || ferror(o->f))
        err = errno ? errno : EIO;
    else if (fsync(fileno(o->f)) < 0)
        err = errno;
    if (err) {
        report(o, "write error on", err);
        cli_outfile_abort(o);
        return -1;
    }
    /* named before it is closed: linkat needs the descriptor */
    if (cli_outfile_publish(o) < 0) {
        cli_outfile_abort(o);
        return -1;
    }
    int rc = fclose(o->f);
    o->f = NULL;
    if (rc == EOF) {
        report(o, "write error on", errno);
        cli_outfile_abort(o);
        return -1;
    }
    /* The new name itself must reach the disk; EINVAL: a file system that
     * does not sync directories. */
    if (fsync(o->dir_fd) < 0 && errno != EINVAL) {
        report(o, "write error on", errno);
        cli_outfile_abort(o);
        return -1;
    }
    cli_outfile_abort(o); /* closes the directory */
    return 0;
}

void cli_outfile_abort(cli_outfile *o)
{
    if (!o->active)
        return;
    o->active = false;
    if (o->f) {
        fclose(o->f);
        o->f = NULL;
    }
    /* an unnamed file vanishes with its descriptor; a published one
     * stays, with the records written so far */
    if (o->tmp[0] && o->dir_fd >= 0 && !o->published)
        unlinkat(o->dir_fd, o->tmp, 0);
    o->tmp[0] = '\0';
    if (o->dir_fd >= 0)
        close(o->dir_fd);
    o->dir_fd = -1;
    free(o->base);
    o->base = NULL;
}
