// bench_readers - how fast each way of copying another process's memory is,
// so the engine's choice of reader per page class rests on numbers.
//
//   build/bench/bench_readers [--benchmark_filter=REGEX] [google-benchmark flags]
//
// Target: a forked child that maps two 256 MiB regions of private anon memory,
// touches them, sends their addresses over a pipe and pause()s until killed:
//   4k   MADV_NOHUGEPAGE, filled with 0x5a: every page a 4 KiB page
//   thp  2 MiB aligned, MADV_HUGEPAGE, filled with 0xa5: 2 MiB pages (the
//        context line target_thp_AnonHugePages_kB says how much got THPs)
// The pages are the child's own (mapped after fork): exclusive, present.
//
// Every benchmark copies the whole region once per iteration into a reused,
// pre-faulted buffer of one call's size (as an engine worker does), and
// reports bytes/s over wall time. "cores" is this process's CPU time (all its
// threads, io_uring's io-wq workers included) per wall second: the CPU a
// reader burns, which for io_uring is not the calling thread's. "GiB/cpu-s"
// is bytes per second of that CPU time: the cost of a byte, and a figure that
// other load on the machine disturbs less than bytes_per_second (a
// single-threaded synchronous reader with cores well below 1 was preempted).
//
//   pvr/iov:NxS             process_vm_readv, N iovecs of S bytes per call
//   pread/chunk:S           pread on /proc/PID/mem, S bytes per call
//   uring/qd:Q/MODE         io_uring READ on /proc/PID/mem, 1 MiB per read, Q in
//                           flight; MODE: plain, async (IOSQE_ASYNC), fixed
//                           (registered buffers, READ_FIXED), async+fixed
//   mg_read_pvr/...         the engine's readers (reader.h) with 1 MiB ops,
//   mg_read_mem/{uring,pread}/...   batch:B ops per call (the engine's scan
//                           loop passes one op per 1 MiB work unit: batch:1)
//   .../threads:2           two threads, each copying half the region
// Each is run on both regions: names end in /4k or /thp (before the
// /real_time and /threads:N suffixes google-benchmark adds).
#include "targets/target_child.h"
#include <benchmark/benchmark.h>

// Before the extern "C" block: in C++ liburing's barrier.h includes <atomic>.
#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
#include "os/reader.h"
}

namespace
{

constexpr size_t kKiB = 1024, kMiB = 1024 * kKiB, kGiB = 1024 * kMiB;
constexpr size_t kRegion = 256 * kMiB;
constexpr size_t kHuge = 2 * kMiB;

enum Region {
    k4k,
    kThp,
};
constexpr const char *kRegionName[] = {"4k", "thp"};
constexpr uint8_t kFill[] = {0x5a, 0xa5};

[[noreturn]] void die(const char *what)
{
    bench_die("bench_readers", what);
}

// The child: maps and touches both regions, reports their addresses, waits.
// Only async-signal-safe calls: the parent may already have threads.
[[noreturn]] void target_main(int wfd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    uint64_t addr[2] = {0, 0};
    void *p = mmap(nullptr, kRegion, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        madvise(p, kRegion, MADV_NOHUGEPAGE);
        memset(p, kFill[k4k], kRegion);
        addr[k4k] = reinterpret_cast<uintptr_t>(p);
    }
    // Over-map by 2 MiB, align, and trim the slop so the VMA is exactly the region.
    void *q =
        mmap(nullptr, kRegion + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q != MAP_FAILED) {
        uintptr_t base = reinterpret_cast<uintptr_t>(q);
        uintptr_t a = (base + kHuge - 1) & ~(uintptr_t{kHuge} - 1);
        if (a > base)
            munmap(q, a - base);
        if (a + kRegion < base + kRegion + kHuge)
            munmap(reinterpret_cast<void *>(a + kRegion), base + kRegion + kHuge - (a + kRegion));
        madvise(reinterpret_cast<void *>(a), kRegion, MADV_HUGEPAGE);
        memset(reinterpret_cast<void *>(a), kFill[kThp], kRegion);
        addr[kThp] = a;
    }
    if (write(wfd, addr, sizeof addr) != static_cast<ssize_t>(sizeof addr))
        _exit(1);
    close(wfd);
    for (;;)
        pause();
}

// AnonHugePages (kB) of the target's VMA that holds addr, or -1.
long anon_huge_kb(pid_t pid, uint64_t addr)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    bool in_vma = false;
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long start, end;
        if (sscanf(line, "%llx-%llx ", &start, &end) == 2) {
            in_vma = start <= addr && addr < end;
        } else if (in_vma && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return kb;
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
    long thp_kb[2] = {-1, -1};

  private:
    Target() : TargetChild("bench_readers", target_main, "mem")
    {
        for (int r : {k4k, kThp})
            thp_kb[r] = anon_huge_kb(pid, addr[r]);
    }
};

// A page-aligned, pre-faulted buffer (4 KiB pages: THP=madvise and no madvise).
class Buffer
{
  public:
    explicit Buffer(size_t len) : len_(len)
    {
        void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            die("mmap buffer");
        p_ = static_cast<uint8_t *>(p);
        memset(p_, 0, len);
    }
    ~Buffer()
    {
        munmap(p_, len_);
    }
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;

