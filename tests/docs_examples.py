#!/usr/bin/env python3
"""Suite docs: the runnable examples of README.md and docs/guide.md, run
against tests/docs_target, a cheap guard against drift (as man_test.py is
for the man pages).

In a page, a fenced block right after a line `<!-- example -->` is run:
each `$ COMMAND` line is a shell command (bash, in a directory of the page's
own; a line ending in `\\` goes on), and the lines after it, up to the next
`$ `, are its expected output; every ```console block must be one. A block
right after `<!-- file: NAME -->` is written to NAME in that directory
before the page's examples run (the IOC list and rules the examples use).
The commands see:

  PID   the pid of tests/docs_target (./docs_target), which holds the plants
        listed in tests/targets/docs_target.c
  CID   the 12-digit id of a container: a second docs_target moved into a
        cgroup named docker-ID.scope (CPID is its pid)
  memgrep  this build's (scan and watch get a --db-cache of the test's own)

Output is compared by shape, not byte for byte. Expected lines starting
with `memgrep:` are compared with stderr, the others with stdout. A line
`...` stands for any number of lines (of either stream); a line ending in
` ...` for that line with anything after it. JSON lines must be whole
objects: their keys (nested too) and value types must be the same, and the
values of KEYS_EXACT equal. Text lines must have as many words, each the
same once addresses, hex ids, numbers, size units and absolute paths are
masked and a plural taken for its singular (the host's counts decide between
"1 zombie" and "2 zombies"); a line that is only a number (an exit status, a count) must be
equal.

Exit 0 passes, 77 skips (not root), anything else fails, naming the page,
line and command."""
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "install"))
from common import fail, skip  # noqa: E402 (tests/install/common.py)

PAGES = ("README.md", "docs/guide.md")
KEYS_EXACT = {"type", "kind", "pattern", "source", "perms", "rule", "runtime", "stop_reason",
              "namespace", "wide", "deleted", "complete", "comm"}


# ---- reading the pages ----

def blocks(path):
    """[(kind, arg, first line number, [lines])] of a page's marked blocks:
    kind "example" or "file" (arg: the file's name)."""
    out = []
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^<!-- (example|file: (\S+)) -->$", lines[i])
        if not m:
            # a console block is an example: it must be run
            if lines[i] == "```console" and (i == 0 or lines[i - 1] != "<!-- example -->"):
                fail(f"{path}:{i + 1}: a console block without <!-- example --> before it")
            i += 1
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            fail(f"{path}:{i + 1}: a marker not followed by a fenced block")
        j = i + 2
        while j < len(lines) and lines[j] != "```":
            j += 1
        if j == len(lines):
            fail(f"{path}:{i + 2}: fenced block not closed")
        kind = "file" if m.group(2) else "example"
        out.append((kind, m.group(2), i + 3, lines[i + 2:j]))
        i = j + 1
    return out


def commands(path, first, lines):
    """[(line number, command, [expected lines])] of an example block."""
    out = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            fail(f"{path}:{first + i}: expected output before any '$ ' command")
        n = first + i
        cmd = lines[i][2:]
        while cmd.endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd = cmd[:-1] + "\n" + lines[i]
        i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            expected.append(lines[i])
            i += 1
        out.append((n, cmd, expected))
    return out


# ---- comparing by shape ----

