"""Suite python: `import memgrep` against live fixture processes
(tests/targets/fixture.c), checked against the memgrep command on the same
targets.

Run by meson (python/tests/meson.build) with PYTHONPATH at the build's
python/ directory and MG_FIXTURE, MG_FINDINGS_FIXTURE, MEMGREP set; needs
root (reads other processes' memory), else every test skips with the
reason. Markers are unique per run (a random token), so other processes
on a busy host cannot add matches.
"""
import gc
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest

import memgrep

FIXTURE = os.environ.get("MG_FIXTURE", "")
MEMGREP = os.environ.get("MEMGREP", "")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Under ASan (python/tests/meson.build) the interpreter runs with the
# runtime in LD_PRELOAD; the targets and the command must not inherit it
# (ASan's shadow mapping would make every target huge and sparse).
SANITIZER = os.environ.get("MG_TEST_SANITIZER", "")
CHILD_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: reads other processes")


class Fixture:
    """tests/targets/fixture with a token of this run: .pid, .plants [(name,
    address, length, kind)], .token. Ends when stdin closes."""

    def __init__(self, *args):
        self.token = secrets.token_hex(8)
        self.proc = subprocess.Popen([FIXTURE, "--token", self.token, *args], env=CHILD_ENV,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.plants = []
        for line in self.proc.stdout:
            w = line.split()
            if w[0] == "PLANT":
                self.plants.append((w[1], int(w[2], 16), int(w[3]), w[4]))
            elif w[0] == "READY":
                break
        else:
            raise RuntimeError("fixture did not start")

    def marker(self, name=""):
        return f"mgt-{self.token}-{name}"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


@pytest.fixture(scope="module")
def fx():
    f = Fixture()
    yield f
    f.close()


def cli(*args):
    """memgrep ARGS --json: its records (stdout), exit status."""
    r = subprocess.run([MEMGREP, *args], capture_output=True, text=True, env=CHILD_ENV)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()], r.returncode, \
        r.stderr


def cli_error(*args):
    r = subprocess.run([MEMGREP, *args], capture_output=True, text=True, env=CHILD_ENV)
    assert r.returncode == 2, r
    return r.stderr.strip().removeprefix("memgrep: ")


# ---- recall: the same matches as the command ----

def test_planted_recall_equals_cli(fx):
    args = dict(patterns=[fx.marker()], regexes=[fx.marker("re=") + "[0-9]+;"],
                hex=["00 fe " + fx.marker().encode().hex(" ")])
    scanner = memgrep.compile(**args)
    records = list(scanner.sweep(pids=[fx.pid]))
    summary = records[-1]
    assert isinstance(summary, memgrep.Summary) and summary.complete
    got = {(r.pattern_id, r.address, r.length) for r in records if isinstance(r, memgrep.Match)}
    out, status, _ = cli("scan", "--json", "--no-db-cache", "-p", str(fx.pid),
                         "-e", args["patterns"][0], "-E", args["regexes"][0], "-x", args["hex"][0])
    want = {(r["pattern_id"], int(r["address"], 16), r["length"])
            for r in out if r["type"] == "match"}
    assert status == 0 and got == want
    assert summary.matches == len(got)
    # every readable plain plant is found at its address by the literal
    plain = {a for name, a, n, kind in fx.plants if kind == "plain"}
    assert plain <= {a for pid, a, n in got if pid == 0}
    # and the regex plants by the regex, the hex one by the hex pattern
    assert {a for name, a, n, kind in fx.plants if kind == "regex"} == \
        {a for pid, a, n in got if pid == 1}
    assert {a for name, a, n, kind in fx.plants if kind == "hex"} == \
        {a for pid, a, n in got if pid == 2}


def test_match_fields(fx):
    name, addr, length, _ = next(p for p in fx.plants if p[0] == "heap")
    scanner = memgrep.compile(patterns=fx.marker("heap;"))
    matches = scanner.scan(fx.pid)
    assert [(m.address, m.length, m.data) for m in matches] == \
        [(addr, length, fx.marker("heap;").encode())]
    m = matches[0]
    assert m.pid == fx.pid and m.comm == "fixture" and m.pattern is scanner.patterns[0]
    assert m.region.kind == "heap" and m.region.start <= addr < m.region.end
    assert memgrep.read(fx.pid, addr, length).data == m.data


