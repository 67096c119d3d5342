/* scan_patterns.c - `memgrep scan`'s pattern set: the options in
 * command-line order (-e, -E, -x, -f, -r; "-" is stdin for -f and -r),
 * or the hunt pack, decoded into pattern memory; compiled. And -o's
 * check against the inputs. */
#include "scan_patterns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "hunt_pack.h"
#include "messages.h"
#include "rules.h"

#define HUNT_PACK_NAME "hunt-pack:linux.txt"

/* All of stdin, in pattern memory (mg_pattern_memory_alloc; *size is what
 * to free). NULL after one line on stderr. */
static char *read_stdin(size_t *len, size_t *size)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = mg_pattern_memory_alloc(cap);
    while (buf) {
        if (cap - n < 4096) {
            char *nb = mg_pattern_memory_alloc(cap * 2);
            if (nb)
                memcpy(nb, buf, n);
            mg_pattern_memory_free(buf, cap);
            buf = nb;
            cap *= 2;
            continue;
        }
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "memgrep: cannot read patterns from stdin: %s\n", strerror(errno));
            mg_pattern_memory_free(buf, cap);
            return NULL;
        }
        if (r == 0) {
            *len = n;
            *size = cap;
            return buf;
        }
        n += (size_t)r;
    }
    fprintf(stderr, "memgrep: out of memory\n");
    return NULL;
}

/* -f - or -r -: the list or rules from stdin, named "-" in messages. */
static int add_from_stdin(mg_patterns *p, const scan_pattern *sp, unsigned flags, mg_error *err,
                          unsigned rule_flags)
{
    size_t len = 0, size = 0;
    char *text = read_stdin(&len, &size);
    if (!text) {
        snprintf(err->message, sizeof(err->message), "cannot read stdin");
        return -EIO;
    }
    int r = sp->type == PAT_RULES ? mg_patterns_add_rules_text(p, text, len, "-", rule_flags, err)
                                  : mg_patterns_add_list(p, text, len, "-", flags, err);
    mg_pattern_memory_free(text, size);
    return r;
}

static int add_to_set(mg_patterns *p, const scan_pattern *sp, unsigned flags, mg_error *err,
                      unsigned rule_flags)
{
    if (sp->type >= PAT_FILE && !strcmp(sp->text, "-"))
        return add_from_stdin(p, sp, flags, err, rule_flags);
    if (sp->type == PAT_RULES)
        return cli_add_rules(p, sp->text, rule_flags, err);
    static const mg_pattern_kind kinds[] = {
        [PAT_LITERAL] = MG_PATTERN_LITERAL,
        [PAT_REGEX] = MG_PATTERN_REGEX,
        [PAT_HEX] = MG_PATTERN_HEX,
    };
    if (sp->type == PAT_FILE)
        return mg_patterns_add_file(p, sp->text, flags, err);
    if (sp->type != PAT_LITERAL && sp->type != PAT_REGEX && sp->type != PAT_HEX)
        return -EINVAL;
    return mg_patterns_add(p, kinds[sp->type], sp->text, strlen(sp->text), flags, sp->source, err);
}

/* Only -f files were given, and all of them were empty. */
static void report_no_patterns(const scan_pattern *pats, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pats[i].type == PAT_FILE) {
            cli_usage_error("no patterns to search for: %s holds none", pats[i].text);
            return;
        }
    fprintf(stderr, "memgrep: no patterns to search for\n");
}

/* The hunt pack, decoded into pattern memory (hunt_pack.h; free with
 * mg_pattern_memory_free(text, len + 1)), NUL-terminated; NULL: no memory. */
static char *decode_hunt_pack(size_t len)
{
    unsigned char *text = mg_pattern_memory_alloc(len + 1);
    if (!text)
        return NULL;
    for (size_t i = 0; i < len; i++)
        text[i] = mg_hunt_linux[i] ^ mg_hunt_linux_key[i % sizeof(mg_hunt_linux_key)];
    text[len] = '\0';
    return (char *)text;
}

