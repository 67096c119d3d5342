/* rules.c - `memgrep scan -r FILE|DIR`: YARA rule files into the pattern
 * set. A directory means its *.yar and *.yara files, in name order (not
 * recursive). */
#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool rule_file_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' &&
           ((n > 4 && !strcmp(name + n - 4, ".yar")) || (n > 5 && !strcmp(name + n - 5, ".yara")));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_add_rules(mg_patterns *p, const char *path, unsigned flags, mg_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int rc = -errno;
        snprintf(err->message, sizeof(err->message), "cannot read rule file '%s': %s", path,
                 strerror(errno));
        return rc;
    }
    if (!S_ISDIR(st.st_mode))
        return mg_patterns_add_rules(p, path, flags, err);
    DIR *d = opendir(path);
    if (!d) {
        int rc = -errno;
        snprintf(err->message, sizeof(err->message), "cannot read rule directory '%s': %s", path,
                 strerror(errno));
        return rc;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!rule_file_name(e->d_name))
            continue;
        char **nn = realloc(names, (n + 1) * sizeof(*nn));
        if (!nn || !(nn[n] = malloc(strlen(path) + strlen(e->d_name) + 2))) {
            if (nn)
                names = nn;
            rc = -ENOMEM;
            snprintf(err->message, sizeof(err->message), "out of memory");
            break;
        }
        names = nn;
        sprintf(names[n++], "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (rc == 0 && n == 0) {
        snprintf(err->message, sizeof(err->message),
                 "rule directory '%s' holds no *.yar or *.yara file", path);
        rc = MG_EPATTERN;
    }
    if (rc == 0)
        qsort(names, n, sizeof(*names), by_name);
    int total = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int r = mg_patterns_add_rules(p, names[i], flags, err);
        if (r < 0)
            rc = r;
        else
            total += r;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc < 0 ? rc : total;
}
