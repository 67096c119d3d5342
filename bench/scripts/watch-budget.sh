#!/usr/bin/env bash
# watch-budget.sh - does `memgrep watch --budget PCT` keep its CPU time
# within PCT percent of one CPU (+10%), over minutes, on a host with steady
# processes, while it rescans them back to back (and reads large ones).
#
#   sudo bench/scripts/watch-budget.sh [BUILDDIR]       (default: build)
#
# Environment: BUDGET (percent of one CPU, default 5), MINUTES (default 10),
# PROCS (steady processes started here, default 4), MIB (MiB of non-zero
# bytes each holds, default 256), WATCH_ARGS (more watch options).
#
# What it does:
#  1. Starts PROCS python processes, each holding MIB MiB of non-zero bytes
#     (resident, unchanging) and sleeping: large processes to be read.
#  2. Starts `memgrep watch --json --budget BUDGET --rescan-every 1s
#     --stats-every 1m` with one regex that matches nothing here: every
#     process of the host is scanned again and again (one pass after the
#     other), new ones at exec.
#  3. Every minute, and at the end, reads watch's CPU time (utime + stime of
#     /proc/PID/stat) and prints the share of one CPU since its start record,
#     and of that minute.
#  4. Stops watch (SIGTERM) and prints the share over the whole run against
#     the goal (BUDGET + 10%), the bytes it scanned and its passes.
set -euo pipefail
# shellcheck source=bench/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs watch-budget.sh "${1:-}"

BUDGET=${BUDGET:-5}
MINUTES=${MINUTES:-10}
PROCS=${PROCS:-4}
MIB=${MIB:-256}

memgrep=$build/cli/memgrep
bench_need "$memgrep"
if ((EUID != 0)); then
    echo "$bench_name: needs root (scans need CAP_SYS_PTRACE)" >&2
    exit 2
fi

watch_pid=
steady_pids=()
stop_all() {
    stop_pid "$watch_pid"
    local p
    for p in "${steady_pids[@]}"; do stop_pid "$p"; done
}
bench_workdir stop_all

# 1. steady processes
for ((i = 0; i < PROCS; i++)); do
    python3 -c "import time; b = bytearray(b'\x5a') * ($MIB << 20); print('READY', flush=True); time.sleep(1e6)" \
        >"$work/steady.$i" &
    steady_pids+=($!)
done
for ((i = 0; i < PROCS; i++)); do
    until grep -q READY "$work/steady.$i"; do sleep 0.1; done
done
echo "steady: $PROCS processes of $MIB MiB (pids ${steady_pids[*]})"
load_average before

# 2. watch
ticks=$(getconf CLK_TCK)
cpu_s() { # watch's CPU seconds (utime + stime)
    awk -v t="$ticks" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$watch_pid/stat"
}
# shellcheck disable=SC2086  # WATCH_ARGS: words
"$memgrep" watch --json --budget "$BUDGET" --rescan-every 1s --stats-every 1m \
    --db-cache "$work/db-cache" ${WATCH_ARGS:-} -E 'mgb-[0-9a-f]{16}-never;' \
    >"$work/watch.jsonl" 2>"$work/watch.err" &
watch_pid=$!
watch_started "$watch_pid"
t0=$(date +%s.%N)
c0=$(cpu_s)
echo "watch: pid $watch_pid, --budget $BUDGET, $MINUTES minutes"

# 3. every minute
tp=$t0 cp=$c0
for ((m = 1; m <= MINUTES; m++)); do
    sleep 60
    t=$(date +%s.%N) c=$(cpu_s)
    python3 -c "print(f'  minute $m: {100 * ($c - $cp) / ($t - $tp):.2f}% of one CPU this minute, {100 * ($c - $c0) / ($t - $t0):.2f}% since the start')"
    tp=$t cp=$c
done
t1=$(date +%s.%N)
c1=$(cpu_s)

# 4. stop and report
kill -TERM "$watch_pid"
wait "$watch_pid" || { echo "$bench_name: watch exited $?: $(cat "$work/watch.err")" >&2; exit 2; }
watch_pid=
load_average after
python3 - "$work/watch.jsonl" "$BUDGET" "$c0" "$c1" "$t0" "$t1" <<'PY'
import json, sys
stats = [json.loads(l) for l in open(sys.argv[1]) if '"type":"stats"' in l][-1]
budget, c0, c1, t0, t1 = map(float, sys.argv[2:])
share = 100 * (c1 - c0) / (t1 - t0)
print(f"watch CPU: {c1 - c0:.1f} s in {t1 - t0:.0f} s = {share:.2f}% of one CPU "
      f"(--budget {budget:g}; goal <= {budget * 1.1:.2f}%: {'met' if share <= budget * 1.1 else 'NOT met'})")
print(f"watch: {stats['scans']} scans, {stats['passes']} passes, "
      f"{stats['bytes_scanned'] / 2**30:.1f} GiB scanned")
PY
