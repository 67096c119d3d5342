/* header_test.c - the public header compiles on its own, first and alone
 * (no other include before it), under the project's strict warnings. It is
 * a build check: if this file builds, the test has passed. */
#include "memgrep/memgrep.h"

int main(void)
{
    mg_settings s;
    mg_default_settings(&s);
    return s.chunk_size == 0;
}
