#!/usr/bin/env bash
# compare.sh - memgrep against the ceiling probe, YARA and the old
# dd | strings | grep pipeline, side by side, on one target process.
#
#   sudo bench/scripts/compare.sh [BUILDDIR]        (default: build; run scripts/bootstrap first)
#
# Environment: GIB (target size, default 2), NPAT (literals, default 1000),
# JOBS (memgrep/ceiling threads, default 2), RUNS (runs of the fast tools,
# interleaved, fastest reported, default 5), SLOW=0 to skip yara and the pipeline,
# NOSANDBOX=1 to add a memgrep --no-sandbox row (the sandbox's cost, side by side).
#
# What it does:
#  1. NPAT deterministic IOC-like literals: `bigproc --patterns NPAT` (they
#     include the 8 strings bigproc plants), and the same strings as one YARA
#     rule (`rule ioc { strings: $s0 = "..." ... condition: any of them }`).
#  2. Starts bench/bigproc with GIB GiB of heap-like data (4 KiB pages unless
#     the system's THP setting says otherwise) and waits for READY.
#  3. Runs each tool under /usr/bin/time (peak RSS) with wall time from
#     date +%s.%N; memgrep and the ceiling RUNS times, interleaved, keeping
#     each one's fastest run (the machine may be shared); the others once:
#       memgrep scan --json --no-db-cache -p PID -f PATTERNS -j JOBS
#         (--no-db-cache: it compiles its database every run, as the others do)
#       ceiling -p PID -f PATTERNS -j JOBS      and      -j 1
#       yara -s RULES PID                       (single-threaded)
#       dd|strings|grep: for every private anonymous writable mapping of the
#         target ("rw-p" with no path, or [heap]), in maps order,
#         dd if=/proc/PID/mem bs=1M iflag=skip_bytes,count_bytes skip=START count=LEN,
#         all piped through `strings -n 4 | LC_ALL=C grep -F -o -f PATTERNS | sort -u`
#  4. Prints a table. GB/s is memgrep's bytes_scanned (its summary) divided
#     by each tool's wall time, so every row is "time to sweep this target";
#     each tool's own byte count is shown where it reports one. Ratios are
#     wall-time ratios. Peak RSS is /usr/bin/time's "Maximum resident set
#     size" (for the pipeline: its largest single process). found/expected
#     counts the 8 planted strings: at their exact addresses for memgrep and
#     yara (which report addresses), by text for ceiling and the pipeline.
# bigproc is killed on exit, whatever happens.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs compare.sh "$@"
GIB=${GIB:-2}
NPAT=${NPAT:-1000}
JOBS=${JOBS:-2}
RUNS=${RUNS:-5}
SLOW=${SLOW:-1}
NOSANDBOX=${NOSANDBOX:-0}

memgrep=$build/cli/memgrep
ceiling=$build/bench/ceiling
bigproc=$build/bench/bigproc
bench_need "$memgrep" "$ceiling" "$bigproc"
if ((SLOW)); then
    bench_need_yara SLOW
fi
bench_warn_not_root "reading another process's memory may be denied"

bench_workdir stop_hosts

# 1. patterns and rules
"$bigproc" --patterns "$NPAT" >"$work/patterns.txt"
yara_rules "$work/patterns.txt" "$work/rules.yar"

# 2. the target
start_host bigproc "$bigproc" -g "$GIB" -t 900
big_pid=${host_pid[bigproc]}
sed -n 's/^planted //p' "$work/bigproc.txt" >"$work/planted.txt"
echo "target: bigproc pid $big_pid, $GIB GiB; $(wc -l <"$work/planted.txt") strings planted;" \
    "$NPAT patterns"

