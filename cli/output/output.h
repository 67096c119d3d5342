/* output.h - printer back-ends (one per file: output_text.c, output_json.c).
 *
 * The sink (sink.c) decides what to report (matches, counts, processes);
 * a back-end only decides how it looks. Every call is made either from the
 * engine's serialised sink callbacks or from the main thread after the scan,
 * never concurrently, so back-ends need no locking.
 */
#ifndef MEMGREP_CLI_OUTPUT_H
#define MEMGREP_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "memgrep/memgrep.h"
#include "output/json.h"

typedef struct output_ctx {
    FILE *out; /* results: stdout */
    FILE *err; /* warnings and the text summary: stderr */
    const mg_pattern_info *patterns; /* by pattern id */
    size_t n_patterns;
    bool color; /* text only */
    bool events; /* report per-process events (off with -q) */
    uint64_t events_shown, events_hidden; /* text back-end rate limit */
    bool rules; /* YARA rules were loaded: the summary counts them */
    size_t rules_skipped; /* rules dropped as unsupported (--skip-unsupported) */
} output_ctx;

typedef struct output_backend {
    const char *name;
    void (*match)(output_ctx *o, const mg_match *m);
    void (*event)(output_ctx *o, const mg_event *e);
    void (*count)(output_ctx *o, pid_t pid, const char *comm, uint64_t count); /* -c */
    void (*process)(output_ctx *o, pid_t pid, const char *comm); /* -l */
    void (*rule)(output_ctx *o, const mg_rule_match *m); /* a YARA rule matched */
    /* After the scan: anything held back (hidden warnings), then stats. */
    void (*finish)(output_ctx *o);
    void (*summary)(output_ctx *o, const mg_stats *s);
} output_backend;

extern const output_backend output_text;
extern const output_backend output_json;

/* Shared helpers (output_common.c). */

/* "[anon]"-style display name of a region, for text. */
const char *output_region_name(const mg_region *r);
/* "literal", "hex", "regex". */
const char *output_pattern_kind_name(mg_pattern_kind kind);
/* "gone", "permission", "changed", "other", "timeout": the JSON contract. */
const char *output_event_kind_name(mg_event_kind kind);
/* Why a sweep is incomplete, as the summaries say it: "timeout",
 * "signal" (SIGINT, SIGTERM, SIGHUP), "stopped" (-q, or a write error);
 * "none" when complete. The JSON contract too. */
const char *output_stop_reason_name(mg_stop_reason reason);
/* mg_strerror(err) starting lower case ("permission denied"), into buf. */
const char *output_error_text(int err, char *buf, size_t size);
/* "permission denied: open /proc/PID/mem": the error, then what failed. */
const char *output_event_reason(const mg_event *e, char *buf, size_t size);
/* 1536 -> "1.5 KiB"; buf holds at least 16 bytes. */
const char *output_human_bytes(uint64_t n, char *buf, size_t size);
/* Bytes scanned per second in GB/s (1e9), 0 when no time elapsed. */
double output_gbps(const mg_stats *s);

#endif
