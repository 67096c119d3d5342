#!/usr/bin/env bash
# watch-rescan.sh - does a rescan pass of `memgrep watch` over an unchanged
# host read at most 10% of the bytes and use at most 10% of the CPU of the
# first pass (incremental reads: page-cache pages of unchanged files are
# not read again; anonymous memory is).
#
#   sudo bench/scripts/watch-rescan.sh [BUILDDIR]       (default: build)
#
# Environment: RESCAN (--rescan-every, default 30s: longer than a pass),
# PROCS (steady processes started here, default 4), FILE_MIB (MiB of a data
# file each maps and reads, default 64; the same file for all), FILE (map
# this file instead, e.g. a large library: one not changed for minutes, as
# a host's binaries are; a file just written has its pages' dirty bits
# checked at each reuse), ANON_MIB (MiB of anonymous memory each holds,
# default 0), WATCH_ARGS.
#
# What it does:
#  1. Writes a FILE_MIB MiB file (on the build directory's filesystem) and
#     starts PROCS python processes that map it and read every page (its
#     page-cache pages, in each), hold ANON_MIB MiB of anonymous bytes, and
#     sleep: steady processes whose memory is mostly file pages, like a host
#     of services running the same binaries and libraries.
#  2. Starts `memgrep watch --json --rescan-every RESCAN --stats-every 0.2s`
#     with one regex that matches nothing here. Its first pass starts at
#     once, the second RESCAN after.
#  3. At each stats record reads watch's CPU time (utime + stime of
#     /proc/PID/stat). Pass 1: from the start record to the first record
#     with passes 1. Pass 2: from the first record at or after start +
#     RESCAN to the first with passes 2. Between them watch only scans
#     new processes (others' execs) and waits: that gap's rate is printed
#     too, the background either pass carries.
#  4. Prints bytes read (bytes_read), bytes reused and CPU seconds of each
#     pass, and pass 2 / pass 1 against the goal (<= 10% each). A whole host
#     is rarely unchanged (other processes start, write, exit): so also
#  5. with build/bench/bench_rescan (built unless -Dbench=disabled), three
#     passes through one engine over the steady processes alone (which do
#     not change), and with --soft-dirty where the kernel keeps the bits.
set -euo pipefail
# shellcheck source=bench/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs watch-rescan.sh "${1:-}"

RESCAN=${RESCAN:-30s}
PROCS=${PROCS:-4}
FILE_MIB=${FILE_MIB:-64}
ANON_MIB=${ANON_MIB:-0}

memgrep=$build/cli/memgrep
bench_need "$memgrep"
if ((EUID != 0)); then
    echo "$bench_name: needs root (scans need CAP_SYS_PTRACE)" >&2
    exit 2
fi

steady_pids=()
data=
stop_all() {
    local p
    for p in "${steady_pids[@]}"; do stop_pid "$p"; done
    [[ -z $data ]] || rm -f "$data"
}
bench_workdir stop_all

# 1. the file and the steady processes
if [[ -n ${FILE:-} ]]; then
    mapped=$FILE
else
    data=$(mktemp "$build/watch-rescan.XXXXXX")
    head -c "$((FILE_MIB << 20))" /dev/urandom >"$data"
    sync "$data"
    mapped=$data
fi
for ((i = 0; i < PROCS; i++)); do
    python3 - "$mapped" "$ANON_MIB" >"$work/steady.$i" <<'PY' &
import mmap, sys, time
f = open(sys.argv[1], 'rb')
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
sum(m[i] for i in range(0, len(m), 4096))
b = bytearray(b'\x5a') * (int(sys.argv[2]) << 20)
print('READY', flush=True)
time.sleep(1e6)
PY
    steady_pids+=($!)
done
for ((i = 0; i < PROCS; i++)); do
    until grep -q READY "$work/steady.$i"; do sleep 0.1; done
done
echo "steady: $PROCS processes mapping $mapped ($(($(stat -c %s "$mapped") >> 20)) MiB), $ANON_MIB MiB anonymous each"
load_average before

# 2. watch (started by the monitor, which reads its CPU time from its start
# record on); 3. its stats records, and its CPU time at each
watch_cmd=("$memgrep" watch --json --rescan-every "$RESCAN" --stats-every 0.2s
    --db-cache "$work/db-cache")
