"""Running Nurture: `nurture api`, `nurture worker`, `nurture dev`, `nurture demo`."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from nurture.cli.common import exit_after_temporal, open_store
from nurture.config import get_settings

if TYPE_CHECKING:
    from nurture.worker_setup import WorkerRole


def api(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) with uvicorn."""
    import uvicorn

    from nurture.observability.logs import uvicorn_log_config

    # Before uvicorn starts: its processes would report these as tracebacks.
    settings = get_settings()
    settings.refuse_public_default_secret()
    open_store().engine.dispose()  # reachable, and at this code's schema
    uvicorn.run(
        "nurture.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=uvicorn_log_config(settings.log_format),
    )


def worker(
    role: Annotated[
        str,
        typer.Option(
            help="all: journeys and emails in this process; workflows or activities: run "
            "one process of each (on different cores) on the same task queue"
        ),
    ] = "all",
) -> None:
    """Run the journey worker (same as `python worker.py`)."""
    import worker as worker_module
    from nurture.worker_setup import ROLES

    if role not in ROLES:
        raise typer.BadParameter(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    asyncio.run(worker_module.main(cast("WorkerRole", role)))


def dev(
    port: Annotated[int, typer.Option(help="Temporal gRPC port")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
) -> None:
    """Run the local stack for your scenarios: Temporal dev server + Web UI, and a worker."""
    from nurture.cli.devstack import run_dev_stack

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_dev_stack(get_settings(), Path(".nurture"), port=port, ui_port=ui_port))
    exit_after_temporal(0)


def demo(
    leads: Annotated[int, typer.Option(help="how many sample leads")] = 10,
) -> None:
    """Start the local stack (Temporal dev server + UI, worker) and nurture sample leads live."""
    from nurture.cli.demo import run_demo

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(lead_count=leads))
    exit_after_temporal(0)
