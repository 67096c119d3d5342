#!/usr/bin/env python3
"""Suite install: the installed memgrep-hunt.service and .timer and
memgrep-watch.service pass `systemd-analyze verify` (offline, with DESTDIR
as the root), and the
service's ExecStart line, run as written, hunts a fixture: the dated report
appears (mode 0600) holding exactly the fixture's plants, one outcome line
says HIT / CLEAN / FAILED / CUT SHORT with the documented exit status, and
only the newest --keep reports stay.

The only changes to the unit's command: DESTDIR in front of its path, and
environment (as a drop-in would set it): MEMGREP_HUNT_CONFIG_DIR and
MEMGREP_HUNT_REPORT_DIR (a test /etc/memgrep and report directory),
MEMGREP_HUNT_MEMGREP and LD_LIBRARY_PATH (the DESTDIR memgrep),
MEMGREP_HUNT_EXTRA_ARGS="-p FIXTURE --db-cache DIR" (the fixture only: a
sweep of the whole machine would also find the markers in this test's own
memory, and take long on a shared machine). $MG_HUNT_TEST_MEMGREP runs
another memgrep build instead of the installed one.

memgrep-watch.service: its ExecStart line, run as written with
MEMGREP_WATCH_ARGS as watch.env would set it (the fixture's markers, no
rolling rescan: only new processes, so not this test's own memory), finds
exactly the plants of a fixture started after it; its ExecReload (SIGHUP)
reloads; SIGTERM ends it with exit 0 and a final stats record. It keeps
CAP_NET_ADMIN (the process events connector) and restarts on failure. It is
Type=notify with WatchdogSec= (memgrep built with libsystemd: CI's build
must be): run with NOTIFY_SOCKET at a socket this test reads and
WATCHDOG_USEC=400000, as systemd would, watch sends READY=1, WATCHDOG=1
(every 0.2 s), RELOADING=1 then READY=1 around the SIGHUP, and STOPPING=1."""
import json
import os
import queue
import re
import shlex
import shutil
import socket
import signal
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PLANT_NAMES, Fixture, dirs, fail, hits_in, install_tree, need_root, read_jsonl,
                    rmtree, skip, tmpdir)

need_root("the hunt reads another process's memory")
d = dirs()
dest = tmpdir("mg-systemd-")
unit_rel = d["unitdir"] + "/memgrep-hunt.service"
timer_rel = d["unitdir"] + "/memgrep-hunt.timer"
watch_rel = d["unitdir"] + "/memgrep-watch.service"
notes = []


def verify():
    """systemd-analyze verify, offline: a copy of DESTDIR with the host's own
    units (sysinit.target...) is the root; man pages from DESTDIR."""
    if not shutil.which("systemd-analyze"):
        notes.append("systemd-analyze verify not run: systemd-analyze not installed")
        return
    root = os.path.join(dest, "verify-root")
    shutil.copytree(os.path.join(dest, "tree"), root, symlinks=True)
    host_units = "/usr/lib/systemd/system"
    if not os.path.isdir(host_units):
        host_units = "/lib/systemd/system"
    if not os.path.isdir(host_units):
        notes.append("systemd-analyze verify not run: no system unit directory to verify against")
        return
    shutil.copytree(host_units, root + "/usr/lib/systemd/system", symlinks=True,
                    dirs_exist_ok=True)
    # the host's own programs the units run (memgrep-watch's ExecReload: kill)
    for rel in (unit_rel, watch_rel):
        for line in unit_lines(rel, "ExecReload"):
            prog = shlex.split(line)[0]
            if not os.path.exists(root + prog) and os.path.exists(prog):
                os.makedirs(os.path.dirname(root + prog), exist_ok=True)
                shutil.copy(os.path.realpath(prog), root + prog)
    env = dict(os.environ, MANPATH=os.path.join(dest, "tree") + d["mandir"])
    r = subprocess.run(["systemd-analyze", "verify", f"--root={root}", unit_rel, timer_rel,
                        watch_rel], env=env, capture_output=True, text=True, cwd=dest)
    out = (r.stdout + r.stderr).strip()
    print(f"systemd-analyze verify --root=DESTDIR memgrep-hunt.service memgrep-hunt.timer "
          f"memgrep-watch.service: exit {r.returncode}{', no output' if not out else ''}")
    if r.returncode != 0 or out:
        fail(f"systemd-analyze verify:\n{out}")


def unit_lines(rel, key):
    """The values of a unit's KEY= lines."""
    with open(os.path.join(dest, "tree") + rel) as f:
        return [l.split("=", 1)[1].strip() for l in f if l.startswith(key + "=")]


