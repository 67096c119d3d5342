# Type stub of memgrep (python/memgrep/__init__.py and the C half,
# _memgrep.c). docs/python.md describes the module.
import os
from typing import (Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

__version__: str
library_version: str

class Error(Exception): ...

class PatternError(Error):
    file: Optional[str]
    line: Optional[int]

class ProcessError(Error):
    pid: int
    kind: str  # "nosuchpid", "gone", "permission", "other"

class Pattern(NamedTuple):
    id: int
    kind: str
    text: str
    source: str
    nocase: bool
    wide: bool

class Region(NamedTuple):
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
    id: str
    count: int
    capped: bool

class RuleHit(NamedTuple):
    string: str
    address: int
    length: int
    data: bytes
    before: bytes
    after: bytes
    region: Region

class RuleMatch(NamedTuple):
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
    pid: int
    comm: str
    kind: str
    error: int
    message: str
    region: Optional[Region]

class Finding(NamedTuple):
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
    address: int
    text: str
    wide: bool

class Memory(NamedTuple):
    address: int
    data: bytes
    missing: Tuple[Tuple[int, int], ...]

Record = Union[Match, RuleMatch, Event, Finding, Summary]

class Sweep(Iterator[Record]):
    def __iter__(self) -> Sweep: ...
    def __next__(self) -> Record: ...
    def close(self) -> None: ...
    def stop(self) -> None: ...
    @property
    def summary(self) -> Optional[Summary]: ...
    def __enter__(self) -> Sweep: ...
    def __exit__(self, *exc: Any) -> None: ...

class Scanner:
    @property
    def patterns(self) -> Tuple[Pattern, ...]: ...
    @property
    def rules(self) -> int: ...
    @property
    def skipped(self) -> Tuple[str, ...]: ...
    def sweep(self, pids: Optional[Iterable[int]] = ..., container: Optional[str] = ...,
              cgroup: Optional[str] = ..., threads: int = ..., gentle: bool = ...,
              timeout: float = ..., process_timeout: float = ..., max_rate: int = ...,
              max_count: int = ..., context: Optional[int] = ...,
              findings: bool = ...) -> Sweep: ...
    def scan(self, pid: int, *, threads: int = ..., gentle: bool = ..., timeout: float = ...,
             process_timeout: float = ..., max_rate: int = ..., max_count: int = ...,
             context: Optional[int] = ..., findings: bool = ...) -> List[Union[Match, RuleMatch]]: ...

_Strs = Union[None, str, bytes, Sequence[Union[str, bytes]]]

def compile(patterns: _Strs = ..., regexes: _Strs = ..., hex: Union[None, str, Sequence[str]] = ...,
            files: _Strs = ..., rules: _Strs = ..., rule_source: _Strs = ...,
            hunt_pack: bool = ..., nocase: bool = ..., wide: bool = ...,
            externals: Optional[Dict[str, Any]] = ..., skip_unsupported: bool = ...,
            cache_dir: Optional[str] = ...) -> Scanner: ...
def ps() -> List[Process]: ...
def maps(pid: int) -> List[Region]: ...
def findings(pid: int) -> List[Finding]: ...
def read(pid: int, address: int, size: int) -> Memory: ...
def strings(pid: int, region: Union[None, Region, Tuple[int, int]] = ..., min_len: int = ...,
            wide: bool = ...) -> List[String]: ...
def dump(pid: int, regions: Sequence[Union[Region, Tuple[int, int]]],
         path: Union[str, os.PathLike[str]]) -> List[Tuple[Tuple[int, int], str, int]]: ...
