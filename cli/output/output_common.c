/* output_common.c - helpers shared by the printer back-ends. */
#include "output/output.h"

#include <ctype.h>
#include <stdio.h>
#include <sys/random.h>
#include <string.h>

const char *output_region_name(const mg_region *r)
{
    if (r->path && r->path[0])
        return r->path;
    return "[anon]";
}

const char *output_pattern_kind_name(mg_pattern_kind kind)
{
    switch (kind) {
    case MG_PATTERN_LITERAL:
        return "literal";
    case MG_PATTERN_HEX:
        return "hex";
    case MG_PATTERN_REGEX:
        return "regex";
    }
    return "unknown";
}

/* Our own table rather than mg_event_kind_name(): these strings are part of
 * the JSON output contract and must not drift with the library. */
const char *output_event_kind_name(mg_event_kind kind)
{
    switch (kind) {
    case MG_EVENT_GONE:
        return "gone";
    case MG_EVENT_PERMISSION:
        return "permission";
    case MG_EVENT_CHANGED:
        return "changed";
    case MG_EVENT_TIMEOUT:
        return "timeout";
    case MG_EVENT_UNREACHED:
        return "unreached";
    case MG_EVENT_OTHER:
    case MG_EVENT_KINDS:
        break;
    }
    return "other";
}

/* Also part of the JSON contract ("stop_reason"). */
const char *output_stop_reason_name(mg_stop_reason reason)
{
    switch (reason) {
    case MG_STOP_NONE:
        return "none";
    case MG_STOP_TIMEOUT:
        return "timeout";
    case MG_STOP_CANCELLED: /* memgrep's only way to cancel: SIGINT, SIGTERM, SIGHUP */
        return "signal";
    case MG_STOP_SINK: /* -q's first match, or output that can't be written */
        break;
    }
    return "stopped";
}

const char *output_error_text(int err, char *buf, size_t size)
{
    const char *s = mg_strerror(err);
    snprintf(buf, size, "%s", s ? s : "unknown error");
    /* "Permission denied" -> "permission denied", but keep "I/O error". */
    if (isupper((unsigned char)buf[0]) && islower((unsigned char)buf[1]))
        buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}

const char *output_human_bytes(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (n < 1024) {
        snprintf(buf, size, "%llu B", (unsigned long long)n);
        return buf;
    }
    double v = (double)n;
    unsigned u = 0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, size, "%.*f %s", v < 10.0 ? 2 : v < 100.0 ? 1 : 0, v, units[u]);
    return buf;
}

const char *output_event_reason(const mg_event *e, char *buf, size_t size)
{
    char err[128];
    /* ENOENT or ESRCH on a vanished process says less than this. */
    if (e->kind == MG_EVENT_GONE)
        snprintf(err, sizeof(err), "exited during the scan");
    else if (e->kind == MG_EVENT_TIMEOUT) /* not "connection timed out" */
        snprintf(err, sizeof(err), "timed out");
    else if (e->kind == MG_EVENT_UNREACHED)
        snprintf(err, sizeof(err), "not reached");
    else
        output_error_text(e->err, err, sizeof(err));
    if (e->what && e->what[0])
        snprintf(buf, size, "%s: %s", err, e->what);
    else
        snprintf(buf, size, "%s", err);
    return buf;
}

double output_gbps(const mg_stats *s)
{
    if (!(s->elapsed_seconds > 0.0))
        return 0.0;
    return (double)s->bytes_scanned / s->elapsed_seconds / 1e9;
}

uint64_t output_selected(const mg_stats *s)
{
    return s->processes_scanned + s->processes_failed + s->processes_unreached;
}

bool output_complete(const mg_stats *s)
{
    return s->complete && !s->processes_cut && !s->processes_unreached &&
           s->processes_whole + s->events[MG_EVENT_GONE] >= output_selected(s);
}

const char *output_incomplete_reason(const mg_stats *s)
{
    if (!s->complete)
        return output_stop_reason_name(s->stop_reason);
    return s->processes_cut ? "cut" : "failed";
}

void output_new_run_id(char *out, size_t size)
{
    uint8_t id[16] = {0};
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
        memset(id, 0, sizeof(id));
    for (size_t i = 0; i < sizeof(id) && 2 * i + 2 < size; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}
