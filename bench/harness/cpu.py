"""Wall and CPU seconds of a benchmark phase, by process: which side is the limit.

`metered(snapshot)` reads CPU counters before and after a phase and keeps the differences.
A snapshot is a dict of named counters (CPU seconds that only ever grow), built by each
bench from the sources here: this process, its reaped children, a process by pid, every
`postgres` process, the whole machine. A source that cannot be read here (no /proc, a
process that is gone) is left out of the snapshot, and so out of the phase's `Usage`,
which the tables print as "-".
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

Snapshot = Callable[[], dict[str, float]]


@dataclass
class Usage:
    """Wall seconds of a phase and the CPU seconds each source used meanwhile."""

    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def busy(self, source: str) -> float | None:
        """Cores the source kept busy on average (CPU seconds / wall seconds)."""
        seconds = self.cpu.get(source)
        return None if seconds is None or not self.wall else seconds / self.wall

    def total(self, prefix: str) -> float:
        """CPU of every source whose name starts with `prefix` (several pids of one server)."""
        return sum(v for k, v in self.cpu.items() if k.startswith(prefix))


@contextmanager
def metered(snapshot: Snapshot) -> Iterator[Usage]:
    """Attribute a phase's CPU to its sources; a source first seen after the start (a
    process started meanwhile) counts from zero."""
    usage = Usage()
    before = snapshot()
    wall = time.perf_counter()
    try:
        yield usage
    finally:
        usage.wall = time.perf_counter() - wall
        after = snapshot()
        usage.cpu = {name: value - before.get(name, 0.0) for name, value in after.items()}


def own_cpu() -> dict[str, float]:
    """The snapshot of a bench whose only process is itself."""
    return {"bench": time.process_time()}


@dataclass
class Result:
    """`count` items done in `seconds` (by whatever clock the bench trusts for the work)."""

    count: int
    seconds: float
    usage: Usage = field(default_factory=Usage)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else math.nan

    def per_item_ms(self, source: str) -> float | None:
        """CPU milliseconds of a source per item."""
        seconds = self.usage.cpu.get(source)
        return None if seconds is None or not self.count else seconds / self.count * 1000


def timed(count: int, work: Callable[[], None], snapshot: Snapshot = own_cpu) -> Result:
    """Run `work` (`count` items) under `metered`; its rate is count / wall seconds."""
    with metered(snapshot) as usage:
        work()
    return Result(count, usage.wall, usage)


# ---- sources ------------------------------------------------------------------------------


def _stat_fields(stat: Path) -> list[str] | None:
    """Fields of a /proc/<pid>/stat from field 3 on (the name before them may hold spaces)."""
    try:
        raw = stat.read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def _ticks(fields: list[str], *, with_children: bool) -> float:
    """utime + stime (+ cutime + cstime: the CPU of children it has waited for), seconds."""
    return sum(int(v) for v in fields[11 : 15 if with_children else 13]) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int | None, *, with_children: bool = False) -> float | None:
    """CPU seconds of a process from /proc; None where it cannot be read."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat")) if pid else None
    return None if fields is None else _ticks(fields, with_children=with_children)


def reaped_children_cpu() -> float:
    """CPU of this process's children that have exited and been waited for (pgbench, wrk):
    a process's CPU cannot be read from /proc once it is gone."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def descendants(pid: int) -> list[int]:
    """A process's children, theirs, and so on (a uvicorn supervisor's workers)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def postgres_cpu(database: str | None = None) -> float | None:
    """CPU of the `postgres` processes on this machine, backends that exited included;
    None where none is visible from here.

    A backend's CPU moves into the postmaster's cutime/cstime when it exits (pgbench's
    do), so counting children too makes the sum only ever grow. With `database`, the live
    backends of other databases are left out (someone else's tests are not this run's).
    """
    total, found = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError):
            raw = stat.read_text()
            if raw[raw.find("(") + 1 : raw.rfind(")")] != "postgres":
                continue
            if database is not None and _database_of(stat.parent / "cmdline") not in (
                None,
                database,
            ):
                continue
            total += _ticks(raw[raw.rfind(")") + 2 :].split(), with_children=True)
            found = True
    return total if found else None


def _database_of(cmdline: Path) -> str | None:
    """A backend's database from its title, `postgres: 15/main: <user> <database> <client>
    <state>`; None for the postmaster and the background processes."""
    title = cmdline.read_bytes().split(b"\0")[0].decode(errors="replace")
    words = title.rsplit(": ", 1)[-1].split() if title.startswith("postgres: ") else []
    is_backend = len(words) >= 3 and (words[2].endswith(")") or words[2] == "[local]")
    return words[1] if is_backend else None


def machine_cpu() -> float | None:
    """Busy CPU seconds of the whole machine (all cores) from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def readable(**sources: float | None) -> dict[str, float]:
    """A snapshot of the sources that could be read."""
    return {name: value for name, value in sources.items() if value is not None}
