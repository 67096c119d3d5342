/* make.c - a process's findings (mg_findings_make) from what its caller
 * has read of it (mg_findings_get, a sweep's target): the kinds its maps
 * show, and what it reads beyond them: the tracer, argv[0] and the
 * preload lists (preload.c), the private copies of code against their
 * files (patched.c). Graded, packed into one block. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "findings/findings.h"
#include "memgrep/memgrep.h"
#include "os/procs.h"
#include "util.h"

const char *mg_file_read_name(mg_file_read how)
{
    return how == MG_FILE_READ_BUFFERED ? "buffered"
           : how == MG_FILE_READ_CACHED ? "cached"
                                        : "direct";
}

/* JIT runtimes, which make executable (often writable) anonymous code of
 * their own: by the exe's basename (a name, then only version digits and
 * dots: python3.11, php8.2), or by a library mapped. */
static const char *const runtime_exes[] = {
    "java",     "node",    "nodejs",   "python3", "python2",  "python", "pypy3",       "pypy",
    "ruby",     "php-fpm", "php",      "dotnet",  "mono",     "luajit", "deno",        "bun",
    "beam.smp", "chrome",  "chromium", "firefox", "electron", "julia",  "qemu-x86_64",
};
/* rwx_only: a JIT that writes its code into writable and executable
 * anonymous memory and nothing else (PCRE2's sljit allocator, in any
 * program that compiles a regex with pcre2_jit_compile: grep -P, memgrep's
 * own YARA regexes): it explains a process whose anonymous executable
 * mappings are all RWX, not one with R-X anonymous code. */
static const struct {
    const char *lib, *runtime;
    bool rwx_only;
} runtime_libs[] = {
    {"libjvm.so", "java", false},
    {"libcoreclr.so", "dotnet", false},
    {"libmonosgen-2.0.so", "mono", false},
    {"libnode.so", "node", false},
    {"libluajit-5.1.so", "luajit", false},
    {"libv8.so", "v8", false},
    {"libjulia-internal.so", "julia", false},
    {"libpcre2-8.so", "pcre2-jit", true},
};

static const char *base_name(const char *path, size_t *len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    static const char deleted[] = " (deleted)";
    size_t n = strlen(b), d = sizeof(deleted) - 1;
    if (n >= d && !strcmp(b + n - d, deleted))
        n -= d;
    *len = n;
    return b;
}

static bool is_anon(const mg_region *r);

/* Every anonymous executable mapping is also writable. */
static bool anon_code_all_rwx(const mg_region *rs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const mg_region *r = &rs[i];
        if (r->perms[2] == 'x' && is_anon(r) && r->perms[1] != 'w')
            return false;
    }
    return true;
}

static const char *runtime_of(const char *exe, const mg_region *rs, size_t n)
{
    size_t len;
    const char *b = base_name(exe, &len);
    for (size_t i = 0; i < sizeof(runtime_exes) / sizeof(runtime_exes[0]); i++) {
        size_t k = strlen(runtime_exes[i]);
        if (len < k || memcmp(b, runtime_exes[i], k))
            continue;
        size_t j = k;
        while (j < len && (b[j] == '.' || (b[j] >= '0' && b[j] <= '9')))
            j++;
        if (j == len)
            return runtime_exes[i];
    }
    for (size_t i = 0; i < n; i++) {
        const char *lb = base_name(rs[i].path, &len);
        for (size_t j = 0; j < sizeof(runtime_libs) / sizeof(runtime_libs[0]); j++) {
            size_t k = strlen(runtime_libs[j].lib);
            if (rs[i].kind == MG_REGION_FILE && len >= k && !memcmp(lb, runtime_libs[j].lib, k) &&
                (!runtime_libs[j].rwx_only || anon_code_all_rwx(rs, n)))
                return runtime_libs[j].runtime;
        }
    }
    return "";
}

static bool is_memfd(const char *path)
{
    return !strncmp(path, "/memfd:", strlen("/memfd:"));
}

/* Anonymous memory under another name: private and shared anonymous
 * mappings, the heap and stacks, shared anonymous ("/dev/zero (deleted)")
 * and SysV segments. */
