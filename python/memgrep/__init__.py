"""memgrep: search the memory of running Linux processes (libmemgrep).

    import memgrep
    scanner = memgrep.compile(patterns=["evil.example"], rules=["miner.yar"])
    for rec in scanner.sweep():            # every process but this one
        if isinstance(rec, memgrep.Match):
            print(rec.pid, rec.comm, hex(rec.address), rec.pattern.text)
        elif isinstance(rec, memgrep.RuleMatch):
            print(rec.pid, rec.comm, rec.rule)
        elif isinstance(rec, memgrep.Summary):
            print(rec.processes_scanned, "processes,", rec.complete)

The rules of the memgrep command hold: nothing is written to a target, no
target is attached or stopped, only present pages are read (no swap-in, no
fault-in), one process's failure is an Event, never the end of a sweep.

compile() returns a Scanner: reusable and thread-safe (sweeps through one
scanner run one at a time; each has its own records). Scanner.sweep()
returns a Sweep, an iterator of Match, RuleMatch, Event and Finding records
ending with a Summary; the scan runs in a thread of its own without the GIL.
Ctrl-C (KeyboardInterrupt) or Sweep.close() stops it; its Summary, marked
incomplete, is then Sweep.summary. Scanner.scan(pid) is one process's
matches as a list.

ps(), maps(pid), read(pid, address, size), strings(pid, ...),
findings(pid) and dump(pid, regions, path) inspect a process as the
commands of the same names do.

Errors: PatternError (.file, .line) for bad patterns and rules,
ProcessError (.pid, .kind) for a process that cannot be read, ValueError
for bad arguments, all subclasses of memgrep.Error but ValueError; the
message is the memgrep command's line. See docs/python.md.
"""
import os
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._memgrep import Error, PatternError, ProcessError, _Scanner, library_version
from . import _memgrep

__all__ = ["compile", "Scanner", "Sweep", "Pattern", "Match", "RuleMatch", "RuleString", "RuleHit",
           "Event", "Finding", "Summary", "Region", "Process", "String", "Memory",
           "Error", "PatternError", "ProcessError", "ps", "maps", "read", "strings", "findings",
           "dump", "library_version"]
__version__ = library_version


class Pattern(NamedTuple):
    """One pattern of a Scanner: its id (the order of adding), kind
    ('literal', 'hex' or 'regex'; a YARA rule string is one of these), text
    as given, source ('patterns[0]', 'FILE:LINE', 'rules.yar:7 $a'...)."""
    id: int
    kind: str
    text: str
    source: str
    nocase: bool
    wide: bool


class Region(NamedTuple):
    """One mapping of a process (a line of /proc/PID/maps). kind: 'anon',
    'heap', 'stack', 'file', 'shm', 'special' or 'device'. resident (bytes
    of present pages) and scannable are known from maps(), None in a match."""
    start: int
    end: int
    perms: str
    kind: str
    path: str
    offset: int
    inode: int
    deleted: bool
    resident: Optional[int]
    scannable: Optional[bool]


class Match(NamedTuple):
    """A pattern found in a process: data is the matched bytes at address
    (length bytes); before/after the context asked for (sweep(context=N));
    wide: it matched the UTF-16LE form."""
    pid: int
    comm: str
    exe: str
    address: int
    length: int
    pattern_id: int
    pattern: Pattern
    wide: bool
    data: bytes
    before: bytes
    after: bytes
    region: Region


class RuleString(NamedTuple):
    """A string of a matching rule that matched: its id ('$a'), how many
    times, and whether the count stopped at the limit."""
    id: str
    count: int
    capped: bool


class RuleHit(NamedTuple):
    """One match of a rule's string, at its virtual address."""
    string: str
    address: int
    length: int
    data: bytes
    before: bytes
    after: bytes
    region: Region


class RuleMatch(NamedTuple):
    """A YARA rule that matched a process (once per rule and process)."""
    pid: int
    comm: str
    exe: str
    rule: str
    namespace: str
    tags: Tuple[str, ...]
    meta: Dict[str, Union[str, int, bool]]
    strings: Tuple[RuleString, ...]
    hits: Tuple[RuleHit, ...]