# 3. the tools (run_once, pick: common.sh). The fast tools run RUNS times,
# interleaved, so that load from anything else on the machine hits them
# alike; the best run is shown.
load_average before
echo "running (memgrep and ceiling: best of $RUNS, interleaved):"
fast=(memgrep "ceiling-j$JOBS")
((JOBS == 1)) || fast+=(ceiling-j1)
((NOSANDBOX)) && fast+=(memgrep-no-sandbox)
for ((i = 0; i < RUNS; i++)); do
    run_once memgrep "$i" "$memgrep" scan --json --no-db-cache -p "$big_pid" \
        -f "$work/patterns.txt" -j "$JOBS"
    if ((NOSANDBOX)); then
        run_once memgrep-no-sandbox "$i" "$memgrep" scan --json --no-db-cache --no-sandbox \
            -p "$big_pid" -f "$work/patterns.txt" -j "$JOBS"
    fi
    run_once "ceiling-j$JOBS" "$i" "$ceiling" -p "$big_pid" -f "$work/patterns.txt" -j "$JOBS" \
        -o "$work/ceiling-j$JOBS.$i.found"
    if ((JOBS != 1)); then
        run_once ceiling-j1 "$i" "$ceiling" -p "$big_pid" -f "$work/patterns.txt" -j 1 \
            -o "$work/ceiling-j1.$i.found"
    fi
done
for name in "${fast[@]}"; do
    pick "$name" 16 runs
done
pipeline_bytes=0
if ((SLOW)); then
    run_once yara 0 yara -s "$work/rules.yar" "$big_pid"
    pick yara 16 runs
    # The regions the pipeline reads, as "START LEN" in decimal.
    awk '$2 == "rw-p" && ($6 == "" || $6 == "[heap]") { split($1, a, "-"); print a[1], a[2] }' \
        "/proc/$big_pid/maps" | while read -r s e; do echo "$((16#$s)) $((16#$e - 16#$s))"; done \
        >"$work/regions.txt"
    pipeline_bytes=$(awk '{ n += $2 } END { printf "%d", n }' "$work/regions.txt")
    cat >"$work/pipeline.sh" <<EOF
while read -r s n; do
    dd if=/proc/$big_pid/mem bs=1M iflag=skip_bytes,count_bytes skip=\$s count=\$n status=none
done <"$work/regions.txt" | strings -n 4 | LC_ALL=C grep -F -o -f "$work/patterns.txt" | sort -u
EOF
    run_once dd-strings-grep 0 bash "$work/pipeline.sh"
    pick dd-strings-grep 16 runs
fi
load_average after

# 4. the table
python3 - "$work" "$JOBS" "$pipeline_bytes" "$SLOW" <<'EOF'
import json, os, re, sys
work, jobs, pipeline_bytes, slow = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] != '0'
pats = [l.rstrip('\r\n') for l in open(f'{work}/patterns.txt', encoding='latin-1')]
planted = []  # (address, text)
for l in open(f'{work}/planted.txt', encoding='latin-1'):
    addr, _id, text = l.rstrip('\n').split(' ', 2)
    planted.append((int(addr, 16), text))
def rd(name, ext):
    with open(f'{work}/{name}.{ext}', encoding='latin-1') as f:
        return f.read()

rows = []
def row(name, found, own_bytes, scan_s=None, note=''):
    rc = int(rd(name, 'rc'))
    rows.append(dict(name=name, secs=float(rd(name, 'secs')), rss=int(rd(name, 'rss').split()[-1]),
                     rc=rc, found=found, own=own_bytes, scan=scan_s, note=note))

# memgrep: JSON Lines; matches at planted addresses
summary, hits = None, set()
for l in rd('memgrep', 'out').splitlines():
    try:
        o = json.loads(l)
    except ValueError:
        continue
    if o.get('type') == 'summary':
        summary = o
    elif o.get('type') == 'match':
        hits.add((int(o['address'], 16), o.get('pattern', '')))
if summary is None:
    sys.exit('compare.sh: memgrep printed no summary (exit %s): %s' % (rd('memgrep', 'rc').strip(), rd('memgrep', 'err')[:2000]))
