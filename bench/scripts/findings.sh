#!/usr/bin/env bash
# findings.sh - what `memgrep scan --findings` costs over the same scan
# without it: a whole-host sweep, side by side.
#
#   sudo bench/scripts/findings.sh [BUILDDIR]       (default: build)
#
# Environment: ROUNDS (default 5), PATTERN (a literal, default a random
# token nothing holds), ARGS (extra scan arguments, default "-j 2"), BASE
# (another build directory, e.g. main's in a clone: its plain and findings
# runs too, in the same rounds, and its ratios beside).
#
# What it does: ROUNDS interleaved rounds (the order alternates) of
#   plain     memgrep scan --json --no-db-cache ARGS -e PATTERN
#   findings  the same with --findings
#   check     memgrep check --json (the findings alone, for scale)
# over every process of the host, each under /usr/bin/time. Prints each
# command's fastest and every run's wall time, the processes each saw, and
# the ratios findings/plain of the medians, of wall time and of CPU time
# (user + system: on a host shared with other work, the steadier one).
# Target: at most 1.05.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_dirs findings.sh "$@"
ROUNDS=${ROUNDS:-5}
PATTERN=${PATTERN:-mgbench-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')}
read -r -a ARGS <<<"${ARGS:--j 2}"
memgrep=$build/cli/memgrep
bench_need "$memgrep"
names=(plain findings check)
if [[ -n ${BASE:-} ]]; then
    base_memgrep=$BASE/cli/memgrep
    bench_need "$base_memgrep"
    names+=(base-plain base-findings)
fi
bench_warn_not_root "other users' processes are not read"
nothing() { :; }
bench_workdir nothing
bench_time_format='%U %S %M'

load_average before
for ((i = 1; i <= ROUNDS; i++)); do
    order=("${names[@]}")
    ((i % 2)) || mapfile -t order < <(printf '%s\n' "${names[@]}" | tac)
    for name in "${order[@]}"; do
        case $name in
        base-plain) run_once "$name" "$i" "$base_memgrep" scan --json --no-db-cache "${ARGS[@]}" \
            -e "$PATTERN" ;;
        base-findings)
            run_once "$name" "$i" "$base_memgrep" scan --json --no-db-cache --findings "${ARGS[@]}" \
                -e "$PATTERN"
            ;;
        plain) run_once plain "$i" "$memgrep" scan --json --no-db-cache "${ARGS[@]}" -e "$PATTERN" ;;
        findings)
            run_once findings "$i" "$memgrep" scan --json --no-db-cache --findings "${ARGS[@]}" \
                -e "$PATTERN"
            ;;
        check) run_once check "$i" "$memgrep" check --json ;;
        esac
    done
done
load_average after
echo "wall time, fastest of $ROUNDS rounds:"
for name in "${names[@]}"; do
    pick "$name" 13 runs
done
median() { sort -g "$work/$1.all" | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }
scanned() { grep -o '"processes_scanned":[0-9]*' "$work/$1.out" | cut -d: -f2; }
records() { grep -c "\"type\":\"$2\"" "$work/$1.out" || true; }
echo "processes scanned: plain $(scanned plain), findings $(scanned findings);" \
    "finding records: findings $(records findings finding), check $(records check finding)"
# CPU seconds (user + system) of each run of NAME, one a line: the last line
# of its time output (a run that exits non-zero has "Command exited with
# non-zero status N" before it: a scan with -p that matches nothing)
cpu() { for f in "$work/$1".[0-9]*.rss; do awk 'END { print $1 + $2 }' "$f"; done; }
cpu_median() { cpu "$1" | sort -g | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }
python3 -c "print(f'median wall findings/plain: {$(median findings) / $(median plain):.3f}' \
    f' ({$(median findings):.2f} s / {$(median plain):.2f} s); check alone {$(median check):.2f} s')"
python3 -c "print(f'median CPU findings/plain: {$(cpu_median findings) / $(cpu_median plain):.3f}' \
    f' ({$(cpu_median findings):.2f} s / {$(cpu_median plain):.2f} s);' \
    f' check alone {$(cpu_median check):.2f} s')"
if [[ -n ${BASE:-} ]]; then
    python3 -c "print(f'BASE median wall findings/plain: {$(median base-findings) / $(median base-plain):.3f}' \
        f' ({$(median base-findings):.2f} s / {$(median base-plain):.2f} s)')"
    python3 -c "print(f'BASE median CPU findings/plain: {$(cpu_median base-findings) / $(cpu_median base-plain):.3f}' \
        f' ({$(cpu_median base-findings):.2f} s / {$(cpu_median base-plain):.2f} s)')"
fi
