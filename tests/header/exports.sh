#!/bin/sh
# exports.sh LIB - the shared library exports the public API and nothing
# else: every defined dynamic symbol is an mg_ function of the version node
# MEMGREP_0 (engine/libmemgrep.map), and the API's entry points are there.
set -eu
lib=$1
syms=$(nm -D --defined-only --with-symbol-versions "$lib" | awk '$3 != "" {print $3}')
[ -n "$syms" ] || { echo "no symbols in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^mg_[a-z0-9_]*@@MEMGREP_0$' | grep -vx 'MEMGREP_0' || true)
if [ -n "$bad" ]; then
    echo "exported beyond the API:"
    printf '%s\n' "$bad"
    exit 1
fi
for f in mg_scan mg_engine_new mg_engine_scan mg_engine_free mg_version mg_version_api; do
    printf '%s\n' "$syms" | grep -qx "$f@@MEMGREP_0" || { echo "missing: $f"; exit 1; }
done
echo "ok: $(printf '%s\n' "$syms" | wc -l) symbols"
