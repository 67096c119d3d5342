#!/usr/bin/env bash
# targets.sh - memgrep's remaining performance targets, each measured side by
# side in one run (interleaved rounds, fastest kept; the machine may be shared):
#
#   sudo bench/scripts/targets.sh [BUILDDIR]        (default: build; run scripts/bootstrap first)
#
#  1. shared pages once: 100 processes sharing the same 200 MiB vs one of them
#     (a) anonymous: a pre-fork parent that fills 200 MiB and 99 children
#         (synthhost --procs 100 --prefork-mib 200 --prefork-children 99 --file-mib 0 --total-mib 0)
#     (b) a file: 100 processes mapping the same 200 MiB file
#         (synthhost --procs 100 --prefork-mib 0 --file-mib 200 --total-mib 0)
#     memgrep -p ALL against memgrep -p ONE (one child / one process), with
#     and without --no-dedupe; target: ALL / ONE wall time <= 1.3 with
#     deduplication. Also checks that every process gets all its matches
#     (each pid as many as ONE, in total 100 x ONE's count).
#  2. cost follows resident bytes: one process with 100 MiB of data and an
#     untouched 64 GiB MAP_NORESERVE reservation, one with 100 MiB and a
#     64 GiB PROT_NONE reservation, one with just the 100 MiB (same data,
#     same plants); target: each / plain wall time <= 1.2.
#  3. scanner footprint: memgrep's peak RSS (/usr/bin/time %M) on bench/bigproc
#     (2 GiB) and on the synthetic host of sweep.sh, compiling its database
#     (--no-db-cache) and loading it from the cache, minus the serialized
#     database size (the file in a private --db-cache DIR after one run).
#  4. big IOC sets: 100,000 deterministic literals of 8..24 bytes; cold start
#     (--no-db-cache) and warm start (second run with a private
#     --db-cache DIR) of `memgrep scan -q -f FILE -p PID` on a small process
#     (sleep); target: warm <= 100 ms.
# Every memgrep run: -j JOBS (default 2), patterns from `synthhost --patterns
# 1000` (the sweep's list) unless said otherwise, --json, wall time from date
# +%s.%N around the process, scan time = the summary's elapsed_seconds.
# Environment: JOBS, ROUNDS (rounds for 1 and 3, default 5), SPARSE_ROUNDS
# (default 15), BIG_WARM_RUNS (default 10), ONLY="1 2 3 4" (which parts),
# SEED (default 1).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs targets.sh "$@"
JOBS=${JOBS:-2}
ROUNDS=${ROUNDS:-5}
SPARSE_ROUNDS=${SPARSE_ROUNDS:-15}
BIG_WARM_RUNS=${BIG_WARM_RUNS:-10}
ONLY=${ONLY:-1 2 3 4}
SEED=${SEED:-1}

memgrep=$build/cli/memgrep
synthhost=$build/bench/synthhost
bigproc=$build/bench/bigproc
bench_need "$memgrep" "$synthhost" "$bigproc"
bench_warn_not_root "reading other processes' memory will be denied"

small_pid=
stop_targets() {
    stop_hosts
    stop_pid "$small_pid"
}
bench_workdir stop_targets

pids_of() { awk '$1 == "PROC" { print $2 }' "$work/$1.txt" | paste -sd,; }

"$synthhost" --patterns 1000 >"$work/patterns.txt"
mkdir -p "$work/cache"
cache=(--db-cache "$work/cache/memgrep")

# The report helper: python3 report.py KIND NAMES... reads runs from $work.
cat >"$work/report.py" <<'EOF'
import json, os, re, sys
work = os.path.dirname(os.path.abspath(__file__))
import runs as R
from runs import rd, scan_s, verdict
def runs(name):
    """every round of NAME (runs.py); a summary is needed if NAME ran with --json"""
    return R.runs(work, name, 'targets.sh', '--json' in rd(f'{work}/{name}.cmd'))
def planted(host):
    return R.planted(work, host)
def best(rs, key=lambda r: r['secs']):
    return min(rs, key=key)
def table(hdr, rows, rounds=None):
    w = [max(len(str(x[i])) for x in [hdr] + rows) for i in range(len(hdr))]
    print('| ' + ' | '.join(str(c).ljust(w[k]) if k == 0 else str(c).rjust(w[k]) for k, c in enumerate(hdr)) + ' |')
    print('|' + '|'.join('-' * (n + 2) for n in w) + '|')
    for x in rows:
        print('| ' + ' | '.join(str(c).ljust(w[k]) if k == 0 else str(c).rjust(w[k]) for k, c in enumerate(x)) + ' |')
    for label, rs in rounds or []:
        print(f'  every run, wall s, {label}: {times(rs)}')
def times(rs):
    return ' '.join(f"{r['secs']:.3f}" for r in rs)

