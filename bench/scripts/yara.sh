#!/usr/bin/env bash
# yara.sh - memgrep's YARA rules (`memgrep scan -r`) against yara 4.2.3 on the
# same rule set (generated, or a real public one): wall time, identical
# verdicts, peak RSS, Hyperscan callbacks per MiB.
#
#   sudo bench/scripts/yara.sh [BUILDDIR]           one 2 GiB process (bench/bigproc), ~4 min
#   sudo HOST=1 bench/scripts/yara.sh [BUILDDIR]    a synthetic host (bench/synthhost), ~3 min
#   sudo RULES=sigbase GIB=0.25 bench/scripts/yara.sh
#                      signature-base (Neo23x0, 737 files, 5,892 rules) from
#                      ../shared/corpus/signature-base-yara.tar.xz, with the
#                      externals it needs (-d filename= ... -d owner=)
#   sudo RULES=elastic ELASTIC_REPO=/path/to/protections-artifacts bench/scripts/yara.sh
#                      Elastic's Linux rules from a clone (or bare mirror) of
#                      https://github.com/elastic/protections-artifacts, at
#                      ELASTIC_COMMIT (default 9c334cf8298d9ff7e19c2a50817669072abc2d66:
#                      248 files yara/rules/Linux_*.yar, 902 rules)
#   sudo RULES=/path/to/dir bench/scripts/yara.sh
#                      every *.yar of a folder
#
# RULES (default gen): gen, sigbase, elastic or a folder. With a real set nothing is
# planted for it (the verdicts are whatever the heap data gives, compared
# with yara's), and HOST=1 runs it over synthhost's processes.
# Environment: SEED (rules and plants, default 1), NRULES (default 900),
# HITS / MISSES (rules planted to match / to just miss, default 60 / 30),
# COMMON (rules of phrases common in the heap data, default 2), COMMON_WORDS
# (words a phrase, default 3; 1 gives ~3 million matches per GiB), JOBS
# (memgrep threads and yara processes at a time, default 2), RUNS (rounds,
# default 3), GIB (bigproc size, default 2), YARA_P2=0 (skip the one
# `yara -p 2` run); HOST=1: PROCS (default 30), TOTAL_MIB (their own data,
# default 1024), YARA_TIMEOUT (yara -a per pid, default 20). GIB may be a
# fraction (0.25: 256 MiB, for iterating).
#
# What it does:
#  1. bench/scripts/gen_rules.py: NRULES rules (~2 strings each: half hex with
#     wildcards and jumps, half text, a tenth fullword, some nocase, a few
#     wide / xor / base64; conditions any / N / all of them, $a and ($b or
#     $c), a few #a > 2 and $b in (@a[1]..@a[1] + 512)), and the byte
#     strings that make HITS of them match and MISSES just miss. HOST=1 adds
#     one rule (any of them) per 5 IOCs of `synthhost --patterns 100`, the
#     strings synthhost plants.
#  2. The target: `bigproc -g GIB --plant-file PLANTS` (the plants spread
#     over the 2 GiB, across page and 1 MiB boundaries, clear of YARA's
#     1 GiB split), or `synthhost --procs PROCS --npat 100`.
#  3. One untimed memgrep run fills a private --db-cache directory. Then RUNS
#     rounds, each running one after the other (load from anything else on
#     the machine hits them alike), fastest round kept:
#       memgrep-cold: memgrep scan -r RULES -p PID[,PID...] --json --no-db-cache -j JOBS
#                     (compiles the rules every run, as yara does)
#       memgrep-warm: the same with --db-cache DIR (the database loaded)
#       yara:         yara -s RULES PID  (one process: single-threaded);
#                     HOST=1: yara -a YARA_TIMEOUT -s RULES PID, one per pid,
#                     JOBS at a time (xargs -P JOBS)
#     and, once (one process only), yara -p 2 -s RULES PID with its CPU time:
#     -p is yara's thread count for scanning directories; a process is
#     scanned by one thread whatever -p says.
#  4. Compares, per process (HOST=1: the pids yara finished within its -a),
#     the set of matching rules and the set of (rule, $id, address) of
#     memgrep's fastest cold and warm rounds with yara's; checks that every
#     planted hit rule matched and no near miss did (HOST=1: that memgrep
#     reported every planted IOC at its pid and address); prints a markdown
#     table (wall time, memgrep's own scan time, yara / memgrep, peak RSS
#     against the goal of 64 MiB + the database file) with the machine's
#     facts and load average. Exit 1 if a verdict differs or a plant is missed.
# The targets are stopped on exit, whatever happens.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs yara.sh "$@"
HOST=${HOST:-0}
RULES=${RULES:-gen}
SEED=${SEED:-1}
NRULES=${NRULES:-900}
HITS=${HITS:-60}
MISSES=${MISSES:-30}
COMMON=${COMMON:-2}
COMMON_WORDS=${COMMON_WORDS:-3}
JOBS=${JOBS:-2}
RUNS=${RUNS:-3}
GIB=${GIB:-2}
YARA_P2=${YARA_P2:-1}
PROCS=${PROCS:-30}
TOTAL_MIB=${TOTAL_MIB:-1024}
YARA_TIMEOUT=${YARA_TIMEOUT:-20}

