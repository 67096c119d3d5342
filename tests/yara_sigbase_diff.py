#!/usr/bin/env python3
"""Differential test on a real rule set: signature-base (Neo23x0, 737 files) in
memgrep against /usr/bin/yara 4.2.3 on live processes.

The corpus is ../shared/corpus/signature-base-yara.tar.xz beside the clone (as
in CI). Both tools load the whole set with the externals yara needs
(-d filename= -d filepath= -d extension= -d filetype= -d owner=). Fixture
processes (tests/yara_diff.py's) plant all the one-line strings of
random rules (regexes through a sample) in random forms (nocase, wide, xor, base64, fullword
neighbours, hex wildcards and jumps), some straddling 1 MiB boundaries
(memgrep's chunks) and page boundaries, in regions of 2-3 MiB between
PROT_NONE guards. For every process the matching rules and the
(rule, string, address) sets must be equal.

Usage: yara_sigbase_diff.py MEMGREP [SEED [PROCESSES]]   (exit 77: skipped)
"""
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import yara_diff as yd  # noqa: E402

CORPUS = os.path.join(HERE, "..", "..", "shared", "corpus", "signature-base-yara.tar.xz")
EXTERNALS = ["filename=", "filepath=", "extension=", "filetype=", "owner="]
MIB = 1 << 20


def regex_sample(rng, regex):
    """Bytes one of YARA's simple regexes matches (Python's parser reads the
    same syntax for them), or None."""
    try:
        from re import _constants as C, _parser as sre_parse
    except ImportError:  # before Python 3.11
        import sre_constants as C
        import sre_parse

    def gen(items):
        out = bytearray()
        for op, av in items:
            if op == C.LITERAL:
                out.append(av)
            elif op == C.ANY:
                out += rng.choice(b"aZ09 _-")
            elif op == C.IN:
                lits = [a for o, a in av if o == C.LITERAL]
                rngs = [a for o, a in av if o == C.RANGE]
                cats = [a for o, a in av if o == C.CATEGORY]
                if av and av[0][0] == C.NEGATE:
                    out.append(rng.choice(b"QzX"))
                elif lits:
                    out.append(rng.choice(lits))
                elif rngs:
                    lo, hi = rng.choice(rngs)
                    out.append(rng.randint(lo, hi))
                elif cats:
                    out += {C.CATEGORY_DIGIT: b"7", C.CATEGORY_SPACE: b" "}.get(cats[0], b"k")
                else:
                    raise ValueError
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
                lo, hi, sub = av
                n = min(lo + rng.randrange(3), hi if hi != C.MAXREPEAT else lo + 2)
                for _ in range(n):
                    out += gen(sub)
            elif op == C.SUBPATTERN:
                out += gen(av[-1])
            elif op == C.BRANCH:
                out += gen(rng.choice(av[1]))
            elif op == C.CATEGORY:
                out += {C.CATEGORY_DIGIT: b"7", C.CATEGORY_SPACE: b" "}.get(av, b"k")
            elif op == C.AT:
                pass
            else:
                raise ValueError
        return bytes(out)

    try:
        return gen(sre_parse.parse(regex.encode("latin-1"))) or None
    except Exception:
        return None


def load_rules(d):
    """{rule: [(kind, value, mods)]} for the strings written on one line
    (multi-line hex strings, with their comments, are left out; regexes get
    a sample from regex_sample where it can make one)."""
    rules = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".yar"):
            continue
        rule = None
        for line in open(os.path.join(d, name), errors="replace"):
            m = re.match(r"^\s*(?:private\s+|global\s+)*rule\s+(\w+)", line)
            if m:
                rule = m.group(1)
                rules.setdefault(rule, [])
                continue
            m = yd.STRING_RE.match(line)
            if not m or rule is None:
                continue
            _, text, hexs, regex, rest = m.groups()
            mods = rest.split("//")[0].split()
            try:
                if text is not None and text:
                    rules[rule].append(("text", yd.unescape(text), mods))
                elif regex is not None:
                    rules[rule].append(("regex", regex, mods))
                elif hexs is not None and "//" not in hexs and "/*" not in hexs:
                    yd.hex_instance(random.Random(0), hexs)  # one the sampler understands
                    rules[rule].append(("hex", hexs, mods))
            except (KeyError, ValueError, IndexError):
                pass
    return {r: s for r, s in rules.items() if s}