def test_nocase_wide_and_context(fx):
    upper = [a for name, a, n, kind in fx.plants if name == "case"]
    got = {m.address for m in memgrep.compile(patterns=fx.marker("case"), nocase=True).scan(fx.pid)}
    assert set(upper) <= got
    wide = [a for name, a, n, kind in fx.plants if kind == "wide"]
    got = memgrep.compile(patterns=fx.marker("wide"), wide=True).scan(fx.pid)
    assert set(wide) <= {m.address for m in got if m.wide}
    name, addr, length, _ = next(p for p in fx.plants if p[0] == "ctx")
    m, = memgrep.compile(patterns=fx.marker("ctx")).scan(fx.pid, context=100)
    assert m.address == addr and len(m.before) == 100 and len(m.after) == 100
    # the context bytes are the fixture's (tests/lib/fixture.h, fixture_ctx_byte)
    assert m.before == bytes(((d + 4096) * 37 + 11) & 0xff for d in range(-100, 0))


# ---- rules: the same verdicts as the command ----

RULES = r"""
rule heap_and_stack : t1 {{
    meta: author = "py" score = 7 live = true
    strings: $h = "{m}heap;" $s = "{m}stack;"
    condition: $h and $s
}}
rule many_big {{ strings: $b = "{m}big;" condition: #b >= 3 }}
rule no_such {{ strings: $x = "{m}nothing-here" condition: $x }}
rule not_absent {{ strings: $x = "{m}nothing-here" $h = "{m}heap" condition: $h and not $x }}
rule nocase_wide {{ strings: $c = "{m}case;" nocase $w = "{m}wide;" wide condition: all of them }}
rule hex_one {{ strings: $x = {{ 00 fe {hex} }} condition: $x }}
private rule hidden {{ strings: $h = "{m}heap" condition: $h }}
rule uses_private {{ condition: hidden }}
"""


def rule_verdicts(records):
    return {(r.rule, frozenset((h.string, h.address) for h in r.hits))
            for r in records if isinstance(r, memgrep.RuleMatch)}


def test_rule_verdicts_equal_cli(fx, tmp_path):
    m = fx.marker()
    text = RULES.format(m=m, hex=m.encode().hex(" "))
    path = tmp_path / "fx.yar"
    path.write_text(text)
    for scanner in (memgrep.compile(rules=str(path)), memgrep.compile(rule_source=text)):
        got = rule_verdicts(scanner.sweep(pids=[fx.pid]))
        out, status, _ = cli("scan", "--json", "--no-db-cache", "-p", str(fx.pid), "-r", str(path))
        want = {(r["rule"], frozenset((s["id"], int(s["address"], 16)) for s in r["strings"]))
                for r in out if r["type"] == "rule"}
        assert status == 0 and got == want
        assert {g[0] for g in got} == {"heap_and_stack", "many_big", "not_absent", "nocase_wide",
                                       "hex_one", "uses_private"}
    rm = next(r for r in memgrep.compile(rules=str(path)).scan(fx.pid)
              if r.rule == "heap_and_stack")
    assert rm.tags == ("t1",) and rm.meta == {"author": "py", "score": 7, "live": True}
    assert {s.id for s in rm.strings} == {"$h", "$s"}


def test_repository_rules_equal_cli(fx):
    """tests/yara/index.yar (every rule of tests/yara/rules) on the fixture."""
    index = os.path.join(ROOT, "tests", "yara", "index.yar")
    got = rule_verdicts(memgrep.compile(rules=index).sweep(pids=[fx.pid]))
    out, status, _ = cli("scan", "--json", "--no-db-cache", "-p", str(fx.pid), "-r", index)
    want = {(r["rule"], frozenset((s["id"], int(s["address"], 16)) for s in r["strings"]))
            for r in out if r["type"] == "rule"}
    assert status in (0, 1) and got == want