def exec_start(rel=unit_rel):
    """The unit's ExecStart as an argv."""
    lines = unit_lines(rel, "ExecStart")
    if len(lines) != 1:
        fail(f"expected one ExecStart= line, found {lines}")
    argv = shlex.split(lines[0])
    if argv[0][0] in "@-:+!":
        fail(f"ExecStart prefix not expected here: {lines[0]}")
    print("ExecStart:", lines[0])
    return argv


def run_hunt(argv, conf, reports, extra, expect_rc, expect_word):
    tree = os.path.join(dest, "tree")
    memgrep = os.environ.get("MG_HUNT_TEST_MEMGREP") or tree + d["bindir"] + "/memgrep"
    env = dict(os.environ, MEMGREP_HUNT_CONFIG_DIR=conf, MEMGREP_HUNT_REPORT_DIR=reports,
               MEMGREP_HUNT_MEMGREP=memgrep, MEMGREP_HUNT_EXTRA_ARGS=extra)
    if not os.environ.get("MG_HUNT_TEST_MEMGREP"):
        env["LD_LIBRARY_PATH"] = tree + d["libdir"]
    env.pop("JOURNAL_STREAM", None)
    before = set(os.listdir(reports)) if os.path.isdir(reports) else set()
    r = subprocess.run([tree + argv[0]] + argv[1:], env=env, capture_output=True, text=True)
    print(f"  exit {r.returncode}: {r.stdout.strip()}")
    if r.stderr.strip():
        print("  stderr:", r.stderr.strip().replace("\n", "\n          "))
    lines = r.stdout.strip().splitlines()
    if r.returncode != expect_rc or len(lines) != 1 or \
            not lines[0].startswith(f"memgrep-hunt: {expect_word} "):
        fail(f"expected exit {expect_rc} and one line 'memgrep-hunt: {expect_word} ...'")
    new = sorted(set(os.listdir(reports)) - before)
    return lines[0], new


def watch_unit():
    """memgrep-watch.service's command as written, for a fixture started
    after it: its plants found once each, a reload, a clean stop."""
    argv = exec_start(watch_rel)
    tree = os.path.join(dest, "tree")
    if argv[0] != d["bindir"] + "/memgrep" or argv[1] != "watch" or \
            "$MEMGREP_WATCH_ARGS" not in argv:
        fail(f"the watch unit's ExecStart is not 'memgrep watch ... $MEMGREP_WATCH_ARGS': {argv}")
    memgrep = os.environ.get("MG_HUNT_TEST_MEMGREP") or tree + argv[0]
    help_text = subprocess.run([memgrep, "watch", "--help"], capture_output=True, text=True,
                               env=env_for_tree()).stdout
    missing = [o for o in argv[2:] if o.startswith("--") and o not in help_text]
    if missing:
        fail(f"the watch unit runs memgrep watch {' '.join(missing)}, which `memgrep watch "
             f"--help` does not list")
    for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
        caps = " ".join(unit_lines(watch_rel, key)).split()
        if "CAP_NET_ADMIN" not in caps or "CAP_SYS_PTRACE" not in caps:
            fail(f"the watch unit's {key} lacks CAP_NET_ADMIN or CAP_SYS_PTRACE: {caps}")
    notify = unit_lines(watch_rel, "Type") == ["notify"]
    if not notify and os.environ.get("CI"):
        fail("the watch unit is not Type=notify: CI builds memgrep with libsystemd")
    if not notify:
        notes.append("watch unit: Type=simple (memgrep built without libsystemd): no notify check")
    for key, want in (("Restart", ["on-failure"]), ("ExecReload", ["/bin/kill -HUP $MAINPID"])) + \
            ((("NotifyAccess", ["main"]), ("WatchdogSec", ["1min"])) if notify else
             (("Type", ["simple"]),)):
        if unit_lines(watch_rel, key) != want:
            fail(f"the watch unit's {key}= is {unit_lines(watch_rel, key)}, not {want}")
    # $MEMGREP_WATCH_ARGS as systemd expands it: split on blanks, in place
    # (rescans at exec up to 30 s: a fixture slow to plant under a
    # sanitizer is still found, and hits found again are not reported again)
    args = ["--rescan-every", "0", "--stats-every", "0", "--exec-rescan", "10ms,1s,5s,30s",
            "-E", "mgt-[0-9a-f]{16}-(heap|stack|tstack);"]
    i = argv.index("$MEMGREP_WATCH_ARGS")
    run = [memgrep] + argv[1:i] + args + argv[i + 1:]
    print("  run:", shlex.join(["memgrep"] + run[1:]))
    # systemd's side of Type=notify: a datagram socket, its messages kept
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(os.path.join(dest, "notify"))
    sock.settimeout(0.1)
    said = []
    threading.Thread(target=lambda: notify_reader(sock, said), daemon=True).start()
    env = env_for_tree()
    env.update(NOTIFY_SOCKET=os.path.join(dest, "notify"), WATCHDOG_USEC="400000")
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put(None)],
                     daemon=True).start()
    watch_fixture = None
    records = []

    def next_record(deadline):
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is None:
            return None
        records.append(json.loads(line))
        return records[-1]

    try:
        first = next_record(time.monotonic() + 60)
        if not first or first.get("type") != "start":
            fail(f"the watch unit's command wrote no start record: {first}")
        watch_fixture = Fixture()
        want = {(p, a) for p, a, _ in watch_fixture.expect(PLANT_NAMES)}
        got = set()
        deadline = time.monotonic() + 60
        while got != want and next_record(deadline):
            got = {(p, a) for p, a, _ in hits_in(records, watch_fixture.pid)}
        if got != want:
            fail(f"watch: the fixture's hits: missing {sorted(want - got)}, "
                 f"extra {sorted(got - want)}")
        if notify:  # two watchdog pings at least, before the reload
            wait_for(lambda: sum(m == "WATCHDOG=1" for m in said) >= 2, 30)
        proc.send_signal(signal.SIGHUP)  # ExecReload
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # systemctl stop
        while next_record(time.monotonic() + 60):
            pass
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if watch_fixture:
            watch_fixture.close()
    err = proc.stderr.read().strip()
    last = records[-1]
    repeated = len([r for r in records if r.get("type") == "match" and
                    r["pid"] == watch_fixture.pid]) - len(want)
    if rc != 0 or last.get("type") != "stats" or last.get("final") is not True or \
            last.get("reloads") != 1 or repeated:
        fail(f"watch: exit {rc}, last record {last}, {repeated} hits reported again; "
             f"stderr: {err}")
    print(f"  exit 0: {len(got)} hits = the fixture's plants, each once; final stats: "
          f"reloads 1, event_source {last.get('event_source')}")
    time.sleep(0.3)  # the last datagram read
    sock.close()
    if notify:
        check_notify(said)


