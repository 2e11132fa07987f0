"""What the `nurture` command prints when a command fails: one line, what is wrong and how
to fix it, instead of a traceback (which `nurture --debug ...` still shows).

Operators meet these at the worst moments (a deploy, a night shift): a bad
NURTURE_DATABASE_URL, a database or Temporal that is not up, a setting out of range. The
line names the setting to change; the trace is one flag away for a bug report.
"""

from __future__ import annotations

import os
import re

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from nurture.broadcasts.content import BroadcastError
from nurture.config import InsecureSecret, get_settings
from nurture.scenario.loader import ScenarioError
from nurture.segments.definitions import SegmentError
from nurture.segments.membership import UnknownSegment
from nurture.store.migrate import SchemaOutdated

EXAMPLE_URLS = "sqlite:///.nurture/nurture.db or postgresql://user:password@host:5432/nurture"
DEBUG_HINT = "(nurture --debug ... shows the trace)"


def one_line(err: BaseException) -> str:
    """The message for `err`: what went wrong, then what to do about it."""
    return " ".join(_describe(err).split())


def _describe(err: BaseException) -> str:
    if isinstance(err, InsecureSecret | SchemaOutdated):
        return str(err)  # they already say what to set or run
    if isinstance(err, ScenarioError):
        first = err.problems[0] if err.problems else err
        more = f" (and {len(err.problems) - 1} more; nurture validate lists them)"
        return f"scenario: {first}" + (more if len(err.problems) > 1 else "")
    if isinstance(err, SegmentError):
        said = err.problems[0] if err.problems else err
        more = f" (and {len(err.problems) - 1} more; nurture segment check lists them)"
        return f"segments: {said}" + (more if len(err.problems) > 1 else "")
    if isinstance(err, UnknownSegment | BroadcastError):
        return str(err.args[0])
    if isinstance(err, ValidationError):
        problem = err.errors()[0]
        name = "_".join(str(part) for part in problem.get("loc", ())).upper()
        return (
            f"configuration: NURTURE_{name}: {problem.get('msg', err)}; fix that environment "
            "variable (or .env)"
        )
    if isinstance(err, ArgumentError):
        return (
            f"NURTURE_DATABASE_URL {_database_url()} is not a database URL we can use ({err}); "
            f"expected e.g. {EXAMPLE_URLS}"
        )
    if isinstance(err, ModuleNotFoundError):
        return (
            f"the database driver {err.name!r} is not installed; NURTURE_DATABASE_URL "
            f"{_database_url()} needs it. Use {EXAMPLE_URLS} (PostgreSQL through psycopg2)"
        )
    if isinstance(err, DBAPIError):
        cause = str(err.orig).strip().splitlines()[0] if str(err.orig).strip() else type(err)
        return (
            f"the store at {_database_url()} cannot be used: {cause}; check "
            "NURTURE_DATABASE_URL and that the database is running"
        )
    if isinstance(err, SQLAlchemyError):
        return f"the store at {_database_url()} failed: {err} {DEBUG_HINT}"
    if isinstance(err, RuntimeError) and "client connect" in str(err):
        found = re.search(r'message: "([^"]+)"', str(err))
        return (
            f"Temporal at {_temporal_address()} cannot be reached: "
            f"{found.group(1) if found else str(err)[:200]}; check "
            "NURTURE_TEMPORAL_ADDRESS and that Temporal runs (nurture dev starts one locally)"
        )
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename}: {err.strerror or err}"
    return f"{type(err).__name__}: {err} {DEBUG_HINT}"


def _setting(name: str, default: str) -> str:
    """A setting as configured (environment or .env), even when another one is invalid."""
    try:
        return str(getattr(get_settings(), name))
    except ValidationError:
        return os.environ.get(f"NURTURE_{name.upper()}", default)


def _database_url() -> str:
    """The configured URL without its password (unparseable: not echoed, it may hold one)."""
    try:
        url = make_url(_setting("database_url", ""))
    except ArgumentError:
        return "(its value is not shown: it may hold a password)"
    return url.render_as_string(hide_password=True)


def _temporal_address() -> str:
    return _setting("temporal_address", "localhost:7233")