# ---- bad input: the right exception, the command's line ----

def test_bad_patterns(tmp_path):
    with pytest.raises(memgrep.PatternError) as e:
        memgrep.compile(regexes=["(ab"])
    assert e.value.file is None and e.value.line is None
    assert str(e.value) == cli_error("scan", "-E", "(ab", "-p", "1").replace("-E #1", "regexes[0]")
    with pytest.raises(memgrep.PatternError):
        memgrep.compile(hex=["4d 5"])
    lst = tmp_path / "iocs.txt"
    lst.write_text("good\n# comment\nre:(unclosed\n")
    with pytest.raises(memgrep.PatternError) as e:
        memgrep.compile(files=[str(lst)])
    assert (e.value.file, e.value.line) == (str(lst), 3)
    assert str(e.value) == cli_error("scan", "-f", str(lst), "-p", "1")
    rules = tmp_path / "bad.yar"
    rules.write_text('rule ok { condition: true }\n\nrule bad { strings: $a = "x" condition: $b }\n')
    with pytest.raises(memgrep.PatternError) as e:
        memgrep.compile(rules=str(rules))
    assert (e.value.file, e.value.line) == (str(rules), 3)
    assert str(e.value) == cli_error("scan", "-r", str(rules), "-p", "1")
    with pytest.raises(memgrep.PatternError, match="no patterns to search for"):
        memgrep.compile()
    with pytest.raises(memgrep.PatternError) as e:
        memgrep.compile(files=[str(tmp_path / "absent.txt")])
    assert str(e.value) == cli_error("scan", "-f", str(tmp_path / "absent.txt"), "-p", "1")
    with pytest.raises(memgrep.PatternError):
        memgrep.compile(rules=str(tmp_path))  # a directory without rules
    with pytest.raises(TypeError):
        memgrep.compile(patterns=[1])
    with pytest.raises(ValueError):
        memgrep.compile(files=["a\0b"])


def test_bad_targets(fx):
    scanner = memgrep.compile(patterns=fx.marker())
    gone = subprocess.Popen(["true"], env=CHILD_ENV)
    gone.wait()
    with pytest.raises(memgrep.ProcessError) as e:
        scanner.scan(gone.pid)
    assert e.value.pid == gone.pid and e.value.kind == "nosuchpid"
    with pytest.raises(memgrep.ProcessError) as e:
        memgrep.maps(gone.pid)
    assert e.value.kind == "nosuchpid"
    assert str(e.value) == cli_error("maps", str(gone.pid))
    with pytest.raises(ValueError):
        scanner.sweep(pids=[0])
    with pytest.raises(ValueError):
        scanner.sweep(pids=[-5])
    with pytest.raises(ValueError):
        scanner.sweep(timeout=-1)
    with pytest.raises(ValueError):
        scanner.sweep(context=5000)
    with pytest.raises(ValueError):
        scanner.sweep(pids=[])
    with pytest.raises(TypeError):
        scanner.sweep(pids=["x"])
    with pytest.raises(ValueError):
        memgrep.read(fx.pid, 0, 4096)  # no mapping there
    with pytest.raises(ValueError):
        memgrep.read(fx.pid, 4096, 0)
    with pytest.raises(ValueError):
        memgrep.strings(fx.pid, (0, 4096), min_len=0)
    with pytest.raises(memgrep.ProcessError):
        memgrep.read(os.getpid(), 4096, 1)  # memgrep itself: never read
    assert all(isinstance(p, memgrep.Process) for p in memgrep.ps())
    assert [p.pid for p in memgrep.ps() if p.memgrep_self] == [os.getpid()]


# ---- inspecting ----

