/* rules.c - `memgrep scan -r [NS:]FILE|DIR`: YARA rule files into the
 * pattern set, in namespace NS. A directory means its *.yar and *.yara
 * files, in name order (not recursive). And the options that show rules
 * as yara does (-s, --print-meta, -g, --print-namespace, -n). */
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

static int add_rules(mg_patterns *p, const char *path, unsigned flags, mg_error *err);

int cli_add_rules(mg_patterns *p, const char *arg, unsigned flags, mg_error *err)
{
    const char *colon = strchr(arg, ':');
    char ns[256] = "default";
    const char *path = arg;
    struct stat st;
    if (colon && colon[1] != '\\' && stat(arg, &st) < 0) { /* yara's NS:FILE */
        size_t n = (size_t)(colon - arg);
        if (n >= sizeof(ns))
            n = 0; /* refused below: too long */
        snprintf(ns, sizeof(ns), "%.*s", (int)n, arg);
        path = colon + 1;
    }
    int rc = mg_patterns_rules_namespace(p, ns, err);
    return rc < 0 ? rc : add_rules(p, path, flags, err);
}

static int add_rules(mg_patterns *p, const char *path, unsigned flags, mg_error *err)
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

enum {
    OPT_PRINT_STRINGS,
    OPT_PRINT_META,
    OPT_PRINT_TAGS,
    OPT_PRINT_NAMESPACE,
    OPT_NEGATE,
};

static const cli_opt rules_opts[] = {
    {OPT_PRINT_STRINGS, 0, "print-strings", NULL,
     "rules as yara -s shows them: RULE PID, then each\nstring match as 0xADDR:$id: DATA", NULL},
    {OPT_PRINT_META, 0, "print-meta", NULL, "each rule's meta, [key=value,...] (yara -m)", NULL},
    {OPT_PRINT_TAGS, 'g', "print-tags", NULL, "with --print-strings: each rule's [tags] (yara -g)",
     NULL},
    {OPT_PRINT_NAMESPACE, 0, "print-namespace", NULL, "NAMESPACE:RULE (yara -e)", NULL},
    {OPT_NEGATE, 'n', "negate", NULL, "the rules that did not match, per process (yara -n)", NULL},
    {0},
};

static int rules_parse(void *state, int id, const char *arg)
{
    cli_rules_output *r = state;
    (void)arg;
    switch (id) {
    case OPT_PRINT_STRINGS:
        r->strings = true;
        return 0;
    case OPT_PRINT_META:
        r->meta = true;
        return 0;
    case OPT_PRINT_TAGS:
        r->tags = true;
        return 0;
    case OPT_PRINT_NAMESPACE:
        r->ns = true;
        return 0;
    case OPT_NEGATE:
        r->negate = true;
        return 0;
    }
    return -1;
}

const cli_group cli_rules_group = {
    .title = "YARA rule output (as yara's flags)",
    .opts = rules_opts,
    .parse = rules_parse,
};
