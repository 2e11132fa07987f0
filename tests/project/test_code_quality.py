"""The house rules, enforced by the suite so CI holds them: ruff, mypy, deterministic workflows."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import REPO

BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_lint_and_format() -> None:
    lint = run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(str(BIN / "ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy() -> None:
    result = run(str(BIN / "mypy"), "nurture", "workflows", "activities", "bench", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


# Any call of these names reads the clock or entropy, whatever the module is imported as.
FORBIDDEN_NAMES = {"now", "utcnow", "today", "time", "monotonic", "random", "randint", "uuid4"}
FORBIDDEN_IMPORTS = {
    "random",
    "time",
    "uuid",
    "sqlalchemy",
    "requests",
    "urllib",
    "socket",
    "os",
    "subprocess",
}


def test_workflows_do_no_io_and_read_no_clock() -> None:
    for path in (REPO / "workflows").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for name in names:
                    assert name.split(".")[0] not in FORBIDDEN_IMPORTS, f"{path}: imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
                target = ast.unparse(node.func)
                name = target.rsplit(".", 1)[-1]
                allowed = target.startswith("workflow.")
                assert allowed or name not in FORBIDDEN_NAMES, f"{path}: calls {target}"


def test_test_modules_import_helpers_never_each_other() -> None:
    """Shared test code lives in tests/helpers/: a test module imported by another runs its
    tests twice under two names and ties unrelated suites together."""
    offenders = []
    for path in (REPO / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                leaf = node.module.rsplit(".", 1)[-1]
                if node.module.startswith("tests.") and (
                    leaf.startswith("test_") or leaf == "conftest"
                ):
                    offenders.append(f"{path.relative_to(REPO)} imports {node.module}")
    assert offenders == []


def test_tests_mirror_the_packages() -> None:
    """Every test module sits in a folder named after what it tests, never at the top."""
    assert sorted(p.name for p in (REPO / "tests").glob("test_*.py")) == []
    for folder in (REPO / "tests").iterdir():
        if folder.is_dir() and any(folder.glob("test_*.py")):
            assert (folder / "__init__.py").exists(), f"{folder.name} needs an __init__.py"
