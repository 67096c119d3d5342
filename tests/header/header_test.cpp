// header_test.cpp - the public header compiles as C++ too, first and alone,
// its declarations inside extern "C" (a C++ caller links to the C library).
// A build check, like header_test.c.
#include "memgrep/memgrep.h"

int main()
{
    mg_settings s;
    mg_default_settings(&s);
    return s.chunk_size == 0;
}
