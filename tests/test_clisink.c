/* test_clisink.c - the CLI's mg_sink (cli/sink.c) driven directly, with a
 * back-end of the test's own: the errno kept when a write fails (review
 * D9) and the lock the --timeout watchdog takes before it finishes the
 * output while a callback may still run (D8). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "output/sink.h"

static atomic_bool in_match, release_match;

static void write_one(output_ctx *o)
{
    fputs("result\n", o->out);
}

static void be_match(output_ctx *o, const mg_match *m)
{
    (void)m;
    atomic_store(&in_match, true);
    while (!atomic_load(&release_match)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    write_one(o);
    atomic_store(&in_match, false);
}

static void be_rule(output_ctx *o, const mg_rule_match *m)
{
    (void)m;
    write_one(o);
}

static const output_backend test_backend = {.name = "test", .match = be_match, .rule = be_rule};

/* A write error on a rule's output keeps the write's errno (ENOSPC), as
 * one on a match's does, whatever errno says later. */
Test(clisink, rule_write_error_keeps_its_errno)
{
    FILE *full = fopen("/dev/full", "w");
    cr_assert_not_null(full, "/dev/full: %s", strerror(errno));
    setvbuf(full, NULL, _IONBF, 0); /* each write reaches the device */
    output_ctx out = {.out = full, .err = stderr};
    cli_sink s;
    cli_sink_init(&s, CLI_MODE_MATCHES, &test_backend, &out);
    mg_sink sink = cli_sink_get(&s);
    mg_process proc = {.pid = 1, .comm = "x", .exe = "", .cgroup = "", .container = ""};
    mg_rule_match rm = {.process = &proc, .rule = "r", .ns = "default"};
    cr_assert_eq(sink.rule(sink.ctx, &rm), MG_SINK_STOP);
    errno = EBADF; /* what a later call leaves behind */
    cr_assert(s.write_error);
    cr_assert_eq(s.write_errno, ENOSPC, "write_errno %d (%s)", s.write_errno,
                 strerror(s.write_errno));
    cli_sink_free(&s);
    fclose(full);
}

static void *call_match(void *arg)
{
    mg_sink *sink = arg;
    mg_process proc = {.pid = 1, .comm = "x", .exe = "", .cgroup = "", .container = ""};
    mg_match m = {.process = &proc};
    sink->match(sink->ctx, &m);
    return NULL;
}

/* The watchdog's side: while a callback is inside the back-end, the lock
 * is not had (the output is not finished under it); once it returns, it
 * is, and no callback runs while it is held. */
Test(clisink, watchdog_lock_waits_for_a_callback)
{
    FILE *null = fopen("/dev/null", "w");
    cr_assert_not_null(null);
    output_ctx out = {.out = null, .err = stderr};
    cli_sink s;
    cli_sink_init(&s, CLI_MODE_MATCHES, &test_backend, &out);
    mg_sink sink = cli_sink_get(&s);
    atomic_store(&release_match, false);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, call_match, &sink), 0);
    while (!atomic_load(&in_match)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    cr_assert_not(cli_sink_lock_within(&s, 0.2), "the lock was had during a callback");
    atomic_store(&release_match, true);
    cr_assert(cli_sink_lock_within(&s, 30), "the lock was not had after the callback");
    cr_assert_not(atomic_load(&in_match));
    cr_assert_eq(s.matches, 1);
    cli_sink_unlock(&s);
    pthread_join(th, NULL);
    cli_sink_free(&s);
    fclose(null);
}