def notify_reader(sock, said):
    """Every sd_notify datagram, split into its assignments, in order."""
    while True:
        try:
            said.extend(sock.recv(4096).decode().split("\n"))
        except socket.timeout:
            continue
        except OSError:
            return


def wait_for(cond, seconds):
    deadline = time.monotonic() + seconds
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)


def check_notify(said):
    """READY=1 first of the states, watchdog pings, the reload's RELOADING=1
    then READY=1, STOPPING=1 last."""
    states = [m for m in said if m in ("READY=1", "RELOADING=1", "STOPPING=1")]
    pings = sum(m == "WATCHDOG=1" for m in said)
    if states != ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"] or pings < 2 or \
            not any(m.startswith("STATUS=watching") for m in said) or \
            not any(m.startswith("MONOTONIC_USEC=") for m in said):
        fail(f"watch's sd_notify messages: states {states}, {pings} WATCHDOG=1, all: {said}")
    print(f"  sd_notify: {' '.join(states)}, {pings} WATCHDOG=1 (WATCHDOG_USEC=400000)")


def env_for_tree():
    """The environment to run the DESTDIR memgrep."""
    env = dict(os.environ)
    if not os.environ.get("MG_HUNT_TEST_MEMGREP"):
        env["LD_LIBRARY_PATH"] = os.path.join(dest, "tree") + d["libdir"]
    return env


