#!/usr/bin/env bash
# sweep.sh - a whole-host sweep: memgrep against the ceiling probe and YARA
# over the 100 processes of bench/synthhost, side by side.
#
#   sudo bench/scripts/sweep.sh [BUILDDIR]          (default: build; run scripts/bootstrap first)
#
# Environment: PROCS (target processes, default 100), TOTAL_MIB (their own
# data, default 3072), SEED (default 1), NPAT (literals, default 1000), JOBS
# (parallelism of every tool, default 2), RUNS (rounds, default 3),
# YARA=0 (skip yara), YARA_TIMEOUT (yara -a, seconds per process, default 10).
#
# What it does:
#  1. Starts `synthhost --procs PROCS` (see bench/targets/synthhost.c: mixed sizes
#     4..256 MiB adding up to TOTAL_MIB, a 64 MiB file mapped by every target,
#     a pre-fork group of 1 + 9 sharing 200 MiB, 2 sparse targets with a 64 GiB
#     untouched reservation and a 16 GiB PROT_NONE one, 602 IOCs planted at
#     known addresses) and waits for READY.
#  2. Pattern file: `synthhost --patterns NPAT` (the list bigproc prints,
#     which holds every planted string), and the same strings as one YARA rule.
#  3. RUNS rounds, each running, one after the other, every tool on every
#     target pid (so load from anything else on the machine hits them alike):
#       memgrep scan --json --no-db-cache -j JOBS -f PATTERNS -p PID,PID,...
#       the same with --no-dedupe
#       ceiling -R -j JOBS -f PATTERNS -p PID,PID,...   (one process, JOBS
#         threads over all pids: present pages only, shared anonymous pages
#         through /proc/PID/mem, no dedupe; see bench/ceiling.c)
#       yara -a YARA_TIMEOUT -s RULES PID, one process per pid, JOBS at a
#         time (xargs -P JOBS)
#     and keeps each tool's fastest round. Wall time is date +%s.%N around
#     the whole command (pattern compilation included), peak RSS from
#     /usr/bin/time (for yara: its largest process).
#  4. Once, untimed: memgrep scan --json -j JOBS -f PATTERNS with no -p (every
#     process on the machine), to check the all-process mode finds the plants.
#  5. Checks that memgrep reported every planted IOC at its pid and address
#     (all three runs), counts what the others found (yara: at pid + address from
#     -s; ceiling: by text, it reports only which patterns matched), and prints
#     a table. GB/s: memgrep's bytes_scanned + bytes_deduped of the
#     --no-dedupe run (every present byte of every target, counted once per
#     process that maps it) / wall time, for every row. x ceiling and x yara:
#     wall time / that tool's wall time.
# YARA 4.2.3 scans a sparse target's 80 GiB of reservations as zeros (~170 s
# each, measured); -a YARA_TIMEOUT cuts those two short, so yara's row is a
# lower bound and misses their plants.
# synthhost is stopped on exit, whatever happens; it takes its targets along.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs sweep.sh "$@"
PROCS=${PROCS:-100}
TOTAL_MIB=${TOTAL_MIB:-3072}
SEED=${SEED:-1}
NPAT=${NPAT:-1000}
JOBS=${JOBS:-2}
RUNS=${RUNS:-3}
YARA=${YARA:-1}
YARA_TIMEOUT=${YARA_TIMEOUT:-10}

memgrep=$build/cli/memgrep
ceiling=$build/bench/ceiling
synthhost=$build/bench/synthhost
bench_need "$memgrep" "$ceiling" "$synthhost"
if ((YARA)); then
    bench_need_yara YARA
fi
bench_warn_not_root "reading other processes' memory will be denied"

bench_workdir stop_hosts

# 1. the host
start_host host "$synthhost" --procs "$PROCS" --total-mib "$TOTAL_MIB" --seed "$SEED" \
    --npat "$NPAT" --dir "$work"
pids=$(awk '$1 == "PROC" { print $2 }' "$work/host.txt" | paste -sd,)
echo "host: synthhost pid ${host_pid[host]}, $(grep -c '^PROC' "$work/host.txt") targets," \
    "$(grep -c '^PLANT' "$work/host.txt") IOCs planted"
sed -n 's/^INFO /  /p' "$work/host.txt"

# 2. patterns and rules
"$synthhost" --patterns "$NPAT" >"$work/patterns.txt"
yara_rules "$work/patterns.txt" "$work/rules.yar"
cat >"$work/yara_all.sh" <<EOF
# one yara per pid, $JOBS at a time; per pid: out, err, peak RSS
mkdir -p "\$1"
echo "$pids" | tr , '\n' | xargs -P $JOBS -I{} sh -c \
    'exec /usr/bin/time -f %M -o "\$1/{}.rss" yara -a $YARA_TIMEOUT -s "$work/rules.yar" {} >"\$1/{}.out" 2>"\$1/{}.err"' sh "\$1"