memgrep=$build/cli/memgrep
bigproc=$build/bench/bigproc
synthhost=$build/bench/synthhost
bench_need "$memgrep" "$bigproc" "$synthhost"
bench_need_yara YARA
bench_warn_not_root "reading another process's memory will be denied"

bench_workdir stop_hosts

# 1. rules (and the IOC list synthhost plants from): rules is what memgrep
# -r takes (a file or a folder), yrules yara's rule files, defs both tools'
# -d options
defs=()
if [[ $RULES == gen ]]; then
    gen=(python3 "$root/bench/scripts/gen_rules.py" "$work/gen" --seed "$SEED" --rules "$NRULES"
        --hits "$HITS" --misses "$MISSES" --common "$COMMON" --common-words "$COMMON_WORDS")
    if ((HOST)); then
        "$synthhost" --patterns 100 >"$work/iocs.txt"
        gen+=(--iocs "$work/iocs.txt")
    fi
    "${gen[@]}"
    rules=$work/gen/rules.yar
elif [[ $RULES == sigbase ]]; then
    corpus=$root/../shared/corpus/signature-base-yara.tar.xz
    [[ -r $corpus ]] || { echo "yara.sh: no $corpus (the shared corpus beside the clone)" >&2; exit 2; }
    tar xJf "$corpus" -C "$work"
    rules=$work/signature-base/yara
    for x in filename filepath extension filetype owner; do
        defs+=(-d "$x=")
    done
elif [[ $RULES == elastic ]]; then
    [[ -n ${ELASTIC_REPO:-} ]] || {
        echo "yara.sh: RULES=elastic needs ELASTIC_REPO (a clone of elastic/protections-artifacts)" >&2
        exit 2
    }
    mkdir -p "$work/elastic" "$work/elastic-linux"
    git -C "$ELASTIC_REPO" archive "${ELASTIC_COMMIT:-9c334cf8298d9ff7e19c2a50817669072abc2d66}" \
        yara/rules | tar -x -C "$work/elastic"
    cp "$work"/elastic/yara/rules/Linux_*.yar "$work/elastic-linux/"
    rules=$work/elastic-linux
elif [[ -d $RULES ]]; then
    rules=$(cd "$RULES" && pwd)
else
    echo "yara.sh: RULES=$RULES: neither gen, sigbase, elastic nor a folder" >&2
    exit 2
fi
if [[ -d $rules ]]; then
    mapfile -t yrules < <(find "$rules" -maxdepth 1 -name '*.yar' | sort)
else
    yrules=("$rules")
fi
printf '%s\n' "${yrules[@]}" >"$work/rule_files.txt"
echo "rules: $RULES, ${#yrules[@]} files, $(cat "${yrules[@]}" |
    grep -cE '^[[:space:]]*((private|global)[[:space:]]+)*rule[[:space:]]') rules"

# 2. the target(s)
if ((HOST)); then
    start_host target "$synthhost" --procs "$PROCS" --total-mib "$TOTAL_MIB" --seed "$SEED" \
        --npat 100 --dir "$work"
else
    size=(-g "$GIB")
    [[ $GIB == *.* ]] && size=(-m "$(python3 -c "print(round($GIB * 1024))")")
    plant=()
    [[ $RULES != gen ]] || plant=(--plant-file "$work/gen/plants.txt")
    start_host target "$bigproc" "${size[@]}" -t 3600 "${plant[@]}"
fi
target_pid=${host_pid[target]}
if ((HOST)); then
    pids=$(awk '$1 == "PROC" { print $2 }' "$work/target.txt" | paste -sd,)
    echo "host: synthhost pid $target_pid, $(grep -c '^PROC' "$work/target.txt") targets," \
        "$(grep -c '^PLANT' "$work/target.txt") IOCs planted"
else
    pids=$target_pid
    echo "target: bigproc pid $target_pid, $GIB GiB, $(grep -c '^planted 0x[0-9a-f]* f' \
        "$work/target.txt") rule strings planted"
