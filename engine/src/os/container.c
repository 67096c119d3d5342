/* container.c - which container a cgroup path belongs to, and target
 * selection by cgroup and container (memgrep --cgroup / --container). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "memgrep/memgrep.h"
#include "util.h"

typedef struct component {
    const char *s;
    size_t len;
} component;

static bool is_id(const char *s, size_t len)
{
    if (len != MG_CONTAINER_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (mg_hexval(s[i]) < 0)
            return false;
    return true;
}

static bool has_prefix(component c, const char *p)
{
    size_t n = strlen(p);
    return c.len >= n && !memcmp(c.s, p, n);
}

/* "PREFIX" ID [SUFFIX]: the id's place in c, or NULL. suffix may be NULL
 * (then nothing may follow the id) or "" (then nothing checked either). */
static const char *id_between(component c, const char *prefix, const char *suffix)
{
    size_t np = strlen(prefix), ns = suffix ? strlen(suffix) : 0;
    if (!has_prefix(c, prefix) || c.len != np + MG_CONTAINER_ID_LEN + ns)
        return NULL;
    if (ns && memcmp(c.s + c.len - ns, suffix, ns))
        return NULL;
    return is_id(c.s + np, MG_CONTAINER_ID_LEN) ? c.s + np : NULL;
}

/* The named forms: "RUNTIME-ID.scope" (systemd) and "RUNTIME-ID" (cgroupfs). */
static const struct {
    const char *prefix;
    const char *runtime;
    bool bare; /* also without ".scope" */
} named[] = {
    {"docker-", "docker", false},      {"cri-containerd-", "containerd", false},
    {"nerdctl-", "containerd", false}, {"crio-", "cri-o", true},
    {"libpod-", "podman", true},
};

/* A component that is an id by itself: the runtime from its ancestors. */
static const char *bare_runtime(const component *c, size_t i)
{
    if (i == 0)
        return NULL; /* "/ID" alone: nothing says it is a container */
    component parent = c[i - 1];
    if (parent.len == 6 && !memcmp(parent.s, "docker", 6))
        return "docker";
    if (parent.len == 13 && !memcmp(parent.s, "libpod_parent", 13))
        return "podman";
    for (size_t j = 0; j < i; j++)
        if (has_prefix(c[j], "kubepods"))
            return "kubepods";
    return "containerd"; /* cgroupfs: /NAMESPACE/ID */
}

#define MAX_COMPONENTS 64

MG_API int mg_container_of(const char *cgroup, mg_container *out)
{
    if (!cgroup || !out)
        return -EINVAL;
    out->id[0] = '\0';
    out->runtime = NULL;
    component c[MAX_COMPONENTS];
    size_t n = 0;
    for (const char *s = cgroup; *s;) {
        size_t len = strcspn(s, "/");
        if (len) {
            if (n == MAX_COMPONENTS) /* keep the innermost ones */
                memmove(c, c + 1, --n * sizeof(*c));
            c[n++] = (component){s, len};
        }
        s += len;
        s += *s == '/';
    }
    for (size_t i = n; i-- > 0;) {
        const char *id = NULL, *runtime = NULL;
        for (size_t k = 0; !id && k < sizeof(named) / sizeof(named[0]); k++) {
            runtime = named[k].runtime;
            id = id_between(c[i], named[k].prefix, ".scope");
            if (!id && named[k].bare)
                id = id_between(c[i], named[k].prefix, NULL);
        }
        if (!id && is_id(c[i].s, c[i].len) && (runtime = bare_runtime(c, i)))
            id = c[i].s;
        if (id) {
            for (size_t k = 0; k < MG_CONTAINER_ID_LEN; k++)
                out->id[k] = (char)(id[k] >= 'A' && id[k] <= 'F' ? id[k] - 'A' + 'a' : id[k]);
            out->id[MG_CONTAINER_ID_LEN] = '\0';
            out->runtime = runtime;
            return 1;
        }
    }
    return 0;
}

MG_API bool mg_cgroup_selected(const char *cgroup, const char *cgroup_prefix,
                               const char *container_prefix)
{
    if (!cgroup)
        cgroup = "";
    if (cgroup_prefix && cgroup_prefix[0]) {
        size_t n = strlen(cgroup_prefix);
        while (n > 1 && cgroup_prefix[n - 1] == '/')
            n--;
        if (strncmp(cgroup, cgroup_prefix, n))
            return false;
        /* "/" selects everything; else a whole component must end there */
        if (!(n == 1 && cgroup_prefix[0] == '/') && cgroup[n] && cgroup[n] != '/')
            return false;
    }
    if (container_prefix && container_prefix[0]) {
        mg_container ct;
        if (mg_container_of(cgroup, &ct) != 1)
            return false;
        size_t n = strlen(container_prefix);
        if (n > MG_CONTAINER_ID_LEN || strncasecmp(ct.id, container_prefix, n))
            return false;
    }
    return true;
}