fixture = None
try:
    install_tree(os.path.join(dest, "tree"))
    verify()
    argv = exec_start()
    keep = int(argv[argv.index("--keep") + 1]) if "--keep" in argv else 30
    help_text = subprocess.run(
        [os.environ.get("MG_HUNT_TEST_MEMGREP") or os.environ["MEMGREP"], "scan", "--help"],
        capture_output=True, text=True).stdout
    missing = [o for o in argv[1:] if o.startswith("--") and o != "--keep" and o not in help_text]
    if missing:
        fail(f"the unit's ExecStart runs memgrep scan {' '.join(missing)}, which `memgrep scan "
             f"--help` does not list")
    # The unit's hunt is gentle and time-boxed; every run below keeps both.
    for o in ("--gentle", "--timeout"):
        if o not in argv:
            fail(f"the unit's ExecStart has no {o}")

    fixture = Fixture()
    conf = os.path.join(dest, "etc-memgrep")
    reports = os.path.join(dest, "reports")
    os.makedirs(conf)
    extra = f"-p {fixture.pid} --db-cache {os.path.join(dest, 'db-cache')}"

    # Older reports than any new one: --keep rotation drops the oldest.
    os.makedirs(reports, mode=0o700)
    old = [f"hunt-20000101T0000{i:02d}Z.jsonl" for i in range(keep + 1)]
    for name in old:
        with open(os.path.join(reports, name), "w") as f:
            f.write('{"type":"summary"}\n')
    with open(os.path.join(reports, "notes.txt"), "w") as f:
        f.write("not a report: left alone\n")

    # 1. A hit: the fixture's markers in iocs.txt.
    with open(os.path.join(conf, "iocs.txt"), "w") as f:
        f.write("# test IOCs\n" + "".join(fixture.marker(n) + "\n" for n in PLANT_NAMES))
    print("hit:")
    line, new = run_hunt(argv, conf, reports, extra, 10, "HIT")
    if len(new) != 1 or not re.fullmatch(r"hunt-\d{8}T\d{6}Z\.jsonl", new[0]):
        fail(f"expected one new dated report, got {new}")
    report = os.path.join(reports, new[0])
    mode = stat.S_IMODE(os.stat(report).st_mode)
    if mode != 0o600:
        fail(f"report mode {mode:o}, not 600")
    if not line.endswith(f", report {report}"):
        fail("the outcome line does not name the report")
    records = read_jsonl(report)
    want = fixture.expect(PLANT_NAMES)
    got = hits_in(records)
    if got != want:
        fail(f"report: missing {sorted(want - got)}, extra {sorted(got - want)}")
    if f"HIT {len(want)} matches in 1 processes, 0 findings (0 high) (1 scanned" not in line:
        fail("the HIT line's counts are wrong")
    # the sweep also looked for findings (the fixture has none)
    if "--findings" not in records[0].get("argv", []):
        fail(f"the hunt's scan had no --findings: {records[0]}")
    summary = records[-1]
    if summary["type"] != "summary" or summary.get("complete", True) is not True:
        fail(f"last record is not a complete summary: {summary}")
    left = sorted(f for f in os.listdir(reports) if f.startswith("hunt-"))
    if len(left) != keep or left[-1] != new[0] or left[0] != old[2] or \
            not os.path.exists(os.path.join(reports, "notes.txt")):
        fail(f"rotation: expected the newest {keep} reports, have {left}")
    print(f"  report {new[0]}: mode 0600, {len(got)} matches = the fixture's plants; "
          f"{len(left)} reports kept (the 2 oldest removed)")

    # 2. Clean: a marker that was not planted.
    with open(os.path.join(conf, "iocs.txt"), "w") as f:
        f.write(fixture.marker("never-planted") + "\n")
    print("clean:")
    line, new = run_hunt(argv, conf, reports, extra, 0, "CLEAN")
    if len(new) != 1 or hits_in(read_jsonl(os.path.join(reports, new[0]))):
        fail("clean: expected one report without matches")

    # 3. Failed: a bad pattern list; no report.
    with open(os.path.join(conf, "iocs.txt"), "w") as f:
        f.write("re:(unclosed\n")
    print("failed:")
    line, new = run_hunt(argv, conf, reports, extra, 2, "FAILED")
    if new:
        fail(f"a failed hunt left a report: {new}")

    # 4. Cut short: a later --timeout and a read rate that cannot finish.
    with open(os.path.join(conf, "iocs.txt"), "w") as f:
        f.write(fixture.marker("heap") + "\n")
    print("cut short:")
    line, new = run_hunt(argv, conf, reports, extra + " --timeout 1 --max-rate 64K -j 1", 3,
                         "CUT SHORT")
    if len(new) != 1:
        fail("cut short: expected the partial report")
    records = read_jsonl(os.path.join(reports, new[0]))
    summary = records[-1]
    if summary.get("complete") is not False or summary.get("stop_reason") != "timeout":
        fail(f"cut short: summary {summary}")
    if stat.S_IMODE(os.stat(os.path.join(reports, new[0])).st_mode) != 0o600:
        fail("cut short: the report is not mode 0600")
    extra_hits = hits_in(records) - fixture.expect(["heap"])
    if extra_hits:
        fail(f"cut short: matches that are no plant: {sorted(extra_hits)}")
    print(f"  report {new[0]}: mode 0600, {len(hits_in(records))} matches so far, summary "
          "complete false, stop_reason timeout")
    left = [f for f in os.listdir(reports) if f.startswith("hunt-")]
    if len(left) != keep:
        fail(f"rotation: {len(left)} reports, not {keep}")
    print("watch unit:")
    watch_unit()
    print("\n".join(notes))
    print("ok")
finally:
    if fixture:
        fixture.close()
    rmtree(dest)
