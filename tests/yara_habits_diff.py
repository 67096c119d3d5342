#!/usr/bin/env python3
"""Differential test of yara's habits: memgrep against /usr/bin/yara 4.2.3.

A fixture process maps pages of random bytes, split into adjacent maps
entries (a read-only page between writable ones) and with gaps (unmapped
pages), and plants marker strings. Against it, with random rules written for
its addresses:

- hash.md5/sha1/sha256/crc32/checksum32(offset, size), math.count and
  `defined` of every math function over ranges inside a region, across adjacent regions,
  ending at a region's end before a gap or before an adjacent region, across
  a gap, below the first region, of size 0 and a few bytes; each digest compared with the one
  Python reads from /proc/PID/mem, and `defined` of each;
- `#a in (0..hi)` for random hi (lo other than 0 makes yara 4.2.3 fail with
  internal error 31: memgrep names such rules in an event, tests/test_yara.c);
- two namespaces holding rules of the same names (a false global rule in
  one), tags, meta of every type with escapes, hex and text strings with
  non-printable bytes, private rules and strings.

The matching rules must be equal; and the text output must be identical,
line for line, between `yara -s -m -g -e NS1:F1 NS2:F2 PID` and `memgrep scan
-s --print-meta -g --print-namespace -r NS1:F1 -r NS2:F2 -p PID`, and again
with -n (yara -n: the rules that did not match).

Usage: yara_habits_diff.py MEMGREP [SEED]   (exit 77: skipped, with the reason)
"""
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import zlib

YARA = "/usr/bin/yara"
PAGE = 4096

FIXTURE = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
spec = sys.stdin.readline().split()
pages, fill = int(spec[0]), bytes.fromhex(spec[1])
base = libc.mmap(None, pages * 4096, 3, 0x22, -1, 0)
ctypes.memmove(base, fill, len(fill))
for line in sys.stdin:
    w = line.split()
    if w[0] == "GO":
        break
    if w[0] == "put":
        data = bytes.fromhex(w[2])
        ctypes.memmove(base + int(w[1]), data, len(data))
    elif w[0] == "ro":
        libc.mprotect(base + int(w[1]) * 4096, 4096, 1)
    elif w[0] == "unmap":
        libc.munmap(base + int(w[1]) * 4096, 4096)
del fill, line
sys.stdout.write("READY %d\n" % base)
sys.stdout.flush()
sys.stdin.read()
"""


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def start_fixture(rng, pages, markers):
    fill = bytes(rng.randrange(256) for _ in range(pages * PAGE))
    p = subprocess.Popen([sys.executable, "-c", FIXTURE], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    p.stdin.write("%d %s\n" % (pages, fill.hex()))
    unmapped = set(rng.sample(range(1, pages - 1), 2))
    placed = []
    for m in markers:
        for _ in range(rng.randint(1, 3)):
            pg = rng.choice([x for x in range(pages) if x not in unmapped])
            off = pg * PAGE + rng.randrange(PAGE - len(m))
            p.stdin.write("put %d %s\n" % (off, m.hex()))
            placed.append(off)
    for pg in range(1, pages - 1):  # after the plants: a read-only page takes none
        if pg not in unmapped and rng.random() < 0.3:
            p.stdin.write("ro %d\n" % pg)
    for pg in sorted(unmapped):
        p.stdin.write("unmap %d\n" % pg)
    p.stdin.write("GO\n")
    p.stdin.flush()
    line = p.stdout.readline()
    if not line.startswith("READY"):
        raise SystemExit("fixture did not start: %r" % line)
    return p, int(line.split()[1]), unmapped, placed


def regions(pid):
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            a, b = line.split()[0].split("-")
            out.append((int(a, 16), int(b, 16)))
    return out


def read_mem(pid, addr, n):
    try:
        with open("/proc/%d/mem" % pid, "rb") as f:
            f.seek(addr)
            d = f.read(n)
            return d if len(d) == n else None
    except OSError:
        return None


def ranges(rng, base, pages, unmapped, maps):
    """(offset, size) pairs of every kind the module docstring lists."""
    ends = [b for a, b in maps if base <= a < base + pages * PAGE]
    starts = [a for a, b in maps if base <= a < base + pages * PAGE]
    out = [(0, 16), (base, 0), (base + 5, 0), (base + 7, 5), (base + 9, 6), (base + 3, 13)]
    for _ in range(6):
        o = base + rng.randrange(pages * PAGE - 64)
        out.append((o, rng.randint(1, 3 * PAGE)))
    for e in ends:
        n = rng.randint(1, 300)
        out += [(e - n, n), (e - n, n + rng.randint(1, 300)), (e - 1, 1)]
    for s in starts:
        out.append((s - rng.randint(1, 100), rng.randint(101, 400)))
    return out


MATH = ("entropy", "mean", "deviation", "serial_correlation", "monte_carlo_pi", "count",
        "percentage", "mode")
DIGESTS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def hash_rules(pid, rs):
    out = ["import \"hash\"", "import \"math\""]
    for i, (o, n) in enumerate(rs):
        d = read_mem(pid, o, n) if n else b""
        for fn, h in DIGESTS.items():
            want = h(d).hexdigest() if d is not None else "x"
            out.append('rule h%d_%s { condition: hash.%s(%d, %d) == "%s" }' % (i, fn, fn, o, n,
                                                                                want))
            out.append("rule d%d_%s { condition: defined hash.%s(%d, %d) }" % (i, fn, fn, o, n))
        crc = zlib.crc32(d) if d is not None else 0
        out.append("rule c%d { condition: hash.crc32(%d, %d) == %d }" % (i, o, n, crc))
        out.append("rule s%d { condition: hash.checksum32(%d, %d) == %d }"
                   % (i, o, n, sum(d) & 0xffffffff if d is not None else 0))
        byte = d[0] if d else 0
        out.append("rule m%d { condition: math.count(%d, %d, %d) == %d }"
                   % (i, byte, o, n, d.count(byte) if d is not None else 0))
        for fn in MATH:
            args = "%d, %d" % (o, n) + (", 100.5" if fn == "deviation" else "")
            if fn in ("count", "percentage"):
                args = "%d, " % byte + args
            out.append("rule %s%d { condition: defined math.%s(%s) }" % (fn, i, fn, args))
    return "\n".join(out) + "\n"


def count_rules(rng, base, pages, markers):
    out = []
    for i, m in enumerate(markers):
        for k in range(4):
            hi = base + rng.randrange(pages * PAGE)
            for n in range(4):
                out.append('rule n%d_%d_%d { strings: $a = "%s" condition: #a in (0..%d) == %d }'
                           % (i, k, n, m.decode(), hi, n))
    return "\n".join(out) + "\n"


def ns_rules(markers, variant):
    """A namespace's rules: the same names in both; variant 1 holds a false global."""
    a, b = markers[0].decode(), markers[1].decode()
    out = ['rule same : t%d shared { meta: s = "q\\"x\\\\y\\n\\x01\\xc3\\xa9" n = -%d b = true '
           'strings: $a = "%s" $h = { %s } condition: $a or $h }'
           % (variant, 12 + variant, a, " ".join("%02X" % c for c in markers[1][:6])),
           'rule other { meta: v = %d strings: $x = "%s\\x00" condition: $x or same }'
           % (variant, b),
           "private rule hidden { condition: true }",
           'rule uses_hidden { strings: $p = "%s" private condition: hidden and #p >= 0 }' % a,
           "rule never { condition: false }"]
    if variant == 1:
        out.append('global rule gate { strings: $g = "Y18_NOT_IN_MEMORY_Qx%d" condition: $g }'
                   % os.getpid())
    return "\n".join(out) + "\n"


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if r.returncode not in (0, 1):
        raise SystemExit("%s failed (%d): %s" % (cmd[0], r.returncode, r.stderr))
    return r.stdout