fi
cat >"$work/yara_all.sh" <<EOF
# one yara per pid, $JOBS at a time; per pid: out, err, peak RSS
mkdir -p "\$1"
echo "$pids" | tr , '\n' | xargs -P $JOBS -I{} sh -c \
    'exec /usr/bin/time -f %M -o "\$1/{}.rss" yara -a $YARA_TIMEOUT ${defs[*]} -s $(printf '"%s" ' "${yrules[@]}") {} >"\$1/{}.out" 2>"\$1/{}.err"' sh "\$1"
EOF

# 3. the runs (run_once, pick: common.sh)
bench_time_format='%U %S %M' # CPU time too: the machine may be shared
mkdir -m 0700 "$work/cache"
t0=$(date +%s.%N)
"$memgrep" scan "${defs[@]}" -q -r "$rules" -p "$pids" --db-cache "$work/cache" -j "$JOBS" \
    >/dev/null 2>&1 || true
echo "database cached in $(since "$t0") s: $(stat -c %s "$work"/cache/*.hsdb) bytes"
load_average before | tee -a "$work/load.txt"
echo "running ($RUNS rounds, each tool once per round, fastest kept):"
for ((i = 0; i < RUNS; i++)); do
    run_once memgrep-cold "$i" "$memgrep" scan "${defs[@]}" -r "$rules" -p "$pids" --json \
        --no-db-cache -j "$JOBS"
    run_once memgrep-warm "$i" "$memgrep" scan "${defs[@]}" -r "$rules" -p "$pids" --json \
        --db-cache "$work/cache" -j "$JOBS"
    if ((HOST)); then
        run_once yara "$i" bash "$work/yara_all.sh" "$work/yara.$i.d"
    else
        run_once yara "$i" yara "${defs[@]}" -s "${yrules[@]}" "$target_pid"
    fi
done
tools=(memgrep-cold memgrep-warm yara)
if ((YARA_P2 && !HOST)); then
    /usr/bin/time -f '%e %U %S' -o "$work/yara-p2.cpu" yara "${defs[@]}" -p 2 -s "${yrules[@]}" "$target_pid" \
        >/dev/null 2>&1 || true
fi
for name in "${tools[@]}"; do
    pick "$name" 14 rounds
done
load_average after | tee -a "$work/load.txt"

# 4. the table
python3 - "$work" "$HOST" "$JOBS" "$YARA_TIMEOUT" "$root" "$RULES" <<'EOF'
import glob, json, os, re, subprocess, sys
work, host, jobs, ytimeout, root = sys.argv[1], sys.argv[2] != '0', int(sys.argv[3]), sys.argv[4], sys.argv[5]
gen = sys.argv[6] == 'gen'
rule_files = open(f'{work}/rule_files.txt').read().split('\n')[:-1]
rule_text = ''.join(open(f, encoding='latin-1').read() for f in rule_files)

def rd(name, ext):
    with open(f'{work}/{name}.{ext}', encoding='latin-1') as f:
        return f.read()

def cpu(name):
    """user + system seconds of the fastest round (children included)"""
    w = rd(name, 'rss').split()
    return float(w[-3]) + float(w[-2])

def memgrep_result(name):
    """summary, {pid: rules}, {pid: {(rule, id, addr)}}"""
    summary, rules, hits = None, {}, {}
    for l in rd(name, 'out').splitlines():
        try:
            o = json.loads(l)
        except ValueError:
            continue
        if o.get('type') == 'summary':
            summary = o
        elif o.get('type') == 'rule':
            rules.setdefault(o['pid'], set()).add(o['rule'])
            hs = hits.setdefault(o['pid'], set())
            for s in o['strings']:
                hs.add((o['rule'], s['id'], int(s['address'], 16)))
    if summary is None:
        sys.exit(f"yara.sh: {name} printed no summary (exit {rd(name, 'rc').strip()}): "
                 f"{rd(name, 'err')[:2000]}")
    return summary, rules, hits

def yara_parse(text):
    rules, hits, cur = set(), set(), None
    for line in text.splitlines():
        m = re.match(r'^0x([0-9a-f]+):(\$\w*): ', line)
        if m and cur:
            hits.add((cur, m.group(2), int(m.group(1), 16)))
            continue
        m = re.match(r'^(\w+) (\d+)$', line)
        if m:
            cur = m.group(1)
            rules.add(cur)
    return rules, hits

