"""The stack as deployed, each part in a process of its own, and the run's leads in it.

The API under uvicorn with 2 workers (each with its outbox relay), the Nurture worker as
two processes (`--role workflows`, `--role activities`) and the floor's bare worker
(bench/bare_worker.py), all with the run's settings as NURTURE_* variables and logging into
the run's temp dir; then the journeys and the floor's workflows, started. `Stack` is what
the phases talk to.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy
import uvicorn
from sqlalchemy import func, select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.harness.cpu import descendants
from bench.harness.databases import upsert_leads
from bench.harness.temporal import begin_journey, free_port
from bench.harness.waiting import pool, until
from bench.ingest.config import (
    BARE_QUEUE,
    DRAIN_LIMIT,
    NURTURE_QUEUE,
    PRODUCT,
    REPO,
    TRIGGER_PRODUCT,
    WARM_LEADS,
)
from bench.ingest.cpu import Pids
from nurture.config import Settings
from nurture.store.engine import Store
from nurture.store.models import Lead, Send


def service_env(settings: Settings) -> dict[str, str]:
    """The settings as NURTURE_* variables (nurture/config.py reads them), for the API and
    worker processes, with this run's bytecode cache as an installed image has one (the
    sandbox re-imports the journey module for every workflow run: see cache_bytecode)."""
    env = {
        **os.environ,
        "NURTURE_DATABASE_URL": settings.database_url,
        "NURTURE_TEMPORAL_ADDRESS": settings.temporal_address,
        "NURTURE_SCENARIOS_DIR": str(settings.scenarios_dir),
        "NURTURE_OUTBOX_DIR": str(settings.outbox_dir),
        "NURTURE_TASK_QUEUE": settings.task_queue,
        "NURTURE_FREQUENCY_CAP_PER_WEEK": str(settings.frequency_cap_per_week),
        "NURTURE_WORKER_MAX_CACHED_WORKFLOWS": str(settings.worker_max_cached_workflows),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if sys.pycache_prefix:
        env["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix
    return env


@contextmanager
def service(command: Sequence[str], env: dict[str, str], log_path: Path) -> Iterator[Any]:
    """A process of the stack, logging to `log_path`, stopped (SIGTERM) at the end.

    Its own session, so a child left behind by a hung shutdown is stopped by group id.
    """
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def api_server(settings: Settings, log_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """uvicorn with 2 workers, as `nurture api --workers 2` runs it."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "nurture.api.app:app_from_env", "--factory",
        "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with service(command, service_env(settings), log_path) as process:
        yield f"http://127.0.0.1:{port}", process


def nurture_command() -> list[str]:
    """The `nurture` console script beside this Python, as an installed worker runs."""
    script = Path(sys.executable).with_name("nurture")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nurture.cli"]


@contextmanager
def worker_processes(settings: Settings, logs: Path) -> Iterator[dict[str, subprocess.Popen]]:
    """The Nurture worker as deployed, journeys and activities in one process each, and the
    floor's worker in a third (see the module docstring); logs in `logs`."""
    commands = {
        "workflows": [*nurture_command(), "worker", "--role", "workflows"],
        "activities": [*nurture_command(), "worker", "--role", "activities"],
        "bare": [sys.executable, "-m", "bench.bare_worker", BARE_QUEUE],
    }
    env = service_env(settings)
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(service(command, env, logs / f"worker-{name}.log"))
            for name, command in commands.items()
        }


async def _pollers(client: Client, queue: str, kind: TaskQueueType.ValueType) -> int:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
        )
    )
    return len(response.pollers)


async def workers_ready(client: Client, processes: dict[str, subprocess.Popen], logs: Path) -> None:
    """Each worker process polls its task queue: journeys and the floor's workflows their
    workflow tasks, the activities process the activity tasks."""
    polls = {
        "workflows": (NURTURE_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        "activities": (NURTURE_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
        "bare": (BARE_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
    }
    for _ in range(300):
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited; see {logs / f'worker-{name}.log'}")
        counts = [await _pollers(client, queue, kind) for queue, kind in polls.values()]
        if all(counts):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the workers did not poll within 30 s; see the logs in {logs}")


async def api_ready(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    """/healthz answers, and both workers have a process: uvicorn is serving."""
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited; see {log_path}")
            with suppress(httpx.HTTPError):
                if (await http.get("/healthz")).status_code == 200 and (
                    len(descendants(process.pid)) >= 2
                ):
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the API did not answer /healthz within 30 s; see {log_path}")


def server_stack() -> str:
    """What uvicorn serves with: without uvloop/httptools it runs asyncio and h11."""
    extras = []
    for module in ("uvloop", "httptools"):
        try:
            __import__(module)
            extras.append(f"{module} yes")
        except ImportError:
            extras.append(f"{module} no")
    return (
        f"uvicorn {uvicorn.__version__} ({', '.join(extras)}) · httpx {httpx.__version__} · "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )


@dataclass
class Stack:
    """What the phases talk to: Temporal, the store, the API (httpx, or wrk at its URL)."""

    client: Client
    store: Store
    http: httpx.AsyncClient
    base_url: str
    key: str
    pids: Pids


@dataclass
class Cohorts:
    """The run's leads: measured, triggered, warmed up, and the floor's workflows."""

    tag: str
    leads: list[Lead]
    trigger_leads: list[Lead]
    warm: list[Lead]
    warm_t: list[Lead]
    bare_ids: list[str]


async def cohorts(store: Store, args: argparse.Namespace) -> Cohorts:
    tag = f"i{int(time.time())}"
    return Cohorts(
        tag=tag,
        leads=await asyncio.to_thread(upsert_leads, store, tag, args.leads),
        trigger_leads=await asyncio.to_thread(upsert_leads, store, f"{tag}-t", args.trigger_leads),
        warm=await asyncio.to_thread(upsert_leads, store, f"{tag}-w", WARM_LEADS),
        warm_t=await asyncio.to_thread(upsert_leads, store, f"{tag}-wt", WARM_LEADS),
        bare_ids=[f"bare-{tag}-{i}" for i in range(args.leads)],
    )


async def start_journeys(
    client: Client, settings: Settings, store: Store, leads: Sequence[Lead], product: str
) -> None:
    """8 at a time, as an importer would; more only queues in the worker."""
    await pool(leads, lambda lead: begin_journey(client, settings, store, lead, product), 8)


async def start_all(client: Client, settings: Settings, store: Store, who: Cohorts) -> None:
    """Every journey and bare workflow started, and every journey past its first email."""
    await start_journeys(client, settings, store, [*who.leads, *who.warm], PRODUCT)
    await start_journeys(
        client, settings, store, [*who.trigger_leads, *who.warm_t], TRIGGER_PRODUCT
    )
    await pool(
        who.bare_ids,
        lambda wid: client.start_workflow("BareStep", id=wid, task_queue=BARE_QUEUE),
        16,
    )
    journeys = len(who.leads) + len(who.trigger_leads) + 2 * WARM_LEADS

    async def started() -> bool:
        return await asyncio.to_thread(first_emails, store) >= journeys

    await until("first emails", started, DRAIN_LIMIT)


def first_emails(store: Store) -> int:
    with store.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(Send.mail_type == "step", Send.status == "sent")
            )
            or 0
        )
