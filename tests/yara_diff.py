#!/usr/bin/env python3
"""Differential test: memgrep's YARA rules against /usr/bin/yara on live processes.

Fixture processes hold random subsets of the strings of tests/yara/rules/*.yar
in random forms (nocase: mixed case; wide; xor keys; base64 shifts; fullword
with and without an alphanumeric neighbour; hex instances with random
wildcards and jumps; regex samples), at random offsets, straddling page (and
so --chunk-size 4K chunk) boundaries, and in the first and last bytes of
mappings separated by PROT_NONE guards. For every fixture, the set of
matching rules, their meta values and the set of (rule, string, address)
must equal what `yara -s -m tests/yara/index.yar PID` reports. Every string
lies intact (no other plant over it) in at least one of the processes.

Usage: yara_diff.py MEMGREP [SEED]   (exit 77: skipped, with the reason)
"""
import base64
import json
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RULES_DIR = os.path.join(HERE, "yara", "rules")
INDEX = os.path.join(HERE, "yara", "index.yar")
YARA = "/usr/bin/yara"
PAGE = 4096
N_PROCS = 6

FIXTURE = r"""
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
spec = sys.stdin.readline().split()
pages, regions = int(spec[0]), int(spec[1])
seed = bytes.fromhex(spec[2])
m = mmap.mmap(-1, pages * 4096 * regions + 4096 * regions)
base = ctypes.addressof(ctypes.c_char.from_buffer(m))
# region r: pages [r*(pages+1), r*(pages+1)+pages), then one PROT_NONE guard page
for r in range(regions):
    start = r * (pages + 1) * 4096
    for off in range(start, start + pages * 4096, len(seed)):
        n = min(len(seed), start + pages * 4096 - off)
        m[off:off + n] = seed[:n]
    libc.mprotect(base + start + pages * 4096, 4096, 0)
for line in sys.stdin:
    if line.strip() == "GO":
        break
    r, off, data = line.split()
    at = int(r) * (pages + 1) * 4096 + int(off)
    data = bytes.fromhex(data)
    m[at:at + len(data)] = data
del data, line
sys.stdout.write("READY %d\n" % base)
sys.stdout.flush()
sys.stdin.read()
"""


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


# ---- the strings of the rule files -------------------------------------------

def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            e = s[i + 1]
            if e == "x":
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"n": b"\n", "t": b"\t", "r": b"\r", '"': b'"', "\\": b"\\"}[e]
            i += 2
            continue
        out += c.encode()
        i += 1
    return bytes(out)


STRING_RE = re.compile(
    r'^\s*(\$\w*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|\{([^}]*)\}|/((?:[^/\\]|\\.)*)/[is]*)(.*)$')


def load_strings():
    """[(rule, id, kind, value, modifiers, sample)]"""
    out = []
    for name in sorted(os.listdir(RULES_DIR)):
        rule = None
        for line in open(os.path.join(RULES_DIR, name)):
            m = re.match(r"^\s*(?:private\s+|global\s+)*rule\s+(\w+)", line)
            if m:
                rule = m.group(1)
                continue
            m = STRING_RE.match(line)
            if not m:
                continue
            sid, text, hexs, regex, rest = m.groups()
            mods = rest.split("//")[0].split()
            sample = re.search(r'e\.g\. "([^"]*)"', rest)
            if text is not None:
                out.append((rule, sid, "text", unescape(text), mods, None))
            elif hexs is not None:
                out.append((rule, sid, "hex", hexs, mods, None))
            else:
                out.append((rule, sid, "regex", regex, mods, sample.group(1).encode()))
    return out


def hex_instance(rng, h):
    """Concrete bytes for a hex string: wildcards random, jumps random lengths."""
    toks = re.findall(r"\[[^\]]*\]|\(|\)|\||[0-9a-fA-F?]{2}", h)
    pos = 0

    def seq():
        nonlocal pos
        out = bytearray()
        while pos < len(toks) and toks[pos] not in ("|", ")"):
            t = toks[pos]
            pos += 1
            if t == "(":
                alts = [seq()]
                while toks[pos] == "|":
                    pos += 1
                    alts.append(seq())
                pos += 1  # ")"
                out += rng.choice(alts)
            elif t.startswith("["):
                a = t[1:-1]
                if "-" in a:
                    lo, hi = a.split("-")
                    lo = int(lo or 0)
                    # open: sometimes across pages (and yara's 200-byte chaining
                    # threshold), within the 4 KiB unbounded width
                    hi = int(hi) if hi else lo + rng.choice((8, 8, 300, 1500))
                else:
                    lo = hi = int(a)
                out += bytes(rng.randrange(256) for _ in range(rng.randint(lo, hi)))
            else:
                hi_n = rng.randrange(16) if t[0] == "?" else int(t[0], 16)
                lo_n = rng.randrange(16) if t[1] == "?" else int(t[1], 16)
                out.append(hi_n << 4 | lo_n)
        return out

    return bytes(seq())


