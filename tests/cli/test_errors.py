"""The `nurture` command when something is wrong: one line that says what to fix, a
non-zero exit, no traceback (`--debug` shows it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.commands import nurture


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "is not a database URL we can use"),
        ("nosuchdb://somewhere/db", "is not a database URL we can use"),
        ("postgresql://postgres@127.0.0.1:1/nowhere", "cannot be used: connection to server"),
        ("postgresql+psycopg://postgres@127.0.0.1/x", "the database driver 'psycopg' is not"),
    ],
)
def test_a_bad_or_unreachable_store_is_one_line_with_the_fix(
    tmp_path: Path, url: str, says: str
) -> None:
    done = nurture(tmp_path, "db", "current", NURTURE_DATABASE_URL=url)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nurture: ") and says in lines[0]
    assert "NURTURE_DATABASE_URL" in lines[0]


def test_the_password_of_a_database_url_is_never_printed(tmp_path: Path) -> None:
    url = "postgresql://postgres:hunter2secret@127.0.0.1:1/nowhere"
    done = nurture(tmp_path, "deliveries", NURTURE_DATABASE_URL=url)
    assert done.returncode != 0 and "hunter2secret" not in done.stderr
    assert "postgresql://postgres:***@127.0.0.1:1/nowhere" in done.stderr


def test_an_invalid_setting_names_its_variable(tmp_path: Path) -> None:
    done = nurture(tmp_path, "deliveries", NURTURE_FREQUENCY_CAP_PER_WEEK="-1")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "NURTURE_FREQUENCY_CAP_PER_WEEK" in done.stderr.strip().splitlines()[0]


def test_debug_shows_the_trace(tmp_path: Path) -> None:
    done = nurture(tmp_path, "--debug", "db", "current", NURTURE_DATABASE_URL="not a url")
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "ArgumentError" in done.stderr


def test_the_api_checks_its_store_before_uvicorn_starts(tmp_path: Path) -> None:
    """Not uvicorn's lifespan traceback: the same one line as every other command."""
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    done = nurture(tmp_path, "api", "--port", "1", NURTURE_DATABASE_URL=url)
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("nurture: the store at ") and "connection to server" in line
