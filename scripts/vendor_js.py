"""Fetch the dashboard's JavaScript from the npm registry into the package: `python
scripts/vendor_js.py` (the Makefile runs it when package-lock.json changes).

The versions and their sha512 integrity come from package-lock.json (made by `npm install
--package-lock-only`); each tarball is checked against it before a byte is kept, so a
tampered or changed download fails the build instead of shipping. Node.js is not needed:
only the files the dashboard serves are unpacked, into nurture/dashboard/static/vendor/,
and served from there (never from a CDN, nothing fetched at run time).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "package-lock.json"
VENDOR = ROOT / "nurture" / "dashboard" / "static" / "vendor"
# package → files in its tarball the dashboard serves (the UMD build bundles its own deps)
SHIPPED = {"chart.js": ["package/dist/chart.umd.min.js", "package/LICENSE.md"]}


def tarball_url(name: str, version: str) -> str:
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/").rstrip("/")
    return f"{registry}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def checked(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"integrity mismatch for a download: expected {integrity}")


def fetch_tarball(lock: Path, name: str) -> tuple[str, bytes]:
    """(version, tarball) of `name` as `lock` (a package-lock.json) pins it, integrity
    checked: the tests' browser SDKs come this way too (tests/helpers/npm.py)."""
    locked = json.loads(lock.read_text())["packages"].get(f"node_modules/{name}")
    if locked is None:
        sys.exit(f"{name} is not in {lock}: run npm install --package-lock-only there")
    with urllib.request.urlopen(tarball_url(name, locked["version"]), timeout=60) as answer:
        data = answer.read()
    checked(data, locked["integrity"])
    return locked["version"], data


def vendor(name: str) -> None:
    version, data = fetch_tarball(LOCK, name)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in SHIPPED[name]:
            extracted = tar.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{name}@{version} has no {member}")
            target = VENDOR / f"{name}-{Path(member).name}"
            target.write_bytes(extracted.read())
    print(f"vendored {name}@{version} into {VENDOR.relative_to(ROOT)}")


def main() -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        vendor(name)


if __name__ == "__main__":
    main()
