/*
 * manymaps - a target with many small mappings, or the same bytes in one.
 *
 *   manymaps [--regions N] [--layout guard|holes|one] [--plants K] [--seed S]
 *
 * N pages (default 60000) of heap-like data (bench/heapgen.h), laid out as
 *  - guard: N one-page read-write mappings, each followed by a PROT_NONE
 *    guard page, as allocators with guard pages have (2 N mappings: raise
 *    vm.max_map_count above 65530 for N > 32000);
 *  - holes: N one-page mappings with an unmapped page between each two;
 *  - one:   one mapping of N pages (the same bytes, page i at page i).
 * Page i holds the same bytes in every layout. K IOCs (default 64, strings
 * hg_ioc(i) for i < K) are planted inside pages (never across two), at the
 * same page and offset in every layout, and printed as
 *   PLANT pid 0xaddr ioc
 * then
 *   INFO mappings M bytes B
 *   READY
 * The process stays until its stdin reaches end of file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heapgen.h"

#define PAGE ((size_t)4096)

static void die(const char *what)
{
    fprintf(stderr, "manymaps: %s: %s\n", what, strerror(errno));
    exit(2);
}

int main(int argc, char **argv)
{
    size_t n = 60000, plants = 64;
    uint64_t seed = 1;
    const char *layout = "guard";
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--regions") && v)
            n = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--plants") && v)
            plants = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && v)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--layout") && v)
            layout = argv[++i];
        else {
            fputs("usage: manymaps [--regions N] [--layout guard|holes|one] [--plants K] "
                  "[--seed S]\n",
                  stderr);
            return 2;
        }
    }
    bool one = !strcmp(layout, "one"), holes = !strcmp(layout, "holes");
    if (!n || (!one && !holes && strcmp(layout, "guard"))) {
        fprintf(stderr, "manymaps: bad --regions or --layout\n");
        return 2;
    }
    size_t stride = one ? PAGE : 2 * PAGE;
    uint8_t *base = mmap(NULL, n * stride, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        die("mmap");
    madvise(base, n * stride, MADV_NOHUGEPAGE);
    /* page i: bytes of the generator's stream at page i, whatever the layout */
    uint8_t *block = malloc(HG_BLOCK);
    if (!block)
        die("malloc");
    size_t per_block = HG_BLOCK / PAGE;
    for (size_t i = 0; i < n; i++) {
        if (i % per_block == 0)
            hg_fill(block, HG_BLOCK, seed, i / per_block);
        memcpy(base + i * stride, block + (i % per_block) * PAGE, PAGE);
    }
    free(block);
    hg_rng r = hg_seed(seed, 0x9a9e5);
    char ioc[HG_IOC_MAX];
    for (size_t k = 0; k < plants; k++) {
        size_t len = hg_ioc(k, ioc);
        size_t page = hg_next(&r) % n;
        size_t off = hg_next(&r) % (PAGE - len + 1);
        if (k == 0)
            off = 0; /* first and last bytes of a page */
        else if (k == 1)
            off = PAGE - len;
        memcpy(base + page * stride + off, ioc, len);
        hg_say(1, "PLANT %ld %p %s\n", (long)getpid(), (void *)(base + page * stride + off), ioc);
    }
    explicit_bzero(ioc, sizeof ioc);
    hg_scrub_stack();
    size_t maps = 1;
    if (!one) {
        for (size_t i = 0; i < n; i++) {
            uint8_t *gap = base + i * stride + PAGE;
            if (holes ? munmap(gap, PAGE) : mprotect(gap, PAGE, PROT_NONE))
                die(holes ? "munmap" : "mprotect (raise vm.max_map_count?)");
        }
        maps = holes ? n : 2 * n;
    }
    hg_say(1, "INFO mappings %zu bytes %zu\n", maps, n * PAGE);
    hg_say(1, "READY\n");
    for (;;) {
        char c;
        ssize_t got = read(0, &c, 1);
        if (got == 0 || (got < 0 && errno != EINTR))
            return 0;
    }
}
