#!/usr/bin/env bash
# gentle.sh - "safe to leave running on a busy server": what a memgrep sweep
# costs the work it runs beside, and whether its rate cap and timeout hold.
#
#   sudo bench/scripts/gentle.sh [BUILDDIR]        (default: build; run scripts/bootstrap first)
#
# Environment: GIB (target size, default 2), NPAT (literals, default 1000),
# SECS (victim run, default 10), ROUNDS (default 3), MODES (co-running modes,
# default "alone default gentle"; also "idle" and "nice"), RATE (--max-rate
# test, default 200M), VICTIM_ARGS (extra bench/victim arguments, e.g.
# --no-pin), ONLY="corun rate timeout" (which parts).
#
# What it does:
#  1. Starts bench/bigproc with GIB GiB of heap-like data (as compare.sh) and
#     writes `bigproc --patterns NPAT` as the pattern file. One untimed sweep
#     fills a private database cache (XDG_CACHE_HOME in the scratch
#     directory), so the timed sweeps load their database instead of
#     compiling it, and gives the bytes a whole sweep reads
#     (bytes_read_pvr + bytes_read_mem).
#  2. Co-running, ROUNDS interleaved rounds (the order of the modes rotates
#     each round): bench/victim --seconds SECS (one thread per CPU, each
#     pinned to its CPU, fixed ~50-100 us work items; see victim.c) with
#       alone    nothing else
#       default  memgrep scan --json -p PID -f PATTERNS, back to back for the
#                victim's whole run
#       gentle   the same with --gentle
#       idle     the same with --idle            (only if in MODES)
#       nice     the same with --nice 19         (only if in MODES)
#     When memgrep has --timeout, each looped sweep gets the time left of the
#     victim's run as its --timeout, so the last one stops with a summary when
#     the victim does; otherwise the sweep still running when the victim exits
#     is killed and not counted. Reported per mode: the victim's items/s and
#     p50/p99/p99.9/max item latency (median and best over the rounds),
#     throughput loss and p99 rise against alone (medians), and the sweeps'
#     own GB/s: bytes read (bytes_read_pvr + bytes_read_mem) over their wall
#     time. Targets: gentle loses <= 5% throughput, p99 rises <= 10%.
#  3. --max-rate RATE, one sweep: wall time against bytes read / RATE
#     (K/M/G = 1024-based, like --chunk-size); target within +-10%.
#  4. --timeout 1 on sweeps that need 5 s or more: (a) -j 1 with 3 slow
#     regular expressions (CPU-bound, ~80 s for 2 GiB here), (b) --max-rate
#     300M (sleeping in the rate cap, ~7 s). Wall time to exit (target
#     <= 1.5 s), exit status 3, and the last stdout line a JSON summary with
#     "complete": false and "stop_reason": "timeout".
# A flag this memgrep lacks (it is looked up in `memgrep scan --help`) is
# reported as "flag not supported by this memgrep" and its part skipped, so
# the script can be re-run as the flags land. bigproc is killed on exit.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs gentle.sh "$@"
GIB=${GIB:-2}
NPAT=${NPAT:-1000}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-alone default gentle}
RATE=${RATE:-200M}
VICTIM_ARGS=${VICTIM_ARGS:-}
ONLY=${ONLY:-corun rate timeout}

memgrep=$build/cli/memgrep
bigproc=$build/bench/bigproc
victim=$build/bench/victim
bench_need "$memgrep" "$bigproc" "$victim"
bench_warn_not_root "reading another process's memory may be denied"

bench_workdir stop_hosts
export XDG_CACHE_HOME=$work/cache

# has FLAG: whether `memgrep scan --help` lists FLAG.
"$memgrep" scan --help >"$work/help.txt" 2>&1 || true
has() {
    grep -qE -- "^ +(-[[:alnum:]], )?$1([ =,]|$)" "$work/help.txt"
}
# need FLAG WHAT: has FLAG, or say that WHAT is skipped and fail.
need() {
    if has "$1"; then
        return 0
    fi
    echo "gentle.sh: $1: flag not supported by this memgrep; $2 skipped (re-run once it lands)"
    echo "$1 $2" >>"$work/skipped.txt"
    return 1
}
: >"$work/skipped.txt"
flags=""
for f in --max-rate --idle --nice --gentle --timeout --process-timeout; do
    if has "$f"; then flags+=" $f"; else flags+=" ($f missing)"; fi
done
echo "memgrep flags:$flags"