# shellcheck disable=SC2206  # WATCH_ARGS: words
watch_cmd+=(${WATCH_ARGS:-} -E 'mgb-[0-9a-f]{16}-never;')
python3 - "$work" "$(getconf CLK_TCK)" "$RESCAN" "${watch_cmd[@]}" <<'PY'
import json, re, signal, subprocess, sys, time
work, tck, rescan, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
m = re.fullmatch(r'([0-9.]+)(ms|s|m|h)?', rescan)
rescan_s = float(m.group(1)) * {'ms': 1e-3, 's': 1, 'm': 60, 'h': 3600, None: 1}[m.group(2)]
path = work + '/watch.jsonl'
w = subprocess.Popen(cmd, stdout=open(path, 'w'), stderr=open(work + '/watch.err', 'w'))
pid = w.pid
print(f'watch: pid {pid}, --rescan-every {rescan}', flush=True)

def cpu():
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(') ', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tck

f = open(path)
while True:  # the start record: its first pass starts now
    line = f.readline()
    if '"type":"start"' in line:
        break
    if w.poll() is not None:
        sys.exit('watch-rescan.sh: watch exited: ' + open(work + '/watch.err').read())
    if not line:
        time.sleep(0.002)
t0 = time.monotonic()
c0 = cpu()
marks = []  # (seconds since the start record, cpu, record)
deadline = t0 + 20 * max(rescan_s, 30)
while time.monotonic() < deadline:
    line = f.readline()
    if not line:
        time.sleep(0.02)
        continue
    if '"type":"stats"' not in line:
        continue
    rec = json.loads(line)
    marks.append((time.monotonic() - t0, cpu(), rec))
    if rec['passes'] >= 2:
        break
else:
    w.kill()
    sys.exit('watch-rescan.sh: no second pass before the deadline')

def first(cond):
    for m in marks:
        if cond(m):
            return m
    for t, c, r in marks[::10]:
        print(f'  {t:6.2f} s: passes {r["passes"]}, scans {r["scans"]}', file=sys.stderr)
    sys.exit('watch-rescan.sh: the stats records do not show two passes as expected')

end1 = first(lambda m: m[2]['passes'] >= 1)
start2 = first(lambda m: m[0] >= max(rescan_s, end1[0]))  # a pass longer than RESCAN: the next at its end
end2 = first(lambda m: m[2]['passes'] >= 2)
zero = (0.0, c0, {'bytes_read': 0, 'bytes_reused': 0, 'scans': 0})

def delta(a, b):
    return (b[0] - a[0], b[1] - a[1], b[2]['bytes_read'] - a[2]['bytes_read'],
            b[2]['bytes_reused'] - a[2]['bytes_reused'], b[2]['scans'] - a[2]['scans'])

p1, gap, p2 = delta(zero, end1), delta(end1, start2), delta(start2, end2)
for name, d in (('pass 1', p1), ('between', gap), ('pass 2', p2)):
    print(f'{name:8}: {d[0]:6.2f} s wall, {d[1]:6.2f} s CPU, {d[4]:5} scans, '
          f'read {d[2] / 2**20:9.1f} MiB, reused {d[3] / 2**20:9.1f} MiB')
rb = p2[2] / p1[2] if p1[2] else float('nan')
rc = p2[1] / p1[1] if p1[1] else float('nan')
print(f'pass 2 / pass 1: bytes read {100 * rb:.1f}% (goal <= 10%: {"met" if rb <= 0.1 else "NOT met"}), '
      f'CPU {100 * rc:.1f}% (goal <= 10%: {"met" if rc <= 0.1 else "NOT met"}); CPU time has '
      f'1/{tck} s steps')
w.send_signal(signal.SIGTERM)
if w.wait() != 0:
    sys.exit(f'watch-rescan.sh: watch exited {w.returncode}: ' + open(work + '/watch.err').read())
PY
load_average after

# 5. the steady processes alone, through one engine
rescan=$build/bench/bench_rescan
if [[ -x $rescan ]]; then
    echo "bench_rescan: the $PROCS steady processes alone"
    "$rescan" --passes 3 "${steady_pids[@]}"
    echo "bench_rescan --soft-dirty (nothing saved where the kernel keeps no soft-dirty bits):"
    "$rescan" --soft-dirty --passes 3 "${steady_pids[@]}"
else
    echo "($rescan not built: -Dbench=disabled)"
fi