# yara: {pid: rules}, {pid: hits}, pids it finished, peak RSS
yrules, yhits, ydone, ytimeouts, yerrs, yrss = {}, {}, set(), [], [], 0
if host:
    for out in glob.glob(f'{work}/yara.d/*.out'):
        pid = int(os.path.basename(out)[:-4])
        err = open(out[:-4] + '.err', encoding='latin-1').read()
        if 'timed out' in err:
            ytimeouts.append(pid)
            continue
        if err.strip():
            yerrs.append(f'{pid}: {err.strip()[:200]}')
        yrules[pid], yhits[pid] = yara_parse(open(out, encoding='latin-1').read())
        ydone.add(pid)
        rss = open(out[:-4] + '.rss').read().split()
        if rss and rss[-1].isdigit():
            yrss = max(yrss, int(rss[-1]))
else:
    pid = int(open(f'{work}/target.txt').read().split('pid ', 1)[1].split()[0])
    yrules[pid], yhits[pid] = yara_parse(rd('yara', 'out'))
    ydone.add(pid)
    yrss = int(rd('yara', 'rss').split()[-1])
    if rd('yara', 'err').strip():
        yerrs.append(rd('yara', 'err').strip()[:300])

expect = json.load(open(f'{work}/gen/expect.json')) if gen else None
db = sum(os.path.getsize(p) for p in glob.glob(f'{work}/cache/*.hsdb'))
nrules = len(re.findall(r'^\s*(?:(?:private|global)\s+)*rule\s', rule_text, re.M))
nstrings = len(re.findall(r'^\s*\$\w*\s*=', rule_text, re.M))
bad = False
rows, notes = [], []
for name in ('memgrep-cold', 'memgrep-warm'):
    summ, mr, mh = memgrep_result(name)
    same_r = all(mr.get(p, set()) == yrules[p] for p in ydone)
    same_h = all(mh.get(p, set()) == yhits[p] for p in ydone)
    nr = sum(len(mr.get(p, ())) for p in ydone)
    nh = sum(len(mh.get(p, ())) for p in ydone)
    mib = summ['bytes_scanned'] / 2**20
    rows.append(dict(name=name, secs=float(rd(name, 'secs')), scan=summ['elapsed_seconds'], cpu=cpu(name),
                     cbm=summ.get('callbacks', 0) / mib if mib else 0,
                     rss=int(rd(name, 'rss').split()[-1]), rc=int(rd(name, 'rc')),
                     verdict=f"{nr} / {nh}: " + ('same' if same_r and same_h else 'DIFFERENT'),
                     bytes=summ['bytes_scanned'] + summ['bytes_deduped']))
    if not (same_r and same_h):
        bad = True
        for p in sorted(ydone):
            for what, a, b in (('rules', yrules[p], mr.get(p, set())),
                               ('strings', yhits[p], mh.get(p, set()))):
                for x in sorted(a - b, key=str)[:10]:
                    notes.append(f'  {name} pid {p}: {what} only yara: {x}')
                for x in sorted(b - a, key=str)[:10]:
                    notes.append(f'  {name} pid {p}: {what} only memgrep: {x}')
    allr = set().union(*mr.values()) if mr else set()
    if host and gen:
        planted = []
        for l in open(f'{work}/target.txt', encoding='latin-1'):
            f = l.rstrip('\n').split(' ', 3)
            if f[0] == 'PLANT':
                planted.append((int(f[1]), int(f[2], 16)))
        got = {(p, a) for p, hs in mh.items() for (r, _, a) in hs if r.startswith('Linux_Ioc_')}
        miss = [x for x in planted if x not in got]
        notes.append(f'  {name}: {len(planted) - len(miss)}/{len(planted)} planted IOCs reported '
                     f'at their pid and address; {summ["processes_scanned"]} processes, '
                     f'{summ["bytes_scanned"] / 1e9:.2f} GB scanned + {summ["bytes_deduped"] / 1e9:.2f} GB '
                     f'replayed, {summ["rule_matches"]} rule matches')
        bad |= bool(miss)
    elif not gen:
        notes.append(f"  {name}: {summ['bytes_scanned'] / 1e9:.2f} GB scanned, "
                     f"{summ['rule_matches']} rule matches, {summ['rules_skipped']} rules skipped, "
                     f"{summ.get('callbacks', 0)} callbacks")
    else:
        hit_missing = sorted(set(expect['hit']) - allr)
        miss_matched = sorted(set(expect['miss']) & allr)
        notes.append(f"  {name}: {len(expect['hit']) - len(hit_missing)}/{len(expect['hit'])} "
                     f"planted rules matched, {len(miss_matched)}/{len(expect['miss'])} near misses "
                     f"matched; {summ['bytes_scanned'] / 1e9:.2f} GB scanned, "
                     f"{summ['rule_matches']} rule matches")
        for r in hit_missing:
            notes.append(f'    MISSED {r}')
        for r in miss_matched:
            notes.append(f'    NEAR MISS MATCHED {r}')
        bad |= bool(hit_missing or miss_matched)
