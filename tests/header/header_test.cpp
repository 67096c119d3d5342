// header_test.cpp - the public header compiles as C++ too, first and alone,
// its declarations inside extern "C" (a C++ caller links to the C library),
// and a C++ caller drives the engine handle: a one-shot and a reused
// engine over a buffer-free sweep of no process (an unknown pid is refused
// before anything is scanned), the version checked at run time.
#include "memgrep/memgrep.h"

#include <cstdio>
#include <cstring>

int main()
{
    if (mg_version_api() != MG_API_VERSION || std::strcmp(mg_version(), MG_VERSION) != 0) {
        std::fprintf(stderr, "header %s, library %s\n", MG_VERSION, mg_version());
        return 1;
    }
    mg_settings s;
    if (mg_default_settings(&s) != 0 || s.chunk_size == 0)
        return 1;
    s.threads = 2;
    mg_engine *e = nullptr;
    mg_error err = {};
    if (mg_engine_new(&e, &s, &err) != 0 || !e) {
        std::fprintf(stderr, "mg_engine_new: %s\n", err.message);
        return 1;
    }
    mg_patterns *p = nullptr;
    if (mg_patterns_new(&p) != 0 ||
        mg_patterns_add(p, MG_PATTERN_LITERAL, "x", 1, 0, nullptr, &err) != 0 ||
        mg_patterns_compile(p, &err) != 0) {
        std::fprintf(stderr, "patterns: %s\n", err.message);
        return 1;
    }
    // a pid that cannot exist: refused, twice through the same engine
    const pid_t none[] = {-5};
    mg_targets t = {};
    t.pids = none;
    t.n_pids = 1;
    for (int i = 0; i < 2; i++)
        if (mg_engine_scan(e, &t, p, nullptr, nullptr, &err) != MG_EBADPID)
            return 1;
    mg_engine_free(&e);
    mg_patterns_free(&p);
    return e != nullptr || p != nullptr;
}
