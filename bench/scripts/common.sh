# common.sh - setup, target and timing helpers shared by the scripts in
# bench/scripts. Sourced, not run; the caller has `set -euo pipefail` on.
# Globals it sets: bench_name, root, build, work, host_pid, host_fd.
# shellcheck shell=bash

# bench_dirs NAME [BUILDDIR]: NAME (e.g. compare.sh) starts every message;
# root is the checkout, build is BUILDDIR (default $root/build), absolute.
# bench/scripts goes on PYTHONPATH: the report helpers import runs.py.
bench_dirs() {
    bench_name=$1
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    # shellcheck disable=SC2034  # build is for the caller
    build=$(cd "${2:-$root/build}" && pwd)
    export PYTHONPATH=$root/bench/scripts${PYTHONPATH:+:$PYTHONPATH}
}

# bench_need EXE...: exit 2 unless every EXE (a built program) and
# /usr/bin/time are there.
bench_need() {
    local x
    for x in "$@"; do
        [[ -x $x ]] || { echo "$bench_name: $x missing: run scripts/bootstrap" >&2; exit 2; }
    done
    [[ -x /usr/bin/time ]] || { echo "$bench_name: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
}

# bench_need_yara KNOB: exit 2 unless yara is on PATH, naming the
# environment knob that skips it (KNOB=0).
bench_need_yara() {
    if ! command -v yara >/dev/null; then
        echo "$bench_name: yara missing (apt-get install yara), or set $1=0" >&2
        exit 2
    fi
}

# bench_warn_not_root WHAT: when not root, warn (on stderr, no exit) that WHAT.
bench_warn_not_root() {
    if ((EUID != 0)); then
        echo "$bench_name: not root: $1" >&2
    fi
}

# bench_workdir STOP: make the scratch directory $work
# (/tmp/memgrep-NAME.XXXXXX, NAME without .sh); on exit run the command STOP
# (it stops the script's targets; it must not fail) and remove $work.
# INT and TERM exit with 130, which runs the same.
bench_workdir() {
    bench_stop=$1
    work=$(mktemp -d "/tmp/memgrep-${bench_name%.sh}.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
bench_cleanup() {
    "$bench_stop"
    rm -rf "$work"
}

# stop_pid PID: if PID is not empty, kill it and reap it; never fails.
stop_pid() {
    if [[ -n $1 ]]; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}

# The target programs (bigproc, synthhost, manymaps), by name: pid and the
# shell's end of the FIFO that is their stdin.
declare -A host_pid=() host_fd=()

# start_host NAME PROGRAM ARGS...: start a target program that runs until its
# stdin reaches end of file, with stdin on a FIFO held open here; its output
# goes to $work/NAME.txt; wait for READY (exit 2 if it dies or takes 300 s).
start_host() {
    local name=$1 fd t0 waited=0
    shift
    mkfifo "$work/$name.in"
    # (without the other hosts' FIFO ends: they must see EOF when we close them)
    (
        for fd in "${host_fd[@]}"; do exec {fd}>&-; done
        exec "$@"
    ) <"$work/$name.in" >"$work/$name.txt" 2>"$work/$name.err" &
    host_pid[$name]=$!
    exec {fd}>"$work/$name.in"
    host_fd[$name]=$fd
    t0=$(date +%s.%N)
    until grep -q '^READY' "$work/$name.txt"; do
        if ! kill -0 "${host_pid[$name]}" 2>/dev/null || ((waited > 3000)); then
            echo "$bench_name: $name did not start: $(cat "$work/$name.err")" >&2
            exit 2
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "  $name ready in $(since "$t0") s (pid ${host_pid[$name]})"
}

# stop_host NAME: close its stdin and reap it.
stop_host() {
    local name=$1 fd=${host_fd[$1]}
    exec {fd}>&-
    wait "${host_pid[$name]}" 2>/dev/null || true
    unset "host_pid[$name]" "host_fd[$name]"
}

# stop_hosts: kill and reap every host still running (bench_workdir's STOP
# where they are all a script starts); never fails.
stop_hosts() {
    local n
    for n in "${!host_pid[@]}"; do
        stop_pid "${host_pid[$n]}"
    done
}

# since T0: seconds from T0 (a `date +%s.%N`) to now, one decimal.
since() {
    python3 -c "print(f'{$(date +%s.%N) - $1:.1f}')"
}

# watch_started PID: wait (60 s at most) for the start record of the
# `memgrep watch --json` PID writing to $work/watch.jsonl (it listens from
# then on); exit 2 with its stderr ($work/watch.err) if it ends first or
# never writes it.
watch_started() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q '"type":"start"' "$work/watch.jsonl" && return 0
        kill -0 "$1" 2>/dev/null || { cat "$work/watch.err" >&2; exit 2; }
        sleep 0.1
    done
    echo "$bench_name: watch did not start" >&2
    exit 2
}

# load_average WHEN: print "load average WHEN: " and the 1, 5, 15 minute loads.
load_average() {
    echo "load average $1: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# yara_rules PATTERNS RULES: the literals of PATTERNS (one a line; blank and
# '#' lines skipped) as one YARA rule `ioc` with strings $s0, $s1, ... in order.
yara_rules() {
    python3 - "$1" "$2" <<'EOF'
import sys
pats = [l.rstrip('\r\n') for l in open(sys.argv[1], encoding='latin-1')]
pats = [p for p in pats if p and not p.startswith('#')]
with open(sys.argv[2], 'w', encoding='latin-1') as f:
    f.write('rule ioc {\n  strings:\n')
    for i, p in enumerate(pats):
        f.write('    $s%d = "%s"\n' % (i, p.replace('\\', '\\\\').replace('"', '\\"')))
    f.write('  condition:\n    any of them\n}\n')
EOF
}

# run_once NAME I CMD...: run CMD once as run (round) I of NAME, under
# /usr/bin/time, into $work/NAME.I.{out,err,rss,secs,rc} (rss: peak KiB, the
# last word of the file; secs: wall time from date +%s.%N); appends "SECS I"
# to $work/NAME.all. The caller may set bench_time_format (default %M; it
# must end in %M), e.g. '%U %S %M' to have the CPU time too.
run_once() {
    local name=$1 i=$2 t0 t1 rc=0
    shift 2
    t0=$(date +%s.%N)
    /usr/bin/time -f "${bench_time_format:-%M}" -o "$work/$name.$i.rss" "$@" >"$work/$name.$i.out" \
        2>"$work/$name.$i.err" || rc=$?
    t1=$(date +%s.%N)
    echo "$rc" >"$work/$name.$i.rc"
    python3 -c "print($t1 - $t0)" >"$work/$name.$i.secs"
    echo "$(cat "$work/$name.$i.secs") $i" >>"$work/$name.all"
}

# pick NAME WIDTH WORD: keep the fastest run of NAME: its files (and its
# NAME.I.found file, NAME.I.d directory, if any) copied to $work/NAME.*; print
# NAME (padded to WIDTH), its time, exit status and every run's time in run
# order ("WORD: ...", WORD e.g. runs or rounds).
pick() {
    local name=$1 width=$2 word=$3 i f
    i=$(sort -g "$work/$name.all" | awk 'NR == 1 { print $2 }')
    for f in out err rss secs rc; do
        cp "$work/$name.$i.$f" "$work/$name.$f"
    done
    [[ ! -e $work/$name.$i.found ]] || cp "$work/$name.$i.found" "$work/$name.found"
    [[ ! -d $work/$name.$i.d ]] || cp -r "$work/$name.$i.d" "$work/$name.d"
    printf '  %-*s %6.2f s (exit %s; %s: %s)\n' "$width" "$name" "$(cat "$work/$name.secs")" \
        "$(cat "$work/$name.rc")" "$word" \
        "$(sort -n -k2 "$work/$name.all" | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }')"
}
