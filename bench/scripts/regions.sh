#!/usr/bin/env bash
# regions.sh - per-region / per-process costs, each against its reference
# in one run (interleaved rounds, fastest kept; the machine may be shared):
#
#   sudo bench/scripts/regions.sh [BUILDDIR]        (default: build)
#
#  1. many small mappings: bench/manymaps with 60,000 one-page mappings
#     between unmapped holes (--layout holes), and with PROT_NONE guard pages
#     (--layout guard: 120,000 mappings; vm.max_map_count is raised to
#     262144 while it runs, as root, and restored), against the same bytes in
#     one mapping (--layout one); target: scan time (elapsed_seconds) of
#     holes / one <= 2.0. Every planted IOC must be found at its address.
#  2. memory shared after fork: synthhost --procs 100 --prefork-mib 200
#     --prefork-children 99 (a parent and 99 children sharing 200 MiB),
#     memgrep -p ALL against -p ONE child; target: <= 2.0 (wall and scan);
#     every pid must get ONE's count of matches.
#  3. a kernel without PAGEMAP_SCAN: synthhost --procs 1 with 100 MiB of
#     data and an untouched 64 GiB MAP_NORESERVE reservation, memgrep with
#     LD_PRELOAD=bench's libnoscan.so (the ioctl fails with ENOTTY, as
#     before Linux 6.7) against memgrep as it is; target: scan time <= 1.2x.
#     Every planted IOC must be found at its address.
#  4. many idle processes: `idlehost --procs IDLE` (IDLE `sleep`s) as the
#     first process of a pid namespace of its own (unshare --pid --fork
#     --mount-proc), and a whole-host sweep (no -p) entered into it
#     (nsenter -p -m): every process of that "host"; target: <= 1.0 s.
#     CPU time (user + system) is shown too: on a shared machine it says
#     more than wall time.
# Every run: memgrep scan --json -j JOBS -f FILE (the 1,000 literals of
# `synthhost --patterns 1000`, database from a primed private cache).
# With BASE=DIR (another build directory, e.g. main's) every case also runs
# DIR/cli/memgrep in the same rounds, alternating, and is reported for both.
# Environment: JOBS (2), ROUNDS (7), REGIONS (60000), IDLE (5000), BASE,
# ONLY ("1 2 3 4").
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs regions.sh "$@"
JOBS=${JOBS:-2}
ROUNDS=${ROUNDS:-7}
REGIONS=${REGIONS:-60000}
IDLE=${IDLE:-5000}
BASE=${BASE:-}
ONLY=${ONLY:-1 2 3 4}

memgrep=$build/cli/memgrep
synthhost=$build/bench/synthhost
manymaps=$build/bench/manymaps
idlehost=$build/bench/idlehost
noscan=$build/bench/libnoscan.so
bench_need "$memgrep" "$synthhost" "$manymaps" "$idlehost"
[[ -e $noscan ]] || { echo "regions.sh: $noscan missing: run scripts/bootstrap" >&2; exit 2; }
# tool prefixes: "" is this build's memgrep, "base-" BASE's
tools=("")
if [[ -n $BASE ]]; then
    BASE=$(cd "$BASE" && pwd)
    bench_need "$BASE/cli/memgrep"
    tools+=(base-)
fi
bench_warn_not_root "reading other processes' memory will be denied"

old_max_map=
stop_targets() {
    stop_hosts
    if [[ -n $old_max_map ]]; then
        sysctl -qw vm.max_map_count="$old_max_map" || true
    fi
}
bench_workdir stop_targets

"$synthhost" --patterns 1000 >"$work/patterns.txt"
mkdir -p "$work/cache"
cache=(--db-cache "$work/cache/memgrep")
sleep 60 &
for t in "${tools[@]}"; do # each build's database into the cache
    exe=$memgrep
    [[ -z $t ]] || exe=$BASE/cli/memgrep
    "$exe" scan "${cache[@]}" -q -f "$work/patterns.txt" -p $! >/dev/null 2>&1 || true
done
kill $! 2>/dev/null || true

mg() { # NAME I ARGS...: one run of each tool, as PREFIX+NAME
    local name=$1 i=$2 t exe
    shift 2
    for t in "${tools[@]}"; do
        exe=$memgrep
        [[ -z $t ]] || exe=$BASE/cli/memgrep
        run_once "$t$name" "$i" "${pre[@]}" "$exe" scan "${cache[@]}" --json -j "$JOBS" \
            -f "$work/patterns.txt" "$@"
    done
}
pre=() # a command the runs go through (env, nsenter)
bench_time_format='%U %S %M' # CPU time too (the machine may be shared)

