"""Shared by the install, systemd, schema and fleet tests (tests/install/):
fixture processes, installing into a DESTDIR, skipping.

The tests are plain Python programs run by meson test: exit 0 passes,
77 skips (the reason on stdout), anything else fails."""
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def need_root(what):
    if os.geteuid() != 0:
        skip(f"needs root: {what} reads other processes' memory")


class Fixture:
    """tests/fixture ($MG_FIXTURE) with a fresh token: its plants are
    (name, address, length, kind). It exits when this object closes its
    stdin (or when this process dies: PR_SET_PDEATHSIG)."""

    def __init__(self):
        path = os.environ.get("MG_FIXTURE")
        if not path:
            fail("MG_FIXTURE is not set (run through meson test)")
        self.token = secrets.token_hex(8)
        self.proc = subprocess.Popen([path, "--token", self.token], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.plants = []
        for line in self.proc.stdout:
            w = line.split()
            if w == ["READY"]:
                break
            if w and w[0] == "PLANT":
                self.plants.append((w[1], int(w[2], 16), int(w[3]), w[4]))
        else:
            fail("fixture exited before READY")

    def marker(self, name):
        return f"mgt-{self.token}-{name};"

    def expect(self, names):
        """{(pid, address, marker)} of the plain plants of these names."""
        return {(self.pid, a, self.marker(n)) for n, a, _, k in self.plants
                if n in names and k == "plain"}

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


# Plants every test looks for: found by plain literals, no option needed.
PLANT_NAMES = ("heap", "stack", "tstack")


def hits_in(records, pid=None):
    """{(pid, address, pattern)} of the match records (of pid, if given)."""
    return {(r["pid"], int(r["address"], 16), r["pattern"]) for r in records
            if r.get("type") == "match" and (pid is None or r["pid"] == pid)}


def read_jsonl(path):
    with open(path, encoding="ascii") as f:
        return [json.loads(line) for line in f]


def build_dir():
    return os.environ["MG_BUILD_ROOT"]


def source_dir():
    return os.environ["MG_SOURCE_ROOT"]


def install_tree(dest):
    """meson install of this build into DESTDIR dest."""
    r = subprocess.run(["meson", "install", "-C", build_dir(), "--destdir", dest, "--no-rebuild",
                        "--quiet"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"meson install failed:\n{r.stdout}{r.stderr}")


def dirs():
    """Where this build installs ($MG_INSTALL_*, set by
    tests/install/meson.build): {"bindir": "/usr/local/bin", ...}."""
    return {k[len("MG_INSTALL_"):].lower(): v for k, v in os.environ.items()
            if k.startswith("MG_INSTALL_")}


def tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    return d


def rmtree(d):
    shutil.rmtree(d, ignore_errors=True)