# 1. patterns, the target, the cache
"$bigproc" --patterns "$NPAT" >"$work/patterns.txt"
python3 -c "
for i in range(3): print('re:[a-z]{%d,}[0-9][A-Z]{%d}q%03d' % (3 + i, 2 + i, i))
" >"$work/slow.txt"
start_host bigproc "$bigproc" -g "$GIB" -t 1800
big_pid=${host_pid[bigproc]}
echo "target: bigproc pid $big_pid, $GIB GiB; $NPAT patterns"
sweep=("$memgrep" scan --json -p "$big_pid" -f "$work/patterns.txt")
run_once prime 0 "${sweep[@]}"
python3 - "$work/prime.0.out" "$work/prime.0.rc" >"$work/total_read" <<'EOF'
import json, sys
rc = open(sys.argv[2]).read().strip()
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
if s.get('type') != 'summary' or rc not in ('0', '1'):
    sys.exit(f'gentle.sh: the first sweep failed (exit {rc})')
print(s['bytes_read_pvr'] + s['bytes_read_mem'])
EOF
echo "one sweep: $(cut -c1-5 "$work/prime.0.secs") s, $(cat "$work/total_read") bytes read" \
    "(database compiled into the private cache)"
load_average before | tee "$work/load.txt"
if python3 -c "import os, sys; sys.exit(os.getloadavg()[0] < os.cpu_count() / 2)"; then
    echo "gentle.sh: warning: load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs:" \
        "the co-running figures will measure that load more than memgrep"
fi

# 2. co-running. corun.py MODE ROUND SECS OUT TIMEOUT N VICTIM(N words) [SWEEP...]
# runs the victim and, if a SWEEP command is given, that sweep back to back
# until the victim exits (TIMEOUT: true to give each sweep --timeout); appends
# one JSON record to OUT and prints a progress line.
cat >"$work/corun.py" <<'EOF'
import json, subprocess, sys, time
a = sys.argv
n = int(a[6])
cfg = dict(mode=a[1], round=int(a[2]), secs=float(a[3]), out=a[4], timeout=a[5] == 'true',
           victim=a[7:7 + n], sweep=a[7 + n:])
