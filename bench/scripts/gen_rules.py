#!/usr/bin/env python3
"""gen_rules.py - a seeded YARA rule set shaped like the public Linux sets, and
byte strings to plant so that a known subset of its rules match.

    gen_rules.py OUTDIR [--seed S] [--rules N] [--hits H] [--misses M]
                 [--common C] [--common-words W] [--iocs FILE]

Writes into OUTDIR:
  rules.yar    N rules (default 900) with about 2 strings each: half hex (with
               ?? wildcards, nibble wildcards, jumps [n] and [n-m], a few
               alternatives), half text; a tenth of all strings fullword, some
               nocase, a few wide / ascii wide, a few xor / xor(A-B), base64 /
               base64wide. Conditions mostly `any of them`, `N of them`,
               `all of them`, `$a and ($b or $c)`, `$a`; a few `#a > 2`, and a
               few `$b in (@a[1]..@a[1] + 512)` (process scans: addresses are
               virtual, so only relative ranges make sense). meta and tags as in
               the public sets. Plus C (default 2) "common" rules whose strings
               are phrases of W (default 3) words of bench/heapgen.h's text,
               which match often in bigproc's data (`#a > 100 and $b`; public
               sets have such generic strings too; W=1: ~3 million matches
               per GiB), and with --iocs one rule per 5 lines of FILE
               (`any of them`: the IOC list synthhost plants from).
  plants.txt   hex byte strings, one a line, for `bigproc --plant-file`: for H
               rules (default 60) what their condition needs (in the forms
               their modifiers describe: mixed case, UTF-16LE, an xor key,
               base64 with random neighbours, fullword between non-alphanumeric
               bytes, hex with random wildcard bytes and jump lengths), and for
               M rules (default 30) a near miss (all but one string of
               `all of them`, N-1 of `N of`, $b and $c without $a, #a == 2, a
               fullword string with an alphanumeric neighbour, $a and $b far
               apart).
  expect.json  {"hit": [rules that must match], "miss": [rules that must not]}

Same arguments, same output (random.Random(seed) only; python3 stdlib).
"""
import argparse
import base64
import json
import os
import random

WORDS = ("kworker dbus cron payload loader miner stratum bot scan ssh brute kill proc inject "
         "hook rootkit socks proxy tunnel beacon config update daemon persist hide shell exec "
         "spread flood ddos xmr pool wallet worker agent implant stager dropper keylog sniff "
         "backdoor reverse bind listen connect upload download crypt ransom lock wipe").split()
FAMILIES = ("Mirai Gafgyt Tsunami Xorddos Kinsing Xmrig Sliver Cobalt Rekoobe Bpfdoor Winnti "
            "Ebury Hiddad Prometei Sysrv Dofloo Mettle Meterpreter Ngioweb Pnscan").split()
KINDS = ("Trojan Backdoor Cryptominer Exploit Hacktool Rootkit Ransomware Worm Downloader "
         "Generic").split()
