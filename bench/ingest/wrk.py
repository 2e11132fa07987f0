"""Single events from wrk and bench/track.lua: a C load generator in a process of its own.

A C event loop costs a fraction of a millisecond per request, so the single phase's rate
is the API's, not the load generator's as with httpx in the bench's own process. Without
wrk (Debian's `wrk`) the bench falls back to httpx and says its figure is limited by it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from bench.ingest.config import SEND_LIMIT, WRK, WRK_SCRIPT, WRK_THREADS
from bench.ingest.load import Load
from nurture.store.models import Lead


def _wrk_command(base_url: str, key: str, ids: Path, prefix: str, count: int, c: int) -> list[str]:
    assert WRK is not None
    return [
        WRK, "-t", str(WRK_THREADS), "-c", str(c), "-d", f"{SEND_LIMIT:.0f}s", "--timeout", "30s",
        "-H", f"Authorization: Bearer {key}", "-s", str(WRK_SCRIPT), base_url,
        "--", str(ids), prefix, str(count), str(WRK_THREADS),
    ]  # fmt: skip


async def wrk_track(
    base_url: str, key: str, leads: Sequence[Lead], prefix: str, count: int, concurrency: int
) -> Load:
    """`count` single events from wrk and bench/track.lua: the same messageIds and leads as
    spread(prefix, …). A C event loop in its own process costs a fraction of a millisecond
    per request, so the rate is the API's, not the load generator's as with httpx here.

    The script stops each wrk thread at its last answer and says so on stderr; wrk's main
    thread would sleep out -d all the same, so SIGINT wakes it to print its summary."""
    with tempfile.NamedTemporaryFile("w", prefix="wrk-ids-", suffix=".txt") as ids:
        ids.write("".join(f"{lead.external_id}\n" for lead in leads))
        ids.flush()
        command = _wrk_command(base_url, key, Path(ids.name), prefix, count, concurrency)
        load = Load(first_sent=time.time(), generator="wrk")
        process = await asyncio.create_subprocess_exec(
            *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stderr is not None
        stopped, noise = 0, []
        while stopped < WRK_THREADS and (line := await process.stderr.readline()):
            if line.startswith(b"track.lua: thread done"):
                stopped += 1
            else:
                noise.append(line.decode(errors="replace").rstrip())
        load.last_answered = time.time()
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        out, err = await process.communicate()
    noise += err.decode(errors="replace").splitlines()
    summary = next(
        (json.loads(x) for x in reversed(out.decode().splitlines()) if x[:1] == "{"), None
    )
    if summary is None:
        raise RuntimeError(f"wrk printed no summary: {out.decode()} {' '.join(noise)}")
    _wrk_into(load, summary, count)
    return load


def _wrk_into(load: Load, summary: dict[str, Any], count: int) -> None:
    """wrk's summary as a Load: 2xx answers, other statuses and socket errors as failures,
    its latency percentiles (wrk corrects them for coordinated omission)."""
    load.accepted = summary["ok"]
    load.percentiles = {q: summary["latency_us"][f"p{q * 100:.0f}"] / 1e6 for q in (0.5, 0.99)}
    if summary["answered"] > summary["ok"]:
        load.failures["HTTP non-2xx"] = summary["answered"] - summary["ok"]
    for kind in ("connect", "read", "write", "timeout"):
        if summary["errors"][kind]:
            load.failures[f"wrk {kind} errors"] = summary["errors"][kind]
    if summary["answered"] < count:
        load.failures["not answered by the time limit"] = count - summary["answered"]
    if summary["new"] != summary["ok"]:
        load.failures["2xx but not new (duplicates)"] = summary["ok"] - summary["new"]


def load_generators(concurrency: int) -> str:
    if not WRK:
        return "load: httpx in this process for every phase (wrk not found)"
    version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.split(" [")[0]
    return (
        f"load: {version} -t{WRK_THREADS} -c{concurrency} (single, bench/track.lua) · httpx "
        "in this process (batched, triggers) · the Temporal client here (floor, polling)"
    )