static bool is_anon(const mg_region *r)
{
    if (r->kind == MG_REGION_ANON || r->kind == MG_REGION_HEAP || r->kind == MG_REGION_STACK)
        return true;
    return r->kind == MG_REGION_SHM &&
           ((r->deleted && !strcmp(r->path, "/dev/zero")) || !strncmp(r->path, "/SYSV", 5));
}

/* comm or argv[0] in brackets: how ps shows a kernel thread. */
static bool bracketed(const char *s)
{
    size_t n = strlen(s);
    return n >= 3 && s[0] == '[' && s[n - 1] == ']';
}

/* What one kind found before packing. */
typedef struct acc {
    bool hit, image;
    size_t regions;
    uint64_t bytes;
    const mg_region *first;
    mg_severity severity;
} acc;

static void add_region(acc *a, const mg_region *r)
{
    a->hit = true;
    if (!a->regions++)
        a->first = r;
    a->bytes += r->end - r->start;
}

static void scan_regions(acc *k, const mg_region *rs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const mg_region *r = &rs[i];
        if (r->kind == MG_REGION_SPECIAL) /* [vdso], [vsyscall], [uprobes] */
            continue;
        bool exec = r->perms[2] == 'x';
        if (exec && r->perms[1] == 'w')
            add_region(&k[MG_FINDING_RWX], r);
        if (!exec)
            continue;
        if (is_memfd(r->path))
            add_region(&k[MG_FINDING_MEMFD_EXEC], r);
        else if (is_anon(r))
            add_region(&k[MG_FINDING_ANON_EXEC], r);
        else if (r->deleted)
            add_region(&k[MG_FINDING_DELETED_EXE], r);
    }
}

/* Severities: a runtime explains executable anonymous and memfd-backed
 * code (V8, HotSpot, .NET's double mapping), never a memfd image. */
static void grade(acc *k, const char *runtime)
{
    bool jit = runtime[0] != '\0', memfd_jit = jit;
    for (size_t j = 0; j < sizeof(runtime_libs) / sizeof(runtime_libs[0]); j++)
        if (runtime_libs[j].rwx_only && !strcmp(runtime, runtime_libs[j].runtime))
            memfd_jit = false;
    k[MG_FINDING_MEMFD_EXEC].severity =
        k[MG_FINDING_MEMFD_EXEC].image || !memfd_jit ? MG_SEVERITY_HIGH : MG_SEVERITY_LOW;
    k[MG_FINDING_DELETED_EXE].severity = MG_SEVERITY_MEDIUM;
    k[MG_FINDING_ANON_EXEC].severity = jit ? MG_SEVERITY_LOW : MG_SEVERITY_HIGH;
    k[MG_FINDING_RWX].severity = jit ? MG_SEVERITY_LOW : MG_SEVERITY_HIGH;
    k[MG_FINDING_TRACED].severity = MG_SEVERITY_MEDIUM;
    k[MG_FINDING_MASQUERADE].severity = MG_SEVERITY_HIGH;
    k[MG_FINDING_PATCHED_CODE].severity = MG_SEVERITY_HIGH;
    k[MG_FINDING_PRELOAD].severity = MG_SEVERITY_MEDIUM;
}

/* What is read of the process beyond its source, then packed. */
typedef struct seen {
    const mg_findings_src *src;
    pid_t tracer, traced_tid;
    char tracer_comm[64];
    char *argv0;
    mg_patched patched;
    mg_preload *preloads;
    size_t n_preloads;
} seen;

void mg_findings_pre_read(pid_t pid, mg_findings_pre *pre)
{
    *pre = (mg_findings_pre){0};
    pid_t tracer = mg_read_tracer(pid, &pre->traced_tid);
    if (tracer < 0)
        pre->rc = (int)tracer;
    else
        pre->tracer = tracer;
    if (tracer > 0)
        mg_read_comm(tracer, pre->tracer_comm, sizeof(pre->tracer_comm));
    pre->ld_so_preload = mg_preload_file(pid);
}

void mg_findings_pre_free(mg_findings_pre *pre)
{
    free(pre->ld_so_preload);
    pre->ld_so_preload = NULL;
}