kind = sys.argv[1]
if kind == 'shared':
    host, one_pid = sys.argv[2], int(sys.argv[3])
    plants = planted(host)
    pids = sorted({p for p, _, _ in plants} | {int(l.split()[1]) for l in rd(f'{work}/{host}.txt').splitlines() if l.startswith('PROC ')})
    rows, res, rounds = [], {}, []
    for label, name in (('one pid', f'{host}-one'), ('all 100 pids', f'{host}-all'),
                        ('one pid, --no-dedupe', f'{host}-one-nd'), ('all 100 pids, --no-dedupe', f'{host}-all-nd')):
        rs = runs(name)
        b = best(rs)
        res[name] = b
        s = b['summary']
        rows.append([label, f"{b['secs']:.3f}", f"{scan_s(b):.3f}", f"{s['bytes_scanned'] / 2**20:.0f} MiB",
                     f"{s['bytes_deduped'] / 2**20:.0f} MiB", s['matches'], f"{b['rss'] / 1024:.0f} MiB"])
        rounds.append((label, rs))
    table(['memgrep -j 2', 'wall s', 'scan s', 'scanned', 'deduped', 'matches', 'peak RSS'], rows, rounds)
    one, al, alnd = res[f'{host}-one'], res[f'{host}-all'], res[f'{host}-all-nd']
    wr, sr = al['secs'] / one['secs'], scan_s(al) / scan_s(one)
    print(f"  all / one, dedupe on:  wall {wr:.2f}x, scan {sr:.2f}x -> {verdict(wr, 1.3)}")
    print(f"  all / one, dedupe off: wall {alnd['secs'] / res[f'{host}-one-nd']['secs']:.2f}x, "
          f"scan {scan_s(alnd) / scan_s(res[f'{host}-one-nd']):.2f}x (no target)")
    per = one['counts'].get(one_pid, 0)
    for name in (f'{host}-all', f'{host}-all-nd'):
        for r in runs(name):
            bad = [p for p in pids if r['counts'].get(p, 0) != per]
            if bad or r['summary']['matches'] != per * len(pids):
                print(f"  MISMATCH {name}: {r['summary']['matches']} matches, expected {len(pids)} x {per}; "
                      f"pids with another count: {bad[:10]}")
                break
        else:
            print(f"  {name}: every round, each of the {len(pids)} pids got {per} matches "
                  f"(= pid {one_pid} alone), {per * len(pids)} in all")
    miss = plants - al['hits']
    print(f"  planted IOCs at their pid and address (all, dedupe on): {len(plants) - len(miss)}/{len(plants)}")
elif kind == 'sparse':
    rows, res, rounds = [], {}, []
    for label, name in (('100 MiB', 'plain'), ('100 MiB + 64 GiB untouched MAP_NORESERVE', 'reserve'),
                        ('100 MiB + 64 GiB PROT_NONE', 'protnone')):
        rs = runs(f'sparse-{name}')
        b = best(rs)
        bs = best(rs, scan_s)
        res[name] = (b, bs)
        s = b['summary']
        p = planted(name)
        found = len(p & b['hits'])
        rows.append([label, f"{b['secs']:.3f}", f"{scan_s(bs):.4f}", f"{s['bytes_scanned'] / 2**20:.1f} MiB",
                     f"{s['bytes_not_present'] / 2**30:.1f} GiB", f"{s.get('bytes_skipped_noread', 0) / 2**30:.1f} GiB",
                     f"{found}/{len(p)}"])
        rounds.append((name, rs))
    table(['memgrep -j 2 -p PID', 'wall s', 'scan s', 'scanned', 'not present', 'no-read skipped', 'found'], rows, rounds)
    for name in ('reserve', 'protnone'):
        wr = res[name][0]['secs'] / res['plain'][0]['secs']
        sr = scan_s(res[name][1]) / scan_s(res['plain'][1])
        print(f"  {name} / plain: wall {wr:.2f}x, scan {sr:.2f}x -> {verdict(wr, 1.2)}")
elif kind == 'footprint-row':
    # footprint-row LABEL NAME DBBYTES
    label, name, db = sys.argv[2], sys.argv[3], int(sys.argv[4])
    rs = runs(name)
    peak = max(r['rss'] for r in rs) * 1024
    s = best(rs)['summary']
    print('\t'.join([label, f'{peak / 2**20:.1f}', f'{db / 2**20:.2f}', f'{(peak - db) / 2**20:.1f}',
                     f"{(s['bytes_scanned'] + s['bytes_deduped']) / 2**30:.2f}",
                     ' '.join(f"{r['rss'] / 1024:.1f}" for r in rs)]))
