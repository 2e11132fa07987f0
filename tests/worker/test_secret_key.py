"""The secret that signs unsubscribe links: the shipped default (or a short key) is refused
wherever the links reach the public, so nobody can forge one that unsubscribes a lead."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from nurture.api.app import create_app
from nurture.config import DEFAULT_SECRET_KEY, InsecureSecret, Settings
from nurture.store.engine import Store
from nurture.worker_setup import build_worker
from tests.helpers.paths import REPO

PUBLIC = "https://nurture.example.com"
FIX = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def run(tmp_path: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    return subprocess.run(
        [sys.executable, *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean
        | {
            "PYTHONPATH": str(REPO),
            "NURTURE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "NURTURE_TEMPORAL_ADDRESS": "127.0.0.1:1",
        }
        | env,
    )


@pytest.mark.parametrize(
    ("secret", "problem"),
    [(None, "is the public default"), ("short-but-not-default", "is shorter than 32 characters")],
)
@pytest.mark.parametrize(
    "command",
    [["worker.py"], ["-m", "nurture.cli", "worker"], ["-m", "nurture.cli", "api"]],
)
def test_worker_and_api_refuse_a_weak_secret_behind_a_public_url(
    tmp_path: Path, command: list[str], secret: str | None, problem: str
) -> None:
    env = {"NURTURE_PUBLIC_BASE_URL": PUBLIC}
    if secret is not None:
        env["NURTURE_SECRET_KEY"] = secret
    done = run(
        tmp_path,
        str(REPO / command[0]) if command == ["worker.py"] else command[0],
        *command[1:],
        **env,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert f"NURTURE_SECRET_KEY {problem}" in done.stderr and FIX in done.stderr


def test_the_api_app_refuses_it_too_and_starts_on_localhost(settings: Settings) -> None:
    settings.secret_key, settings.public_base_url = DEFAULT_SECRET_KEY, PUBLIC
    with pytest.raises(InsecureSecret, match="NURTURE_SECRET_KEY is the public default"):
        create_app(settings, relay=False)
    settings.public_base_url = "http://localhost:8000"
    assert create_app(settings, relay=False) is not None


async def test_the_worker_refuses_it_and_runs_on_localhost(
    client: Client, settings: Settings, store: Store
) -> None:
    settings.secret_key, settings.public_base_url = DEFAULT_SECRET_KEY, PUBLIC
    with pytest.raises(InsecureSecret, match="unsubscribe links point at https://nurture"):
        build_worker(client, settings, store)
    settings.public_base_url = "http://127.0.0.1:8000"
    async with build_worker(client, settings, store):
        pass  # polling with the default secret: the links only reach this machine


async def test_a_long_random_secret_is_accepted_behind_a_public_url(
    settings: Settings, store: Store
) -> None:
    settings.secret_key, settings.public_base_url = secrets.token_urlsafe(32), PUBLIC
    app = create_app(settings, relay=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://n") as http:
            assert (await http.get("/healthz")).status_code == 200