def singular(word):
    """zombies -> zombie, processes -> process, matches -> match."""
    m = re.fullmatch(r"([A-Za-z]+)([,;:)]*)", word)
    if not m:
        return word
    w, tail = m.groups()
    if w.endswith(("sses", "ches", "xes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        w = w[:-1]
    return w + tail


def mask(word):
    w = re.sub(r"0x[0-9a-f]+", "@A", word)
    w = re.sub(r"(?<![0-9a-zA-Z])/\S*", "@P", w)
    w = re.sub(r"[0-9a-f]{8,16}-[0-9a-f]{8,16}", "@R", w)
    w = re.sub(r"(?<![0-9a-zA-Z])[0-9a-f]{12,64}(?![0-9a-zA-Z])", "@H", w)
    w = re.sub(r"^(B|KiB|MiB|GiB|TiB)([,;)]*)$", r"@U\2", w)
    w = singular(w)
    return re.sub(r"\d+(\.\d+)?", "@N", w)


def json_shape_diff(want, got, where="$"):
    """None if got has want's shape, else what differs."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{where}: object expected"
        if set(want) != set(got):
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            return f"{where}: keys differ: example has {missing} not printed, output has {extra} not in the example"
        for k in want:
            if k in KEYS_EXACT and not isinstance(want[k], (dict, list)) and want[k] != got[k]:
                return f"{where}.{k}: {want[k]!r} in the example, {got[k]!r} printed"
            d = json_shape_diff(want[k], got[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return f"{where}: array expected"
        if want and got:
            return json_shape_diff(want[0], got[0], where + "[0]")
        return None
    if jtype(want) != jtype(got):
        return f"{where}: {jtype(want)} expected, got {got!r}"
    return None


def jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "object" if isinstance(v, dict) else "array"


def line_diff(want, got):
    """None if got has want's shape, else why not."""
    if want.startswith("{"):
        try:
            w = json.loads(want)
        except ValueError:
            return "the example's JSON line is not a whole object"
        try:
            g = json.loads(got)
        except ValueError:
            return "JSON expected"
        return json_shape_diff(w, g)
    ww, gw = want.split(), got.split()
    if len(ww) == 1 and re.fullmatch(r"\d+", ww[0]):
        return None if gw == ww else "a different number"
    if ww and ww[-1] == "...":
        ww = ww[:-1]
        gw = gw[:len(ww)]
    if len(ww) != len(gw):
        return f"{len(ww)} words expected, {len(gw)} printed"
    for a, b in zip(ww, gw):
        if mask(a) != mask(b):
            return f"'{b}' where the example has '{a}'"
    return None


def match(want, got):
    """None if the lines got match the lines want (with '...' lines),
    else (index in want, reason) of the first line that could not match."""
    best = [(-1, "")]
    memo = {}

    def go(i, j):
        if (i, j) in memo:
            return memo[i, j]
        if i == len(want):
            r = j == len(got)
            if not r and i > best[0][0]:
                best[0] = (i, f"{len(got) - j} more line(s) printed: {got[j]!r}")
        elif want[i] == "...":
            r = any(go(i + 1, k) for k in range(j, len(got) + 1))
        elif j == len(got):
            r = False
            if i > best[0][0]:
                best[0] = (i, "not printed")
        else:
            d = line_diff(want[i], got[j])
            r = d is None and go(i + 1, j + 1)
            if d and i > best[0][0]:
                best[0] = (i, f"{d}\n      printed: {got[j]}")
        memo[i, j] = r
        return r

    sys.setrecursionlimit(10000)
    return None if go(0, 0) else best[0]


def is_err(line):
    return line.startswith("memgrep:")


# ---- the targets ----

def start_target(exe, cwd):
    p = subprocess.Popen(["./docs_target"], executable=exe, cwd=cwd, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    if p.stdout.readline() != b"READY\n":
        fail("docs_target did not start")
    return p


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            w = line.split()
            if w[w.index("-") + 1] == "cgroup2":
                return w[4]
    return None


def own_cgroup():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def main():
    if os.geteuid() != 0:
        skip("needs root: the examples read another process's memory")
    memgrep = os.environ["MEMGREP"]
    target = os.environ["MG_DOCS_TARGET"]
    src = os.environ["MG_SOURCE_ROOT"]
    top = tempfile.mkdtemp(prefix="mg-docs-")
    cgdir = None
    procs = []
    try:
        shutil.copy(target, os.path.join(top, "docs_target"))
        exe = os.path.join(top, "docs_target")
        bindir = os.path.join(top, "bin")
        os.mkdir(bindir)
        cache = os.path.join(top, "db-cache")
        with open(os.path.join(bindir, "memgrep"), "w") as f:
            f.write(f'#!/bin/sh\ncase "$1" in scan|watch) c=$1; shift; '
                    f'exec {memgrep} $c --db-cache {cache} "$@";; esac\n'
                    f'exec {memgrep} "$@"\n')
        os.chmod(os.path.join(bindir, "memgrep"), 0o755)
        main_t = start_target(exe, top)
        procs.append(main_t)
        env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"], PID=str(main_t.pid),
                   NO_COLOR="1", LC_ALL="C")
        env.pop("TERM", None)
        # The container: a second target in <our cgroup>/memgrep-docs-PID/docker-ID.scope.
        mnt, ours = cgroup2_mount(), own_cgroup()
        if not mnt or ours is None:
            fail("no cgroup v2 hierarchy: the container examples need one")
        cid = secrets.token_hex(32)
        home = mnt + (ours if ours != "/" else "")
        cgdir = os.path.join(home, f"memgrep-docs-{os.getpid()}")
        os.mkdir(cgdir)
        os.mkdir(os.path.join(cgdir, f"docker-{cid}.scope"))
        ct = start_target(exe, top)
        procs.append(ct)
        with open(os.path.join(cgdir, f"docker-{cid}.scope", "cgroup.procs"), "w") as f:
            f.write(f"{ct.pid}\n")
        env.update(CID=cid[:12], CPID=str(ct.pid))

        failures = []
        ran = 0
        for page in PAGES:
            path = os.path.join(src, page)
            cwd = os.path.join(top, page.replace("/", "-"))
            os.mkdir(cwd)
            bl = blocks(path)
            for kind, name, first, lines in bl:
                if kind == "file":
                    with open(os.path.join(cwd, name), "w") as f:
                        f.write("\n".join(lines) + "\n")
            for kind, name, first, lines in bl:
                if kind != "example":
                    continue
                for n, cmd, expected in commands(page, first, lines):
                    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True,
                                       text=True, errors="replace", timeout=600)
                    ran += 1
                    out, err = r.stdout.splitlines(), r.stderr.splitlines()
                    want_out = [l for l in expected if l == "..." or not is_err(l)]
                    want_err = [l for l in expected if l == "..." or is_err(l)]
                    for stream, want, got in (("stdout", want_out, out), ("stderr", want_err, err)):
                        m = match(want, got)
                        if m:
                            i, why = m
                            line = want[i] if i < len(want) else "(end)"
                            failures.append(f"{page}:{n}: $ {cmd}\n    {stream}: {line}\n      {why}")
                            break
                    print(f"{page}:{n}: exit {r.returncode}: $ {cmd}")
        if ran == 0:
            fail("no runnable example found")
        if failures:
            fail("\n".join([f"{len(failures)} of {ran} examples drifted from the output:"] + failures))
        print(f"ok: {ran} examples")
    finally:
        for p in procs:
            if p.poll() is None:
                p.stdin.close()
                p.wait(timeout=30)
        if cgdir:
            for d in (os.path.join(cgdir, f"docker-{cid}.scope"), cgdir):
                try:
                    os.rmdir(d)
                except OSError as e:
                    print(f"warning: rmdir {d}: {e}")
        shutil.rmtree(top, ignore_errors=True)


main()
