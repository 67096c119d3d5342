/* limits_internal.h - the engine's internal limits and constants (internal).
 *
 * The bounds the API exposes live in memgrep.h's "Limits" section; every
 * other size, count and step the engine uses is defined here and nowhere
 * else. Kernel ABI values (pagemap bits, ioctl numbers) stay beside the code
 * that speaks that ABI. */
#ifndef MG_LIMITS_INTERNAL_H
#define MG_LIMITS_INTERNAL_H

/* The page size the engine is built for. mg_page_size() (sysconf) is the
 * source of truth: mg_scan refuses to run if the two differ, so internal
 * code can use the constant. */
#define MG_PAGE_SIZE 4096u

/* ---- settings defaults (mg_default_settings) ---- */

#define MG_DEFAULT_CONTEXT 32u /* bytes each side of a match */
/* Overlap assumed for a regex without a maximum width ("a.*b"). */
#define MG_DEFAULT_UNBOUNDED_WIDTH 4096u
#define MG_DEFAULT_PROGRESS_INTERVAL 0.2 /* seconds, mg_sink.progress_interval 0 */

/* ---- the sweep (sweep/) ---- */

/* Queued units per worker: memory is bounded by the queue, not the targets. */
#define MG_QUEUE_PER_THREAD 8
/* Units the planner holds back and queues at once (one lock, one wake-up
 * of the workers), and at the end of each target (pool.c). */
#define MG_PUSH_BATCH 8
/* A worker that plans a target (pool.c: when the queue is empty) holds back
 * up to MG_PLAN_PEND of its units; if they own at most MG_LOCAL_CHUNKS
 * chunks in all, it runs them itself (a small process: no hand-off), else
 * they are queued for every worker, as the calling thread's are. */
#define MG_PLAN_PEND 64
#define MG_LOCAL_CHUNKS 8
/* Units of one target a worker reads at once (unit.c: mg_run_units). */
#define MG_GATHER_UNITS 32
/* Their pagemap entries read ahead with one pread (unit.c): up to
 * MG_AHEAD_PAGES pages, across holes of up to MG_AHEAD_GAP pages. */
#define MG_AHEAD_PAGES 2048
#define MG_AHEAD_GAP 512

/* Small regions go into batch units: one pagemap read and one
 * process_vm_readv for many regions (planner.c, unit.c). A region is small
 * up to chunk_size / MG_BATCH_REGION_DIV; the planner walks up to
 * MG_BATCH_GROUP consecutive regions with one residency walk, across gaps
 * of at most chunk_size between them; a batch spans at most chunk_size. */
#define MG_BATCH_REGION_DIV 8
#define MG_BATCH_GROUP 4096

/* Anonymous regions queued whole, unwalked, for the workers' pagemap reads
 * to find their present pages (planner.c: direct_budget): per target, up to
 * MG_DIRECT_RSS_MULT x its resident bytes + MG_DIRECT_SLACK chunks of them. */
#define MG_DIRECT_RSS_MULT 2
#define MG_DIRECT_SLACK 8
/* A worker takes a direct region this many bytes at a time (rounded to a
 * multiple of chunk_size, at least one chunk; window.c: mg_direct_step): the
 * span of one page-table page (an x86-64 PMD), so two workers reading one
 * region's pagemap don't take turns on one page-table lock. */
#define MG_DIRECT_STEP (2u << 20)

/* ---- shared-page dedupe (dedupe.c) ---- */

/* Memory held by the table of one sweep; past it, inserts are refused. */
#define MG_DEDUPE_MAX_BYTES (32u << 20)
/* Records a worker keeps for one unit (about 2 x context + match per match);
 * past it the unit is not recorded: it is simply scanned again elsewhere.
 * A sixteenth of the table, so one busy unit can't fill it. */
#define MG_DEDUPE_MAX_RECORD (MG_DEDUPE_MAX_BYTES / 16)
#define MG_DEDUPE_INITIAL_SLOTS 1024 /* a power of two */

/* ---- incremental reads (keep.c) ---- */

/* Memory held by each of the two generations of kept results: about 2 KiB
 * per MiB unit kept (a frame number per page), so 8 MiB covers some 4 GiB
 * of distinct file pages, and `memgrep watch` (9 MiB of RSS without it)
 * stays small on a host that maps many distinct files. */
#define MG_KEEP_MAX_BYTES (8u << 20)
/* A file whose mtime or ctime is this recent may have dirty pages, which a
 * write through a shared mapping changes without moving the times: its
 * pages are kept only while /proc/kpageflags shows them clean. Longer than
 * the kernel's write-back of dirty pages (dirty_expire_centisecs, 30 s). */
#define MG_KEEP_SETTLE_S 120
/* Processes whose soft-dirty epoch is kept (mg_settings.soft_dirty); one
 * slot per hash of the pid: a process whose slot another took is cleared
 * and read whole at its next scan. */
#define MG_KEEP_SD_PROCS 4096

/* ---- the matcher (matcher.c) ---- */

#define MG_HITS_INITIAL 1024 /* hits buffered per scan before growing */
#define MG_HITS_FLUSH 65536 /* past this, report the hits that are final */

/* ---- lazy regexes (factors.c, patterns.c, patterns_lazy.c, matcher.c) ---- */

/* A regex is found through literal factors (at least MG_FACTOR_MIN bytes,
 * at most MG_FACTORS_MAX of them, each at most MG_FACTOR_LEN bytes) and
 * compiled alone on its first factor hit when the set has at least
 * MG_LAZY_MIN such regexes (fewer compile in milliseconds anyway). It runs
 * over a window of about twice its max width around each hit, or over the
 * whole piece when that width is above MG_LAZY_MAX_WIDTH (unbounded). */
#define MG_FACTOR_MIN 3
#define MG_FACTORS_MAX 8
#define MG_FACTOR_LEN 32
#define MG_LAZY_MIN 16
#define MG_LAZY_MAX_WIDTH 65536u

/* ---- readers (reader.c) ---- */

#define MG_PVR_MAX_IOV 1024 /* iovecs per process_vm_readv call (UIO_MAXIOV) */
#define MG_RING_DEPTH 32 /* io_uring entries for /proc/PID/mem */

/* ---- residency (residency.c) ---- */

#define MG_SCAN_VEC 256 /* ranges per PAGEMAP_SCAN ioctl: bounds the mmap_lock hold */
#define MG_SCAN_STEP (1ull << 30) /* address span per PAGEMAP_SCAN ioctl */
#define MG_ENTRY_STEP 4096 /* pagemap entries per read in the fallback */
/* Without PAGEMAP_SCAN, a region at least this big is looked up in
 * /proc/PID/smaps (read once per process) before its pagemap entries are
 * read: with no resident page it is not walked (planner.c). */
#define MG_SMAPS_MIN (128ull << 20)

#endif
