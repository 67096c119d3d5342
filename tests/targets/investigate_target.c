/* investigate_target.c - test_investigate's target (investigate_target.h):
 * maps the region between two PROT_NONE guard pages, plants the runs,
 * writes the target struct to stdout and waits to be killed. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "investigate_target.h"

int main(void)
{
    uint8_t *g = mmap(NULL, T_SIZE + 2 * T_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g == MAP_FAILED || mprotect(g + T_PAGE, T_SIZE, PROT_READ | PROT_WRITE) < 0)
        return 3;
    madvise(g + T_PAGE, T_SIZE, MADV_NOHUGEPAGE); /* pages present one by one */
    target t = {.pid = getpid(), .start = (uint64_t)(uintptr_t)(g + T_PAGE)};
    t.end = t.start + T_SIZE;
    fill_target(g + T_PAGE, &t);
    if (write(STDOUT_FILENO, &t, sizeof t) != (ssize_t)sizeof t)
        return 3;
    for (;;)
        pause();
}
