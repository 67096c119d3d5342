/*
 * docs_target.c - the process that the examples of README.md and
 * docs/guide.md are run against (tests/docs_examples.py), holding what the
 * recipes look for:
 *
 *   [heap]  "export DBPASS=hunter2-Typed-Secret" (a line typed into a shell)
 *   [anon]  "stratum+tcp://pool.example.net:3333" (a miner's pool),
 *           "evil.example.com" and the same in UTF-16LE (a C2 domain),
 *           4d 5a 90 00 50 45 00 00 ("MZ", "PE": a Windows executable's marks)
 *
 * Each plant sits in zeroed memory (32 bytes of zeros at least on each side,
 * the scan's default context), so the examples' output is the same every
 * run but for pids and addresses. No plant exists whole in this program's
 * image: each is stored shifted by one and decoded straight into its place,
 * so a scan of this process finds each exactly once (twice for the domain:
 * once in ASCII, once in UTF-16LE with --wide).
 *
 * It writes "READY\n" to stdout once every plant is in place, then waits
 * for EOF on stdin (or its parent's death) and exits.
 */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/* volatile: the compiler cannot decode the plants into the image */
static volatile int shift = 1;

/* Writes enc, each byte minus one, to dst; returns the length. */
static size_t plant(char *dst, const char *enc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(enc[i] - shift);
    return n;
}

int main(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* the first allocation: the heap holds nothing else */
    char *heap = calloc(1, 256);
    char *anon = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!heap || anon == MAP_FAILED)
        return 3;
    plant(heap + 64, "fyqpsu!ECQBTT>ivoufs3.Uzqfe.Tfdsfu", 34);
    plant(anon + 0x100, "tusbuvn,udq;00qppm/fybnqmf/ofu;4444", 35);
    size_t n = plant(anon + 0x400, "fwjm/fybnqmf/dpn", 16);
    for (size_t i = 0; i < n; i++)
        anon[0x800 + 2 * i] = anon[0x400 + i];
    plant(anon + 0xc00, "\x4e\x5b\x91\x01\x51\x46\x01\x01", 8);
    if (write(1, "READY\n", 6) != 6)
        return 3;
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}