rows.append(dict(name='yara' + (f' (xargs -P {jobs}, -a {ytimeout})' if host else ''),
                 secs=float(rd('yara', 'secs')), scan=None, cbm=None, rss=yrss, cpu=cpu('yara'), rc=int(rd('yara', 'rc')),
                 verdict=f"{sum(len(yrules[p]) for p in ydone)} / {sum(len(yhits[p]) for p in ydone)}",
                 bytes=None))
ysecs, ycpu = rows[-1]['secs'], rows[-1]['cpu']

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return '?'
print()
print('machine: nproc ' + sh('nproc') + ', ' + sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()
      + ', ' + sh("awk '/MemTotal/ { printf \"%.0f GiB\", $2 / 1048576 }' /proc/meminfo")
      + ', Linux ' + sh('uname -r') + ', THP ' + sh("sed 's/.*\\[\\(.*\\)\\].*/\\1/' /sys/kernel/mm/transparent_hugepage/enabled")
      + ', ' + sh("yara --version | sed 's/^/YARA /'") + ', Hyperscan '
      + sh("dpkg-query -W -f '${Version}' libhyperscan5 2>/dev/null || echo '?'")
      + ', memgrep ' + sh(f"git -C {root} describe --always --dirty 2>/dev/null || echo '?'"))
print(f'rules: {sys.argv[6]}, {len(rule_files)} files, {nrules} rules, {nstrings} strings; database {db} bytes ({db / 2**20:.2f} MiB); '
      + '; '.join(open(f'{work}/load.txt').read().splitlines()))
print()
hdr = ['tool', 'wall s', 'scan s', 'yara / tool', 'CPU s', 'yara / tool CPU', 'callbacks / MiB', 'peak RSS', 'RSS goal',
       'rules / strings matched', 'exit']
out = [hdr]
goal = 64 * 2**20 + db
for r in rows:
    out.append([r['name'], f"{r['secs']:.2f}", '-' if r['scan'] is None else f"{r['scan']:.2f}",
                f"{ysecs / r['secs']:.1f}x", f"{r['cpu']:.2f}", f"{ycpu / r['cpu']:.1f}x",
                '-' if r['cbm'] is None else f"{r['cbm']:.0f}", f"{r['rss'] / 1024:.1f} MiB",
                ('-' if r['name'].startswith('yara') else
                 ('met' if r['rss'] * 1024 <= goal else 'NOT met') + f" (<= {goal / 2**20:.1f})"),
                r['verdict'], str(r['rc'])])
w = [max(len(x[i]) for x in out) for i in range(len(hdr))]
for i, x in enumerate(out):
    print('| ' + ' | '.join(c.ljust(w[k]) if k == 0 else c.rjust(w[k]) for k, c in enumerate(x)) + ' |')
    if i == 0:
        print('|' + '|'.join('-' * (n + 2) for n in w) + '|')
print()
goal_x = 20 if host else 25
for r in rows[:2]:
    x = ysecs / r['secs']
    print(f"  {r['name']}: {x:.1f}x faster than yara (goal >= {goal_x}x: {'met' if x >= goal_x else 'NOT met'})")
print("  callbacks / MiB: Hyperscan callbacks of memgrep's main database (summary \"callbacks\") "
      "per MiB scanned: literal hits and factor hits its lazy and exact expressions confirm")
print("  wall s: whole command (compile or database load included); scan s: memgrep's elapsed_seconds; "
      "CPU s: user + system of the command and its children (memgrep's 2 threads add up; less "
      "sensitive to other load on the machine than wall time)")
print(f"  rules / strings matched: over {'the ' + str(len(ydone)) + ' pids yara finished' if host else 'the process'}; "
      "same = equal sets of matching rules and of (rule, $id, address) per process")
if host:
    print(f"  yara timed out (-a {ytimeout}): {len(ytimeouts)} pids, excluded from the comparison")
if os.path.exists(f'{work}/yara-p2.cpu'):
    e, u, s = (float(v) for v in open(f'{work}/yara-p2.cpu').read().split()[-3:])
    print(f"  yara -p 2 (once): {e:.2f} s wall, {u + s:.2f} s CPU ({100 * (u + s) / e:.0f}% of one core): "
          "-p threads scan files of a directory; one process is one thread")
for y in yerrs[:5]:
    print(f'  yara stderr: {y}')
for n in notes:
    print(n)
sys.exit(1 if bad else 0)
EOF
