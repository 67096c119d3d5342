#!/usr/bin/env bash
# python.sh - a sweep through the Python module (`import memgrep`) against
# the memgrep command on the same target, side by side: what the module's
# thread, queue and Python records cost on top of the engine.
#
#   sudo bench/scripts/python.sh [BUILDDIR]        (default: build; -Dbench and the module built)
#
# Environment: GIB (target size, default 2), NPAT (literals, default 1000),
# JOBS (engine threads, default 2), RUNS (rounds, interleaved, fastest
# kept, default 5), PYTHON (default /usr/bin/python3: the interpreter the
# module was built for).
#
# What it does:
#  1. NPAT IOC-like literals: `bigproc --patterns NPAT` (they include the 8
#     strings bigproc plants); starts bench/bigproc with GIB GiB of heap-like
#     data and waits for READY.
#  2. RUNS rounds, each running one after the other (so that load from
#     anything else on the machine hits both alike), wall time of the whole
#     command from date +%s.%N, peak RSS from /usr/bin/time:
#       cli:    memgrep scan --json --no-db-cache -p PID -f PATTERNS -j JOBS
#       python: PYTHON -c 'memgrep.compile(files=[PATTERNS]) ...
#               sweep(pids=[PID], threads=JOBS)', one JSON line per Match
#     Both compile the patterns every run (no database cache) and write
#     every match out; the Python run includes the interpreter's start.
#  3. Checks that both found the same (pattern id, address) set and every
#     planted string at its address; prints a table with python / cli, the
#     ratio of the fastest rounds (and the median ratio of the rounds).
# bigproc is stopped on exit, whatever happens.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs python.sh "$@"
GIB=${GIB:-2}
NPAT=${NPAT:-1000}
JOBS=${JOBS:-2}
RUNS=${RUNS:-5}
PYTHON=${PYTHON:-/usr/bin/python3}

memgrep=$build/cli/memgrep
bigproc=$build/bench/bigproc
bench_need "$memgrep" "$bigproc"
if ! PYTHONPATH=$build/python "$PYTHON" -c 'import memgrep' 2>/dev/null; then
    echo "python.sh: $build/python/memgrep does not import in $PYTHON (python3-dev, -Dpython)" >&2
    exit 2
fi
bench_warn_not_root "reading another process's memory may be denied"

bench_workdir stop_hosts

# 1. patterns and the target
"$bigproc" --patterns "$NPAT" >"$work/patterns.txt"
start_host bigproc "$bigproc" -g "$GIB" -t 900
big_pid=${host_pid[bigproc]}
sed -n 's/^planted //p' "$work/bigproc.txt" >"$work/planted.txt"
echo "target: bigproc pid $big_pid, $GIB GiB; $(wc -l <"$work/planted.txt") strings planted;" \
    "$NPAT patterns; JOBS $JOBS"

cat >"$work/sweep.py" <<'EOF'
import json, sys
import memgrep
patterns, pid, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
scanner = memgrep.compile(files=[patterns])
out = sys.stdout
for rec in scanner.sweep(pids=[pid], threads=jobs):
    if isinstance(rec, memgrep.Match):
        out.write(json.dumps({"type": "match", "pattern_id": rec.pattern_id,
                              "address": hex(rec.address)}) + "\n")
    elif isinstance(rec, memgrep.Summary):
        out.write(json.dumps({"type": "summary", "bytes_scanned": rec.bytes_scanned,
                              "complete": rec.complete}) + "\n")
EOF

# 2. the rounds
load_average before
echo "running (best of $RUNS, interleaved):"
for ((i = 0; i < RUNS; i++)); do
    run_once cli "$i" "$memgrep" scan --json --no-db-cache -p "$big_pid" -f "$work/patterns.txt" \
        -j "$JOBS"
    run_once python "$i" env PYTHONPATH="$build/python" "$PYTHON" "$work/sweep.py" \
        "$work/patterns.txt" "$big_pid" "$JOBS"
done
pick cli 8 runs
pick python 8 runs
load_average after

# 3. the table
python3 - "$work" "$RUNS" <<'EOF'
import json, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])

def records(name):
    return [json.loads(l) for l in open(f"{work}/{name}.out")]

def found(name):
    return {(r["pattern_id"], int(r["address"], 16)) for r in records(name)
            if r["type"] == "match"}

def secs(name, i=None):
    return float(open(f"{work}/{name}.{i}.secs" if i is not None else f"{work}/{name}.secs").read())

bad = 0
for name in ("cli", "python"):
    rc = int(open(f"{work}/{name}.rc").read())
    if rc not in (0, 1):
        print(f"{name}: exit {rc}: {open(f'{work}/{name}.err').read().strip()}")
        bad = 1
cli, py = found("cli"), found("python")
planted = {int(l.split()[0], 16) for l in open(f"{work}/planted.txt")}
scanned = next(r["bytes_scanned"] for r in records("cli") if r["type"] == "summary")
print()
print("| run | wall (s) | GB/s | peak RSS (MiB) | matches | planted found |")
print("|---|---|---|---|---|---|")
for name, f in (("memgrep scan (cli)", cli), ("memgrep module (python)", py)):
    key = "cli" if "cli" in name else "python"
    rss = int(open(f"{work}/{key}.rss").read().split()[-1]) / 1024
    print(f"| {name} | {secs(key):.2f} | {scanned / secs(key) / 1e9:.2f} | {rss:.0f} | {len(f)} "
          f"| {len(planted & {a for _, a in f})}/{len(planted)} |")
ratios = [secs("python", i) / secs("cli", i) for i in range(runs)]
print()
print(f"python / cli: {secs('python') / secs('cli'):.3f} (fastest rounds); "
      f"median of the {runs} rounds' ratios {statistics.median(ratios):.3f}")
if cli != py:
    print(f"DIFFERENT: {len(cli - py)} only in cli, {len(py - cli)} only in python")
    bad = 1
if not planted <= {a for _, a in py}:
    print("python missed planted strings")
    bad = 1
sys.exit(bad)
EOF
