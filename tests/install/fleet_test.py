#!/usr/bin/env python3
"""Suite fleet: deploy/ansible/hunt.yml over an inventory of local "hosts"
(ansible_connection=local, each with its own install root, /etc/memgrep,
report directory and fixture with distinct markers) plus one unreachable
host. The merged report holds exactly each hitting host's plants, every
record carries its host, and the summary says hit / clean / failed /
unreachable per host. Skipped without ansible-playbook (Debian's
ansible-core: scripts/bootstrap --tests).

Hosts: h1, h2 hit (their own markers); h3 clean (h1's markers, but its
sweep is its own fixture: -p); h4 failed (a bad IOC list); h5 unreachable
(ssh to a closed port); h6 cut short (memgrep_timeout 1s and a read rate
that cannot finish in it). h2 also gets memgrep-watch's settings
(memgrep_watch: its watch.env names its IOC list and memgrep_watch_args;
its root is not /, so the unit is not started: no systemd here). Every hunt runs with the role's default scan
options, --gentle and --timeout: each report's summary says one thread. Each sweep is given -p ITS-FIXTURE through
memgrep_extra_args: on one machine a sweep of everything would also find
the markers in the controller's memory."""
import json
import os
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PLANT_NAMES, Fixture, build_dir, fail, hits_in, need_root, read_jsonl, rmtree,
                    skip, source_dir, tmpdir)

playbook_bin = shutil.which("ansible-playbook")
if not playbook_bin:
    skip("ansible-playbook is not installed (Debian's ansible-core: scripts/bootstrap --tests)")
need_root("the hunts read the fixtures' memory")

work = tmpdir("mg-fleet-")
fixtures = {}
try:
    for h in ("h1", "h2", "h3", "h4", "h6"):
        fixtures[h] = Fixture()
    markers = {h: [fx.marker(n) for n in PLANT_NAMES] for h, fx in fixtures.items()}
    iocs = {"h1": markers["h1"], "h2": markers["h2"], "h3": markers["h1"], "h4": ["re:(unclosed"],
            "h6": markers["h6"]}
    lines = ["[memgrep]"]
    for h, fx in fixtures.items():
        ioc = os.path.join(work, f"iocs-{h}.txt")
        with open(ioc, "w") as f:
            f.write("".join(m + "\n" for m in iocs[h]))
        hd = os.path.join(work, h)
        hostvars = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "/usr/bin/python3",
            "memgrep_root": f"{hd}/root",
            "memgrep_etc": f"{hd}/etc/memgrep",
            "memgrep_report_dir": f"{hd}/reports",
            "memgrep_iocs": json.dumps([ioc]),
            "memgrep_extra_args": json.dumps(f"-p {fx.pid} --db-cache {work}/db-cache"),
        }
        if h == "h2":
            hostvars["memgrep_watch"] = "true"
            hostvars["memgrep_watch_args"] = json.dumps("--budget 5 --rescan-every 1h")
        if h == "h6":
            hostvars["memgrep_timeout"] = "1s"
            hostvars["memgrep_extra_args"] = json.dumps(
                f"-p {fx.pid} --db-cache {work}/db-cache --max-rate 64K")
        lines.append(h + " " + " ".join(f"{k}='{v}'" for k, v in hostvars.items()))
    lines.append("h5 ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=9 "
                 "ansible_ssh_common_args='-o ConnectTimeout=5 -o BatchMode=yes'")
    inventory = os.path.join(work, "inventory.ini")
    with open(inventory, "w") as f:
        f.write("\n".join(lines) + "\n")

    extra = {"memgrep_build_dir": build_dir(), "memgrep_work": f"{work}/out"}
    env = dict(os.environ, HOME=work, ANSIBLE_HOME=f"{work}/.ansible",
               ANSIBLE_LOCAL_TEMP=f"{work}/.ansible/tmp", ANSIBLE_REMOTE_TEMP=f"{work}/.ansible/rtmp",
               ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False",
               ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3")
    env.pop("LD_LIBRARY_PATH", None)
    r = subprocess.run([playbook_bin, "-i", inventory,
                        os.path.join(source_dir(), "deploy/ansible/hunt.yml"),
                        "-e", json.dumps(extra)], env=env, capture_output=True, text=True)
    out = r.stdout + r.stderr
    print(out)
    if r.returncode != 0:
        fail(f"ansible-playbook exited {r.returncode}:\n{out[-6000:]}")

    merged = read_jsonl(f"{work}/out/merged.jsonl")
    with open(f"{work}/out/summary.json") as f:
        summary = json.load(f)
    print("summary.json:", json.dumps(summary))
    for rec in merged:
        if rec["type"] == "host":
            print("host record:", json.dumps(rec))
    if any("host" not in rec for rec in merged):
        fail("a merged record has no host field")
    for h, fx in fixtures.items():
        got = hits_in([rec for rec in merged if rec["host"] == h])
        want = fx.expect(PLANT_NAMES) if h in ("h1", "h2", "h6") else set()
        if h == "h6" and got - want or h != "h6" and got != want:
            fail(f"{h}: missing {sorted(want - got)}, extra {sorted(got - want)}")
        sums = [rec for rec in merged if rec["host"] == h and rec["type"] == "summary"]
        if h != "h4" and (len(sums) != 1 or sums[0]["threads"] != 1):
            fail(f"{h}: expected one summary of a --gentle sweep (1 thread): {sums}")
        if h == "h6" and (sums[0]["complete"], sums[0].get("stop_reason")) != (False, "timeout"):
            fail(f"h6: expected a sweep cut short by --timeout: {sums[0]}")
    outcomes = {rec["host"]: rec["outcome"] for rec in merged if rec["type"] == "host"}
    want_outcomes = {"h1": "hit", "h2": "hit", "h3": "clean", "h4": "failed", "h5": "unreachable",
                     "h6": "cut_short"}
    if outcomes != want_outcomes:
        fail(f"host outcomes {outcomes}, expected {want_outcomes}")
    for o in ("hit", "clean", "cut_short", "failed", "unreachable"):
        if sorted(summary[o]) != sorted(h for h, v in want_outcomes.items() if v == o):
            fail(f"summary.json {o}: {summary[o]}")
    for h in ("h1", "h2", "h3", "h6"):
        reports = os.listdir(f"{work}/{h}/reports")
        if len(reports) != 1 or stat.S_IMODE(os.stat(f"{work}/{h}/reports/{reports[0]}").st_mode) != 0o600:
            fail(f"{h}: expected one 0600 report on the host, found {reports}")
    with open(f"{work}/h2/etc/memgrep/watch.env") as f:
        env_lines = [l.strip() for l in f if not l.startswith("#")]
    want_env = [f"MEMGREP_WATCH_ARGS=-f {work}/h2/etc/memgrep/iocs.d/iocs-h2.txt --budget 5 "
                "--rescan-every 1h"]
    if env_lines != want_env:
        fail(f"h2's watch.env: {env_lines}, expected {want_env}")
    if os.path.exists(f"{work}/h1/etc/memgrep/watch.env"):
        fail("h1 (memgrep_watch false) has a watch.env")
    print("h2: watch.env", want_env[0])
    try:
        import jsonschema
        with open(os.path.join(source_dir(), "docs/schema/memgrep.schema.json")) as f:
            v = jsonschema.Draft202012Validator(json.load(f))
        for rec in merged:
            v.validate(rec)
        print(f"merged report: {len(merged)} records, valid against docs/schema")
    except ImportError:
        print("merged report not validated: python3-jsonschema missing")
    print("ok")
finally:
    for fx in fixtures.values():
        fx.close()
    rmtree(work)