t0 = time.monotonic()
v = subprocess.Popen(cfg['victim'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
end = t0 + cfg['secs'] + 0.05  # the victim's deadline, about (its setup comes first)
sweeps = []
while cfg['sweep'] and v.poll() is None:
    cmd = list(cfg['sweep'])
    if cfg['timeout']:
        cmd += ['--timeout', '%.3f' % max(0.05, end - time.monotonic())]
    s0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cut = False
    while p.poll() is None:
        if v.poll() is not None and not cfg['timeout']:
            p.terminate()
            cut = True
        time.sleep(0.005)
    out, err = p.communicate()
    wall = time.monotonic() - s0
    summary = None
    if not cut:
        try:
            summary = json.loads(out.splitlines()[-1])
        except (ValueError, IndexError):
            pass
        if not summary or summary.get('type') != 'summary':
            sys.exit(f'gentle.sh: sweep {cmd} printed no summary (exit {p.returncode}): {err[:2000]}')
    sweeps.append(dict(wall=wall, rc=p.returncode, cut=cut, summary=summary))
vout, verr = v.communicate()
if v.returncode != 0:
    sys.exit(f'gentle.sh: victim failed (exit {v.returncode}): {verr}')
vic = json.loads(vout.splitlines()[-1])
rec = dict(mode=cfg['mode'], round=cfg['round'], victim=vic, sweeps=sweeps)
with open(cfg['out'], 'a') as f:
    f.write(json.dumps(rec) + '\n')
done = [s for s in sweeps if s['summary']]
gb = sum(s['summary']['bytes_read_pvr'] + s['summary']['bytes_read_mem'] for s in done)
wall = sum(s['wall'] for s in done)
line = (f"  round {cfg['round'] + 1} {cfg['mode']:8} {vic['items_per_s']:9.0f} items/s, p50 "
        f"{vic['p50_us']:.0f} p99 {vic['p99_us']:.0f} max {vic['max_us']:.0f} us")
if cfg['sweep']:
    complete = sum(1 for s in done if s['summary'].get('complete', True))
    line += (f"; {len(sweeps)} sweeps ({complete} complete), "
             f"{gb / wall / 1e9 if wall else 0:.2f} GB/s")
print(line, flush=True)
EOF

mode_args() { # MODE: the sweep's extra flags (or "-" for no sweep); fails if unsupported
    case $1 in
    alone) echo - ;;
    default) echo "" ;;
    gentle) need --gentle "the gentle co-run" && echo --gentle ;;
    idle) need --idle "the idle co-run" && echo --idle ;;
    nice) need --nice "the nice co-run" && echo "--nice 19" ;;
    *) echo "gentle.sh: unknown mode $1" >&2; exit 2 ;;
    esac
}
if [[ " $ONLY " == *" corun "* ]]; then
    modes=()
    declare -A margs=()
    for m in $MODES; do
        if a=$(mode_args "$m"); then
            modes+=("$m")
            margs[$m]=$a
        else
            [[ -z $a ]] || echo "$a"
        fi
    done
    use_timeout=false
    if has --timeout; then use_timeout=true; fi
    echo "co-running: victim ${SECS} s, ${#modes[@]} modes x $ROUNDS rounds, interleaved:"
    # shellcheck disable=SC2206  # VICTIM_ARGS: words on purpose
    vcmd=("$victim" --seconds "$SECS" $VICTIM_ARGS)
    for ((r = 0; r < ROUNDS; r++)); do
        for ((k = 0; k < ${#modes[@]}; k++)); do
            m=${modes[(k + r) % ${#modes[@]}]}
            if [[ ${margs[$m]} == - ]]; then
                scmd=()
            else
                # shellcheck disable=SC2206
                scmd=("${sweep[@]}" ${margs[$m]})
            fi
            python3 "$work/corun.py" "$m" "$r" "$SECS" "$work/corun.jsonl" "$use_timeout" \
                "${#vcmd[@]}" "${vcmd[@]}" "${scmd[@]}"
        done
    done
fi

# 3. --max-rate
if [[ " $ONLY " == *" rate "* ]] && need --max-rate "the --max-rate test"; then
    echo "--max-rate $RATE, one sweep:"
    run_once rate 0 "${sweep[@]}" --max-rate "$RATE"
    pick rate 10 runs
fi

# 4. --timeout
if [[ " $ONLY " == *" timeout "* ]] && need --timeout "the --timeout tests"; then
    echo "--timeout 1:"
    run_once timeout-regex 0 "$memgrep" scan --json -p "$big_pid" -f "$work/slow.txt" -j 1 --timeout 1
    pick timeout-regex 14 runs
    if need --max-rate "the --timeout test under --max-rate"; then
        run_once timeout-rate 0 "${sweep[@]}" --max-rate 300M --timeout 1
        pick timeout-rate 14 runs
    fi
fi
load_average after | tee -a "$work/load.txt"

# 5. the tables
{
    echo "machine: nproc $(nproc), $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
        "kernel $(uname -r), THP $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled)"
    echo "memgrep: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')," \
        "$("$memgrep" --version 2>/dev/null | head -1)"
} >"$work/facts.txt"
python3 - "$work" "$RATE" "$SECS" <<'EOF'
import json, os, statistics, sys
work, rate_s, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
def rd(name):
    with open(f'{work}/{name}', encoding='latin-1') as f:
        return f.read()
def table(hdr, rows):
    w = [max(len(str(x[i])) for x in [hdr] + rows) for i in range(len(hdr))]
    print('| ' + ' | '.join(str(c).ljust(w[k]) for k, c in enumerate(hdr)) + ' |')
    print('|' + '|'.join('-' * (n + 2) for n in w) + '|')
    for x in rows:
        print('| ' + ' | '.join(str(c).ljust(w[k]) if k == 0 else str(c).rjust(w[k])
                               for k, c in enumerate(x)) + ' |')
def rate_bytes(s):
    mult = {'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30}.get(s[-1:].lower(), 1)
    return float(s[:-1] if mult > 1 else s) * mult
def summary_of(name):
    try:
        s = json.loads(rd(f'{name}.out').splitlines()[-1])
        return s if isinstance(s, dict) else None
    except (ValueError, IndexError):
        return None
def read_bytes(s):
    return s['bytes_read_pvr'] + s['bytes_read_mem']

print()
print(rd('facts.txt'), end='')
print('; '.join(rd('load.txt').splitlines()))
total = int(rd('total_read'))
skipped = [l.split(' ', 1) for l in rd('skipped.txt').splitlines()]

if os.path.exists(f'{work}/corun.jsonl'):
    recs = [json.loads(l) for l in rd('corun.jsonl').splitlines()]
    modes = list(dict.fromkeys(r['mode'] for r in recs))
    by = {m: [r for r in recs if r['mode'] == m] for m in modes}
    v0 = recs[0]['victim']
    print(f"\nco-running: bench/victim, {v0['threads']} threads "
          f"({'each pinned to its CPU' if v0['pinned'] else 'not pinned'}), {v0['kib']} KiB "
          f"buffer each, {secs:g} s per run, {len(by[modes[0]])} rounds interleaved; "
          f"sweeps of bigproc ({total / 2**30:.2f} GiB read per sweep)")
    med = lambda m, k: statistics.median(r['victim'][k] for r in by[m])
    hdr = ['mode', 'items/s (median, best)', 'p50 us', 'p99 us (median, best)', 'p99.9 us',
           'max us', 'throughput loss', 'p99 rise', 'sweeps complete', 'sweep GB/s', 'target']
    rows = []
    for m in modes:
        ips = [r['victim']['items_per_s'] for r in by[m]]
        p99 = [r['victim']['p99_us'] for r in by[m]]
        row = [m, f'{med(m, "items_per_s"):.0f} ({max(ips):.0f})', f'{med(m, "p50_us"):.0f}',
               f'{med(m, "p99_us"):.0f} ({min(p99):.0f})', f'{med(m, "p999_us"):.0f}',
               f'{med(m, "max_us"):.0f}']
        if 'alone' in by and m != 'alone':
            loss = 100 * (1 - med(m, 'items_per_s') / med('alone', 'items_per_s'))
            rise = 100 * (med(m, 'p99_us') / med('alone', 'p99_us') - 1)
            row += [f'{loss:.1f}%', f'{rise:+.0f}%']
        else:
            loss = rise = None
            row += ['-', '-']
        sw = [s for r in by[m] for s in r['sweeps']]
        done = [s for s in sw if s['summary']]
        if sw:
            wall = sum(s['wall'] for s in done)
            gbps = sum(read_bytes(s['summary']) for s in done) / wall / 1e9 if wall else 0
            full = sum(1 for s in done if s['summary'].get('complete', True))
            row += [f'{full} of {len(sw)}', f'{gbps:.2f}']
        else:
            row += ['-', '-']
        if m == 'gentle' and loss is not None:
            ok = loss <= 5 and rise <= 10
            row.append(f"loss <= 5%, p99 <= +10%: {'met' if ok else 'not met'}")
        else:
            row.append('')
        rows.append(row)
    for f, what in skipped:
        if 'co-run' in what:
            rows.append([what.split()[1], 'flag not supported by this memgrep'] + [''] * (len(hdr) - 2))
    table(hdr, rows)
    print('\n  every run, in round order (items/s, p99 us):')
    for m in modes:
        print(f'    {m}: ' + ', '.join(f"{r['victim']['items_per_s']:.0f} {r['victim']['p99_us']:.0f}"
                                     for r in sorted(by[m], key=lambda r: r['round'])))
    if 'alone' in by:
        share = [100 * r['victim']['items_per_s'] * r['victim']['p50_us'] / 1e6 / r['victim']['threads']
                 for r in by['alone']]
        print('  alone, share of its CPUs the victim got (items/s x p50 / threads), per round: '
              + ', '.join(f'{x:.0f}%' for x in share)
              + ('  <- well under 100%: other load on the machine dominates these figures'
                 if min(share) < 80 else ''))
    print('  loss and rise: medians against alone\'s medians; sweeps complete: of those started '
          'in all rounds (one cut at the victim\'s end counts in GB/s only if it printed a '
          'summary, i.e. with --timeout); GB/s: bytes read / sweep wall time')

rows = []
if os.path.exists(f'{work}/rate.out'):
    s = summary_of('rate')
    wall = float(rd('rate.secs'))
    if s:
        b = read_bytes(s)
        want = b / rate_bytes(rate_s)
        err = 100 * (wall / want - 1)
        rows.append([f'--max-rate {rate_s} ({rate_bytes(rate_s):.0f} B/s)',
                     f'wall {wall:.2f} s (scan {s.get("elapsed_seconds", 0):.2f} s), exit {rd("rate.rc").strip()}',
                     f'{b} bytes / rate = {want:.2f} s', f'{err:+.1f}%', 'within +-10%',
                     'met' if abs(err) <= 10 else 'not met'])
    else:
        rows.append([f'--max-rate {rate_s}', f'no summary, exit {rd("rate.rc").strip()}', '', '', '', 'failed'])
for name, what in (('timeout-regex', '--timeout 1, -j 1, 3 slow regexes'),
                   ('timeout-rate', '--timeout 1, --max-rate 300M')):
    if not os.path.exists(f'{work}/{name}.out'):
        continue
    wall, rc = float(rd(f'{name}.secs')), rd(f'{name}.rc').strip()
    s = summary_of(name)
    ok_json = bool(s) and s.get('type') == 'summary' and s.get('complete') is False
    reason = s.get('stop_reason') if s else None
    if s and read_bytes(s):
        need = f'uncut: ~{wall * total / read_bytes(s):.0f} s ({read_bytes(s) / total:.0%} read)'
    else:
        need = 'uncut: ?'
    if name == 'timeout-rate':
        need += f', {total / rate_bytes("300M"):.1f} s by the rate'
    ok = wall <= 1.5 and rc == '3' and ok_json and reason == 'timeout'
    rows.append([what, f'wall {wall:.2f} s, exit {rc}, last line: '
                 + ('summary, complete false' if ok_json else 'NOT a summary with complete false')
                 + f', stop_reason {reason}', need, '', '<= 1.5 s, exit 3, summary',
                 'met' if ok else 'not met'])
for f, what in skipped:
    if 'co-run' not in what:
        rows.append([what, 'flag not supported by this memgrep: ' + f, '', '', '', 'not run'])
if rows:
    print()
    table(['test', 'measured', 'expected', 'error', 'target', ''], rows)
EOF
