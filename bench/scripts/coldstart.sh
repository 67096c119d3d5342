#!/usr/bin/env bash
# coldstart.sh - a cold start with thousands of regexes: memgrep (no
# database cache) against yara, compile and scan together, on one target.
#
#   sudo bench/scripts/coldstart.sh [BUILDDIR]      (default: build; run scripts/bootstrap first)
#
# Environment: GIB (target size, default 2), NRE (IOC regexes, default 3000),
# NWEB (webshell-shaped regexes, default 676), SEED (generator seed, default
# 1), RUNS (memgrep runs, fastest kept, default 3), YARA=0 to skip yara,
# BASE=PATH a second memgrep to time the same way (e.g. main's build, whose
# one database compiles every regex up front).
#
# What it does:
#  1. Generates (seeded, bench/scripts/coldstart.sh's own Python) NRE IOC regexes with
#     bounded repeats (`[a-z]{5}\.LABEL[0-9]{2,4}\.(com|net)` and kin); the
#     first 8 are the 8 strings bigproc plants with their digit runs made
#     bounded repeats, so that there are hits to compare. The same regexes
#     as one YARA rule (`$rN = /.../`, `any of them`).
#  2. Starts bench/bigproc (GIB GiB) and times, under /usr/bin/time:
#       memgrep scan --json --no-db-cache -j 2 -p PID -f REGEXES   (RUNS times)
#       yara -s RULES PID                                          (once)
#     and compares the hit sets: (address, regex number) from memgrep's JSON
#     and from yara's -s lines.
#  3. Generates NWEB regexes shaped like public webshell rules' (`\b` word
#     boundaries, alternations, bounded repeats of 64 and more) and times a
#     whole `memgrep scan --no-db-cache -q` of a small process (a `sleep`)
#     with them: the compile is nearly all of it.
# Goals: memgrep's whole run at most 0.2x yara's, every hit the same; the
# webshell-shaped set in at most 0.5 s.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs coldstart.sh "$@"
GIB=${GIB:-2}
NRE=${NRE:-3000}
NWEB=${NWEB:-676}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
YARA=${YARA:-1}
BASE=${BASE:-}

memgrep=$build/cli/memgrep
bigproc=$build/bench/bigproc
bench_need "$memgrep" "$bigproc"
if ((YARA)); then
    bench_need_yara YARA
fi
bench_warn_not_root "reading another process's memory may be denied"

sleep_pid=
stop_targets() {
    stop_hosts
    stop_pid "$sleep_pid"
}
bench_workdir stop_targets

# 1. the regexes
"$bigproc" --patterns 8 >"$work/planted-literals.txt"
python3 - "$SEED" "$NRE" "$NWEB" "$work" <<'EOF'
import random, re, sys
seed, nre, nweb, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = random.Random(seed)
def label(lo, hi):
    return ''.join(r.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(r.randint(lo, hi)))
def esc(s):
    return re.sub(r'([\\.^$|?*+()\[\]{}])', r'\\\1', s)
# the planted strings, digit runs made bounded repeats
regs = []
for line in open(f'{work}/planted-literals.txt'):
    s = esc(line.rstrip('\n'))
    regs.append(re.sub(r'[0-9]+', lambda m: '[0-9]{1,%d}' % (len(m.group()) + 2), s))
shapes = [
    lambda: r'[a-z]{5}\.%s[0-9]{2,4}\.(com|net)' % label(5, 9),
    lambda: r'https?://%s\.[a-z]{2,6}/[a-z0-9]{4,12}\.php' % label(5, 9),
    lambda: r'C:\\Users\\[A-Za-z]{3,12}\\AppData\\%s[0-9]{1,3}\.exe' % label(5, 9),
    lambda: r'Global\\%s-[0-9a-f]{8}' % label(6, 10),
    lambda: r'/tmp/\.%s/[a-z0-9]{6}\.so' % label(5, 9),
    lambda: r'%s[0-9]{2,6}\.(ru|cc|top|xyz)' % label(6, 10),
    lambda: r'[A-Za-z0-9]{8,16}@%s\.(com|org)' % label(5, 9),
    lambda: r'(%s|%s)-[0-9]{3,5}-[a-z]{4}' % (label(5, 8), label(5, 8)),
]
seen = set(regs)
while len(regs) < nre:
    x = r.choice(shapes)()
    if x not in seen:
        seen.add(x)
        regs.append(x)
with open(f'{work}/regexes.txt', 'w') as f:
    for x in regs:
        f.write('re:' + x + '\n')
with open(f'{work}/rules.yar', 'w') as f:
    f.write('rule ioc_regexes {\n  strings:\n')
    for i, x in enumerate(regs):
        f.write('    $r%d = /%s/\n' % (i, x.replace('/', '\\/')))
    f.write('  condition:\n    any of them\n}\n')
# webshell-shaped: word boundaries, alternations, long bounded repeats
funcs = ['eval', 'assert', 'system', 'passthru', 'shell_exec', 'base64_decode', 'gzinflate',
         'str_rot13', 'create_function', 'preg_replace', 'exec', 'popen', 'proc_open']
