/* stop.c - when a sweep, or one target, stops; the sweep's clock and the
 * read pacing.
 *
 * mg_sweep_should_stop is THE place where a sweep decides to stop (sweep.h):
 * the sink's verdict, set.cancel, set.timeout, and for one target its
 * failure or its process_timeout. Waiting is never longer than
 * MG_STOP_POLL_MS without a look at it: the planner on a full queue
 * (pool.c), a worker on the rate limiter or the CPU budget
 * (mg_sweep_pace). */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "sweep/sweep.h"

int64_t mg_sweep_now_ns(const mg_sweep *c)
{
    return (int64_t)((mg_now() - c->t0) * 1e9);
}

int mg_sweep_stop(mg_sweep *c, int reason)
{
    int none = MG_STOP_NONE;
    if (atomic_compare_exchange_strong(&c->stop_reason, &none, reason))
        return reason;
    return none; /* the reason already in force */
}

/* The sweep's part of the decision; *now is the clock if a deadline needs it. */
static bool sweep_stops(mg_sweep *c, double *now)
{
    *now = 0;
    if (atomic_load_explicit(&c->stop_reason, memory_order_relaxed) != MG_STOP_NONE)
        return true;
    if (c->set.cancel && c->set.cancel(c->set.cancel_ctx)) {
        mg_sweep_stop(c, MG_STOP_CANCELLED);
        return true;
    }
    *now = c->deadline > 0 || c->set.process_timeout > 0 ? mg_now() : 0;
    if (c->deadline > 0 && *now >= c->deadline) {
        mg_sweep_stop(c, MG_STOP_TIMEOUT);
        return true;
    }
    return false;
}

static bool process_timed_out(mg_sweep *c, mg_target *p, double now)
{
    uint64_t first = atomic_load_explicit(&p->first_unit_us, memory_order_relaxed);
    if (first && c->set.process_timeout > 0 &&
        (now - c->t0) * 1e6 - (double)first >= c->set.process_timeout * 1e6) {
        /* one terminal event per target, like a failure */
        mg_target_failed(c, p, -ETIMEDOUT, "scan cut short by the per-process timeout");
        return true;
    }
    return false;
}

/* Asked before work on p: a stop or p's timeout drops that work (p is
 * cut); a failure or the sink's next-process does not count as a cut. */
bool mg_sweep_should_stop(mg_sweep *c, mg_target *p)
{
    double now;
    bool stop = sweep_stops(c, &now);
    if (!p)
        return stop;
    bool skipped = atomic_load(&p->skip); /* before process_timed_out sets it */
    if (!stop && skipped)
        return true;
    if (stop || process_timed_out(c, p, now)) {
        if (!skipped)
            atomic_store(&p->cut, true);
        return true;
    }
    return false;
}

bool mg_sweep_should_cut(mg_sweep *c, mg_target *p)
{
    double now;
    if (sweep_stops(c, &now))
        return true;
    return p && process_timed_out(c, p, now);
}

/* ---- read pacing ---------------------------------------------------------- */

int64_t mg_rate_reserve(mg_rate *r, uint64_t n, int64_t now)
{
    int64_t cost = (int64_t)((double)n * 1e9 / (double)r->bytes_per_sec);
    int64_t old = atomic_load_explicit(&r->tat_ns, memory_order_relaxed), end;
    /* After idle time the timeline restarts at now - burst: a bucket of
     * burst's worth, no more (no credit piles up while nothing is read). */
    do
        end = MG_MAX(old, now - r->burst_ns) + cost;
    while (!atomic_compare_exchange_weak_explicit(&r->tat_ns, &old, end, memory_order_relaxed,
                                                  memory_order_relaxed));
    return end;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    nanosleep(&ts, NULL); /* EINTR: the caller looks again */
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mg_cpu_budget_init(mg_cpu_budget *b, double budget)
{
    pthread_mutex_init(&b->lock, NULL);
    b->budget = budget;
    b->burst_ns = (int64_t)MG_CPU_BURST_MS * 1000000;
    b->tat_ns = clock_ns(CLOCK_MONOTONIC);
    b->cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

void mg_cpu_budget_fini(mg_cpu_budget *b)
{
    pthread_mutex_destroy(&b->lock);
}

int64_t mg_cpu_budget_due(mg_cpu_budget *b)
{
    pthread_mutex_lock(&b->lock);
    int64_t now = clock_ns(CLOCK_MONOTONIC), cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    /* as mg_rate_reserve: after idle time the timeline restarts at
     * now - burst, no more credit than that */
    b->tat_ns = MG_MAX(b->tat_ns, now - b->burst_ns) +
                (int64_t)((double)MG_MAX(cpu - b->cpu_ns, 0) / b->budget);
    b->cpu_ns = cpu;
    int64_t due = b->tat_ns;
    pthread_mutex_unlock(&b->lock);
    return due;
}

/* Wait until `go` (the sweep's ns, or CLOCK_MONOTONIC ns), looking at the
 * stops every MG_STOP_POLL_MS: false if the sweep or p stopped. */
static bool wait_until(mg_sweep *c, mg_target *p, int64_t go, bool monotonic)
{
    for (;;) {
        if (mg_sweep_should_stop(c, p))
            return false; /* the reservation is not given back: the sweep or p is over */
        int64_t left = go - (monotonic ? clock_ns(CLOCK_MONOTONIC) : mg_sweep_now_ns(c));
        if (left <= 0)
            return true;
        sleep_ns(MG_MIN(left, MG_STOP_POLL_NS));
    }
}

bool mg_sweep_pace(mg_sweep *c, mg_target *p, uint64_t n)
{
    if (!n)
        return true;
    if (c->rate.bytes_per_sec &&
        !wait_until(c, p, mg_rate_reserve(&c->rate, n, mg_sweep_now_ns(c)), false))
        return false;
    /* the CPU used meanwhile (by the other workers too) is charged while
     * this one waits: looked at again until it is paid for */
    while (c->cpu) {
        int64_t go = mg_cpu_budget_due(c->cpu), now = clock_ns(CLOCK_MONOTONIC);
        if (go <= now)
            return true;
        if (!wait_until(c, p, MG_MIN(go, now + MG_STOP_POLL_NS), true))
            return false;
    }
    return true;
}