EXTS = "sh so elf bin py pl conf tmp".split()
TLDS = "top xyz ru cc biz info net io".split()
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
# Words of heapgen.h's text vocabulary (its 61 words joined by a space or a
# newline): the "common" rules' strings are phrases of --common-words of them
# joined by spaces. One word matches about every 350 bytes of bigproc's data
# (capped at 1,000,000 matches per string, as in YARA), two words every ~20
# KiB, three words about every 1.3 MiB.
HEAP_WORDS = ["GET", "POST", "users", "session", "token", "HTTP/1.1", "Content-Type:",
              "text/html", "application/json", "charset=utf-8", "Accept:", "gzip", "deflate",
              "keep-alive", "Connection:", "{\"id\":", "\"name\":", "\"value\":", "error",
              "warning", "request", "response", "failed", "connected", "timeout", "retry",
              "cache", "2024-05-17T12:34:56Z", "worker", "thread", "pool", "queue", "done"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.seen = set()

    def tok(self, lo=5, hi=9):
        return "".join(self.r.choice(ALNUM) for _ in range(self.r.randint(lo, hi)))

    def text(self):
        r = self.r
        while True:
            w = r.choice(WORDS)
            k = r.randrange(6)
            if k == 0:
                s = f"/tmp/.{self.tok()}/{w}.{r.choice(EXTS)}"
            elif k == 1:
                s = f"http://{self.tok()}.{self.tok(3, 5)}.{r.choice(TLDS)}/{w}.sh"
            elif k == 2:
                s = f"{w} -{r.choice('abcdefghijkl')} {self.tok()} --{r.choice(WORDS)}={r.randrange(100)}"
            elif k == 3:
                s = f"{w}_{r.choice(WORDS)}_{self.tok(4, 7)}"
            elif k == 4:
                s = f"{w.capitalize()}/{r.randrange(10)}.{r.randrange(20)} ({self.tok()})"
            else:
                s = f"[{w}] {self.tok()} {r.choice(WORDS)} %s:%d"
            if s not in self.seen:
                self.seen.add(s)
                return s

    def hex(self):
        """A hex string as token list: ('b', byte) | ('w',) | ('n', 'X?' or '?X')
        | ('j', lo, hi) | ('alt', [[byte...], [byte...]])."""
        r = self.r
        toks = [("b", r.randrange(1, 256)) for _ in range(4)]
        n = r.randint(4, 16)
        jumped = False
        for i in range(n):
            x = r.random()
            if x < 0.12:
                toks.append(("w",))
            elif x < 0.15:
                toks.append(("n", r.choice(["hi", "lo"]), r.randrange(16)))
            elif x < 0.20 and not jumped and i < n - 3:
                jumped = True
                if r.random() < 0.5:
                    k = r.randint(1, 6)
                    toks.append(("j", k, k))
                else:
                    a = r.randint(0, 3)
                    toks.append(("j", a, a + r.randint(1, 12)))
            elif x < 0.22 and i < n - 3:
                toks.append(("alt", [[r.randrange(256) for _ in range(2)] for _ in range(2)]))
            else:
                toks.append(("b", r.randrange(256)))
        toks += [("b", r.randrange(1, 256)) for _ in range(2)]
        return toks


def hex_src(toks):
    out = []
    for t in toks:
        if t[0] == "b":
            out.append(f"{t[1]:02X}")
        elif t[0] == "w":
            out.append("??")
        elif t[0] == "n":
            out.append(f"{t[2]:X}?" if t[1] == "hi" else f"?{t[2]:X}")
        elif t[0] == "j":
            out.append(f"[{t[1]}]" if t[1] == t[2] else f"[{t[1]}-{t[2]}]")
        else:
            out.append("( " + " | ".join(" ".join(f"{b:02X}" for b in a) for a in t[1]) + " )")
    return "{ " + " ".join(out) + " }"


def hex_instance(r, toks):
    out = bytearray()
    for t in toks:
        if t[0] == "b":
            out.append(t[1])
        elif t[0] == "w":
            out.append(r.randrange(256))
        elif t[0] == "n":
            out.append(t[2] << 4 | r.randrange(16) if t[1] == "hi" else r.randrange(16) << 4 | t[2])
        elif t[0] == "j":
            out += bytes(r.randrange(256) for _ in range(r.randint(t[1], t[2])))
        else:
            out += bytes(r.choice(t[1]))
    return bytes(out)


def widen(b):
    return bytes(x for c in b for x in (c, 0))


class Str:
    def __init__(self, sid, kind, value, mods):
        self.sid, self.kind, self.value, self.mods = sid, kind, value, mods

    def src(self):
        if self.kind == "hex":
            return f"{self.sid} = {hex_src(self.value)}"
        v = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.sid} = "{v}"' + "".join(" " + m for m in self.mods)

    def instance(self, r, near_miss=False):
        """Bytes to plant: one form of the string as it may be in memory, with
        non-alphanumeric neighbours (an alphanumeric one if near_miss)."""
        if self.kind == "hex":
            return hex_instance(r, self.value)
        b = self.value.encode()
        mods = self.mods
        if any(m.startswith("base64") for m in mods):
            pre = bytes(r.randrange(32, 127) for _ in range(r.randrange(3)))
            post = bytes(r.randrange(32, 127) for _ in range(r.randrange(3)))
            enc = base64.b64encode(pre + b + post)
            return b"\n" + (widen(enc) if "base64wide" in mods else enc) + b"\n"
        if "nocase" in mods:
            b = bytes(c ^ 0x20 if chr(c).isalpha() and r.random() < 0.5 else c for c in b)
        wide = "wide" in mods and ("ascii" not in mods or r.random() < 0.5)
        if wide:
            b = widen(b)
        for m in mods:
            if m.startswith("xor"):
                lo, hi = (1, 31) if m == "xor(1-31)" else (0, 255)
                key = r.randint(lo, hi)
                b = bytes(c ^ key for c in b)
        pre, post = b"\n", b" "
        if near_miss:
            pre = b"x"
        if wide:
            pre, post = widen(pre), widen(post)
        return b"\x00" + pre + b + post + b"\x00"


