#!/usr/bin/env bash
# watch-soak.sh - does `memgrep watch` stay flat while many short processes
# come and go: its resident memory and open descriptors at the start and at
# the end of SOAK processes churned.
#
#   sudo bench/scripts/watch-soak.sh [BUILDDIR]          (default: build)
#
# Environment: SOAK (short processes, default 100000), RATE (started per
# second, at most; default 1000), PAR (spawners at once, default 4: on a
# busy host one alone starts too few), WARMUP (processes before the first
# figures, default 1000: watch's first tables and the engine's first scans
# allocate once), WATCH_ARGS (more watch options).
#
# What it does:
#  1. Starts `memgrep watch --json --rescan-every 0 --stats-every 1m` with
#     one regex that matches nothing here, and records its VmRSS and open
#     descriptors (/proc/PID/status, /proc/PID/fd) once it is listening.
#  2. Runs /bin/true WARMUP times, records them again (the start figures),
#     then SOAK times more (PAR spawners, each spawning and reaping in turn,
#     at most RATE a second together), every one a fork and an exec watch
#     sees and scans.
#  3. Waits 10 s (the alerts of gone processes are pruned every 5 s),
#     records them a last time, stops watch (SIGTERM) and reports: RSS at
#     the start and the end (goal: within 5%), descriptors (goal: the same;
#     the pidfds of processes still pending, other processes of the host
#     with rescans to come, are counted apart), and watch's counts (scans,
#     events, overruns, dropped).
set -euo pipefail
# shellcheck source=bench/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs watch-soak.sh "${1:-}"

SOAK=${SOAK:-100000}
RATE=${RATE:-1000}
WARMUP=${WARMUP:-1000}
PAR=${PAR:-4}

memgrep=$build/cli/memgrep
bench_need "$memgrep"
if ((EUID != 0)); then
    echo "$bench_name: needs root (the connector needs CAP_NET_ADMIN, scans CAP_SYS_PTRACE)" >&2
    exit 2
fi

watch_pid=
stop_all() {
    stop_pid "$watch_pid"
}
bench_workdir stop_all

figures() { # WHEN: watch's VmRSS (KiB), open descriptors but pidfds, pidfds
    local rss fds pidfds
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$watch_pid/status")
    fds=$(find "/proc/$watch_pid/fd" -mindepth 1 -printf '%l\n')
    pidfds=$(grep -c 'pidfd' <<<"$fds" || true)
    fds=$(($(wc -l <<<"$fds") - pidfds))
    echo "$1 $rss $fds $pidfds" >>"$work/figures.txt"
    echo "  $1: VmRSS $rss KiB, $fds descriptors and $pidfds pidfds (processes pending)"
}

churn() { # N: /bin/true N times, at most RATE a second
    python3 - "$1" "$RATE" <<'PY'
import os, sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])
t0 = time.monotonic()
for i in range(n):
    os.waitpid(os.posix_spawn("/bin/true", ["true"], os.environ), 0)
    time.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
print(f"  {n} processes in {time.monotonic() - t0:.0f} s")
PY
}
churn_par() { # N: churn N in PAR spawners at once, RATE/PAR a second each
    local pids=() i
    for ((i = 0; i < PAR; i++)); do
        RATE=$(python3 -c "print($RATE / $PAR)") churn $(($1 / PAR)) &
        pids+=($!)
    done
    wait "${pids[@]}"
}

# 1. watch
# shellcheck disable=SC2086  # WATCH_ARGS: words
"$memgrep" watch --json --rescan-every 0 --stats-every 1m --db-cache "$work/db-cache" \
    ${WATCH_ARGS:-} -E 'mgs-[0-9a-f]{16}-never;' >"$work/watch.jsonl" 2>"$work/watch.err" &
watch_pid=$!
watch_started "$watch_pid"
echo "watch: pid $watch_pid; $SOAK processes at most $RATE/s after $WARMUP"
load_average before
figures listening

# 2. the churn
churn_par "$WARMUP"
sleep 6
figures start
t0=$(date +%s.%N)
churn_par "$SOAK"
echo "  churn took $(since "$t0") s"

# 3. the end
sleep 10
figures end
kill -TERM "$watch_pid"
wait "$watch_pid" || { echo "$bench_name: watch exited $?: $(cat "$work/watch.err")" >&2; exit 2; }
watch_pid=
load_average after
python3 - "$work/figures.txt" "$work/watch.jsonl" "$SOAK" <<'PY'
import json, sys
fig = {l.split()[0]: tuple(map(int, l.split()[1:])) for l in open(sys.argv[1])}
st = [json.loads(l) for l in open(sys.argv[2]) if '"type":"stats"' in l][-1]
(r0, f0, p0), (r1, f1, p1) = fig["start"], fig["end"]
d = 100 * (r1 - r0) / r0
print(f"RSS: {r0} KiB at the start, {r1} KiB after {sys.argv[3]} processes: {d:+.1f}% "
      f"(goal within 5%: {'met' if abs(d) <= 5 else 'NOT met'}); listening: {fig['listening'][0]} KiB")
print(f"descriptors but pidfds: {f0} at the start, {f1} at the end, {fig['listening'][1]} "
      f"listening (goal: none leaked: {'met' if f1 <= f0 else 'NOT met'}); pidfds of pending "
      f"processes: {p0} at the start, {p1} at the end")
print(f"watch: {st['scans']} scans, {st['events_seen']} events, {st['events_overruns']} overruns, "
      f"{st['events_dropped']} dropped, {st['processes_gone']} gone before or while scanned, "
      f"{st['alerts_held']} alerts held, exec to first scan p99 {st['exec_scan_p99_ms']:.2f} ms")
PY