class Event(NamedTuple):
    """One process's failure or cut, counted in the Summary: kind 'gone',
    'permission', 'changed', 'other', 'timeout' or 'unreached'; error a
    negative errno; message the memgrep command's warning line."""
    pid: int
    comm: str
    kind: str
    error: int
    message: str
    region: Optional[Region]


class Finding(NamedTuple):
    """A sign of fileless or tampered code (memgrep check): kind
    'memfd_exec', 'deleted_exe', 'anon_exec', 'rwx', 'traced' or
    'masquerade'; severity 'low', 'medium' or 'high'."""
    pid: int
    kind: str
    severity: str
    comm: str
    exe: str
    image: bool
    regions: int
    bytes: int
    first: Optional[Region]
    runtime: str
    tracer: int
    traced_tid: int
    tracer_comm: str
    argv0: str


class Summary(NamedTuple):
    """The end of a sweep. complete is False when it stopped early, and
    stop_reason says why ('timeout', 'cancelled'; 'none' when complete).
    events counts the Events by kind."""
    complete: bool
    stop_reason: str
    processes_scanned: int
    processes_failed: int
    processes_whole: int
    processes_cut: int
    processes_unreached: int
    regions_scanned: int
    regions_skipped: int
    bytes_scanned: int
    bytes_not_present: int
    bytes_deduped: int
    matches: int
    rule_matches: int
    findings: int
    events: Dict[str, int]
    elapsed_seconds: float
    mem_reader: str


class Process(NamedTuple):
    """One process (memgrep ps). container: its container id, '' if none.
    memgrep_self: this process (never read); noaccess: its memory cannot be
    read with our privileges."""
    pid: int
    ppid: int
    starttime: int
    uid: int
    euid: int
    state: str
    rss: int
    comm: str
    exe: str
    cgroup: str
    container: str
    cmdline: str
    kthread: bool
    zombie: bool
    memgrep_self: bool
    noaccess: bool


class String(NamedTuple):
    """A run of printable characters (memgrep strings); wide: UTF-16LE."""
    address: int
    text: str
    wide: bool


class Memory(NamedTuple):
    """What read() got: data holds size bytes from address; the
    [start, end) ranges of missing were not present (or changed while being
    read) and hold zeros in data."""
    address: int
    data: bytes
    missing: Tuple[Tuple[int, int], ...]


_memgrep._register(Match=Match, RuleMatch=RuleMatch, Finding=Finding, Event=Event,
                   Summary=Summary, Region=Region, Process=Process, RuleString=RuleString,
                   RuleHit=RuleHit, String=String, Memory=Memory)

Record = Union[Match, RuleMatch, Event, Finding, Summary]


