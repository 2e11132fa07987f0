"""Where the CPU goes during an ingest phase: every process of the stack, by name.

On a 2-core machine the API, the relays, the workers, the dev server, PostgreSQL, the load
generators and this process share the cores; the CPU table says who used them, and how
much went to processes outside the stack (someone else's tests, say).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.harness.cpu import (
    Usage,
    descendants,
    machine_cpu,
    postgres_cpu,
    process_cpu,
    readable,
    reaped_children_cpu,
)

# The stack's single processes, as the CPU table names them.
PROCESSES = {
    "workflows": "nurture worker --role workflows",
    "activities": "nurture worker --role activities",
    "bare": "bare worker (floor)",
    "temporal": "temporal dev server",
}
API = "api:"  # a uvicorn process's source is "api:<pid>"


@dataclass
class Pids:
    api: int | None  # the uvicorn supervisor; its workers are its descendants
    processes: dict[str, int]  # by PROCESSES key
    database: str  # this run's: its backends' CPU is the store's

    def snapshot(self) -> dict[str, float]:
        """bench: this process (httpx, the Temporal client, the polling); wrk: children
        reaped meanwhile; api:<pid> each uvicorn process; the PROCESSES; postgres (but the
        backends of other databases); machine: all cores."""
        api_pids = [self.api, *descendants(self.api)] if self.api else []
        return readable(
            bench=time.process_time(),
            wrk=reaped_children_cpu(),
            **{f"{API}{pid}": process_cpu(pid) for pid in api_pids},
            **{name: process_cpu(pid) for name, pid in self.processes.items()},
            postgres=postgres_cpu(self.database),
            machine=machine_cpu(),
        )


def api_cpu(usage: Usage) -> dict[str, float]:
    """CPU per uvicorn process (the supervisor and its 2 workers)."""
    return {name: v for name, v in usage.cpu.items() if name.startswith(API)}


def other_cpu(usage: Usage) -> float:
    """Whatever else ran on the machine meanwhile (other people's tests, say)."""
    known = sum(v for name, v in usage.cpu.items() if name != "machine")
    return max(0.0, usage.cpu.get("machine", 0.0) - known)
