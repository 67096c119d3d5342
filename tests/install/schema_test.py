#!/usr/bin/env python3
"""Suite schema: the --json output of every command `memgrep help` lists,
run against a fixture, validates against docs/schema/memgrep.schema.json
(Debian's python3-jsonschema; skipped without it). Every record type the
runs print must be one the schema knows, and the scan runs must produce the
record types they are meant to (match, count, process, summary; rule with
-r when memgrep has it). Commands other than scan (ps, maps, dump, strings)
are run only if listed, with the first argument shape that works."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PLANT_NAMES, Fixture, fail, need_root, skip, source_dir

try:
    import jsonschema
except ImportError:
    skip("python3-jsonschema is not installed (scripts/bootstrap --tests installs it)")
need_root("the commands read a fixture's memory")

with open(os.path.join(source_dir(), "docs/schema/memgrep.schema.json")) as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)

memgrep = os.environ["MEMGREP"]
cache = ["--db-cache", os.environ["MG_DB_CACHE"]]
help_text = subprocess.run([memgrep, "help"], capture_output=True, text=True).stdout
commands = []
on = False
for line in help_text.splitlines():
    if line.startswith("Commands:"):
        on = True
    elif on and not line.strip():
        break
    elif on and line.split()[0] != "help":
        commands.append(line.split()[0])
print("commands:", " ".join(commands))

seen = {}
failures = []


def check(what, argv, ok_rcs=(0, 1), want_types=()):
    r = subprocess.run([memgrep] + argv, capture_output=True)
    if r.returncode not in ok_rcs:
        return None
    types = set()
    for n, raw in enumerate(r.stdout.decode("ascii").splitlines(), 1):
        rec = json.loads(raw)
        types.add(rec.get("type"))
        seen[rec.get("type")] = seen.get(rec.get("type"), 0) + 1
        errors = sorted(validator.iter_errors(rec), key=lambda e: list(e.path))
        for e in errors[:3]:
            failures.append(f"{what}: line {n} ({rec.get('type')}): {e.message} at "
                            f"{'/'.join(map(str, e.path)) or 'top'}")
    missing = set(want_types) - types
    if missing:
        failures.append(f"{what}: no {sorted(missing)} record")
    print(f"{what}: exit {r.returncode}, records {sorted(t for t in types if t)}")
    return r


fx = Fixture()
tmp = tempfile.mkdtemp(prefix="mg-schema-")
try:
    pid = str(fx.pid)
    pats = sum((["-e", fx.marker(n)] for n in PLANT_NAMES), [])
    scan = ["scan", "--json", "-p", pid] + cache
    check("scan", scan + pats, want_types=("match", "summary"))
    check("scan -c", scan + ["-c"] + pats, want_types=("count", "summary"))
    check("scan -l", scan + ["-l"] + pats, want_types=("process", "summary"))
    check("scan (no match)", scan + ["-e", fx.marker("never-planted")], want_types=("summary",))
    scan_help = subprocess.run([memgrep, "scan", "--help"], capture_output=True, text=True).stdout
    if "--rules" in scan_help:
        rules = os.path.join(tmp, "test.yar")
        with open(rules, "w") as f:
            f.write('rule planted : test { meta: n = 1 strings: $h = "%s" condition: $h }\n'
                    % fx.marker("heap"))
        check("scan -r", scan + ["-r", rules], want_types=("rule", "summary"))
    else:
        print("scan -r: not run, this memgrep has no --rules")
    if "--process-timeout" in scan_help and "--max-rate" in scan_help:
        # A 'timeout' error record and an incomplete summary.
        check("scan --process-timeout", scan + ["--process-timeout", "0.2", "--max-rate", "64K",
              "-j", "1"] + pats, want_types=("error", "summary"))
        check("scan --timeout", scan + ["--timeout", "0.2", "--max-rate", "64K", "-j", "1"] + pats,
              ok_rcs=(3,), want_types=("summary",))

    # The other commands: the first argument shape that runs.
    shapes = {
        "ps": [["--json"]],
        "maps": [["--json", "-p", pid], ["--json", pid]],
        "strings": [["--json", "-p", pid], ["--json", pid]],
        "dump": [["--json", "-p", pid, "-o", os.path.join(tmp, "dump")],
                 ["--json", "-p", pid, "--output-dir", os.path.join(tmp, "dump")],
                 ["--json", pid, os.path.join(tmp, "dump")]],
    }
    for cmd in commands:
        if cmd == "scan":
            continue
        if cmd not in shapes:
            failures.append(f"{cmd}: a command this test does not know: add its runs here "
                            "and its records to docs/schema/")
            continue
        for args in shapes[cmd]:
            if check(f"{cmd} {' '.join(args)}", [cmd] + args) is not None:
                break
        else:
            failures.append(f"{cmd}: none of {shapes[cmd]} ran: update schema_test.py")
finally:
    fx.close()
    subprocess.run(["rm", "-rf", tmp])

print("records validated:", ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))
if failures:
    fail("\n  ".join(["schema mismatches:"] + failures))
print("ok")