def test_read_reports_absent_pages(fx):
    """The big plant's mapping: 80 MiB, mostly never touched: read() gives
    its present pages, zeros and `missing` for the rest, without faulting
    any page in (the resident size does not change)."""
    big = next(r for r in memgrep.maps(fx.pid) if any(
        n == "big" and r.start <= a < r.end for n, a, _, _ in fx.plants))
    before = big.resident
    mem = memgrep.read(fx.pid, big.start, big.end - big.start)
    assert len(mem.data) == big.end - big.start
    absent = sum(e - s for s, e in mem.missing)
    assert absent == (big.end - big.start) - before
    for name, a, n, _ in fx.plants:
        if name == "big" and a + n <= big.end:
            assert mem.data[a - big.start:a - big.start + n] == fx.marker("big;").encode()
    after = next(r for r in memgrep.maps(fx.pid) if r.start == big.start)
    assert after.resident == before


def test_strings_equal_cli(fx):
    heap = next(r for r in memgrep.maps(fx.pid) if r.kind == "heap")
    got = [(s.address, s.text) for s in memgrep.strings(fx.pid, heap, min_len=8)]
    assert (next(a for n, a, _, _ in fx.plants if n == "heap"), fx.marker("heap") + ";") in got
    r = subprocess.run([MEMGREP, "strings", "--json", "-n", "8", "--region", "heap", str(fx.pid)],
                       capture_output=True, text=True, env=CHILD_ENV)
    want = [(int(j["address"], 16), j["text"]) for j in map(json.loads, r.stdout.splitlines())
            if j.get("type") == "string"]
    assert r.returncode == 0 and got == want


def test_dump(fx, tmp_path):
    heap = next(r for r in memgrep.maps(fx.pid) if r.kind == "heap")
    (rng, name, present), = memgrep.dump(fx.pid, [heap], tmp_path / "heap.bin")
    data = open(name, "rb").read()
    assert len(data) == heap.end - heap.start and present == heap.resident
    a = next(a for n, a, _, _ in fx.plants if n == "heap")
    assert data[a - heap.start:].startswith(fx.marker("heap").encode())
    with pytest.raises(FileExistsError):
        memgrep.dump(fx.pid, [heap], tmp_path / "heap.bin")


