"""What a pass made the database driver do, from SQLAlchemy's events and the dialect.

`counted(engine)` counts pool checkouts, transactions, statements (and those SQLAlchemy had
to compile), commits, and times the statements, the COMMITs and any pre-ping; the rest of a
pass's wall time is Python (ours, the ORM's, the driver's). Instrumented passes run apart
from the timed ones, so the counting does not slow what is timed; single-threaded only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine.interfaces import CacheStats


@dataclass
class DbCounts:
    """What reached the driver during a pass."""

    checkouts: int = 0  # pool checkouts (each a round trip if the pool pre-pings)
    transactions: int = 0  # each a BEGIN round trip (psycopg2 sends it on its own)
    statements: int = 0
    compiled: int = 0  # statements SQLAlchemy had to compile: its SQL cache missed or was skipped
    commits: int = 0
    execute_s: float = 0.0  # inside cursor.execute: the BEGIN, the statement, the server
    commit_s: float = 0.0  # inside the driver's commit: the COMMIT round trip, the WAL flush
    ping_s: float = 0.0  # pre-ping round trips at checkout (none unless pool_pre_ping)

    @property
    def driver_s(self) -> float:
        return self.execute_s + self.commit_s + self.ping_s


@contextmanager
def counted(engine: Engine) -> Iterator[DbCounts]:
    """Count and time what reaches the driver while the block runs."""
    counts = DbCounts()
    started: dict[str, float] = {}

    def checkout(*_: Any) -> None:
        counts.checkouts += 1

    def begin(_: Any) -> None:
        counts.transactions += 1

    def before_execute(*_: Any) -> None:
        counts.statements += 1
        started["execute"] = time.perf_counter()

    def after_execute(*args: Any) -> None:
        counts.execute_s += time.perf_counter() - started.pop("execute", time.perf_counter())
        context = args[4]  # (connection, cursor, statement, parameters, context, executemany)
        if getattr(context, "cache_hit", None) is not CacheStats.CACHE_HIT:
            counts.compiled += 1

    def timed(name: str, call: Callable[..., Any], *, counter: str = "") -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if counter:
                setattr(counts, counter, getattr(counts, counter) + 1)
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                setattr(counts, name, getattr(counts, name) + time.perf_counter() - start)

        return wrapper

    dialect: Any = engine.dialect  # instance attributes shadow the dialect's methods
    dialect.do_commit = timed("commit_s", dialect.do_commit, counter="commits")
    dialect.do_ping = timed("ping_s", dialect.do_ping)
    hooks: list[tuple[Any, str, Callable[..., None]]] = [
        (engine.pool, "checkout", checkout),
        (engine, "begin", begin),
        (engine, "before_cursor_execute", before_execute),
        (engine, "after_cursor_execute", after_execute),
    ]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield counts
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)
        del dialect.do_commit, dialect.do_ping


@dataclass
class Profile:
    """One instrumented pass of `count` items: per-item means come from `per`."""

    count: int = 0
    wall: float = 0.0
    db: DbCounts = field(default_factory=DbCounts)
    steps: dict[str, float] = field(default_factory=dict)  # seconds, from step_timers

    def per(self, value: float) -> float:
        return value / self.count if self.count else 0.0

    @property
    def python_s(self) -> float:
        """Wall time outside the driver: our code, the ORM's, the driver's own Python."""
        return self.wall - self.db.driver_s


def profiled(engine: Engine, count: int, work: Callable[[], None]) -> Profile:
    """Run `work` (`count` items) once under `counted`."""
    with counted(engine) as db:
        start = time.perf_counter()
        work()
        wall = time.perf_counter() - start
    return Profile(count, wall, db)
