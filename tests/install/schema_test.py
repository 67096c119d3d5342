#!/usr/bin/env python3
"""Suite schema: the --json output of every command `memgrep help` lists,
run against a fixture with the argument forms of its --help, validates
against docs/schema/memgrep.schema.json (Debian's python3-jsonschema;
skipped without it). Each run must exit as expected and print the record
types it is meant to; every record must fit exactly one shape of $defs
(the shapes are strict: no key beyond those listed, the required ones all
there); and every shape must be printed by some run (the fleet's "host"
record: by suite fleet), so the schema holds nothing stale."""
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
# One validator per record shape of $defs (an object with a "type" const).
shapes = {name: jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": schema["$defs"]})
          for name, d in schema["$defs"].items()
          if "const" in d.get("properties", {}).get("type", {})}
NOT_HERE = {"host"}  # written by deploy/ansible/merge-reports: suite fleet

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

seen = {}  # shape name -> records
ran = set()  # commands run
failures = []


def check(what, argv, rcs=(0,), want=(), check_out=None):
    """Run memgrep argv; its exit status must be in rcs and its stdout JSON
    Lines of which each fits exactly one shape; want: shapes that must be
    among them. Returns the records."""
    ran.add(argv[0])
    r = subprocess.run([memgrep] + argv, capture_output=True)
    if r.returncode not in rcs:
        failures.append(f"{what}: exit {r.returncode}, expected {rcs}: "
                        f"{r.stderr.decode(errors='replace').strip()[:300]}")
        return []
    recs = []
    got = set()
    for n, raw in enumerate(r.stdout.decode("ascii").splitlines(), 1):
        rec = json.loads(raw)
        recs.append(rec)
        errors = sorted(validator.iter_errors(rec), key=lambda e: list(e.path))
        for e in errors[:3]:
            failures.append(f"{what}: line {n} ({rec.get('type')}): {e.message} at "
                            f"{'/'.join(map(str, e.path)) or 'top'}")
        fits = [name for name, v in shapes.items() if v.is_valid(rec)]
        if not errors and len(fits) != 1:
            failures.append(f"{what}: line {n} fits {len(fits)} shapes {fits}: {raw[:200]}")
        for name in fits:
            seen[name] = seen.get(name, 0) + 1
            got.add(name)
    missing = set(want) - got
    if missing:
        failures.append(f"{what}: no {sorted(missing)} record")
    print(f"{what}: exit {r.returncode}, {len(recs)} records {sorted(got)}")
    return recs