def mixed_case(rng, b):
    return bytes(c ^ 0x20 if chr(c).isalpha() and rng.random() < 0.5 else c for c in b)


def widen(b):
    return bytes(x for c in b for x in (c, 0))


def forms(rng, kind, value, mods, sample):
    """One random form of a string as it may lie in memory, with its
    neighbours (for fullword)."""
    if kind == "hex":
        return hex_instance(rng, value)
    b = sample if kind == "regex" else value
    if "base64" in mods or "base64wide" in mods:
        # as yara: wide encodes the text's UTF-16LE form, base64wide widens the encoding
        if "wide" in mods and ("ascii" not in mods or rng.random() < 0.5):
            b = widen(b)
        pre = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(3)))
        enc = base64.b64encode(pre + b + bytes(rng.randrange(32, 127) for _ in range(rng.randrange(3))))
        wide_enc = "base64wide" in mods and ("base64" not in mods or rng.random() < 0.5)
        return widen(enc) if wide_enc else enc
    if "nocase" in mods:
        b = mixed_case(rng, b)
    wide = "wide" in mods and ("ascii" not in mods or rng.random() < 0.5)
    if wide:
        b = widen(b)
    for m in mods:
        if m.startswith("xor"):
            k = re.match(r"xor\((\w+)(?:-(\w+))?\)", m)
            lo, hi = (int(k.group(1), 0), int(k.group(2) or k.group(1), 0)) if k else (0, 255)
            key = rng.randint(lo, hi)
            b = bytes(c ^ key for c in b)
    if "fullword" in mods and wide:
        # a wide neighbour is an alphanumeric byte and a zero: "x;" is none
        nbs = (widen(b" "), widen(b"x"), b"x;")
        b = rng.choice(nbs + (b"\n",)) + b + rng.choice(nbs + (b";",))
    elif "fullword" in mods:
        nb = b"x" if rng.random() < 0.2 else b" "
        b = (nb if rng.random() < 0.5 else b"\n") + b + (nb if rng.random() < 0.5 else b";")
    return b


# ---- runs ---------------------------------------------------------------------

def open_jump(s):
    """A hex string with a jump of no upper bound ([-], [N-])."""
    return s[2] == "hex" and re.search(r"\[\s*\d*\s*-\s*\]", s[3]) is not None


