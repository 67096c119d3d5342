// bench_matcher - matcher throughput of libmemgrep through the public
// mg_scan_buffer(), over a 64 MiB heap-like synthetic buffer (heapgen.h: ASCII
// text, pointer-like values, zeros; deterministic), with the engine's default
// chunk size, so chunking, overlap, ownership and folding are included.
//
//   build/bench/bench_matcher [--benchmark_filter=REGEX] [google-benchmark flags]
//
// Pattern sets (deterministic; compiled once per set, outside the timed loop):
//   Literals/N   N IOC-like literals (hg_ioc(0..N-1)), N = 1, 100, 1000, 10000
//   HexMix       200 hex patterns with "??" wildcards (16-24 bytes, from IOC bytes)
//   RegexMix     100 bounded regexes (IOC shapes: domains, URLs, hashes, keys...)
//   HuntMix      1000 literals + the hex and regex mixes together
// 64 copies of IOCs 0..63 are planted in the buffer so every set has matches.
// Throughput is bytes of buffer per second (SetBytesProcessed).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <memgrep/memgrep.h>

#include "targets/heapgen.h"

namespace
{

constexpr size_t kBufferSize = size_t{64} << 20;
constexpr uint64_t kBase = 0x00007f0000000000ull; // pretend address of the buffer

const std::vector<uint8_t> &buffer()
{
    static const std::vector<uint8_t> buf = [] {
        std::vector<uint8_t> b(kBufferSize);
        hg_fill(b.data(), b.size(), 42, 0);
        hg_rng r = hg_seed(42, 0xb00);
        for (unsigned k = 0; k < 64; k++) {
            char ioc[HG_IOC_MAX];
            size_t n = hg_ioc(k, ioc);
            size_t at = hg_next(&r) % (b.size() - n);
            std::copy(ioc, ioc + n, b.begin() + static_cast<ptrdiff_t>(at));
        }
        return b;
    }();
    return buf;
}

struct Pattern {
    mg_pattern_kind kind;
    std::string text;
};

std::vector<Pattern> literals(unsigned n)
{
    std::vector<Pattern> v;
    char ioc[HG_IOC_MAX];
    for (unsigned i = 0; i < n; i++) {
        size_t len = hg_ioc(i, ioc);
        v.push_back({MG_PATTERN_LITERAL, std::string(ioc, len)});
    }
    return v;
}

// Hex patterns: 16-24 bytes of an IOC string, with 2-4 bytes replaced by ??.
std::vector<Pattern> hex_mix()
{
    std::vector<Pattern> v;
    hg_rng r = hg_seed(7, 0x4e);
    char ioc[HG_IOC_MAX];
    for (unsigned i = 0; i < 200; i++) {
        size_t len = hg_ioc(i, ioc);
        size_t n = 16 + hg_next(&r) % 9;
        if (n > len)
            n = len;
        std::vector<bool> wild(n, false);
        unsigned nw = 2 + static_cast<unsigned>(hg_next(&r) % 3);
        for (unsigned k = 0; k < nw; k++)
            wild[1 + hg_next(&r) % (n - 2)] = true; // never first or last byte
        std::string s;
        for (size_t k = 0; k < n; k++) {
            char b[4];
            if (wild[k])
                s += "??";
            else {
                snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(ioc[k]));
                s += b;
            }
            if (k + 1 < n)
                s += ' ';
        }
        v.push_back({MG_PATTERN_HEX, s});
    }
    return v;
}

std::vector<Pattern> regex_mix()
{
    static const char *const fixed[] = {
        R"(https?://[a-z0-9.-]{4,40}\.(top|xyz|ru|cc|biz)/[a-z0-9/]{1,32}\.php)",
        R"(AKIA[0-9A-Z]{16})",
        R"(-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----)",
        R"(ghp_[A-Za-z0-9]{36})",
        R"(xox[bpars]-[0-9A-Za-z-]{10,48})",
        R"(eyJ[A-Za-z0-9_-]{10,64}\.eyJ[A-Za-z0-9_-]{10,64})",
        R"(C:\\Users\\Public\\[a-z0-9]{8}\.(exe|dll|scr))",
        R"(/tmp/\.[a-z0-9]{8}/[a-z0-9]{6}\.so)",
        R"(Global\\[a-z0-9]{7}-[0-9a-f]{8})",
        R"(stratum\+tcp://[a-z0-9.-]{3,40}:[0-9]{2,5})",
        R"(\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}:(4444|1337|31337|6667)\b)",
        R"(powershell(\.exe)? -(enc|e|EncodedCommand) [A-Za-z0-9+/=]{16,64})",
        R"(bash -i >& /dev/tcp/[0-9.]{7,15}/[0-9]{2,5})",
        R"(nc(at)? -e /bin/(ba)?sh)",
        R"(Mozilla/5\.0 \(compatible; [a-z0-9]{6}/[0-9]\.[0-9]{1,2}\))",
        R"(\$6\$[A-Za-z0-9./]{8,16}\$[A-Za-z0-9./]{86})",
        R"(password=[^&\s]{6,32}&)",
        R"(sk_live_[0-9a-zA-Z]{24})",
        R"(LD_PRELOAD=/[a-z0-9/._-]{3,64})",
        R"(/proc/[0-9]{1,7}/mem)",
    };
    std::vector<Pattern> v;
    for (const char *f : fixed)
        v.push_back({MG_PATTERN_REGEX, f});
    // IOC-derived: the domain labels of IOCs with a variable middle.
    char ioc[HG_IOC_MAX];
    for (unsigned i = 0; v.size() < 100; i += 8) {
        hg_ioc(i, ioc); // kind 0: LABEL.cdn-LABEL.TLD
        std::string s(ioc);
        size_t dot = s.find('.');
        v.push_back({MG_PATTERN_REGEX, s.substr(0, dot) + R"(\.cdn-[a-z0-9]{5}\.[a-z]{2,4})"});
    }
    return v;
}

