// bench_residency - the cost of finding a target's present pages before any
// read (residency.h), which every scan pays for every mapped byte, resident
// or not: a sparse heap or a big reservation must cost (almost) nothing.
//
//   build/bench/bench_residency [--benchmark_filter=REGEX] [google-benchmark flags]
//
// Target: a forked child that pause()s until killed, holding
//   islands   a 16 GiB MAP_NORESERVE private anon reservation (MADV_NOHUGEPAGE)
//             of which 256 MiB is touched: a 64 KiB island at every 1 MiB of
//             its first 4 GiB (4096 islands; the last 12 GiB never touched)
//   protnone  a 16 GiB PROT_NONE reservation (no page tables at all)
//
//   present_ranges/ioctl/R    mg_present_ranges over all 16 GiB of R with the
//                             PAGEMAP_SCAN ioctl (ranges straight from the kernel)
//   present_ranges/ioctl+skip_zero/R   the same, leaving out zero-page mappings
//                             (the engine's mode when no pattern matches zeros)
//   present_ranges/entries/R  the fallback for kernels before 6.7: read 8 bytes
//                             of pagemap per page, join the runs
//   pagemap_read/pages:256/W  one mg_pagemap_read of 256 entries: what a worker
//                             reads per 1 MiB work unit to classify its pages.
//                             W: islands (16 present + 240 absent, cycling
//                             through the 4096 islands), untouched, protnone
// items_per_second is pages of address space walked per second; the counters
// say what each walk found (ranges, present MiB) and must match the target.
#include "targets/target_child.h"
#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
#include "os/residency.h"
}

namespace
{

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB, kGiB = 1024 * kMiB;
constexpr uint64_t kPage = 4 * kKiB;
constexpr uint64_t kReserve = 16 * kGiB;
constexpr uint64_t kIsland = 64 * kKiB, kIslandStride = kMiB, kIslands = 4096;
constexpr uint64_t kTouchedSpan = kIslands * kIslandStride; // 4 GiB
constexpr size_t kUnitPages = 256; // 1 MiB work unit

enum Region {
    kIslandsRegion,
    kProtNone,
};
constexpr const char *kRegionName[] = {"islands", "protnone"};

// The child: maps both reservations, touches the islands, reports the
// addresses, waits. Only async-signal-safe calls.
[[noreturn]] void target_main(int wfd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    uint64_t addr[2] = {0, 0};
    void *p = mmap(nullptr, kReserve, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
        madvise(p, kReserve, MADV_NOHUGEPAGE);
        for (uint64_t i = 0; i < kIslands; i++)
            memset(static_cast<char *>(p) + i * kIslandStride, 0x5a, kIsland);
        addr[kIslandsRegion] = reinterpret_cast<uintptr_t>(p);
    }
    void *q =
        mmap(nullptr, kReserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (q != MAP_FAILED)
        addr[kProtNone] = reinterpret_cast<uintptr_t>(q);
    if (write(wfd, addr, sizeof addr) != static_cast<ssize_t>(sizeof addr))
        _exit(1);
    close(wfd);
    for (;;)
        pause();
}

// The target process; created on first use, killed at exit (static destructor).
class Target : public TargetChild
{
  public:
    static const Target &get()
    {
        static Target t;
        return t;
    }

  private:
    Target() : TargetChild("bench_residency", target_main, "pagemap")
    {
    }
};

struct Found {
    uint64_t ranges = 0, bytes = 0;
};

int count_range(void *ctx, uint64_t start, uint64_t end, bool file)
{
    (void)file;
    Found *f = static_cast<Found *>(ctx);
    f->ranges++;
    f->bytes += end - start;
    return 0;
}

// One walk of the whole 16 GiB reservation per iteration.
void bm_present_ranges(benchmark::State &state, Region r, bool ioctl, bool skip_zero)
{
    const Target &t = Target::get();
    Found f;
    bool use_ioctl = ioctl;
    for (auto _ : state) {
        f = Found();
        int rc = mg_present_ranges(t.fd, t.addr[r], t.addr[r] + kReserve, &use_ioctl, skip_zero,
                                   count_range, &f);
        if (rc != 0) {
            state.SkipWithError(rc < 0 ? strerror(-rc) : "callback stopped the walk");
            return;
        }
        if (use_ioctl != ioctl) {
            state.SkipWithError("PAGEMAP_SCAN is not available: this ran the fallback");
            return;
        }
    }
    const uint64_t want_ranges = r == kIslandsRegion ? kIslands : 0;
    if (f.ranges != want_ranges || f.bytes != want_ranges * kIsland) {
        state.SkipWithError("the walk did not find the target's islands");
        return;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * (kReserve / kPage)));
    state.counters["ranges"] = static_cast<double>(f.ranges);
    state.counters["present_MiB"] = static_cast<double>(f.bytes) / kMiB;
}

// One 1 MiB work unit's worth of entries per iteration, moving 1 MiB on each
// time through the first 4 GiB of the region (islands: the touched part;
// untouched: the 12 GiB above it, page tables never allocated).
void bm_pagemap_read(benchmark::State &state, Region r, bool untouched)
{
    const Target &t = Target::get();
    const uint64_t base = t.addr[r] + (untouched ? kTouchedSpan : 0);
    std::vector<uint64_t> ent(kUnitPages);
    uint64_t unit = 0, present = 0;
    for (auto _ : state) {
        int rc = mg_pagemap_read(t.fd, base + unit * kIslandStride, kUnitPages, ent.data());
        if (rc < 0) {
            state.SkipWithError(strerror(-rc));
            return;
        }
        for (uint64_t e : ent)
            present += (e & MG_PM_PRESENT) != 0;
        unit = (unit + 1) % kIslands;
    }
    const uint64_t want = r == kIslandsRegion && !untouched ? kIsland / kPage : 0;
    if (present != want * state.iterations()) {
        state.SkipWithError("the entries do not show the target's islands");
        return;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kUnitPages));
    state.counters["present/unit"] =
        static_cast<double>(present) / static_cast<double>(state.iterations());
}

void register_all()
{
    struct Walk {
        const char *name;
        bool ioctl, skip_zero;
    };
    for (Region r : {kIslandsRegion, kProtNone}) {
        for (const Walk &w : {Walk{"ioctl", true, false}, Walk{"ioctl+skip_zero", true, true},
                              Walk{"entries", false, false}}) {
            std::string name =
                std::string("present_ranges/") + w.name + "/" + kRegionName[r] + "16G";
            benchmark::RegisterBenchmark(name.c_str(), bm_present_ranges, r, w.ioctl, w.skip_zero)
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
        }
    }
    struct Where {
        const char *name;
        Region r;
        bool untouched;
    };
    for (const Where &w :
         {Where{"islands", kIslandsRegion, false}, Where{"untouched", kIslandsRegion, true},
          Where{"protnone", kProtNone, false}}) {
        std::string name = std::string("pagemap_read/pages:256/") + w.name;
        benchmark::RegisterBenchmark(name.c_str(), bm_pagemap_read, w.r, w.untouched)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
    }
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::AddCustomContext("target_pid", std::to_string(Target::get().pid));
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
