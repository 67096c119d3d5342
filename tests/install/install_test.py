#!/usr/bin/env python3
"""Suite install: `meson install` into a DESTDIR puts exactly the files of
expected-files.txt there (the shared library with its SONAME, memgrep.pc,
the headers, man pages, completion, hunt pack, units and wrapper, the
Python module), examples/embed.c builds against the installed memgrep.pc
alone and finds a fixture's planted markers at their addresses, and so does
the installed Python module."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (PLANT_NAMES, Fixture, dirs, fail, install_tree, need_root, rmtree,
                    source_dir, tmpdir)

need_root("running examples/embed against a fixture")
d = dirs()
if d["man"] != "yes":
    # scdoc was not found when the build was configured: no man pages.
    from common import skip
    skip("man pages not built (scdoc missing at configure time; scripts/bootstrap --tests installs it)")

dest = tmpdir("mg-install-")
fixture = None
try:
    install_tree(dest)

    # 1. The installed files, exactly.
    expected = set()
    with open(os.path.join(source_dir(), "tests/install/expected-files.txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("man "):
                line = line[4:]
            if line.startswith("python "):
                if d["python"] != "yes":
                    continue
                line = line[7:]
            expected.add(re.sub(r"@(\w+)@", lambda m: d[m.group(1)], line))
    installed = set()
    for root, _, files in os.walk(dest):
        for name in files:
            installed.add("/" + os.path.relpath(os.path.join(root, name), dest))
    print("installed:", *sorted(installed), sep="\n  ")
    if installed != expected:
        fail(f"installed files differ: missing {sorted(expected - installed)}, "
             f"unexpected {sorted(installed - expected)}")

    lib = dest + d["libdir"]
    soname = f"libmemgrep.so.{d['soversion']}"
    dyn = subprocess.run(["readelf", "-d", f"{lib}/libmemgrep.so.{d['version']}"],
                         capture_output=True, text=True, check=True).stdout
    if f"Library soname: [{soname}]" not in dyn:
        fail(f"libmemgrep.so has no SONAME {soname}:\n{dyn}")
    if os.readlink(f"{lib}/{soname}") != f"libmemgrep.so.{d['version']}":
        fail(f"{soname} does not point to libmemgrep.so.{d['version']}")
    mode = os.stat(dest + d["libexecdir"] + "/memgrep/memgrep-hunt").st_mode & 0o777
    if mode != 0o755:
        fail(f"memgrep-hunt has mode {mode:o}, not 755")

    env = dict(os.environ, LD_LIBRARY_PATH=lib)
    v = subprocess.run([dest + d["bindir"] + "/memgrep", "--version"], env=env,
                       capture_output=True, text=True)
    if v.stdout.strip() != f"memgrep {d['version']}":
        fail(f"installed memgrep --version: {v.stdout!r} {v.stderr!r}")

    # 2. examples/embed.c against the installed memgrep.pc only (the sysroot
    #    puts DESTDIR in front of its -I and -L).
    pc_env = dict(os.environ, PKG_CONFIG_LIBDIR=lib + "/pkgconfig", PKG_CONFIG_PATH="",
                  PKG_CONFIG_SYSROOT_DIR=dest)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "memgrep"], env=pc_env,
                           capture_output=True, text=True)
    if flags.returncode != 0:
        fail(f"pkg-config memgrep: {flags.stderr}")
    print("pkg-config --cflags --libs memgrep:", flags.stdout.strip())
    if f"-I{dest}{d['includedir']}" not in flags.stdout.split():
        fail("memgrep.pc's Cflags do not name the installed includedir")
    exe = os.path.join(dest, "embed")
    cc = subprocess.run(["cc", "-std=c17", "-Wall", "-Wextra", "-Werror", "-o", exe,
                         os.path.join(source_dir(), "examples/embed.c")] + flags.stdout.split(),
                        capture_output=True, text=True)
    if cc.returncode != 0:
        fail(f"building examples/embed.c failed:\n{cc.stderr}")
    needed = subprocess.run(["readelf", "-d", exe], capture_output=True, text=True).stdout
    if f"Shared library: [{soname}]" not in needed:
        fail(f"embed does not link {soname}:\n{needed}")

    fixture = Fixture()
    want = fixture.expect(PLANT_NAMES)
    r = subprocess.run([exe, str(fixture.pid)] + [fixture.marker(n) for n in PLANT_NAMES],
                       env=env, capture_output=True, text=True)
    print(r.stdout, r.stderr, sep="")
    if r.returncode != 0:
        fail(f"embed exited {r.returncode}")
    got = set()
    for line in r.stdout.splitlines():
        pid, addr, pattern = line.split(" ", 2)
        got.add((int(pid), int(addr, 16), pattern))
    if got != want:
        fail(f"embed's matches differ: missing {sorted(want - got)}, extra {sorted(got - want)}")
    # 3. the installed Python module, with the interpreter it was built for,
    #    alone (no libmemgrep.so, no build tree): the same plants
    if d["python"] == "yes":
        # where `meson install` puts it, /usr/bin/python3 looks without help
        r = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(chr(10).join(sys.path))"],
                           capture_output=True, text=True, env={})
        if "/" + d["pythondir"].strip("/") not in r.stdout.splitlines():
            fail(f"the module goes to /{d['pythondir']}, not on /usr/bin/python3's sys.path:"
                 f" {r.stdout.split()}")
        code = ("import sys, memgrep\n"
                "s = memgrep.compile(patterns=sys.argv[2:])\n"
                "for m in s.scan(int(sys.argv[1])):\n"
                "    print(m.pid, hex(m.address), m.pattern.text)\n")
        r = subprocess.run(["/usr/bin/python3", "-c", code, str(fixture.pid)] +
                           [fixture.marker(n) for n in PLANT_NAMES],
                           env=dict(os.environ, PYTHONPATH=os.path.join(dest, d["pythondir"])),
                           capture_output=True, text=True, cwd=dest)
        got = {(int(pid), int(a, 16), p) for pid, a, p in
               (line.split(" ", 2) for line in r.stdout.splitlines())}
        if r.returncode != 0 or got != want:
            fail(f"installed memgrep module: exit {r.returncode} {r.stderr}, "
                 f"missing {sorted(want - got)}, extra {sorted(got - want)}")
    print(f"ok: {len(installed)} files installed; embed found {len(want)} plants at their addresses")
finally:
    if fixture:
        fixture.close()
    rmtree(dest)