elif kind == 'big':
    cold, warm = runs('big-cold'), runs('big-warm')
    first = runs('big-first')[0]
    db = int(sys.argv[2])
    wb = best(warm)
    ws = sorted(r['secs'] for r in warm)
    rows = [['cold: --no-db-cache', f"{best(cold)['secs']:.3f}", '-', f"{max(r['rss'] for r in cold) / 1024:.0f} MiB"],
            ['first run, empty cache (compile + write)', f"{first['secs']:.3f}", '-', f"{first['rss'] / 1024:.0f} MiB"],
            ['warm: cache hit', f"{wb['secs']:.3f}", f"{ws[len(ws) // 2]:.3f}", f"{max(r['rss'] for r in warm) / 1024:.0f} MiB"]]
    table(['memgrep scan -q, 100,000 literals', 'best s', 'median s', 'peak RSS'], rows,
          [('cold', cold), ('warm', warm)])
    print(f"  serialized database: {db} bytes ({db / 2**20:.1f} MiB); exit status of the runs: "
          f"{sorted({r['rc'] for r in cold + warm + [first]})} (1 = no match, expected)")
    print(f"  warm start: {wb['secs'] * 1000:.0f} ms -> {verdict(wb['secs'], 0.100)}")
EOF

load_average before

# Prime the cache for the 1000 literals (parts 1 and 2 measure scanning, not compiling).
sleep 900 &
small_pid=$!
"$memgrep" scan "${cache[@]}" -q -f "$work/patterns.txt" -p "$small_pid" >/dev/null 2>&1 || true

# mg NAME I ARGS...: one memgrep run with the primed cache.
mg() {
    local name=$1 i=$2
    shift 2
    echo "memgrep --json $*" >"$work/$name.cmd"
    run_once "$name" "$i" "$memgrep" scan "${cache[@]}" --json -j "$JOBS" -f "$work/patterns.txt" "$@"
}

# 1. shared pages once
shared_part() { # NAME SYNTHHOST-ARGS...
    local name=$1 all one i
    shift
    start_host "$name" "$synthhost" --procs 100 --sparse 0 --total-mib 0 --seed "$SEED" --dir "$work" "$@"
    all=$(pids_of "$name")
    one=$(awk '$1 == "PROC" && $3 != "prefork-parent" { print $2; exit }' "$work/$name.txt")
    for ((i = 0; i < ROUNDS; i++)); do
        mg "$name-one" "$i" -p "$one"
        mg "$name-all" "$i" -p "$all"
        mg "$name-one-nd" "$i" --no-dedupe -p "$one"
        mg "$name-all-nd" "$i" --no-dedupe -p "$all"
    done
    stop_host "$name"
    python3 "$work/report.py" shared "$name" "$one"
}
if [[ " $ONLY " == *" 1 "* ]]; then
    echo
    echo "== 1a. shared anonymous pages: a pre-fork parent with 200 MiB and 99 children (best of $ROUNDS)"
    shared_part anon --prefork-mib 200 --prefork-children 99 --file-mib 0
    echo
    echo "== 1b. shared file pages: 100 processes mapping one 200 MiB file (best of $ROUNDS)"
    shared_part file --prefork-mib 0 --file-mib 200
fi

# 2. cost follows resident bytes
if [[ " $ONLY " == *" 2 "* ]]; then
    echo
    echo "== 2. cost follows resident bytes: 100 MiB resident, with and without 64 GiB reservations (best of $SPARSE_ROUNDS)"
    one=(--procs 1 --prefork-mib 0 --file-mib 0 --total-mib 100 --min-mib 100 --max-mib 100
        --untouched --seed "$SEED" --dir "$work")
    start_host plain "$synthhost" "${one[@]}" --sparse 0
    start_host reserve "$synthhost" "${one[@]}" --sparse 1 --reserve-gib 64 --protnone-gib 0
    start_host protnone "$synthhost" "${one[@]}" --sparse 1 --reserve-gib 0 --protnone-gib 64
    for ((i = 0; i < SPARSE_ROUNDS; i++)); do
        for n in plain reserve protnone; do
            mg "sparse-$n" "$i" -p "$(pids_of "$n")"
        done
    done
    for n in plain reserve protnone; do
        stop_host "$n"
    done
    python3 "$work/report.py" sparse
fi