class Sweep:
    """A running sweep, from Scanner.sweep(): iterate it for Match,
    RuleMatch, Event and Finding records; the last one is the Summary.
    Records are queued (boundedly) by the sweep's thread; a sweep nobody
    reads waits. close() (from any thread), Ctrl-C while iterating, leaving a
    `with` block, or dropping the object stop it: records not yet taken are
    dropped and .summary is the Summary, marked incomplete."""

    def __init__(self, it: Any):
        self._it = it

    def __iter__(self) -> "Sweep":
        return self

    def __next__(self) -> Record:
        return next(self._it)

    def close(self) -> None:
        """Stop the sweep and wait for its thread (idempotent)."""
        self._it.close()

    def stop(self) -> None:
        """Ask the sweep to stop, from any thread, without waiting: the
        iteration goes on with what was queued and ends with the Summary."""
        self._it.stop()

    @property
    def summary(self) -> Optional[Summary]:
        """The Summary once the sweep ended (None before)."""
        return self._it.summary

    def __enter__(self) -> "Sweep":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Scanner:
    """Compiled patterns and rules, from compile(). Reusable and
    thread-safe: any number of threads may call scan() and sweep() at once
    (sweeps run one at a time through the scanner's engine)."""

    def __init__(self, native: Any):
        self._native = native

    @property
    def patterns(self) -> Tuple[Pattern, ...]:
        """The Pattern of each pattern id (rule strings included)."""
        return self._native.patterns

    @property
    def rules(self) -> int:
        """How many YARA rules the scanner holds."""
        return self._native.rules

    @property
    def skipped(self) -> Tuple[str, ...]:
        """Rules dropped as unsupported (compile(skip_unsupported=True)),
        one line each: 'FILE:LINE: rule NAME: CONSTRUCT is not supported'."""
        return self._native.skipped

    def sweep(self, pids: Optional[Iterable[int]] = None, container: Optional[str] = None,
              cgroup: Optional[str] = None, threads: int = 0, gentle: bool = False,
              timeout: float = 0, process_timeout: float = 0, max_rate: int = 0,
              max_count: int = 0, context: Optional[int] = None, findings: bool = False) -> Sweep:
        """Sweep processes: pids (None: every process but this one),
        narrowed to a container id prefix and a cgroup path (memgrep scan
        --container, --cgroup). threads (0: one per CPU), gentle (one worker,
        64 MiB/s, idle priority), timeout and process_timeout (seconds, 0:
        none), max_rate (bytes/s, 0: no cap), max_count (matches per pattern
        per process, 0: all), context (bytes each side, up to 4096; None: 32) are the
        options of memgrep scan. findings=True also yields each target's
        Findings (memgrep check), after its matches. Returns a Sweep (an
        iterator)."""
        return Sweep(self._native.sweep(
            None if pids is None else list(pids), container, cgroup, threads, gentle,
            float(timeout), float(process_timeout), max_rate, max_count,
            -1 if context is None else context, findings))

    def scan(self, pid: int, **options: Any) -> List[Union[Match, RuleMatch]]:
        """One process's matches and matching rules, as a list (the options
        of sweep()). Raises ProcessError if the process cannot be read."""
        out: List[Union[Match, RuleMatch]] = []
        event: Optional[Event] = None
        with self.sweep(pids=[pid], **options) as sweep:
            for rec in sweep:
                if isinstance(rec, (Match, RuleMatch)):
                    out.append(rec)
                elif isinstance(rec, Event) and event is None:
                    event = rec
                elif isinstance(rec, Summary) and rec.processes_failed:
                    err = ProcessError(event.message if event else f"pid {pid}: cannot be read")
                    err.pid, err.kind = pid, event.kind if event else "other"
                    raise err
        return out

    def __repr__(self) -> str:
        return f"<memgrep.Scanner: {len(self.patterns)} patterns, {self.rules} rules>"


def _strs(name: str, value: Union[None, str, bytes, Sequence[Union[str, bytes]]]) -> List[bytes]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        value = [value]
    out = []
    for v in value:
        if isinstance(v, str):
            v = v.encode("utf-8", "surrogateescape")
        if not isinstance(v, bytes):
            raise TypeError(f"{name}: expected str or bytes, got {type(v).__name__}")
        out.append(v)
    return out


