/*
 * watch_target.c - a short-lived process for test_watch: what `memgrep
 * watch` must see when it starts after watch does.
 *
 *   watch_target TOKEN DELAY_MS LIVE_MS [MIB]
 *
 * DELAY_MS after its start it writes the marker "mgt-" TOKEN "-watch;" into
 * a heap block, piece by piece (the whole marker exists only there: not in
 * argv, not in stdio buffers), prints "PLANT 0x<addr> <len>" on stdout,
 * and exits LIVE_MS after its start. Decoded after start, as a payload is:
 * a scan at exec does not find it, a rescan does. MIB: that many MiB of
 * other data written first (text, not zeros), a process costly to scan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"

static void sleep_until(const struct timespec *t0, long ms)
{
    struct timespec at = *t0;
    at.tv_sec += ms / 1000;
    at.tv_nsec += (ms % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) != 0)
        ;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: watch_target TOKEN DELAY_MS LIVE_MS [MIB]\n");
        return 2;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *pieces[] = {FIXTURE_MARKER_PREFIX, argv[1], "-watch;"};
    long delay = atol(argv[2]), live = atol(argv[3]);
    char *block = calloc(1, 4096); /* the heap: a small block from brk */
    if (!block)
        return 3;
    size_t bulk = argc == 5 ? (size_t)atol(argv[4]) << 20 : 0;
    char *data = bulk ? malloc(bulk) : NULL;
    if (bulk && !data)
        return 3;
    for (size_t i = 0; i < bulk; i++)
        data[i] = (char)('a' + i % 26);
    sleep_until(&t0, delay);
    size_t n = 0;
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
        for (const char *c = pieces[i]; *c; c++)
            ((volatile char *)block)[256 + n++] = *c;
    printf("PLANT 0x%lx %zu\n", (unsigned long)(block + 256), n);
    fflush(stdout);
    sleep_until(&t0, live);
    free(data);
    return 0;
}