mg_bytes = summary['bytes_scanned']
row('memgrep', sum(p in hits for p in planted), mg_bytes, summary.get('elapsed_seconds'),
    f"-j {jobs}, reader {summary.get('mem_reader')}")
if os.path.exists(f'{work}/memgrep-no-sandbox.rc'):
    nb_hits, nb_sum = set(), {}
    for l in rd('memgrep-no-sandbox', 'out').splitlines():
        try:
            o = json.loads(l)
        except ValueError:
            continue
        if o.get('type') == 'summary':
            nb_sum = o
        elif o.get('type') == 'match':
            nb_hits.add((int(o['address'], 16), o.get('pattern', '')))
    row('memgrep-no-sandbox', sum(p in nb_hits for p in planted), nb_sum.get('bytes_scanned'),
        nb_sum.get('elapsed_seconds'), '--no-sandbox: no capability drop, no seccomp filter')

def ceiling_row(name):
    m = re.search(r'bytes (\d+) scan_s ([\d.]+)', rd(name, 'out'))
    found = set(open(f'{work}/{name}.found', encoding='latin-1').read().splitlines()) \
        if os.path.exists(f'{work}/{name}.found') else set()
    row(name, sum(t in found for _, t in planted), int(m.group(1)) if m else None,
        float(m.group(2)) if m else None, 'all readable regions, no residency check')
ceiling_row(f'ceiling-j{jobs}')
if jobs != 1:
    ceiling_row('ceiling-j1')
if slow:
    yhits = set()
    for l in rd('yara', 'out').splitlines():
        m = re.match(r'0x([0-9a-f]+):\$s(\d+):', l)
        if m:
            yhits.add((int(m.group(1), 16), pats[int(m.group(2))]))
    row('yara', sum(p in yhits for p in planted), None, None, '1 thread, readable regions')
    got = set(rd('dd-strings-grep', 'out').splitlines())
    row('dd-strings-grep', sum(t in got for _, t in planted), pipeline_bytes, None,
        'rw-p anon + [heap] only')

ref = {r['name']: r for r in rows}
mg, ce = ref['memgrep'], ref[f'ceiling-j{jobs}']
def fmt_bytes(b):
    return '-' if b is None else f'{b / 1e9:.2f} GB'
hdr = ['tool', 'wall s', 'scan s', 'own bytes', 'GB/s', 'x memgrep', '% ceiling', 'peak RSS', 'found', 'exit']
out = [hdr]
for r in rows:
    gbps = mg_bytes / r['secs'] / 1e9 if r['secs'] > 0 else 0
    out.append([r['name'], f"{r['secs']:.2f}", '-' if r['scan'] is None else f"{r['scan']:.2f}",
                fmt_bytes(r['own']), f'{gbps:.2f}', f"{r['secs'] / mg['secs']:.2f}",
                f"{100 * ce['secs'] / r['secs']:.0f}%", f"{r['rss'] / 1024:.0f} MiB",
                f"{r['found']}/{len(planted)}", str(r['rc'])])
w = [max(len(x[i]) for x in out) for i in range(len(hdr))]
print()
print(f'bytes for GB/s: memgrep bytes_scanned = {mg_bytes} ({mg_bytes / 2**30:.2f} GiB); '
      f'x memgrep = wall time / memgrep wall time; % ceiling = ceiling -j {jobs} wall time / wall time')
for i, x in enumerate(out):
    print('| ' + ' | '.join(c.ljust(w[k]) if k == 0 else c.rjust(w[k]) for k, c in enumerate(x)) + ' |')
    if i == 0:
        print('|' + '|'.join('-' * (n + 2) for n in w) + '|')
print()
for r in rows:
    print(f"  {r['name']}: {r['note']}")
bad = [r['name'] for r in rows if r['found'] != len(planted)]
if bad:
    print(f"  missed planted strings: {', '.join(bad)}")
EOF