class Rule:
    def __init__(self, name, strs, cond, kind, tags, meta):
        self.name, self.strs, self.cond, self.kind = name, strs, cond, kind
        self.tags, self.meta = tags, meta

    def src(self):
        tags = (" : " + " ".join(self.tags)) if self.tags else ""
        out = [f"rule {self.name}{tags}", "{", "    meta:"]
        for k, v in self.meta:
            out.append(f'        {k} = "{v}"' if isinstance(v, str) else f"        {k} = {v}")
        out.append("    strings:")
        out += ["        " + s.src() for s in self.strs]
        out += ["    condition:", "        " + self.cond, "}", ""]
        return "\n".join(out)


def make_rules(g, n):
    r = g.r
    rules = []
    # Modifier budget over all text strings: fullword on a tenth of all
    # strings, nocase ~8% of text, a few wide, xor and base64.
    for i in range(n):
        k = r.choices([1, 2, 3, 4], weights=[35, 35, 20, 10])[0]
        strs = []
        for j in range(k):
            if r.random() < 0.5:
                strs.append(Str(f"$h{j + 1}", "hex", g.hex(), []))
                continue
            mods = []
            x = r.random()
            if x < 0.012:
                mods = [r.choice(["xor", "xor(1-31)"])]
            elif x < 0.020:
                mods = [r.choice(["base64", "base64wide"])]
            else:
                if r.random() < 0.20:
                    mods.append("fullword")
                if r.random() < 0.08:
                    mods.append("nocase")
                if r.random() < 0.04:
                    mods += r.choice([["wide"], ["ascii", "wide"]])
            strs.append(Str(f"$s{j + 1}", "text", g.text(), mods))
        ids = [s.sid for s in strs]
        x = r.random()
        if k == 1:
            if x < 0.55:
                cond, kind = "any of them", "any"
            elif x < 0.92:
                cond, kind = ids[0], "one"
            else:
                cond, kind = f"#{ids[0][1:]} > 2", "count"
        elif k == 2:
            if x < 0.40:
                cond, kind = "any of them", "any"
            elif x < 0.85:
                cond, kind = "all of them", "all"
            elif x < 0.95:
                cond, kind = f"{ids[0]} and {ids[1]}", "all"
            else:
                cond, kind = f"{ids[1]} in (@{ids[0][1:]}[1]..@{ids[0][1:]}[1] + 512)", "in"
        else:
            if x < 0.25:
                cond, kind = "any of them", "any"
            elif x < 0.50:
                cond, kind = f"{k - 1} of them", f"n{k - 1}"
            elif x < 0.70:
                cond, kind = "all of them", "all"
            elif x < 0.92:
                cond, kind = f"{ids[0]} and ({' or '.join(ids[1:])})", "andor"
            else:
                cond, kind = f"#{ids[0][1:]} > 2 and any of ({', '.join(ids[1:])})", "count"
        fam = r.choice(FAMILIES)
        name = f"Linux_{r.choice(KINDS)}_{fam}_{i:04d}"
        tags = [] if r.random() < 0.6 else [r.choice(["linux", "elf", "miner", "bot"])]
        meta = [("author", "memgrep bench"), ("description", f"{fam} {r.choice(WORDS)} strings"),
                ("date", f"202{r.randrange(5)}-0{r.randint(1, 9)}-1{r.randrange(10)}"),
                ("severity", r.randrange(100))]
        rules.append(Rule(name, strs, cond, kind, tags, meta))
    return rules


def common_rules(r, c, words):
    out = []
    for i in range(c):
        a, b = (" ".join(r.choice(HEAP_WORDS) for _ in range(words)) for _ in range(2))
        strs = [Str("$a", "text", a, []), Str("$b", "text", b, ["fullword"])]
        out.append(Rule(f"Linux_Generic_Heap_{i:02d}", strs, "#a > 100 and $b", "common", [],
                        [("description", "strings common in heap data")]))
    return out


