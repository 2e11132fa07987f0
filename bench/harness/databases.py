"""The benchmarks' databases: a fresh one per run, the store on it, the leads in it.

PostgreSQL: `bench_database()` creates `nurture_bench_<random>` on the server of
NURTURE_BENCH_POSTGRES_URL (default: 127.0.0.1:5432, user postgres, trust auth) and drops
it whatever happens. SQLite: `sqlite_url(folder)`, a file in the run's temp dir.
`upgraded_store(url)` is the Store on either, at this code's schema, disposed at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from nurture.store.engine import ConsentIn, LeadIn, Store
from nurture.store.models import Lead

ADMIN_URL = os.environ.get(
    "NURTURE_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def bench_database(admin_url: str = ADMIN_URL) -> Iterator[URL]:
    """A fresh PostgreSQL database for this run, dropped whatever happens."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"nurture_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_url(folder: Path) -> str:
    """A SQLite store in the run's temp dir (the store sets WAL and its pragmas)."""
    return f"sqlite:///{folder / 'nurture.db'}"


def url_text(url: URL | str) -> str:
    """A URL as the store and the NURTURE_DATABASE_URL of other processes take it."""
    return url if isinstance(url, str) else url.render_as_string(hide_password=False)


@contextmanager
def upgraded_store(url: URL | str) -> Iterator[Store]:
    """The store at this code's schema (what `nurture db upgrade` does), disposed at the end."""
    store = Store(url_text(url))
    try:
        store.upgrade()
        yield store
    finally:
        store.engine.dispose()


def upsert_leads(
    store: Store, tag: str, count: int, fields: Callable[[int], dict[str, Any]] | None = None
) -> list[Lead]:
    """`count` leads with opt-in consent (every gate check passes, every send goes out),
    external ids `<tag>-<i>`, and the `fields(i)` given (none: no profile, so fit 0 and a
    journey's score is exactly its event count)."""
    consent = ConsentIn(basis="opt_in_form", wording="bench lead")
    leads = []
    for i in range(count):
        lead, _ = store.upsert_lead(
            LeadIn(
                email=f"{tag}-{i}@bench.example.com",
                external_id=f"{tag}-{i}",
                consent=consent,
                **(fields(i) if fields else {}),
            )
        )
        leads.append(lead)
    return leads


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timezone-aware columns back naive; the store writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def postgres_facts(url: URL | str) -> str:
    """The server's version and the settings that decide what a commit costs."""
    engine = create_engine(url_text(url))
    try:
        with engine.connect() as connection:
            show = {
                name: str(connection.exec_driver_sql(f"SHOW {name}").scalar())
                for name in (
                    "server_version",
                    "fsync",
                    "synchronous_commit",
                    "wal_sync_method",
                    "max_connections",
                )
            }
    finally:
        engine.dispose()
    return f"PostgreSQL {show.pop('server_version')} · " + " · ".join(
        f"{name}={value}" for name, value in show.items()
    )