struct PatternsDeleter {
    void operator()(mg_patterns *p) const
    {
        mg_patterns_free(&p);
    }
};
using PatternsPtr = std::unique_ptr<mg_patterns, PatternsDeleter>;

PatternsPtr compile(const std::vector<Pattern> &pats)
{
    mg_patterns *p = nullptr;
    mg_error err{};
    if (mg_patterns_new(&p) < 0) {
        fprintf(stderr, "bench_matcher: mg_patterns_new failed\n");
        std::exit(2);
    }
    PatternsPtr owned(p);
    for (const Pattern &pat : pats) {
        int rc = mg_patterns_add(p, pat.kind, pat.text.data(), pat.text.size(), 0, nullptr, &err);
        if (rc < 0) {
            fprintf(stderr, "bench_matcher: %s: %s\n", mg_strerror(rc), err.message);
            std::exit(2);
        }
    }
    int rc = mg_patterns_compile(p, &err);
    if (rc < 0) {
        fprintf(stderr, "bench_matcher: compile: %s: %s\n", mg_strerror(rc), err.message);
        std::exit(2);
    }
    return owned;
}

// Compiled sets are cached: google-benchmark calls a benchmark function
// several times while it sizes the iteration count.
const mg_patterns *patterns(const std::string &key)
{
    static std::map<std::string, PatternsPtr> cache;
    auto it = cache.find(key);
    if (it != cache.end())
        return it->second.get();
    std::vector<Pattern> pats;
    if (key.rfind("lit", 0) == 0) {
        pats = literals(static_cast<unsigned>(std::strtoul(key.c_str() + 3, nullptr, 10)));
    } else if (key == "hex") {
        pats = hex_mix();
    } else if (key == "regex") {
        pats = regex_mix();
    } else { // hunt
        pats = literals(1000);
        for (auto &v : {hex_mix(), regex_mix()})
            pats.insert(pats.end(), v.begin(), v.end());
    }
    return cache.emplace(key, compile(pats)).first->second.get();
}

int count_match(void *ctx, const mg_match *)
{
    ++*static_cast<uint64_t *>(ctx);
    return MG_SINK_CONTINUE;
}

void run(benchmark::State &state, const mg_patterns *p)
{
    const std::vector<uint8_t> &buf = buffer();
    mg_settings settings;
    mg_default_settings(&settings);
    uint64_t matches = 0;
    mg_sink sink{}; // value-initialised: fields added to mg_sink later stay zero
    sink.ctx = &matches;
    sink.match = count_match;
    for (auto _ : state) {
        mg_stats stats{};
        int rc =
            mg_scan_buffer(p, buf.data(), buf.size(), kBase, settings.chunk_size, 0, &sink, &stats);
        if (rc < 0) {
            state.SkipWithError(mg_strerror(rc));
            break;
        }
        benchmark::DoNotOptimize(stats.bytes_scanned);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(buf.size()));
    state.counters["matches/scan"] =
        state.iterations() ? static_cast<double>(matches) / static_cast<double>(state.iterations())
                           : 0.0;
    state.counters["patterns"] = static_cast<double>(mg_patterns_count(p));
}

void BM_Literals(benchmark::State &state)
{
    const mg_patterns *p = patterns("lit" + std::to_string(state.range(0)));
    run(state, p);
}

void BM_HexMix(benchmark::State &state)
{
    run(state, patterns("hex"));
}

void BM_RegexMix(benchmark::State &state)
{
    run(state, patterns("regex"));
}

void BM_HuntMix(benchmark::State &state)
{
    run(state, patterns("hunt"));
}

} // namespace

BENCHMARK(BM_Literals)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_HexMix)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RegexMix)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_HuntMix)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