web = set()
wshapes = [
    lambda: r'\b%s\s{0,8}\(\s{0,8}\$_(POST|GET|REQUEST|COOKIE)\[[\x27"]%s[\x27"]\]' % (r.choice(funcs), label(3, 8)),
    lambda: r'\b%s[A-Za-z0-9+/]{%d,}={0,2}' % (label(4, 8), r.choice([64, 100, 128])),
    lambda: r'\b%s[A-Za-z0-9+/]{%d}' % (label(4, 8), r.choice([64, 100, 128])),
    lambda: r'\$%s\s*=\s*[\x27"][A-Za-z0-9+/=]{64,}[\x27"];' % label(4, 10),
    lambda: r'\b(%s|%s)\s{0,4}\(\s{0,4}(%s|%s)\s{0,4}\(' % (r.choice(funcs), r.choice(funcs), r.choice(funcs), label(4, 9)),
    lambda: r'<\?php\s{0,16}@?%s\(\$[a-z_]{1,16}\)' % r.choice(funcs),
    lambda: r'\bchr\([0-9]{2,3}\)\.chr\([0-9]{2,3}\)\.%s' % label(3, 6),
    lambda: r'[\x27"]%s[\x27"]\s{0,4}=>\s{0,4}[\x27"][0-9a-f]{32,64}[\x27"]' % label(4, 9),
]
while len(web) < nweb:
    web.add(r.choice(wshapes)())
with open(f'{work}/webshell.txt', 'w') as f:
    for x in sorted(web):
        f.write('re:' + x + '\n')
EOF
echo "regexes: $(wc -l <"$work/regexes.txt") IOC (seed $SEED), $(wc -l <"$work/webshell.txt") webshell-shaped"

# 2. the target
start_host bigproc "$bigproc" -g "$GIB" -t 1800
big_pid=${host_pid[bigproc]}
echo "target: bigproc pid $big_pid, $GIB GiB"
load_average before
for ((i = 0; i < RUNS; i++)); do
    run_once memgrep "$i" "$memgrep" scan --json --no-db-cache -j 2 -p "$big_pid" -f "$work/regexes.txt"
    if [[ -n $BASE ]]; then
        run_once base "$i" "$BASE" scan --json --no-db-cache -j 2 -p "$big_pid" -f "$work/regexes.txt"
    fi
done
pick memgrep 8 runs
[[ -z $BASE ]] || pick base 8 runs
if ((YARA)); then
    run_once yara 0 yara -s "$work/rules.yar" "$big_pid"
    pick yara 8 runs
fi
load_average after

# 3. the webshell-shaped set: a whole run against a small process
sleep 600 &
sleep_pid=$!
for ((i = 0; i < RUNS; i++)); do
    run_once web "$i" "$memgrep" scan -q --no-db-cache -p "$sleep_pid" -f "$work/webshell.txt"
    if [[ -n $BASE ]]; then
        run_once web-base "$i" "$BASE" scan -q --no-db-cache -p "$sleep_pid" -f "$work/webshell.txt"
    fi
done
pick web 8 runs
[[ -z $BASE ]] || pick web-base 8 runs

python3 - "$work" "$YARA" "$BASE" <<'EOF'
import json, re, sys
work, yara, base = sys.argv[1], sys.argv[2] != '0', sys.argv[3]
def rd(name, ext):
    return open(f'{work}/{name}.{ext}', encoding='latin-1').read()
split = set()  # memgrep hits across one of yara's 1 GiB region splits
def hits_of(name):
    s, summary = set(), None
    for l in rd(name, 'out').splitlines():
        o = json.loads(l)
        if o.get('type') == 'match':
            a, rs = int(o['address'], 16), int(o['region']['start'], 16)
            s.add((a, o['pattern_id']))
            if (a - rs) >> 30 != (a + o['length'] - 1 - rs) >> 30:
                split.add((a, o['pattern_id']))
        elif o.get('type') == 'summary':
            summary = o
    return s, summary
mg, summ = hits_of('memgrep')
secs = lambda n: float(rd(n, 'secs'))
rss = lambda n: int(rd(n, 'rss').split()[-1]) / 1024
print()
print(f"| run | wall s | peak RSS | hits | exit |")
print(f"|---|---|---|---|---|")
print(f"| memgrep (no cache) | {secs('memgrep'):.2f} | {rss('memgrep'):.0f} MiB | {len(mg)} | {rd('memgrep', 'rc').strip()} |")
if base:
    b, _ = hits_of('base')
    print(f"| BASE (no cache) | {secs('base'):.2f} | {rss('base'):.0f} MiB | {len(b)} | {rd('base', 'rc').strip()} |")
    print(f"  BASE hits {'identical' if b == mg else 'DIFFER: %d only memgrep, %d only BASE' % (len(mg - b), len(b - mg))}")
if yara:
    y = set()
    for l in rd('yara', 'out').splitlines():
        m = re.match(r'0x([0-9a-f]+):\$r(\d+):', l)
        if m:
            y.add((int(m.group(1), 16), int(m.group(2))))
    if rd('yara', 'rc').strip() not in ('0', '1') or not y:
        print('  yara said: ' + rd('yara', 'err')[:500])
    print(f"| yara | {secs('yara'):.2f} | {rss('yara'):.0f} MiB | {len(y)} | {rd('yara', 'rc').strip()} |")
    print(f"  memgrep / yara wall time: {secs('memgrep') / secs('yara'):.3f} (goal <= 0.2)")
    ys = mg & split - y  # yara splits regions at 1 GiB with no overlap (docs/yara.md)
    same = y == mg - ys
    print(f"  hit sets {'identical' if same else 'DIFFER: %d only memgrep, %d only yara' % (len(mg - y - ys), len(y - mg))}"
          + (f" (memgrep also finds {len(ys)} across yara's 1 GiB region split)" if ys else ''))
    for a, i in sorted((mg - ys) ^ y)[:10]:
        print(f"    {'memgrep' if (a, i) in mg else 'yara'} only: 0x{a:x} $r{i}")
print(f"  memgrep scanned {summ['bytes_scanned'] / 2**30:.2f} GiB in {summ['elapsed_seconds']:.2f} s of its run")
print(f"  webshell-shaped set, whole run: {secs('web'):.2f} s (goal <= 0.5 s)"
      + (f"; BASE {secs('web-base'):.2f} s" if base else ''))
EOF