cat >"$work/report.py" <<'PY'
import json, os, sys
work = os.path.dirname(os.path.abspath(__file__))
import runs as R
from runs import rd, scan_s, verdict
pfx = sys.argv[-1] if sys.argv[-1] in ('new', 'base-') else 'new'
pfx = '' if pfx == 'new' else pfx
def runs(name):
    rs = R.runs(work, pfx + name, 'regions.sh')
    for r, l in zip(rs, [l for l in rd(f'{work}/{pfx}{name}.all').split('\n') if l.strip()]):
        t = rd(f"{work}/{pfx}{name}.{l.split()[1]}.rss").split()  # %U %S %M
        r['cpu'] = float(t[-3]) + float(t[-2]) if len(t) >= 3 else float('nan')
    return rs
def planted(host):
    return R.planted(work, host)
def row(label, name, host=None):
    rs = runs(name)
    w, s = min(rs, key=lambda r: r['secs']), min(rs, key=scan_s)
    found = ''
    if host:
        p = planted(host)
        found = f"{min(len(p & r['hits']) for r in rs)}/{len(p)}"
    print(f"| {label} | {w['secs']:.3f} | {scan_s(s):.3f} | {s['summary']['regions_scanned']} | "
          f"{s['summary']['bytes_scanned'] / 2**20:.1f} MiB | {s['summary']['bytes_deduped'] / 2**20:.0f} MiB | {found} |")
    return w, s, rs
kind = sys.argv[1]
print(f"-- {'BASE ' + os.environ.get('BASE', '') if pfx else 'this build'}:")
print('| case | wall s | scan s | regions | scanned | deduped | found |')
print('|---|---|---|---|---|---|---|')
if kind == 'maps':
    one = row('one mapping', 'one', 'one')
    holes = row(f'{sys.argv[2]} one-page mappings, holes between', 'holes', 'holes')
    guard = row(f'{sys.argv[2]} one-page mappings + PROT_NONE guards', 'guard', 'guard') if os.path.exists(f'{work}/guard.all') else None
    for label, x in (('every run, scan s, one', one), ('holes', holes), ('guard', guard)):
        if x:
            print(f"  {label}: {' '.join(f'{scan_s(r):.3f}' for r in x[2])}")
    for label, x in (('holes', holes), ('guard', guard)):
        if x:
            print(f"  {label} / one: scan {scan_s(x[1]) / scan_s(one[1]):.2f}x -> {verdict(scan_s(x[1]) / scan_s(one[1]), 2.0)}, "
                  f"wall {x[0]['secs'] / one[0]['secs']:.2f}x")
elif kind == 'noscan':
    scan = row('64 GiB reservation, PAGEMAP_SCAN', 'ns-scan', 'reserve')
    enotty = row('64 GiB reservation, ENOTTY (libnoscan.so)', 'ns-enotty', 'reserve')
    for label, x in (('every run, scan s, PAGEMAP_SCAN', scan), ('ENOTTY', enotty)):
        print(f"  {label}: {' '.join(f'{scan_s(r):.3f}' for r in x[2])}")
    q = scan_s(enotty[1]) / scan_s(scan[1])
    print(f"  ENOTTY / PAGEMAP_SCAN: scan {q:.2f}x -> {verdict(q, 1.2)}, "
          f"wall {enotty[0]['secs'] / scan[0]['secs']:.2f}x")
elif kind == 'idle':
    w, s, rs = row(f'whole host: {sys.argv[2]} sleeps + idlehost', 'idle')
    n = s['summary']['processes_scanned']
    walls = ' '.join(f"{r['secs']:.3f}" for r in rs)
    print(f"  every run, wall s: {walls}; scan s: "
          f"{' '.join(f'{scan_s(r):.3f}' for r in rs)}")
    c = min(rs, key=lambda r: r['cpu'])
    cpus = ' '.join(f"{r['cpu']:.2f}" for r in rs)
    print(f"  CPU s (user + system), every run: {cpus}; "
          f"least {c['cpu']:.2f} s = {1e6 * c['cpu'] / max(c['summary']['processes_scanned'], 1):.0f} us/process")
    print(f"  {n} processes scanned, {s['summary']['processes_failed']} failed; "
          f"{1e6 * scan_s(s) / max(n, 1):.0f} us/process (scan); wall {w['secs']:.3f} s -> "
          f"{verdict(w['secs'], 1.0)}, scan {scan_s(s):.3f} s -> {verdict(scan_s(s), 1.0)}")