/* The hunt pack, decoded for as long as it takes to add it. */
static int add_hunt_pack(mg_patterns *p, unsigned flags, mg_error *err)
{
    size_t len = mg_hunt_linux_len;
    char *text = decode_hunt_pack(len);
    if (!text) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    int r = mg_patterns_add_list(p, text, len, HUNT_PACK_NAME, flags, err);
    mg_pattern_memory_free(text, len + 1);
    return r;
}

/* The first sentence of a comment block ("# A b\n# c. d" -> "A b c"): its
 * lines joined by one space, up to ". " or ": " or a final '.'. */
static void put_first_sentence(FILE *f, const char *block, const char *end)
{
    bool first = true;
    for (const char *line = block; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl ? nl : end;
        const char *s = line + 1; /* past '#' */
        s += strspn(s, " ");
        if (s < stop && !first)
            fputc(' ', f);
        for (; s < stop; s++) {
            if ((*s == '.' || *s == ':') && (s + 1 == stop || s[1] == ' '))
                return;
            fputc(*s, f);
            first = false;
        }
        line = stop + 1;
    }
}

int cli_show_hunt_pack(FILE *f)
{
    size_t len = mg_hunt_linux_len;
    char *text = decode_hunt_pack(len);
    if (!text) {
        fprintf(stderr, "memgrep: out of memory\n");
        return -1;
    }
    const char *block = NULL, *block_end = NULL; /* the comment above */
    bool after_blank = true;
    unsigned id = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        const char *next = nl ? nl + 1 : line + strlen(line);
        size_t n = (size_t)((nl ? nl : next) - line);
        if (line[0] == '#') {
            if (after_blank)
                block = line;
            block_end = next;
            after_blank = false;
        } else if (!n) {
            after_blank = true;
        } else {
            fprintf(f, "%u\t%.*s\t", id++, (int)n, line);
            if (block)
                put_first_sentence(f, block, block_end);
            fputc('\n', f);
            after_blank = false;
        }
        line = next;
    }
    mg_pattern_memory_free(text, len + 1);
    errno = 0;
    if (fflush(f) == EOF || ferror(f)) {
        fprintf(stderr, "memgrep: write error on stdout: %s\n", strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

/* The stack below us, where the engine's pattern parser had its frames
 * (a regex's literal factors...): wiped, so that another memgrep does not
 * find the patterns there (docs/guide.md "memgrep and other memgreps").
 * The engine wipes below its compile, which leaves its own frames. */
__attribute__((noinline)) static void scrub_stack(void)
{
    char buf[256 * 1024];
    explicit_bzero(buf, sizeof(buf));
}

mg_patterns *cli_scan_patterns(const scan_pattern *pats, size_t n, unsigned flags,
                               bool skip_unsupported, const cli_engine *engine, bool *all_skipped)
{
    return cli_scan_patterns_rules(pats, n, flags, skip_unsupported ? MG_RULES_SKIP_UNSUPPORTED : 0,
                                   engine, all_skipped);
}

mg_patterns *cli_scan_patterns_rules(const scan_pattern *pats, size_t n, unsigned flags,
                                     unsigned rule_flags, const cli_engine *engine,
                                     bool *all_skipped)
{
    mg_patterns *p = NULL;
    mg_error err = {{0}};
    int r = mg_patterns_new(&p);
    if (r < 0) {
        cli_report(r, NULL, "creating the pattern set");
        return NULL;
    }
    const char *what = HUNT_PACK_NAME;
    if (!n)
        r = add_hunt_pack(p, flags, &err);
    for (size_t i = 0; i < n && r >= 0; i++) { /* externals first, as yara */
        if (pats[i].type != PAT_DEFINE)
            continue;
        char name[256];
        const char *eq = strchr(pats[i].text, '=');
        snprintf(name, sizeof(name), "%.*s", (int)(eq - pats[i].text), pats[i].text);
        what = pats[i].source;
        r = mg_patterns_define(p, name, eq + 1, &err);
    }
    for (size_t i = 0; i < n && r >= 0; i++) {
        if (pats[i].type >= PAT_DEFINE)
            continue;
        what = pats[i].type >= PAT_FILE ? pats[i].text : pats[i].source;
        r = add_to_set(p, &pats[i], flags, &err, rule_flags);
    }
    for (size_t i = 0; r >= 0 && mg_patterns_rules_skipped(p, i); i++)
        fprintf(stderr, "memgrep: warning: %s (rule skipped)\n", mg_patterns_rules_skipped(p, i));
    bool only_rules = n > 0;
    for (size_t i = 0; i < n; i++)
        only_rules &= pats[i].type >= PAT_RULES;
    if (r >= 0 && mg_patterns_count(p) == 0 && mg_patterns_rules_count(p) == 0 &&
        (mg_patterns_rules_skipped(p, 0) || only_rules)) { /* a warning, as yara */
        fprintf(stderr, "memgrep: warning: %s: nothing to search for\n",
                mg_patterns_rules_skipped(p, 0) ? "every rule was skipped as unsupported"
                                                : "the rule files hold no rule");
        mg_patterns_free(&p);
        *all_skipped = true;
        scrub_stack();
        return NULL;
    }
    if (r >= 0 && mg_patterns_count(p) == 0 && mg_patterns_rules_count(p) == 0) {
        report_no_patterns(pats, n);
        mg_patterns_free(&p);
        return NULL;
    }
    if (r >= 0) {
        char dir[4096];
        what = "compiling the patterns";
        r = mg_patterns_compile_cached(p, cli_engine_db_cache_dir(engine, dir, sizeof(dir)), NULL,
                                       &err);
        if (r == 0 && err.message[0]) /* a cache refused: compiled instead */
            cli_usage_error("warning: %s", err.message);
    }
    if (r < 0) {
        cli_report(r, &err, what);
        mg_patterns_free(&p);
    }
    scrub_stack();
    return p;
}

mg_pattern_info *cli_pattern_infos(const mg_patterns *p, size_t *n)
{
    *n = mg_patterns_count(p);
    mg_pattern_info *info = calloc(*n ? *n : 1, sizeof(*info));
    if (!info)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        if (mg_patterns_info(p, (unsigned)i, &info[i]) < 0) {
            free(info);
            return NULL;
        }
    return info;
}

int cli_check_output_not_input(const char *file, const scan_pattern *pats, size_t n)
{
    struct stat out, in;
    if (!file || stat(file, &out) < 0)
        return 0; /* absent: no input can be it */
    for (size_t i = 0; i < n; i++) {
        const scan_pattern *sp = &pats[i];
        if ((sp->type != PAT_FILE && sp->type != PAT_RULES) || !strcmp(sp->text, "-") ||
            stat(sp->text, &in) < 0)
            continue;
        bool same = in.st_dev == out.st_dev && in.st_ino == out.st_ino;
        if (!same && S_ISDIR(in.st_mode) && sp->type == PAT_RULES) {
            /* a rule file of the directory: FILE's directory is DIR */
            char *dir = strdup(file), *slash = dir ? strrchr(dir, '/') : NULL;
            const char *ext = strrchr(file, '.');
            struct stat d;
            if (slash)
                *slash = '\0';
            same = dir && stat(slash ? (dir[0] ? dir : "/") : ".", &d) == 0 &&
                   d.st_dev == in.st_dev && d.st_ino == in.st_ino && ext &&
                   (!strcmp(ext, ".yar") || !strcmp(ext, ".yara"));
            free(dir);
        }
        if (same) {
            cli_usage_error("-o %s is also an input (%s %s): refusing to overwrite it", file,
                            sp->type == PAT_RULES ? "-r" : "-f", sp->text);
            return -1;
        }
    }
    return 0;
}
