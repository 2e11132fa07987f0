"""Browser SDKs for the tests, from the npm registry at test time (never a CDN): the
versions and integrity pinned in tests/fixtures/browser-sdks/package-lock.json, unpacked
once into build/npm/ by the same fetcher that vendors the dashboard's Chart.js."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from scripts.vendor_js import fetch_tarball
from tests.helpers.paths import REPO

LOCK = REPO / "tests" / "fixtures" / "browser-sdks" / "package-lock.json"
UNPACKED = REPO / "build" / "npm"


def package_folder(name: str, lock: Path = LOCK) -> Path:
    """The package's files (its `package/` folder), fetched and unpacked on first use."""
    version = json.loads(lock.read_text())["packages"][f"node_modules/{name}"]["version"]
    target = UNPACKED / f"{name.replace('/', '+')}@{version}"
    if not (target / "package").is_dir():
        _, data = fetch_tarball(lock, name)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(target, filter="data")
    return target / "package"
