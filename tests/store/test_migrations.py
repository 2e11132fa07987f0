"""Migrations on real SQLite and PostgreSQL: from empty, from the previous revision, in sync."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from nurture.store import migrate as schema
from nurture.store.models import Base
from tests.helpers.paths import REPO


@pytest.fixture
def url(any_database_url: str) -> str:
    return any_database_url


def test_empty_database_upgrades_to_exactly_the_models(url: str) -> None:
    engine = create_engine(url)
    with pytest.raises(
        schema.SchemaOutdated, match="no Nurture schema yet: run `nurture db upgrade`"
    ):
        schema.ensure_current(engine)
    schema.upgrade(engine)
    schema.ensure_current(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    engine.dispose()


def test_previous_revision_upgrades_keeping_its_data(url: str) -> None:
    engine = create_engine(url)
    schema.upgrade(engine, "0001")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO leads (id, email, first_name, created_at, updated_at) "
                "VALUES ('ld_1', 'aiko@example.com', 'Aiko', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO sends (id, journey_id, send_key, lead_id, product, mail_type, "
                "template, subject, variant, status, provider, journey_time, created_at) VALUES "
                "('snd_1', 'journey:acme:ld_1', 'cold#1/welcome', 'ld_1', 'acme', 'step', "
                "'note', 'Hi', 0, 'sent', 'outbox', :now, :now)"
            ),
            {"now": now},
        )
    with pytest.raises(schema.SchemaOutdated, match="revision 0001, this code needs"):
        schema.ensure_current(engine)
    schema.upgrade(engine)
    schema.ensure_current(engine)
    with engine.connect() as connection:
        lead = connection.execute(text("SELECT email, owner, erased_at FROM leads")).one()
        send = connection.execute(text("SELECT status, detail FROM sends")).one()
    assert tuple(lead) == ("aiko@example.com", None, None)
    assert tuple(send) == ("sent", None)
    assert {"consents", "suppressions", "events"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_worker_refuses_an_outdated_schema_and_names_the_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    schema.upgrade(create_engine(url), "0001")
    result = subprocess.run(
        [sys.executable, str(REPO / "worker.py")],
        env=os.environ | {"NURTURE_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode != 0
    assert "run `nurture db upgrade`" in result.stderr
