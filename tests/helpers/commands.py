"""The `nurture` command run as a user runs it: a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import REPO


def nurture(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, away from any .env of the repository."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    return subprocess.run(
        [sys.executable, "-m", "nurture.cli", *args],
        cwd=tmp_path,
        env=clean | {"PYTHONPATH": str(REPO)} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