/* What a finding needs beyond src: the tracer, argv[0], the preload
 * lists, the copies of code compared with their files. *by_pid: what is
 * read here by pid number. */
static int read_rest(seen *s, bool *by_pid, mg_error *err)
{
    const mg_findings_src *src = s->src;
    pid_t tgid = src->pid;
    mg_findings_pre own;
    const mg_findings_pre *pre = src->pre;
    if (!pre) {
        mg_findings_pre_read(tgid, &own);
        pre = &own;
    }
    int rc = pre->rc;
    if (rc < 0) {
        rc = mg_api_code(rc);
        rc = mg_fail(err, rc, "read /proc/%d/status: %s", (int)tgid, mg_strerror(rc));
    }
    s->tracer = pre->tracer;
    s->traced_tid = pre->traced_tid;
    memcpy(s->tracer_comm, pre->tracer_comm, sizeof(s->tracer_comm));
    char *env = NULL;
    size_t env_len = 0;
    if (rc == 0)
        rc = src->args_env
                 ? mg_args_env_split(src->st, src->args_env, &s->argv0, &env, &env_len)
                 : mg_read_args_env(tgid, src->st, src->pagemap_fd, &s->argv0, &env, &env_len);
    if (rc == 0)
        rc = mg_preload_find(env, env_len, pre->ld_so_preload, src->regions, src->n_regions,
                             &s->preloads, &s->n_preloads);
    free(env);
    if (pre == &own)
        mg_findings_pre_free(&own);
    /* the copies of code are read (by process_vm_readv) if there are any */
    *by_pid = !src->pre || !src->args_env || !src->copies || src->copies->n;
    if (rc == -ENOMEM)
        return mg_fail(err, -ENOMEM, "out of memory");
    if (rc < 0)
        return rc;
    return mg_patched_find(tgid, src->regions, src->n_regions, src->pagemap_fd, src->mem_fd,
                           src->copies, &s->patched, err);
}

/* Bytes of the lists' strings in the block: patches' and preloads' paths. */
static size_t list_strings(const seen *s, const acc *k)
{
    size_t bytes = 0;
    if (k[MG_FINDING_PATCHED_CODE].hit)
        for (size_t i = 0; i < s->patched.n_patches; i++)
            bytes += strlen(s->patched.patches[i].path) + 1;
    if (k[MG_FINDING_PRELOAD].hit)
        for (size_t i = 0; i < s->n_preloads; i++)
            bytes += strlen(s->preloads[i].path) + strlen(s->preloads[i].source) + 2;
    return bytes;
}

/* patched_code's and preload's lists, copied into the block at *at, their
 * strings at *str. */
static void pack_lists(const seen *s, mg_finding *f, char **at, char **str)
{
    f->file_read = mg_put_string(str, "");
    if (f->kind == MG_FINDING_PATCHED_CODE) {
        mg_patch *d = (mg_patch *)*at;
        for (size_t i = 0; i < s->patched.n_patches; i++) {
            d[i] = s->patched.patches[i];
            d[i].path = mg_put_string(str, d[i].path);
        }
        f->patches = d;
        f->n_patches = s->patched.n_patches;
        f->patches_total = s->patched.patches_total;
        f->textrel = s->patched.textrel;
        f->file_read = mg_put_string(str, mg_file_read_name(s->patched.how));
        *at += f->n_patches * sizeof(*d);
    } else if (f->kind == MG_FINDING_PRELOAD) {
        mg_preload *d = (mg_preload *)*at;
        for (size_t i = 0; i < s->n_preloads; i++) {
            d[i].path = mg_put_string(str, s->preloads[i].path);
            d[i].source = mg_put_string(str, s->preloads[i].source);
        }
        f->preloads = d;
        f->n_preloads = s->n_preloads;
        *at += f->n_preloads * sizeof(*d);
    }
}