fx = Fixture()
tmp = tempfile.mkdtemp(prefix="mg-schema-")
try:
    pid = str(fx.pid)
    pats = sum((["-e", fx.marker(n)] for n in PLANT_NAMES), [])
    scan = ["scan", "--json", "-p", pid] + cache
    check("scan", scan + pats, want=("match", "summary"))
    check("scan -c", scan + ["-c"] + pats, want=("count", "summary"))
    check("scan -l", scan + ["-l"] + pats, want=("scan_process", "summary"))
    check("scan (no match)", scan + ["-e", fx.marker("never-planted")], rcs=(1,),
          want=("summary",))
    rules = os.path.join(tmp, "test.yar")
    with open(rules, "w") as f:
        f.write('rule planted : test hunt { meta: n = 1 s = "x" b = true '
                'strings: $h = "%s" $s = "%s" condition: all of them }\n'
                % (fx.marker("heap"), fx.marker("stack")))
    recs = check("scan -r", scan + ["-r", rules, "-e", fx.marker("tstack")],
                 want=("rule", "match", "summary"))
    if recs and "rule_matches" not in recs[-1]:
        failures.append("scan -r: the summary has no rule_matches")
    # A process left by --process-timeout: an error record of kind timeout.
    recs = check("scan --process-timeout", scan + ["--process-timeout", "0.2", "--max-rate", "64K",
                 "-j", "1"] + pats, rcs=(0, 1), want=("error", "summary"))
    if recs and not any(r["type"] == "error" and r["kind"] == "timeout" for r in recs):
        failures.append("scan --process-timeout: no error record of kind timeout")
    # --timeout: exit 3, the summary incomplete with its stop_reason.
    recs = check("scan --gentle --timeout", scan + ["--gentle", "--max-rate", "64K", "--timeout",
                 "0.3"] + pats, rcs=(3,), want=("summary",))
    if recs and (recs[-1].get("complete"), recs[-1].get("stop_reason")) != (False, "timeout"):
        failures.append(f"scan --timeout: summary {recs[-1]}")

    # watch: the start record, a periodic stats record, then (SIGTERM) the
    # final one and exit 0; matches the first rolling pass finds by then
    # are validated too
    w = subprocess.Popen([memgrep, "watch", "--json", "--stats-every", "0.2", "-e",
                          fx.marker("heap")] + cache, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    ran.add("watch")
    lines = []
    while w.poll() is None:
        line = w.stdout.readline()
        lines.append(line)
        if b'"type":"stats"' in line:
            break
    w.terminate()
    out, err = w.communicate(timeout=120)
    recs = []
    for n, raw in enumerate(b"".join(lines + [out]).decode("ascii").splitlines(), 1):
        rec = json.loads(raw)
        recs.append(rec)
        for e in sorted(validator.iter_errors(rec), key=lambda e: list(e.path))[:3]:
            failures.append(f"watch: line {n} ({rec.get('type')}): {e.message} at "
                            f"{'/'.join(map(str, e.path)) or 'top'}")
        fits = [name for name, v in shapes.items() if v.is_valid(rec)]
        for name in fits:
            seen[name] = seen.get(name, 0) + 1
    types = [r["type"] for r in recs]
    if w.returncode != 0 or types[:1] != ["start"] or types[-1:] != ["stats"] or \
            not recs[-1].get("final"):
        failures.append(f"watch: exit {w.returncode}, records {types}: {err.decode()[:300]}")
    print(f"watch: exit {w.returncode}, {len(recs)} records {sorted(set(types))}")

    check("ps", ["ps", "--json"], want=("ps_process",))
    check("ps -p", ["ps", "-p", pid, "--json"], want=("ps_process",))
    check("maps PID", ["maps", pid, "--json"], want=("maps_region", "maps_total"))
    check("maps -p", ["maps", "-p", pid, "--json", "--bytes"], want=("maps_region", "maps_total"))
    check("dump PID heap -o FILE", ["dump", pid, "heap", "-o", os.path.join(tmp, "heap.bin"),
          "--json"], want=("dump_region",))
    recs = check("dump PID heap stack -o DIR", ["dump", pid, "heap", "stack", "-o",
                 os.path.join(tmp, "dump"), "--json"], want=("dump_region",))
    if len(recs) < 2:
        failures.append(f"dump PID heap stack: {len(recs)} records, expected one per region")
    # the directory's manifest.json: one object (not a record of stdout)
    with open(os.path.join(tmp, "dump", "manifest.json")) as f:
        manifest = json.load(f)
    for e in list(validator.iter_errors(manifest))[:3]:
        failures.append(f"dump -o DIR: manifest.json: {e.message} at "
                        f"{'/'.join(map(str, e.path)) or 'top'}")
    if shapes["manifest"].is_valid(manifest):
        seen["manifest"] = seen.get("manifest", 0) + 1
    if len(manifest.get("files", [])) != len(recs):
        failures.append(f"dump -o DIR: manifest.json lists {len(manifest.get('files', []))} "
                        f"files, stdout {len(recs)} regions")
    check("strings PID --region heap", ["strings", pid, "--region", "heap", "--json"],
          want=("string",))
    check("strings PID --wide -n 8", ["strings", pid, "--region", "stack", "--wide", "-n", "8",
          "--json"], want=("string",))

    # check: a python3 child with anonymous RWX memory, argv[0] "[kworker/...]"
    # (anon_exec and rwx, low: python3 is a runtime; masquerade), one byte of
    # libc's labs inverted through its own /proc/self/mem (patched_code),
    # LD_PRELOAD of the findings suite's library (preload), attached by a
    # second child with PTRACE_SEIZE (traced: the test may ptrace, memgrep
    # never does); the fixture has none of these (exit 1).
    env = dict(os.environ, LD_PRELOAD=os.environ["MG_FINDINGS_PRELOAD"])
    odd = subprocess.Popen(["[kworker/0:9]", "-c", "import ctypes, mmap, sys\n"
                            "m = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,"
                            " prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
                            "a = ctypes.cast(ctypes.CDLL(None).labs, ctypes.c_void_p).value\n"
                            "with open('/proc/self/mem', 'r+b', buffering=0) as f:\n"
                            "    f.seek(a)\n    b = f.read(1)\n    f.seek(a)\n"
                            "    f.write(bytes([b[0] ^ 0xff]))\n"
                            "print('ready', flush=True)\nsys.stdin.read()\n"],
                           executable=sys.executable, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, env=env)
    tracer = None
    try:
        odd.stdout.readline()
        tracer = subprocess.Popen([sys.executable, "-c", "import ctypes, sys\n"
                                   "libc = ctypes.CDLL(None, use_errno=True)\n"
                                   "r = libc.ptrace(0x4206, int(sys.argv[1]), None, None)\n"
                                   "print('ok' if r == 0 else 'failed', flush=True)\n"
                                   "sys.stdin.read()\n", str(odd.pid)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if tracer.stdout.readline().strip() != "ok":
            failures.append("check: PTRACE_SEIZE of the python3 child failed")
        recs = check("check -p PID", ["check", "-p", str(odd.pid), "--json"], want=("finding",))
        kinds = sorted(r["kind"] for r in recs)
        want_kinds = ["anon_exec", "masquerade", "patched_code", "preload", "rwx", "traced"]
        if kinds != want_kinds:
            failures.append(f"check -p PID: kinds {kinds}, expected {' '.join(want_kinds)}")
        # the same in a scan's report, with the dumps named
        recs = check("scan --findings --dump-findings", scan + ["-p", str(odd.pid),
                     "--dump-findings", os.path.join(tmp, "findings"), "-e",
                     fx.marker("never-planted")], want=("finding", "summary"))
        if sorted(r["kind"] for r in recs if r["type"] == "finding") != want_kinds:
            failures.append(f"scan --findings: kinds {kinds}, expected {' '.join(want_kinds)}")
        # DIR/PID/manifest.json of the dumps: a manifest as dump -o DIR's
        dumps = sorted(os.path.basename(r["dump"]) for r in recs if "dump" in r)
        try:
            with open(os.path.join(tmp, "findings", str(odd.pid), "manifest.json")) as f:
                manifest = json.load(f)
        except (OSError, ValueError) as e:
            failures.append(f"scan --dump-findings: manifest.json: {e}")
            manifest = {}
        for e in list(shapes["manifest"].iter_errors(manifest))[:3]:
            failures.append(f"scan --dump-findings: manifest.json: {e.message} at "
                            f"{'/'.join(map(str, e.path)) or 'top'}")
        if not dumps or sorted(x.get("file") for x in manifest.get("files", [])) != dumps:
            failures.append(f"scan --dump-findings: manifest.json lists "
                            f"{[x.get('file') for x in manifest.get('files', [])]}, "
                            f"the records {dumps}")
    finally:
        for p in (tracer, odd):
            if p:
                p.stdin.close()
                p.wait()
    check("check -p PID (none)", ["check", "-p", pid, "--json"], rcs=(1,))
    check("check", ["check", "--json"], rcs=(0, 1))

    for cmd in commands:
        if cmd not in ran:
            failures.append(f"{cmd}: a command this test does not run: add its runs here "
                            "and its records to docs/schema/")
    for name in shapes:
        if name not in seen and name not in NOT_HERE:
            failures.append(f"$defs/{name}: no run printed such a record (stale, or a run missing)")
finally:
    fx.close()
    subprocess.run(["rm", "-rf", tmp])

print("records validated:", ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))
if failures:
    fail("\n  ".join(["schema mismatches:"] + failures))
print("ok")
