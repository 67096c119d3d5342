/* preload.c - preload of mg_findings_get: libraries that LD_PRELOAD (in
 * the environment the process started with, as /proc/PID/environ) or
 * /etc/ld.so.preload (under the process's root) name, and that the
 * process has mapped. A list entry with a '/' is a path (as given, or
 * with its symbolic links resolved); without, the loader searched for it:
 * a mapped file of that name. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings/findings.h"
#include "os/procs.h"
#include "util.h"

typedef struct found {
    const mg_region *list;
    size_t n;
    mg_preload *out;
    size_t n_out, cap;
} found;

static const char *last_part(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static bool names(const char *entry, const char *real, const mg_region *r)
{
    if (strchr(entry, '/'))
        return !strcmp(r->path, entry) || (real && !strcmp(r->path, real));
    return !strcmp(last_part(r->path), entry);
}

/* One entry of a list: each mapped file it names, once per source. */
static int add_entry(found *f, const char *entry, const char *source)
{
    char buf[PATH_MAX];
    const char *real = strchr(entry, '/') ? realpath(entry, buf) : NULL;
    for (size_t i = 0; i < f->n; i++) {
        const mg_region *r = &f->list[i];
        if (r->kind != MG_REGION_FILE || !names(entry, real, r))
            continue;
        bool seen = false;
        for (size_t j = 0; j < f->n_out && !seen; j++)
            seen = !strcmp(f->out[j].path, r->path) && f->out[j].source == source;
        if (seen)
            continue;
        if (f->n_out == f->cap) {
            size_t cap = f->cap ? 2 * f->cap : 4;
            mg_preload *p = realloc(f->out, cap * sizeof(*p));
            if (!p)
                return -ENOMEM;
            f->out = p;
            f->cap = cap;
        }
        f->out[f->n_out++] = (mg_preload){.path = r->path, .source = source};
    }
    return 0;
}

/* The entries of a list: separated by spaces, tabs, newlines or colons;
 * in a file, '#' starts a comment. text is changed. */
static int add_list(found *f, char *text, const char *source, bool comments)
{
    int rc = 0;
    for (char *p = text; rc == 0 && *p;) {
        p += strspn(p, " \t\n:");
        if (comments && *p == '#') {
            p += strcspn(p, "\n");
            continue;
        }
        size_t k = strcspn(p, comments ? " \t\n:#" : " \t\n:");
        if (!k)
            continue;
        char save = p[k];
        p[k] = '\0';
        rc = add_entry(f, p, source);
        p[k] = save;
        p += k;
    }
    return rc;
}

char *mg_preload_file(pid_t pid)
{
    char path[64], *text = NULL;
    size_t len;
    snprintf(path, sizeof(path), "/proc/%d/root/etc/ld.so.preload", (int)pid);
    return mg_read_file(path, &text, &len) == 0 ? text : NULL;
}

/* add_list changes the text it walks: a copy */
static int add_copy(found *f, const char *text, const char *source, bool comments)
{
    char *list = strdup(text);
    int rc = list ? add_list(f, list, source, comments) : -ENOMEM;
    free(list);
    return rc;
}

int mg_preload_find(const char *env, size_t env_len, const char *file, const mg_region *rs,
                    size_t n, mg_preload **out, size_t *n_out)
{
    found f = {.list = rs, .n = n};
    int rc = 0;
    static const char key[] = "LD_PRELOAD=";
    for (size_t i = 0; env && rc == 0 && i < env_len; i += strlen(env + i) + 1)
        if (!strncmp(env + i, key, sizeof(key) - 1))
            rc = add_copy(&f, env + i + sizeof(key) - 1, "LD_PRELOAD", false);
    if (rc == 0 && file)
        rc = add_copy(&f, file, "/etc/ld.so.preload", true);
    if (rc < 0) {
        free(f.out);
        return rc;
    }
    *out = f.out;
    *n_out = f.n_out;
    return 0;
}