else:
    one_pid = int(sys.argv[2])
    one = row('one child', 'pf-one')
    al = row('all 100 pids', 'pf-all', 'pf')
    print(f"  every run, scan s, one: {' '.join(f'{scan_s(r):.3f}' for r in one[2])}")
    print(f"  every run, scan s, all: {' '.join(f'{scan_s(r):.3f}' for r in al[2])}")
    print(f"  all / one: scan {scan_s(al[1]) / scan_s(one[1]):.2f}x -> {verdict(scan_s(al[1]) / scan_s(one[1]), 2.0)}, "
          f"wall {al[0]['secs'] / one[0]['secs']:.2f}x -> {verdict(al[0]['secs'] / one[0]['secs'], 2.0)}")
    per = one[0]['counts'].get(one_pid, 0)
    pids = {int(l.split()[1]) for l in rd(f'{work}/pf.txt').splitlines() if l.startswith('PROC ')}
    bad = [r for r in al[2] if any(r['counts'].get(p, 0) != per for p in pids)]
    print(f"  every round: each of the {len(pids)} pids got {per} matches: {'yes' if not bad else 'NO'}")
PY

load_average before
if [[ " $ONLY " == *" 1 "* ]]; then
    echo
    echo "== 1. $REGIONS one-page mappings vs the same bytes in one mapping (best of $ROUNDS)"
    layouts=(one holes)
    if ((EUID == 0)); then
        old_max_map=$(sysctl -n vm.max_map_count)
        if ((old_max_map < 2 * REGIONS + 1000)); then
            sysctl -qw vm.max_map_count=$((2 * REGIONS + 1000))
        fi
        layouts+=(guard)
    fi
    for l in "${layouts[@]}"; do
        start_host "$l" "$manymaps" --regions "$REGIONS" --layout "$l"
    done
    for ((i = 0; i < ROUNDS; i++)); do
        for l in "${layouts[@]}"; do
            mg "$l" "$i" -p "${host_pid[$l]}"
        done
    done
    for l in "${layouts[@]}"; do
        stop_host "$l"
    done
    if [[ -n $old_max_map ]]; then
        sysctl -qw vm.max_map_count="$old_max_map"
        old_max_map=
    fi
    for t in "${tools[@]}"; do
        python3 "$work/report.py" maps "$REGIONS" "${t:-new}"
    done
fi
if [[ " $ONLY " == *" 2 "* ]]; then
    echo
    echo "== 2. 100 processes sharing 200 MiB after fork vs one child (best of $ROUNDS)"
    start_host pf "$synthhost" --procs 100 --sparse 0 --total-mib 0 --seed 1 --dir "$work" \
        --prefork-mib 200 --prefork-children 99 --file-mib 0
    all=$(awk '$1 == "PROC" { print $2 }' "$work/pf.txt" | paste -sd,)
    one=$(awk '$1 == "PROC" && $3 == "prefork-child" { print $2; exit }' "$work/pf.txt")
    for ((i = 0; i < ROUNDS; i++)); do
        mg pf-one "$i" -p "$one"
        mg pf-all "$i" -p "$all"
    done
    stop_host pf
    for t in "${tools[@]}"; do
        python3 "$work/report.py" prefork "$one" "${t:-new}"
    done
fi
if [[ " $ONLY " == *" 3 "* ]]; then
    echo
    echo "== 3. an untouched 64 GiB reservation without PAGEMAP_SCAN (ENOTTY) vs with it (best of $ROUNDS)"
    start_host reserve "$synthhost" --procs 1 --prefork-mib 0 --file-mib 0 --total-mib 100 \
        --min-mib 100 --max-mib 100 --untouched --seed 1 --dir "$work" --sparse 1 \
        --reserve-gib 64 --protnone-gib 0
    rpid=$(awk '$1 == "PROC" { print $2; exit }' "$work/reserve.txt")
    for ((i = 0; i < ROUNDS; i++)); do
        pre=()
        mg ns-scan "$i" -p "$rpid"
        pre=(env "LD_PRELOAD=$noscan")
        mg ns-enotty "$i" -p "$rpid"
    done
    pre=()
    stop_host reserve
    for t in "${tools[@]}"; do
        python3 "$work/report.py" noscan "${t:-new}"
    done
fi
if [[ " $ONLY " == *" 4 "* ]]; then
    echo
    echo "== 4. a whole-host sweep of $IDLE idle processes (sleep), in a pid namespace (best of $ROUNDS)"
    ((EUID == 0)) || { echo "regions.sh: part 4 needs root (a pid namespace)" >&2; exit 2; }
    start_host idle unshare --pid --fork --kill-child --mount-proc "$idlehost" --procs "$IDLE"
    ipid=$(ps -o pid= --ppid "${host_pid[idle]}" | awk 'NR == 1 { print $1 }')
    pre=(nsenter -t "$ipid" -p -m)
    for ((i = 0; i < ROUNDS; i++)); do
        mg idle "$i"
    done
    pre=()
    stop_host idle
    for t in "${tools[@]}"; do
        python3 "$work/report.py" idle "$IDLE" "${t:-new}"
    done
fi
echo
load_average after