def start_fixture(rng, strings, pages, regions, also=()):
    """A fixture holding a random subset of strings, and those of also; it
    and the strings it holds intact (no other plant over them)."""
    seed = bytes(rng.randrange(256) for _ in range(61))
    p = subprocess.Popen([sys.executable, "-c", FIXTURE], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    p.stdin.write("%d %d %s\n" % (pages, regions, seed.hex()))
    chosen = rng.sample(strings, max(1, int(len(strings) * rng.uniform(0.3, 0.6))))
    chosen += [s for s in also if s not in chosen]
    size = pages * PAGE
    plants = []  # (string, region, start, end)

    def protected(s):
        return open_jump(s) or s in also

    # The strings of also and the open jumps go last, over no other plant,
    # and an open jump once: yara links a head whose tail was overwritten to
    # a tail in a later region (it chains across blocks), memgrep never
    # matches across mappings. Other plants may overlap: two heads of one
    # string before one tail are two matches to both (seed 1655081475).
    for s in sorted(chosen, key=protected):
        for _ in range(1 if open_jump(s) else rng.randint(1, 3)):
            data = forms(rng, s[2], s[3], s[4], s[5])
            while True:
                where = rng.choice(["random", "straddle", "start", "end"])
                if where == "random":
                    off = rng.randrange(size - len(data))
                elif where == "straddle":
                    off = rng.randrange(1, pages) * PAGE - rng.randrange(1, len(data))
                elif where == "start":
                    off = 0
                else:
                    off = size - len(data)
                r = rng.randrange(regions)
                if not protected(s) or all(r != pr or off + len(data) <= a or off >= b
                                           for _, pr, a, b in plants):
                    break
            plants.append((s, r, off, off + len(data)))
            p.stdin.write("%d %d %s\n" % (r, off, data.hex()))
    p.stdin.write("GO\n")
    p.stdin.flush()
    line = p.stdout.readline()
    if not line.startswith("READY"):
        raise SystemExit("fixture did not start: %r" % line)
    intact = [s for i, (s, r, a, b) in enumerate(plants)
              if all(r != pr or b <= pa or a >= pb for _, pr, pa, pb in plants[i + 1:])]
    return p, intact


META_RE = re.compile(r'(\w+) ?=(-?\d+|true|false|"((?:[^"\\]|\\.)*)")(?:,|$)')


def yara_meta(text):
    """yara -m's "k =-12,s=\"x\",b=true" as ((key, value), ...)."""
    out, pos = [], 0
    while pos < len(text):
        m = META_RE.match(text, pos)
        if not m:
            raise SystemExit("cannot parse yara's meta: %r" % text)
        v = m.group(2)
        if m.group(3) is not None:
            v = unescape(m.group(3)).decode("latin-1")
        elif v in ("true", "false"):
            v = v == "true"
        else:
            v = int(v)
        out.append((m.group(1), v))
        pos = m.end()
    return tuple(out)


def yara_verdicts(stdout, meta=False):
    """yara -s's output (with -m when meta) as (rules, hits): the matching
    rules (with meta: (rule, yara_meta(...)) pairs) and the set of (rule,
    string, address)."""
    head = re.compile(r"^(\w+) \[(.*)\] (\d+)$" if meta else r"^(\w+) (\d+)$")
    rules, hits, cur = set(), set(), None
    for line in stdout.splitlines():
        m = re.match(r"^0x([0-9a-f]+):(\$\w*): ", line)
        if m and cur:
            hits.add((cur, m.group(2), int(m.group(1), 16)))
            continue
        m = head.match(line)
        if m:
            cur = m.group(1)
            rules.add((cur, yara_meta(m.group(2))) if meta else cur)
    return rules, hits


def memgrep_verdicts(stdout, meta=False):
    """memgrep scan --json's rule records as yara_verdicts's (rules, hits)."""
    rules, hits = set(), set()
    for line in stdout.splitlines():
        o = json.loads(line)
        if o["type"] != "rule":
            continue
        rules.add((o["rule"], tuple(o["meta"].items())) if meta else o["rule"])
        for s in o["strings"]:
            hits.add((o["rule"], s["id"], int(s["address"], 16)))
    return rules, hits


class Tally:
    """yara's and memgrep's verdicts compared process by process; the
    differences printed (at most limit of each kind), and the end line."""

    def __init__(self, limit=None):
        self.limit = limit
        self.failed = self.n = self.n_hits = 0
        self.rules = set()

    def process(self, yara, memgrep):
        (yr, yh), (mr, mh) = yara, memgrep
        self.rules |= {r[0] if isinstance(r, tuple) else r for r in yr}
        self.n_hits += len(yh)
        ok = yr == mr and yh == mh
        print("process %d: yara %d rules %d string matches; memgrep %d rules %d string matches: %s"
              % (self.n, len(yr), len(yh), len(mr), len(mh), "same" if ok else "DIFFERENT"))
        self.n += 1
        if not ok:
            self.failed += 1
            for what, a, b in (("rules", yr, mr), ("strings", yh, mh)):
                for x in sorted(a - b, key=str)[:self.limit]:
                    print("  %s only yara: %s" % (what, x))
                for x in sorted(b - a, key=str)[:self.limit]:
                    print("  %s only memgrep: %s" % (what, x))

    def finish(self, seed):
        print("%d rules matched at least once, %d string matches compared"
              % (len(self.rules), self.n_hits))
        if self.failed:
            print("FAIL: %d of %d processes differ (seed %d)" % (self.failed, self.n, seed))
            sys.exit(1)


def run_yara(pid):
    r = subprocess.run([YARA, "-s", "-m", INDEX, str(pid)], capture_output=True, text=True,
                       errors="replace")
    if r.returncode != 0:
        raise SystemExit("yara failed: %s" % r.stderr)
    return yara_verdicts(r.stdout, meta=True)


def run_memgrep(memgrep, pid):
    r = subprocess.run([memgrep, "scan", "--json", "--no-db-cache", "--chunk-size", "4K",
                        "-C", "0", "-r", RULES_DIR, "-p", str(pid)], capture_output=True,
                       text=True, errors="replace")
    if r.returncode not in (0, 1):
        raise SystemExit("memgrep failed (%d): %s" % (r.returncode, r.stderr))
    return memgrep_verdicts(r.stdout, meta=True)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    memgrep = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int.from_bytes(os.urandom(4), "little")
    if not os.access(YARA, os.X_OK):
        skip("no %s (apt-get install yara)" % YARA)
    if os.geteuid() != 0:
        skip("needs root: yara and memgrep read another process's memory")
    rng = random.Random(seed)
    strings = load_strings()
    print("seed %d: %d strings in %d rules files" % (seed, len(strings), len(os.listdir(RULES_DIR))))
    tally = Tally()
    planted = []
    for i in range(N_PROCS):
        also = [s for s in strings if s not in planted] if i == N_PROCS - 1 else ()
        p, intact = start_fixture(rng, strings, pages=rng.randint(3, 12),
                                  regions=rng.randint(1, 4), also=also)
        planted += intact
        try:
            yara = run_yara(p.pid)
            mg = run_memgrep(memgrep, p.pid)
        finally:
            p.stdin.close()
            p.wait()
        tally.process(yara, mg)
    tally.finish(seed)


if __name__ == "__main__":
    main()