def plant(rng, rules, pages, regions):
    """A fixture holding every string of some rules; returns the process."""
    seed = bytes(rng.randrange(256) for _ in range(61))
    p = subprocess.Popen([sys.executable, "-c", yd.FIXTURE], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    p.stdin.write("%d %d %s\n" % (pages, regions, seed.hex()))
    size = pages * yd.PAGE
    chosen = rng.sample(sorted(rules), min(len(rules), rng.randint(400, 600)))
    for rule in chosen:
        for kind, value, mods in rules[rule]:
            sample = regex_sample(rng, value) if kind == "regex" else None
            if kind == "regex" and sample is None:
                continue
            data = yd.forms(rng, kind, value, mods, sample)
            if kind == "regex" and "wide" in mods and ("ascii" not in mods or rng.random() < 0.5):
                data = yd.widen(data)
            if not data or len(data) > yd.PAGE:
                continue
            where = rng.choice(["random", "random", "mib", "page", "start", "end"])
            if where == "random":
                off = rng.randrange(size - len(data))
            elif where == "mib":  # across a 1 MiB boundary: memgrep's chunks
                off = rng.randrange(1, size // MIB + 1) * MIB - rng.randrange(1, max(2, len(data)))
            elif where == "page":
                off = rng.randrange(1, pages) * yd.PAGE - rng.randrange(1, max(2, len(data)))
            elif where == "start":
                off = 0
            else:
                off = size - len(data)
            off = max(0, min(off, size - len(data)))
            p.stdin.write("%d %d %s\n" % (rng.randrange(regions), off, data.hex()))
    p.stdin.write("GO\n")
    p.stdin.flush()
    line = p.stdout.readline()
    if not line.startswith("READY"):
        raise SystemExit("fixture did not start: %r" % line)
    return p


def run_yara(compiled, pid):
    r = subprocess.run([yd.YARA, "-C", "-s", compiled, str(pid)], capture_output=True,
                       text=True, errors="replace")
    if r.returncode != 0:
        raise SystemExit("yara failed: %s" % r.stderr)
    return yd.yara_verdicts(r.stdout)


def run_memgrep(memgrep, rules_dir, cache, pid):
    cmd = [memgrep, "scan", "--json", "--db-cache", cache, "-C", "0", "-r", rules_dir,
           "-p", str(pid)]
    for x in EXTERNALS:
        cmd[2:2] = ["-d", x]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if r.returncode not in (0, 1):  # no --skip-unsupported: every rule must load
        raise SystemExit("memgrep failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    return yd.memgrep_verdicts(r.stdout)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    memgrep = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int.from_bytes(os.urandom(4), "little")
    n_procs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    if not os.path.exists(CORPUS):
        yd.skip("no %s (the shared corpus beside the clone)" % CORPUS)
    if not os.access(yd.YARA, os.X_OK):
        yd.skip("no %s (apt-get install yara)" % yd.YARA)
    if os.geteuid() != 0:
        yd.skip("needs root: yara and memgrep read another process's memory")
    with tempfile.TemporaryDirectory(prefix="mg-sigbase-") as tmp:
        subprocess.run(["tar", "xJf", CORPUS, "-C", tmp], check=True)
        d = os.path.join(tmp, "signature-base", "yara")
        files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".yar"))
        compiled = os.path.join(tmp, "all.yarc")
        cmd = ["yarac"] + [a for x in EXTERNALS for a in ("-d", x)] + files + [compiled]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("yarac failed: %s" % r.stderr[-2000:])
        cache = os.path.join(tmp, "cache")
        os.mkdir(cache, 0o700)
        rules = load_rules(d)
        rng = random.Random(seed)
        print("seed %d: %d files, %d rules with one-line text or hex strings"
              % (seed, len(files), len(rules)))
        tally = yd.Tally(limit=40)
        for _ in range(n_procs):
            p = plant(rng, rules, pages=rng.randint(520, 760), regions=rng.randint(1, 3))
            try:
                yara = run_yara(compiled, p.pid)
                mg = run_memgrep(memgrep, d, cache, p.pid)
            finally:
                p.stdin.close()
                p.wait()
            tally.process(yara, mg)
        tally.finish(seed)


if __name__ == "__main__":
    main()