# 3. footprint
db_size() { # DIR: total size of the cache files in DIR/memgrep
    find "$1/memgrep" -type f -printf '%s\n' 2>/dev/null | awk '{ n += $1 } END { printf "%d", n }'
}
if [[ " $ONLY " == *" 3 "* ]]; then
    echo
    echo "== 3. scanner footprint: peak RSS (largest of $ROUNDS runs), 1000 literals"
    rm -rf "$work/cache-fp"
    mkdir -p "$work/cache-fp"
    fp=(--db-cache "$work/cache-fp/memgrep")
    "$memgrep" scan "${fp[@]}" -q -f "$work/patterns.txt" -p "$small_pid" >/dev/null 2>&1 || true
    db=$(db_size "$work/cache-fp")
    echo "  serialized database (1000 literals): $db bytes, $(ls "$work/cache-fp/memgrep")"
    start_host bigproc "$bigproc" -g 2
    big=$(awk '$1 == "pid" { print $2 }' "$work/bigproc.txt")
    for ((i = 0; i < ROUNDS; i++)); do
        echo "memgrep --json" >"$work/fp-big-cold.cmd"
        run_once fp-big-cold "$i" "$memgrep" scan --json --no-db-cache -j "$JOBS" -f "$work/patterns.txt" -p "$big"
        echo "memgrep --json" >"$work/fp-big-warm.cmd"
        run_once fp-big-warm "$i" "$memgrep" scan "${fp[@]}" --json -j "$JOBS" -f "$work/patterns.txt" -p "$big"
    done
    stop_host bigproc
    start_host host "$synthhost" --procs 100 --seed "$SEED" --dir "$work"
    all=$(pids_of host)
    for ((i = 0; i < ROUNDS; i++)); do
        for n in fp-host-cold fp-host-warm fp-host-warm-nd; do
            echo "memgrep --json" >"$work/$n.cmd"
        done
        run_once fp-host-cold "$i" "$memgrep" scan --json --no-db-cache -j "$JOBS" -f "$work/patterns.txt" -p "$all"
        run_once fp-host-warm "$i" "$memgrep" scan "${fp[@]}" --json -j "$JOBS" -f "$work/patterns.txt" -p "$all"
        run_once fp-host-warm-nd "$i" "$memgrep" scan "${fp[@]}" --json --no-dedupe -j "$JOBS" \
            -f "$work/patterns.txt" -p "$all"
    done
    stop_host host
    {
        printf 'target, memgrep -j %s\tpeak RSS MiB\tDB MiB\tRSS - DB MiB\tGiB swept\tevery run (MiB)\n' "$JOBS"
        python3 "$work/report.py" footprint-row "bigproc 2 GiB, --no-db-cache (compiles)" fp-big-cold "$db"
        python3 "$work/report.py" footprint-row "bigproc 2 GiB, DB from cache" fp-big-warm "$db"
        python3 "$work/report.py" footprint-row "synthhost 100 procs, --no-db-cache (compiles)" fp-host-cold "$db"
        python3 "$work/report.py" footprint-row "synthhost 100 procs, DB from cache" fp-host-warm "$db"
        python3 "$work/report.py" footprint-row "synthhost 100 procs, DB from cache, --no-dedupe" fp-host-warm-nd "$db"
    } | python3 -c '
import sys
rows = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for k, r in enumerate(rows):
    print("| " + " | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)) + " |")
    if k == 0:
        print("|" + "|".join("-" * (n + 2) for n in w) + "|")
'
fi

# 4. big IOC sets
if [[ " $ONLY " == *" 4 "* ]]; then
    echo
    echo "== 4. big IOC sets: 100,000 literals of 8..24 bytes; memgrep scan -q -p PID (a sleep process)"
    python3 - "$work/big.txt" <<'EOF'
import random, sys
rng = random.Random(100000)
first = 'abcdefghijklmnopqrstuvwxyz0123456789'
rest = first + '.-_/:'
seen = set()
with open(sys.argv[1], 'w') as f:
    while len(seen) < 100000:
        n = rng.randint(8, 24)
        s = rng.choice(first) + ''.join(rng.choice(rest) for _ in range(n - 1))
        if s not in seen:
            seen.add(s)
            f.write(s + '\n')
EOF
    echo "  $(wc -l <"$work/big.txt") literals, $(wc -c <"$work/big.txt") bytes, sha256 $(sha256sum "$work/big.txt" | cut -c1-16)"
    for n in big-cold big-first big-warm; do echo "memgrep -q" >"$work/$n.cmd"; done
    for ((i = 0; i < 2; i++)); do
        run_once big-cold "$i" "$memgrep" scan -q --no-db-cache -j "$JOBS" -f "$work/big.txt" -p "$small_pid"
    done
    rm -rf "$work/cache-big"
    mkdir -p "$work/cache-big"
    big_cache=(--db-cache "$work/cache-big/memgrep")
    run_once big-first 0 "$memgrep" scan "${big_cache[@]}" -q -j "$JOBS" -f "$work/big.txt" -p "$small_pid"
    for ((i = 0; i < BIG_WARM_RUNS; i++)); do
        run_once big-warm "$i" "$memgrep" scan "${big_cache[@]}" -q -j "$JOBS" -f "$work/big.txt" -p "$small_pid"
    done
    python3 "$work/report.py" big "$(db_size "$work/cache-big")"
fi
echo
load_average after
