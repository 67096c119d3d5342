#!/usr/bin/env bash
# regions.sh - two per-region / per-process costs, each against its reference
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
# Every run: memgrep scan --json -j JOBS -f FILE (the 1,000 literals of
# `synthhost --patterns 1000`, database from a primed private cache).
# Environment: JOBS (2), ROUNDS (7), REGIONS (60000), ONLY ("1 2").
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs regions.sh "$@"
JOBS=${JOBS:-2}
ROUNDS=${ROUNDS:-7}
REGIONS=${REGIONS:-60000}
ONLY=${ONLY:-1 2}

memgrep=$build/cli/memgrep
synthhost=$build/bench/synthhost
manymaps=$build/bench/manymaps
bench_need "$memgrep" "$synthhost" "$manymaps"
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
"$memgrep" scan "${cache[@]}" -q -f "$work/patterns.txt" -p $! >/dev/null 2>&1 || true
kill $! 2>/dev/null || true

mg() { # NAME I ARGS...
    local name=$1 i=$2
    shift 2
    run_once "$name" "$i" "$memgrep" scan "${cache[@]}" --json -j "$JOBS" -f "$work/patterns.txt" "$@"
}

cat >"$work/report.py" <<'PY'
import json, os, sys
work = os.path.dirname(os.path.abspath(__file__))
import runs as R
from runs import rd, scan_s, verdict
def runs(name):
    return R.runs(work, name, 'regions.sh')
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
    python3 "$work/report.py" maps "$REGIONS"
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
    python3 "$work/report.py" prefork "$one"
fi
echo
load_average after