/* One block: the findings, the patches and preloads, then the strings. */
static mg_finding *pack(const seen *s, const acc *k, const char *runtime, size_t *n)
{
    const mg_findings_src *p = s->src;
    size_t count = 0, bytes = list_strings(s, k),
           fixed = strlen(p->comm) + strlen(p->exe) + strlen(runtime) + strlen(s->tracer_comm) +
                   strlen(s->argv0) + strlen("buffered") + 7;
    for (int i = 0; i < MG_FINDING_KINDS; i++)
        if (k[i].hit) {
            count++;
            bytes += sizeof(mg_finding) + fixed + (k[i].first ? strlen(k[i].first->path) : 0);
        }
    size_t lists = (k[MG_FINDING_PATCHED_CODE].hit ? s->patched.n_patches * sizeof(mg_patch) : 0) +
                   (k[MG_FINDING_PRELOAD].hit ? s->n_preloads * sizeof(mg_preload) : 0);
    mg_finding *out = calloc(1, MG_MAX(bytes + lists, (size_t)1));
    if (!out)
        return NULL;
    char *at = (char *)(out + count), *str = at + lists;
    mg_finding *f = out;
    for (int i = 0; i < MG_FINDING_KINDS; i++) {
        if (!k[i].hit)
            continue;
        f->kind = (mg_finding_kind)i;
        f->severity = k[i].severity;
        f->pid = p->pid;
        f->comm = mg_put_string(&str, p->comm);
        f->exe = mg_put_string(&str, p->exe);
        f->image = k[i].image;
        f->regions = k[i].regions;
        f->bytes = k[i].bytes;
        if (k[i].first)
            f->first = *k[i].first;
        f->first.path = mg_put_string(&str, k[i].first ? k[i].first->path : "");
        bool code = i == MG_FINDING_ANON_EXEC || i == MG_FINDING_RWX ||
                    (i == MG_FINDING_MEMFD_EXEC && k[i].regions);
        f->runtime = mg_put_string(&str, code ? runtime : "");
        f->tracer = i == MG_FINDING_TRACED ? s->tracer : 0;
        f->traced_tid = i == MG_FINDING_TRACED ? s->traced_tid : 0;
        f->tracer_comm = mg_put_string(&str, i == MG_FINDING_TRACED ? s->tracer_comm : "");
        f->argv0 = mg_put_string(&str, i == MG_FINDING_MASQUERADE ? s->argv0 : "");
        pack_lists(s, f, &at, &str);
        f++;
    }
    *n = count;
    return out;
}

int mg_findings_make(const mg_findings_src *src, mg_finding **out, size_t *n, bool *by_pid,
                     mg_error *err)
{
    *out = NULL;
    *n = 0;
    seen s = {.src = src};
    int rc = read_rest(&s, by_pid, err);
    if (rc == 0) {
        acc k[MG_FINDING_KINDS] = {{0}};
        const char *exe = src->exe;
        scan_regions(k, src->regions, src->n_regions);
        if (is_memfd(exe))
            k[MG_FINDING_MEMFD_EXEC].hit = k[MG_FINDING_MEMFD_EXEC].image = true;
        else if (exe[0] == '/' && strlen(exe) > strlen(" (deleted)") &&
                 !strcmp(exe + strlen(exe) - strlen(" (deleted)"), " (deleted)"))
            k[MG_FINDING_DELETED_EXE].hit = k[MG_FINDING_DELETED_EXE].image = true;
        k[MG_FINDING_TRACED].hit = s.tracer > 0;
        k[MG_FINDING_MASQUERADE].hit = bracketed(src->comm) || bracketed(s.argv0);
        acc *pc = &k[MG_FINDING_PATCHED_CODE];
        pc->hit = s.patched.regions > 0;
        pc->regions = s.patched.regions;
        pc->bytes = s.patched.bytes;
        pc->first = pc->hit ? &s.patched.first : NULL;
        k[MG_FINDING_PRELOAD].hit = s.n_preloads > 0;
        const char *runtime = runtime_of(exe, src->regions, src->n_regions);
        grade(k, runtime);
        if (s.patched.textrel) /* the loader writes such text */
            pc->severity = MG_SEVERITY_LOW;
        *out = pack(&s, k, runtime, n);
        rc = *out ? 0 : mg_fail(err, -ENOMEM, "out of memory");
    }
    free(s.argv0);
    free(s.preloads);
    mg_patched_free(&s.patched);
    return rc;
}

MG_API void mg_findings_free(mg_finding **list)
{
    if (!list)
        return;
    free(*list);
    *list = NULL;
}
