#!/usr/bin/env python3
"""Suite install: the man pages' sources (docs/man/) against the binary, a
cheap guard against drift. For every command `memgrep help` lists:
memgrep-CMD.1.scd exists, is built (docs/man/meson.build) and installed
(expected-files.txt), and memgrep.1 names the command; every option of
`memgrep CMD --help` is described in the page (*-x*, *--long*), every
option the page describes (a line starting with *-) is in --help, and every
exit status of --help's "Exit status:" is in the page's EXIT STATUS."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fail, source_dir

memgrep = os.environ["MEMGREP"]
man = os.path.join(source_dir(), "docs/man")


def run(*args):
    return subprocess.run([memgrep, *args], capture_output=True, text=True).stdout


def read(path):
    with open(path) as f:
        return f.read()


commands = []
on = False
for line in run("help").splitlines():
    if line.startswith("Commands:"):
        on = True
    elif on and not line.strip():
        break
    elif on and line.split()[0] != "help":
        commands.append(line.split()[0])
print("commands:", " ".join(commands))

failures = []
built = read(os.path.join(man, "meson.build"))
installed = read(os.path.join(source_dir(), "tests/install/expected-files.txt"))
top = read(os.path.join(man, "memgrep.1.scd"))
top_commands = top.split("# COMMANDS", 1)[-1].split("\n# ", 1)[0]
for cmd in commands:
    page = f"memgrep-{cmd}.1"
    src_path = os.path.join(man, page + ".scd")
    if not os.path.exists(src_path):
        failures.append(f"{cmd}: no docs/man/{page}.scd")
        continue
    if f"'{page}'" not in built:
        failures.append(f"{cmd}: {page} is not in docs/man/meson.build's man_pages")
    if f"man @mandir@/man1/{page}\n" not in installed:
        failures.append(f"{cmd}: {page} is not in tests/install/expected-files.txt")
    if f"\n*{cmd}*" not in top_commands:
        failures.append(f"{cmd}: memgrep.1.scd's COMMANDS does not list it")
    src = read(src_path)
    help_text = run(cmd, "--help")
    # Options of --help: "  -x, --long ARG" or "      --long ARG" lines.
    opts = set()
    for line in help_text.splitlines():
        m = re.match(r"^  (?:(-\w), )?\s*(--[\w-]+)", line)
        if m:
            opts.update(o for o in m.groups() if o)
    described = set()
    for line in src.splitlines():
        if line.startswith("*-"):
            described.update(re.findall(r"\*(--?[\w-]+)\*", line))
    for o in sorted(opts):
        if f"*{o}*" not in src:
            failures.append(f"{cmd}: {o} (in --help) is not in {page}.scd")
    for o in sorted(described - opts):
        failures.append(f"{cmd}: {page}.scd describes {o}, which --help does not list")
    # Exit statuses: "Exit status: 0 ..., 1 ..., 2 error." less parentheses.
    m = re.search(r"Exit status:(.*)", help_text, re.S)
    if not m:
        failures.append(f"{cmd}: --help has no 'Exit status:'")
        continue
    text = re.sub(r"\([^)]*\)", "", m.group(1).replace("\n", " "))
    statuses = re.findall(r"(?:^|[ ,:])(\d+(?:\+N)?) ", text)
    section = src.split("# EXIT STATUS", 1)[-1].split("\n# ", 1)[0]
    for st in statuses:
        if f"*{st}*" not in section:
            failures.append(f"{cmd}: exit status {st} (in --help) is not in {page}.scd's EXIT STATUS")
    print(f"{cmd}: {len(opts)} options, exit statuses {' '.join(statuses)}")

if failures:
    fail("\n  ".join(["man pages out of step with --help:"] + failures))
print("ok")