def rule_set(out):
    return {line.split()[-2] if line[0].isdigit() else line.split()[0]
            for line in out.splitlines() if line and not line.startswith("0x")}


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
    tag = "%08x" % rng.getrandbits(32)
    markers = [("Y18H%s_%d" % (tag, i)).encode() for i in range(3)]
    pages = rng.randint(8, 16)
    p, base, unmapped, _ = start_fixture(rng, pages, markers)
    failed = []
    with tempfile.TemporaryDirectory() as d:
        try:
            maps = regions(p.pid)
            files = {}
            for name, text in (("hash", hash_rules(p.pid, ranges(rng, base, pages, unmapped, maps))),
                               ("count", count_rules(rng, base, pages, markers)),
                               ("one", ns_rules(markers, 0)), ("two", ns_rules(markers, 1))):
                files[name] = os.path.join(d, name + ".yar")
                with open(files[name], "w") as f:
                    f.write(text)
            for name in ("hash", "count"):
                y = rule_set(run([YARA, files[name], str(p.pid)]))
                m = rule_set(run([memgrep, "scan", "--print-strings", "--no-db-cache", "-r", files[name],
                                  "-p", str(p.pid)]))
                print("%s: yara %d rules, memgrep %d: %s"
                      % (name, len(y), len(m), "same" if y == m else "DIFFERENT"))
                if y != m:
                    failed.append(name)
                    print("  only yara: %s" % sorted(y - m))
                    print("  only memgrep: %s" % sorted(m - y))
            ns = ["NS1:" + files["one"], "NS2:" + files["two"]]
            for neg in ([], ["-n"]):
                y = run([YARA, "-s", "-m", "-g", "-e"] + neg + ns + [str(p.pid)])
                m = run([memgrep, "scan", "--print-strings", "--print-meta", "-g", "--print-namespace",
                         "--no-db-cache", "-C", "0", "-r", ns[0], "-r", ns[1], "-p", str(p.pid)]
                        + neg)
                same = y == m
                print("namespaces%s: yara %d lines, memgrep %d: %s"
                      % (" -n" if neg else "", len(y.splitlines()), len(m.splitlines()),
                         "identical" if same else "DIFFERENT"))
                if not same:
                    failed.append("namespaces" + (" -n" if neg else ""))
                    print("--- yara\n%s--- memgrep\n%s" % (y, m))
        finally:
            p.stdin.close()
            p.wait()
    if failed:
        print("FAIL: %s (seed %d)" % (", ".join(failed), seed))
        sys.exit(1)


if __name__ == "__main__":
    main()