EOF

# 3. the tools: run_once NAME I CMD... runs CMD as round I of NAME; pick
# keeps the fastest round's files as $work/NAME.* (both: common.sh).
load_average before
echo "running ($RUNS rounds, each tool once per round, fastest kept):"
tools=(memgrep memgrep-no-dedupe ceiling-R)
((YARA)) && tools+=(yara)
for ((i = 0; i < RUNS; i++)); do
    run_once memgrep "$i" "$memgrep" scan --json --no-db-cache -j "$JOBS" -f "$work/patterns.txt" -p "$pids"
    run_once memgrep-no-dedupe "$i" "$memgrep" scan --json --no-db-cache --no-dedupe -j "$JOBS" \
        -f "$work/patterns.txt" -p "$pids"
    run_once ceiling-R "$i" "$ceiling" -R -j "$JOBS" -f "$work/patterns.txt" -p "$pids" \
        -o "$work/ceiling-R.$i.found"
    if ((YARA)); then
        run_once yara "$i" bash "$work/yara_all.sh" "$work/yara.$i.d"
    fi
done
for name in "${tools[@]}"; do
    pick "$name" 18 rounds
done
load_average after
rc=0
"$memgrep" scan --json --no-db-cache -j "$JOBS" -f "$work/patterns.txt" >"$work/memgrep-every.out" \
    2>"$work/memgrep-every.err" || rc=$?
echo "$rc" >"$work/memgrep-every.rc"

# 5. the table
python3 - "$work" "$JOBS" "$YARA" "$YARA_TIMEOUT" <<'EOF'
import glob, json, os, re, sys
work, jobs, yara, ytimeout = sys.argv[1], int(sys.argv[2]), sys.argv[3] != '0', sys.argv[4]
pats = [l.rstrip('\r\n') for l in open(f'{work}/patterns.txt', encoding='latin-1')]
planted, kinds = [], {}
for l in open(f'{work}/host.txt', encoding='latin-1'):
    f = l.rstrip('\n').split(' ', 3)
    if f[0] == 'PLANT':
        planted.append((int(f[1]), int(f[2], 16), f[3]))
    elif f[0] == 'PROC':
        kinds[int(f[1])] = f[2]
def rd(name, ext):
    with open(f'{work}/{name}.{ext}', encoding='latin-1') as f:
        return f.read()

def memgrep_result(name):
    summary, hits = None, set()
    for l in rd(name, 'out').splitlines():
        try:
            o = json.loads(l)
        except ValueError:
            continue
        if o.get('type') == 'summary':
            summary = o
        elif o.get('type') == 'match':
            hits.add((o['pid'], int(o['address'], 16), o.get('pattern', '')))
    if summary is None:
        sys.exit(f"sweep.sh: {name} printed no summary (exit {rd(name, 'rc').strip()}): "
                 f"{rd(name, 'err')[:2000]}")
    return summary, hits

rows = []
def row(name, found, scan_s, rss_kib, note):
    rows.append(dict(name=name, secs=float(rd(name, 'secs')), rc=int(rd(name, 'rc')),
                     found=found, scan=scan_s, rss=rss_kib, note=note))

mg, mg_hits = memgrep_result('memgrep')
nd, nd_hits = memgrep_result('memgrep-no-dedupe')
same_bytes = nd['bytes_scanned'] + nd['bytes_deduped']
missed = {}
for name, hits in (('memgrep', mg_hits), ('memgrep-no-dedupe', nd_hits)):
    missed[name] = [p for p in planted if p not in hits]
ev, ev_hits = memgrep_result('memgrep-every')
missed['memgrep-every'] = [p for p in planted if p not in ev_hits]
row('memgrep', len(planted) - len(missed['memgrep']), mg['elapsed_seconds'],
    int(rd('memgrep', 'rss').split()[-1]),
    f"-j {jobs}: scanned {mg['bytes_scanned'] / 1e9:.2f} GB, replayed (deduped) "
    f"{mg['bytes_deduped'] / 1e9:.2f} GB, /proc/PID/mem {mg['bytes_read_mem'] / 1e9:.2f} GB, "
    f"{mg['matches']} matches, reader {mg['mem_reader']}")