def ioc_rules(path):
    iocs = [l.rstrip("\r\n") for l in open(path, encoding="latin-1")]
    iocs = [l for l in iocs if l and not l.startswith("#")]
    out = []
    for i in range(0, len(iocs), 5):
        strs = [Str(f"$i{j}", "text", v, []) for j, v in enumerate(iocs[i:i + 5])]
        out.append(Rule(f"Linux_Ioc_List_{i // 5:03d}", strs, "any of them", "any", ["ioc"],
                        [("description", "IOC list")]))
    return out


def plants_for(r, rule, hit):
    """Blobs to plant (each placed far from the others by bigproc) making the
    rule match (hit) or just miss it."""
    s, k = rule.strs, rule.kind
    if k == "in":
        a, b = s[0].instance(r), s[1].instance(r)
        if hit:
            return [a + bytes(r.randrange(32, 127) for _ in range(r.randrange(16, 200))) + b]
        return [a, b]  # bigproc puts blobs megabytes apart
    if k == "count":
        a = [s[0].instance(r) for _ in range(3 if hit else 2)]
        return a + [x.instance(r) for x in r.sample(s[1:], 1)] if len(s) > 1 else a
    if k == "andor":
        rest = [x.instance(r) for x in r.sample(s[1:], r.randint(1, 2))]
        return ([s[0].instance(r)] if hit else []) + rest
    if k in ("all",) or k.startswith("n"):
        need = len(s) if k == "all" else int(k[1:])
        if not hit:
            need -= 1
        return [x.instance(r) for x in r.sample(s, need)]
    # any, one
    if hit:
        pick = [s[0]] if k == "one" else r.sample(s, r.randint(1, len(s)))
        return [x.instance(r) for x in pick]
    # a miss for "any"/"one": only fullword text strings can just miss
    return [x.instance(r, near_miss=True) for x in s]


def can_miss(rule):
    if rule.kind in ("any", "one"):
        return all("fullword" in x.mods and "base64" not in x.mods for x in rule.strs) \
            and all(x.kind == "text" for x in rule.strs)
    return rule.kind in ("in", "count", "andor", "all") or rule.kind.startswith("n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rules", type=int, default=900)
    ap.add_argument("--hits", type=int, default=60)
    ap.add_argument("--misses", type=int, default=30)
    ap.add_argument("--common", type=int, default=2)
    ap.add_argument("--common-words", type=int, default=3)
    ap.add_argument("--iocs")
    a = ap.parse_args()
    g = Gen(a.seed)
    rules = make_rules(g, a.rules)
    r = g.r
    # Hits: every "in" and "count" rule and every rule with xor, base64 or
    # wide strings, then random others; misses from the rest.
    special = [x for x in rules if x.kind in ("in", "count") or any(
        m.startswith(("xor", "base64", "wide")) for s in x.strs for m in s.mods)]
    r.shuffle(special)
    hits = special[:a.hits // 2]
    rest = [x for x in rules if x not in hits]
    hits += r.sample(rest, a.hits - len(hits))
    rest = [x for x in rest if x not in hits and can_miss(x)]
    misses = r.sample(rest, min(a.misses, len(rest)))
    blobs = []
    for rule in hits:
        blobs += plants_for(r, rule, True)
    for rule in misses:
        blobs += plants_for(r, rule, False)
    r.shuffle(blobs)
    extra = common_rules(r, a.common, a.common_words) + (ioc_rules(a.iocs) if a.iocs else [])
    all_rules = rules + extra
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "rules.yar"), "w") as f:
        f.write(f"/* generated by bench/scripts/gen_rules.py --seed {a.seed} --rules {a.rules} */\n\n")
        for x in all_rules:
            f.write(x.src() + "\n")
    with open(os.path.join(a.outdir, "plants.txt"), "w") as f:
        for b in blobs:
            f.write(b.hex() + "\n")
    with open(os.path.join(a.outdir, "expect.json"), "w") as f:
        json.dump({"hit": sorted(x.name for x in hits), "miss": sorted(x.name for x in misses)},
                  f, indent=1)
    nstr = sum(len(x.strs) for x in all_rules)
    print(f"gen_rules: {len(all_rules)} rules, {nstr} strings "
          f"({sum(s.kind == 'hex' for x in all_rules for s in x.strs)} hex, "
          f"{sum('fullword' in s.mods for x in all_rules for s in x.strs)} fullword); "
          f"{len(blobs)} blobs planted for {len(hits)} hits and {len(misses)} near misses")


if __name__ == "__main__":
    main()
