"""The documentation builds with `mkdocs build --strict`: a broken link, a missing anchor,
a page left out of the nav or a missing included file fails here, not on a reader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parent.parent.parent
MKDOCS = Path(sys.executable).parent / "mkdocs"


def test_docs_build_strict(tmp_path: Path) -> None:
    assert MKDOCS.exists(), f"{MKDOCS} not found: run `make test` (installs the dev extras)"
    result = subprocess.run(
        [
            str(MKDOCS),
            "build",
            "--strict",
            "--config-file",
            str(REPO / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=REPO,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},  # Material's end-of-life banner
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, "mkdocs build --strict failed:\n" + result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").exists()