    uint8_t *data() const
    {
        return p_;
    }

  private:
    uint8_t *p_;
    size_t len_;
};

double seconds(clockid_t clock)
{
    timespec ts;
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double process_cpu_seconds()
{
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    auto tv = [](const timeval &t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// Each reader below copies [addr, addr + len) of the target into its buffer,
// call by call; read() returns false and sets error on a failed or short read.
// sample() is a byte of the buffer, to check that target bytes arrived.

// process_vm_readv: iovs remote iovecs of iov_len bytes per call, each into its
// own local iovec (as mg_read_pvr does), one copy straight into our buffer.
class PvrReader
{
  public:
    PvrReader(size_t iov_len, size_t iovs)
        : iov_len_(iov_len), per_call_(iov_len * iovs), buf_(per_call_), local_(iovs), remote_(iovs)
    {
        for (size_t i = 0; i < iovs; i++)
            local_[i] = {buf_.data() + i * iov_len, iov_len};
    }

    bool read(pid_t pid, int, uint64_t addr, size_t len)
    {
        for (uint64_t off = 0; off < len; off += per_call_) {
            for (size_t i = 0; i < remote_.size(); i++)
                remote_[i] = {reinterpret_cast<void *>(addr + off + i * iov_len_), iov_len_};
            ssize_t n = process_vm_readv(pid, local_.data(), local_.size(), remote_.data(),
                                         remote_.size(), 0);
            if (n != static_cast<ssize_t>(per_call_))
                return fail(n < 0 ? strerror(errno) : "short read");
        }
        return true;
    }

    uint8_t sample() const
    {
        return buf_.data()[0];
    }
    std::string error;

  private:
    bool fail(const char *why)
    {
        error = std::string("process_vm_readv: ") + why;
        return false;
    }
    size_t iov_len_, per_call_;
    Buffer buf_;
    std::vector<iovec> local_, remote_;
};

// pread on /proc/PID/mem: the kernel copies through a bounce page, 4 KiB at a
// time, under the target's mmap_lock; no pinning, so no unsharing.
class PreadReader
{
  public:
    explicit PreadReader(size_t chunk) : chunk_(chunk), buf_(chunk)
    {
    }

    bool read(pid_t, int fd, uint64_t addr, size_t len)
    {
        for (uint64_t off = 0; off < len; off += chunk_) {
            ssize_t n = pread(fd, buf_.data(), chunk_, static_cast<off_t>(addr + off));
            if (n != static_cast<ssize_t>(chunk_)) {
                error = std::string("pread: ") + (n < 0 ? strerror(errno) : "short read");
                return false;
            }
        }
        return true;
    }

    uint8_t sample() const
    {
        return buf_.data()[0];
    }
    std::string error;

  private:
    size_t chunk_;
    Buffer buf_;
};

// io_uring READ (or READ_FIXED from registered buffers) on /proc/PID/mem, qd
// reads of chunk bytes in flight, each into its own buffer slot. The file has
// no FMODE_NOWAIT, so every read is punted to an io-wq worker; IOSQE_ASYNC
// skips the failed inline try (and, per the reference, lets several workers run).
class UringReader
{
  public:
    UringReader(unsigned qd, bool async, bool fixed, size_t chunk)
        : qd_(qd), async_(async), fixed_(fixed), chunk_(chunk), buf_(qd * chunk)
    {
        int rc = io_uring_queue_init(qd, &ring_, 0);
        if (rc < 0) {
            error = std::string("io_uring_queue_init: ") + strerror(-rc);
            return;
        }
        ring_up_ = ok_ = true;
        if (fixed) {
            std::vector<iovec> iov(qd);
            for (unsigned i = 0; i < qd; i++)
                iov[i] = {slot(i), chunk};
            rc = io_uring_register_buffers(&ring_, iov.data(), qd);
            if (rc < 0) {
                error = std::string("io_uring_register_buffers: ") + strerror(-rc);
                ok_ = false;
            }
        }
        for (unsigned i = 0; i < qd; i++)
            free_.push_back(qd - 1 - i);
    }
    ~UringReader()
    {
        if (ring_up_)
            io_uring_queue_exit(&ring_);
    }
    UringReader(const UringReader &) = delete;
    UringReader &operator=(const UringReader &) = delete;

    bool read(pid_t, int fd, uint64_t addr, size_t len)
    {
        if (!ok_)
            return false;
        size_t n = len / chunk_, next = 0, done = 0;
        while (done < n) {
            while (next < n && !free_.empty()) {
                io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
                if (!sqe)
                    break; // the SQ is full until the submit below
                unsigned s = free_.back();
                free_.pop_back();
                uint64_t at = addr + next * chunk_;
                if (fixed_)
                    io_uring_prep_read_fixed(sqe, fd, slot(s), static_cast<unsigned>(chunk_), at,
                                             static_cast<int>(s));
                else
                    io_uring_prep_read(sqe, fd, slot(s), static_cast<unsigned>(chunk_), at);
                if (async_)
                    sqe->flags |= IOSQE_ASYNC;
                sqe->user_data = s;
                next++;
            }
            int rc = io_uring_submit_and_wait(&ring_, 1);
            if (rc < 0 && rc != -EINTR)
                return fail(strerror(-rc));
            io_uring_cqe *cqe;
            unsigned head, seen = 0;
            bool bad = false;
            io_uring_for_each_cqe(&ring_, head, cqe)
            {
                bad |= cqe->res != static_cast<int>(chunk_);
                if (cqe->res < 0)
                    error = strerror(-cqe->res);
                free_.push_back(static_cast<unsigned>(cqe->user_data));
                seen++;
            }
            io_uring_cq_advance(&ring_, seen);
            done += seen;
            if (bad) {
                drain();
                return fail(error.empty() ? "short read" : error.c_str());
            }
        }
        return true;
    }

    uint8_t sample() const
    {
        return buf_.data()[0];
    }
    std::string error;

  private:
    uint8_t *slot(unsigned i) const
    {
        return buf_.data() + i * chunk_;
    }
    bool fail(const std::string &why)
    {
        error = "io_uring read: " + why;
        return false;
    }
    // Wait for the reads still in flight, so the next call starts clean.
    void drain()
    {
        while (free_.size() < qd_) {
            io_uring_cqe *cqe;
            if (io_uring_wait_cqe(&ring_, &cqe) < 0)
                break;
            free_.push_back(static_cast<unsigned>(cqe->user_data));
            io_uring_cqe_seen(&ring_, cqe);
        }
    }

    unsigned qd_;
    bool async_, fixed_;
    size_t chunk_;
    Buffer buf_;
    io_uring ring_{};
    bool ring_up_ = false, ok_ = false;
    std::vector<unsigned> free_;
};

// The engine's readers: batch ops of op_len bytes per mg_read_pvr/mg_read_mem
// call. mem_reader PREAD or URING picks mg_read_mem's path; label() says
// which one it really used (it falls back to pread if io_uring fails).
class EngineReader
{
  public:
    enum Kind {
        kPvr,
        kMem,
    };
    EngineReader(Kind kind, mg_mem_reader choice, size_t op_len, size_t batch)
        : kind_(kind), op_len_(op_len), buf_(op_len * batch), ops_(batch)
    {
        if (kind == kMem)
            mg_reader_init(&reader_, choice);
    }
    ~EngineReader()
    {
        if (kind_ == kMem)
            mg_reader_fini(&reader_);
    }
    EngineReader(const EngineReader &) = delete;
    EngineReader &operator=(const EngineReader &) = delete;

    bool read(pid_t pid, int fd, uint64_t addr, size_t len)
    {
        size_t per_call = op_len_ * ops_.size();
        for (uint64_t off = 0; off < len; off += per_call) {
            for (size_t i = 0; i < ops_.size(); i++)
                ops_[i] = {addr + off + i * op_len_, op_len_, buf_.data() + i * op_len_, 0, 0};
            int rc = kind_ == kPvr ? mg_read_pvr(pid, ops_.data(), ops_.size())
                                   : mg_read_mem(&reader_, fd, ops_.data(), ops_.size());
            if (rc < 0)
                return fail(rc);
            for (const mg_read_op &op : ops_)
                if (op.got != op.len)
                    return fail(op.err ? op.err : -EIO);
        }
        return true;
    }

    const char *label() const
    {
        return kind_ == kPvr ? "" : reader_.uring ? "io_uring" : "pread";
    }
    uint8_t sample() const
    {
        return buf_.data()[0];
    }
    std::string error;

  private:
    bool fail(int rc)
    {
        error = std::string(kind_ == kPvr ? "mg_read_pvr: " : "mg_read_mem: ") + strerror(-rc);
        return false;
    }
    Kind kind_;
    size_t op_len_;
    Buffer buf_;
    std::vector<mg_read_op> ops_;
    mg_reader reader_{};
};

// The timed loop shared by all: this thread's share of the region per
// iteration (all of it, or a half per thread with ->Threads(2)).
template <class Reader> void run(benchmark::State &state, Region r, Reader &rd)
{
    const Target &t = Target::get();
    const size_t share = kRegion / static_cast<size_t>(state.threads());
    const uint64_t lo = t.addr[r] + share * static_cast<size_t>(state.thread_index());
    if (!rd.error.empty()) { // setup failed
        state.SkipWithError(rd.error.c_str());
        return;
    }
    double wall0 = seconds(CLOCK_MONOTONIC), cpu0 = process_cpu_seconds();
    for (auto _ : state) {
        if (!rd.read(t.pid, t.fd, lo, share)) {
            state.SkipWithError(rd.error.c_str());
            break;
        }
    }
    double wall = seconds(CLOCK_MONOTONIC) - wall0, cpu = process_cpu_seconds() - cpu0;
    if (state.error_occurred())
        return;
    if (rd.sample() != kFill[r]) {
        state.SkipWithError("the buffer does not hold the target's bytes");
        return;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * share));
    if (state.thread_index() == 0 && wall > 0 && cpu > 0) { // one thread speaks for all
        double all = static_cast<double>(state.iterations() * kRegion); // every thread's bytes
        state.counters["cores"] = cpu / wall;
        state.counters["GiB/cpu-s"] = all / static_cast<double>(kGiB) / cpu;
    }
}

void bm_pvr(benchmark::State &state, Region r, size_t iov_len, size_t iovs)
{
    PvrReader rd(iov_len, iovs);
    run(state, r, rd);
}

void bm_pread(benchmark::State &state, Region r, size_t chunk)
{
    PreadReader rd(chunk);
    run(state, r, rd);
}

void bm_uring(benchmark::State &state, Region r, unsigned qd, bool async, bool fixed)
{
    UringReader rd(qd, async, fixed, kMiB);
    run(state, r, rd);
}

void bm_engine(benchmark::State &state, Region r, EngineReader::Kind kind, mg_mem_reader choice,
               size_t batch)
{
    EngineReader rd(kind, choice, kMiB, batch);
    run(state, r, rd);
    state.SetLabel(rd.label());
}

std::string size_name(size_t n)
{
    return n % kMiB == 0 ? std::to_string(n / kMiB) + "M" : std::to_string(n / kKiB) + "K";
}

void register_all()
{
    struct PvrShape {
        size_t iov_len, iovs;
    };
    // One iovec at growing chunk sizes, then many iovecs per call (up to UIO_MAXIOV).
    const PvrShape pvr_shapes[] = {
        {64 * kKiB, 1}, {kMiB, 1}, {16 * kMiB, 1}, {4 * kKiB, 256}, {4 * kKiB, 1024}, {kMiB, 64},
    };
    struct UringMode {
        const char *name;
        bool async, fixed;
    };
    const UringMode modes[] = {
        {"plain", false, false},
        {"async", true, false},
        {"fixed", false, true},
        {"async+fixed", true, true},
    };
    for (Region r : {k4k, kThp}) {
        const std::string sfx = std::string("/") + kRegionName[r];
        auto reg = [&](const std::string &name, auto fn, auto... args) {
            return benchmark::RegisterBenchmark((name + sfx).c_str(), fn, r, args...)
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
        };
        for (const PvrShape &s : pvr_shapes)
            reg("pvr/iov:" + std::to_string(s.iovs) + "x" + size_name(s.iov_len), bm_pvr, s.iov_len,
                s.iovs);
        for (size_t chunk : {64 * kKiB, kMiB})
            reg("pread/chunk:" + size_name(chunk), bm_pread, chunk);
        for (unsigned qd : {1u, 8u, 32u})
            for (const UringMode &m : modes)
                reg("uring/qd:" + std::to_string(qd) + "/" + m.name + "/chunk:1M", bm_uring, qd,
                    m.async, m.fixed);
        for (size_t batch : {size_t{1}, size_t{32}}) {
            const std::string b = "/op:1M/batch:" + std::to_string(batch);
            reg("mg_read_pvr" + b, bm_engine, EngineReader::kPvr, MG_MEM_READER_AUTO, batch);
            reg("mg_read_mem/uring" + b, bm_engine, EngineReader::kMem, MG_MEM_READER_URING, batch);
        }
        reg("mg_read_mem/pread/op:1M/batch:1", bm_engine, EngineReader::kMem, MG_MEM_READER_PREAD,
            size_t{1});
        // Two workers on one target, each copying its half (2 cores here).
        reg("pvr/iov:1x1M", bm_pvr, kMiB, size_t{1})->Threads(2);
        reg("pread/chunk:1M", bm_pread, kMiB)->Threads(2);
    }
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    const Target &t = Target::get();
    benchmark::AddCustomContext("target_pid", std::to_string(t.pid));
    benchmark::AddCustomContext("target_4k_AnonHugePages_kB", std::to_string(t.thp_kb[k4k]));
    benchmark::AddCustomContext("target_thp_AnonHugePages_kB", std::to_string(t.thp_kb[kThp]));
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
