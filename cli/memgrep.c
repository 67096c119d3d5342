/* memgrep.c - main: the commands are in the table of commands.c. */
#include <stdio.h>
#include <unistd.h>

#include "commands.h"

int main(int argc, char **argv)
{
    /* Results are written one sink call at a time; a big buffer keeps
     * write(2) out of the engine's serialised callback path. A terminal
     * keeps its line buffering so matches show up as they are found. */
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    return cli_main(argc, argv);
}