row('memgrep-no-dedupe', len(planted) - len(missed['memgrep-no-dedupe']), nd['elapsed_seconds'],
    int(rd('memgrep-no-dedupe', 'rss').split()[-1]),
    f"-j {jobs} --no-dedupe: scanned {nd['bytes_scanned'] / 1e9:.2f} GB, "
    f"{nd['matches']} matches")

m = re.search(r'bytes (\d+) scan_s ([\d.]+)', rd('ceiling-R', 'out'))
cfound = set(open(f'{work}/ceiling-R.found', encoding='latin-1').read().splitlines()) \
    if os.path.exists(f'{work}/ceiling-R.found') else set()
row('ceiling-R', sum(t in cfound for _, _, t in planted), float(m.group(2)) if m else None,
    int(rd('ceiling-R', 'rss').split()[-1]),
    f"-j {jobs}, one process over all pids: read {int(m.group(1)) / 1e9 if m else 0:.2f} GB; "
    "found = planted strings whose text it matched")

if yara:
    yhits, yrss, ytimeouts, yerrs = set(), 0, [], []
    for out in glob.glob(f'{work}/yara.d/*.out'):
        pid = int(os.path.basename(out)[:-4])
        for l in open(out, encoding='latin-1'):
            mm = re.match(r'0x([0-9a-f]+):\$s(\d+):', l)
            if mm:
                yhits.add((pid, int(mm.group(1), 16), pats[int(mm.group(2))]))
        err = open(out[:-4] + '.err', encoding='latin-1').read()
        if 'timed out' in err:
            ytimeouts.append(pid)
        elif err.strip():
            yerrs.append(f'{pid}: {err.strip()[:200]}')
        rss = open(out[:-4] + '.rss').read().split()
        if rss and rss[-1].isdigit():
            yrss = max(yrss, int(rss[-1]))
    tk = ', '.join(f'{p} ({kinds.get(p, "?")})' for p in sorted(ytimeouts))
    row('yara', sum(p in yhits for p in planted), None, yrss,
        f'yara -a {ytimeout} -s, one per pid, xargs -P {jobs}; timed out: {tk or "none"}'
        + (f'; errors: {"; ".join(yerrs)}' if yerrs else ''))

ref = {r['name']: r for r in rows}
ce = ref['ceiling-R']
ya = ref.get('yara')
hdr = ['tool', 'wall s', 'scan s', 'GB/s', 'x ceiling', 'x yara', 'peak RSS', 'found', 'exit']
out = [hdr]
for r in rows:
    out.append([r['name'], f"{r['secs']:.2f}", '-' if r['scan'] is None else f"{r['scan']:.2f}",
                f"{same_bytes / r['secs'] / 1e9:.2f}", f"{r['secs'] / ce['secs']:.2f}",
                f"{r['secs'] / ya['secs']:.3f}" if ya else '-', f"{r['rss'] / 1024:.0f} MiB",
                f"{r['found']}/{len(planted)}", str(r['rc'])])
w = [max(len(x[i]) for x in out) for i in range(len(hdr))]
print()
print(f'same bytes for GB/s: memgrep --no-dedupe bytes_scanned + bytes_deduped = {same_bytes} '
      f'({same_bytes / 2**30:.2f} GiB; with dedupe: {mg["bytes_scanned"]} scanned + '
      f'{mg["bytes_deduped"]} replayed = {mg["bytes_scanned"] + mg["bytes_deduped"]}); '
      f'{len(kinds)} processes; x ceiling / x yara = wall time / that tool\'s wall time')
for i, x in enumerate(out):
    print('| ' + ' | '.join(c.ljust(w[k]) if k == 0 else c.rjust(w[k]) for k, c in enumerate(x)) + ' |')
    if i == 0:
        print('|' + '|'.join('-' * (n + 2) for n in w) + '|')
print()
for r in rows:
    print(f"  {r['name']}: {r['note']}")
print(f"  memgrep-every (no -p, untimed): {ev['processes_scanned']} processes, "
      f"{ev['elapsed_seconds']:.2f} s scan, {len(planted) - len(missed['memgrep-every'])}/{len(planted)} "
      f"planted found at pid+address, {len(ev_hits - set(planted))} other matches "
      f"(processes outside the synthetic host that hold these strings)")
bad = False
for name in ('memgrep', 'memgrep-no-dedupe', 'memgrep-every'):
    if missed[name]:
        bad = True
        print(f'  {name} MISSED {len(missed[name])} planted IOCs (pid, address, text):')
        for p in missed[name][:20]:
            print(f'    {p[0]} ({kinds.get(p[0], "?")}) 0x{p[1]:x} {p[2]}')
    else:
        print(f'  {name}: every planted IOC reported at its pid and address')
sys.exit(1 if bad else 0)
EOF