def _rule_paths(paths: List[bytes]) -> List[bytes]:
    """-r's rule: a directory means its *.yar and *.yara files in name order."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            names = sorted(n for n in os.listdir(p) if not n.startswith(b".") and
                           (n.endswith(b".yar") or n.endswith(b".yara")))
            if not names:
                raise PatternError(f"rule directory '{os.fsdecode(p)}' holds no *.yar or *.yara file")
            out += [os.path.join(p, n) for n in names]
        else:
            out.append(p)
    return out


def compile(patterns: Union[None, str, bytes, Sequence[Union[str, bytes]]] = None,
            regexes: Union[None, str, bytes, Sequence[Union[str, bytes]]] = None,
            hex: Union[None, str, Sequence[str]] = None,
            files: Union[None, str, bytes, Sequence[Union[str, bytes]]] = None,
            rules: Union[None, str, bytes, Sequence[Union[str, bytes]]] = None,
            rule_source: Union[None, str, bytes, Sequence[Union[str, bytes]]] = None,
            hunt_pack: bool = False, nocase: bool = False, wide: bool = False,
            externals: Optional[Dict[str, Any]] = None, skip_unsupported: bool = False,
            cache_dir: Optional[str] = None) -> Scanner:
    """Compile patterns into a Scanner (memgrep scan's -e, -E, -x, -f, -r,
    -d, -i, --wide, --skip-unsupported): literals (patterns), Hyperscan
    regular expressions (regexes), hex bytes with ?? wildcards (hex),
    pattern list files (files: a literal, 're:REGEX' or 'hex:BYTES' per
    line), YARA rule files or directories (rules) and rule text
    (rule_source), the built-in Linux hunt pack (hunt_pack). Pattern ids
    follow that order. nocase and wide apply to the patterns, not to the
    rules (YARA strings say so themselves). externals: the rules' external
    variables (yara -d). cache_dir: keep compiled databases there.
    Raises PatternError naming the bad pattern (.file and .line for files)."""
    items: List[tuple] = []
    for name, value in (externals or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        items.append(("define", str(name).encode(), str(value)))
    for i, p in enumerate(_strs("patterns", patterns)):
        items.append(("literal", p, f"patterns[{i}]"))
    for i, p in enumerate(_strs("regexes", regexes)):
        items.append(("regex", p, f"regexes[{i}]"))
    for i, p in enumerate(_strs("hex", hex)):
        items.append(("hex", p, f"hex[{i}]"))
    for p in _strs("files", files):
        items.append(("file", os.fsencode(p)))
    for p in _rule_paths(_strs("rules", rules)):
        items.append(("rules", os.fsencode(p)))
    for i, p in enumerate(_strs("rule_source", rule_source)):
        items.append(("rule_source", p, f"rule_source[{i}]"))
    return Scanner(_Scanner(items, Pattern, hunt_pack, nocase, wide, skip_unsupported, cache_dir))


def ps() -> List[Process]:
    """Every process (memgrep ps), ascending pid, this one included
    (memgrep_self)."""
    return _memgrep.ps()


def maps(pid: int) -> List[Region]:
    """The regions of a process with their resident bytes (memgrep maps)."""
    return _memgrep.maps(pid)


def findings(pid: int) -> List[Finding]:
    """Signs of fileless or tampered code in a process (memgrep check)."""
    return _memgrep.findings(pid)


def read(pid: int, address: int, size: int) -> Memory:
    """size bytes of a process from address, within one mapping, present
    pages only: pages not in memory are not read (no swap-in, no fault-in)
    but listed in Memory.missing, zeros in Memory.data."""
    return _memgrep.read(pid, address, size)


def strings(pid: int, region: Union[None, Region, Tuple[int, int]] = None, min_len: int = 4,
            wide: bool = False) -> List[String]:
    """Printable runs of at least min_len characters (GNU strings -a -n),
    also UTF-16LE ones with wide, in one region (a Region or (start, end))
    or, with None, in every scannable region; present pages only."""
    if region is None:
        ranges = [(r.start, r.end) for r in maps(pid) if r.scannable]
    else:
        ranges = [(region[0], region[1])]
    out: List[String] = []
    for start, end in ranges:
        try:
            out += _memgrep._strings(pid, start, end, min_len, wide)
        except ProcessError:
            raise
        except Error:
            if region is not None:
                raise  # the region asked for; with None, one changed under us
    return out


def dump(pid: int, regions: Sequence[Union[Region, Tuple[int, int]]],
         path: Union[str, os.PathLike]) -> List[Tuple[Tuple[int, int], str, int]]:
    """The present pages of regions into sparse files (memgrep dump): one
    region into the file path, several into the directory path (made 0700)
    as START-END.bin. Byte k of a file is the byte at start + k; pages not
    present are holes. Files are 0600; an existing file is an error.
    Returns ((start, end), file, present bytes) per region."""
    path = os.fspath(path)
    ranges = [(r[0], r[1]) for r in regions]
    if not ranges:
        raise ValueError("dump: no region")
    if len(ranges) > 1:
        os.makedirs(path, mode=0o700, exist_ok=True)
        names = [os.path.join(path, f"{s:x}-{e:x}.bin") for s, e in ranges]
    else:
        names = [path]
    out = []
    chunk = 1 << 20
    for (start, end), name in zip(ranges, names):
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        present = 0
        try:
            for a in range(start, end, chunk):
                mem = read(pid, a, min(chunk, end - a))
                holes = [(s - a, e - a) for s, e in mem.missing]
                at = 0
                for s, e in holes + [(len(mem.data), len(mem.data))]:
                    if s > at:
                        os.pwrite(fd, mem.data[at:s], a - start + at)
                        present += s - at
                    at = e
            os.ftruncate(fd, end - start)
        except BaseException:
            os.close(fd)
            os.unlink(name)
            raise
        os.close(fd)
        out.append(((start, end), name, present))
    return out