def test_findings_in_sweep():
    """tests/targets/findings_fixture's anonymous executable memory: a Finding of
    the sweep and of findings(), as `memgrep check` has it."""
    path = os.environ["MG_FINDINGS_FIXTURE"]
    p = subprocess.Popen([path, "rx"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env=CHILD_ENV)
    try:
        for line in p.stdout:
            if line.startswith("ready"):
                break
        direct = memgrep.findings(p.pid)
        assert "anon_exec" in {f.kind for f in direct}
        recs = list(memgrep.compile(patterns="zz-never-" + secrets.token_hex(8))
                    .sweep(pids=[p.pid], findings=True))
        assert [r for r in recs if isinstance(r, memgrep.Finding)] == direct
        assert recs[-1].findings == len(direct)
    finally:
        p.stdin.close()
        p.wait()


# ---- stopping ----

def big_fixture():
    return Fixture("--touch", "512")


def test_sweep_stopped_from_another_thread():
    """A sweep read at 16 MiB/s: stop() from another thread ends it within
    about MG_STOP_POLL_MS, the iteration ends with an incomplete Summary."""
    f = big_fixture()
    try:
        scanner = memgrep.compile(patterns=f.marker())
        sweep = scanner.sweep(pids=[f.pid], max_rate=16 << 20)
        timer = threading.Timer(0.3, sweep.stop)
        start = time.monotonic()
        timer.start()
        records = list(sweep)
        took = time.monotonic() - start
        timer.join()
        summary = records[-1]
        assert isinstance(summary, memgrep.Summary) and sweep.summary == summary
        assert not summary.complete and summary.stop_reason == "cancelled"
        assert took < 10  # the whole sweep would take 30 s and more
        # close() from another thread while this one waits in next()
        sweep = scanner.sweep(pids=[f.pid], max_rate=16 << 20)
        threading.Timer(0.3, sweep.close).start()
        list(sweep)
        assert sweep.summary is not None and not sweep.summary.complete
        # and the scanner still sweeps whole afterwards
        assert scanner.scan(f.pid)
    finally:
        f.close()


def test_stop_with_the_queue_full(fx):
    """Nobody reads: the sweep's sink waits for room in the queue (1024
    records); stop() wakes it, the sweep ends, what was queued is read."""
    sweep = memgrep.compile(regexes=["[a-z]"]).sweep(pids=[fx.pid])
    time.sleep(1)
    sweep.stop()
    records = list(sweep)
    # 1024 and the summary once the queue filled (a second is plenty)
    assert 2 <= len(records) <= 1025 and records[-1].stop_reason == "cancelled"
    assert all(isinstance(r, memgrep.Match) for r in records[:-1])


def test_keyboard_interrupt_stops_cleanly():
    f = big_fixture()
    try:
        code = (f"import memgrep, os, signal, threading\n"
                f"s = memgrep.compile(patterns='{f.marker()}')\n"
                f"sw = s.sweep(pids=[{f.pid}], max_rate=16 << 20)\n"
                f"threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
                f"try:\n"
                f"    list(sw)\n"
                f"except KeyboardInterrupt:\n"
                f"    print('interrupted', sw.summary.complete, sw.summary.stop_reason)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=60)
        assert r.stdout.strip() == "interrupted False cancelled", r
    finally:
        f.close()


def test_timeout_summary(fx):
    records = list(memgrep.compile(patterns=fx.marker()).sweep(pids=[fx.pid], timeout=1e-9))
    assert records[-1].stop_reason == "timeout" and not records[-1].complete


def test_concurrent_scans(fx):
    scanner = memgrep.compile(patterns=fx.marker())
    want = sorted(m.address for m in scanner.scan(fx.pid))
    results = []

    def work():
        for _ in range(5):
            results.append(sorted(m.address for m in scanner.scan(fx.pid)))
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and all(r == want for r in results)


# ---- reference counts and memory over 10,000 scans ----

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def test_steady_over_10000_scans():
    """10,000 scans of a small process, each with matches: the Pattern's
    reference count comes back to where it was (every Match made and
    dropped), Python's traced memory and the RSS stay flat from the second
    batch on (tracemalloc; sys.gettotalrefcount is in debug builds only)."""
    target = "/bin/busybox" if os.path.exists("/bin/busybox") else "/bin/sleep"
    args = [target, "sleep", "600"] if target.endswith("busybox") else [target, "600"]
    p = subprocess.Popen(args, env=CHILD_ENV)
    try:
        time.sleep(0.2)
        scanner = memgrep.compile(patterns=["sleep"], rule_source="rule s { strings: $a = \"sleep\" condition: $a }")
        pattern = scanner.patterns[0]
        first = scanner.scan(p.pid)
        assert any(isinstance(r, memgrep.Match) for r in first)
        assert any(isinstance(r, memgrep.RuleMatch) for r in first)
        del first
        gc.collect()
        refs = sys.getrefcount(pattern)
        tracemalloc.start()
        traced, rss = [], []
        for batch in range(10):  # the first batches warm caches up
            for _ in range(1000):
                n = len(scanner.scan(p.pid))
                assert n > 0
            gc.collect()
            traced.append(tracemalloc.get_traced_memory()[0])
            rss.append(rss_kib())
        tracemalloc.stop()
        print("traced bytes", traced, "RSS KiB", rss)
        assert sys.getrefcount(pattern) == refs
        # a leaked object per scan would be 7000 x 16 bytes and more
        assert max(traced[3:]) - traced[3] < 32 * 1024, traced
        # a leaked C record per scan (its hits alone are ~100 bytes); not
        # under ASan, whose quarantine keeps freed memory resident
        if not SANITIZER:
            assert max(rss[3:]) - rss[3] < 1024, rss  # KiB
    finally:
        p.kill()
        p.wait()


# ---- the README's recipe ----

def test_readme_recipe(fx, capsys):
    text = open(os.path.join(ROOT, "README.md")).read()
    block = re.search(r"<!-- python -->\n```python\n(.*?)```", text, re.S)
    assert block, "README.md: no ```python block after <!-- python -->"
    code = block.group(1).replace("PID", str(fx.pid)).replace("evil.example", fx.marker("heap"))
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert f"{fx.pid} fixture" in out and fx.marker("heap") in out
