"""Migrations on real SQLite and PostgreSQL: from empty, from the previous revision, in sync."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, text

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


def lead_with_sends(connection: Connection, now: datetime, send_ids: list[str],
                    provider: str) -> None:  # fmt: skip
    """Lead ld_1 of acme with a sent step email per id, as raw rows (any revision)."""
    connection.execute(
        text(
            "INSERT INTO leads (id, email, created_at, updated_at) "
            "VALUES ('ld_1', 'aiko@example.com', :now, :now)"
        ),
        {"now": now},
    )
    for send_id in send_ids:
        connection.execute(
            text(
                "INSERT INTO sends (id, journey_id, send_key, lead_id, product, mail_type, "
                "template, subject, variant, status, provider, journey_time, created_at) "
                "VALUES (:id, 'journey:acme:ld_1', :id, 'ld_1', 'acme', 'step', 'note', 'Hi', "
                "0, 'sent', :provider, :now, :now)"
            ),
            {"id": send_id, "provider": provider, "now": now},
        )


def test_sends_get_the_outcomes_of_the_facts_stored_before_0009(url: str) -> None:
    """A person's open after Apple's prefetch, a hard bounce: rolled up onto their sends."""
    engine = create_engine(url)
    schema.upgrade(engine, "0008")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    human = "true" if engine.dialect.name == "postgresql" else "1"
    machine = "false" if engine.dialect.name == "postgresql" else "0"
    with engine.begin() as connection:
        lead_with_sends(connection, now, ["snd_read", "snd_bounced"], "outbox")
        facts = [
            ("f1", "snd_read", "opened", machine, "'prefetch'", "NULL"),
            ("f2", "snd_read", "opened", human, "NULL", "NULL"),
            ("f3", "snd_read", "clicked", human, "NULL", "NULL"),
            ("f4", "snd_bounced", "bounced", "NULL", "NULL", "'hard'"),
        ]
        for fact_id, send_id, kind, is_human, reason, bounce in facts:
            connection.execute(
                text(
                    "INSERT INTO engagements (fact_id, send_id, lead_id, product, kind, human, "
                    "machine_reason, bounce, source, occurred_at, recorded_at) VALUES "
                    f"('{fact_id}', '{send_id}', 'ld_1', 'acme', '{kind}', {is_human}, "
                    f"{reason}, {bounce}, 'nurture', :now, :now)"
                ),
                {"now": now},
            )
    schema.upgrade(engine)
    with engine.connect() as connection:
        flags = connection.execute(
            text(
                "SELECT id, ever_opened, ever_read, ever_clicked, ever_bounced, "
                "ever_hard_bounced, ever_delivered FROM sends ORDER BY id"
            )
        ).all()
    assert [tuple(row) for row in flags] == [
        ("snd_bounced", 0, 0, 0, 1, 1, 0),
        ("snd_read", 1, 1, 1, 0, 0, 0),
    ]
    engine.dispose()


def test_opens_and_clicks_stored_as_events_before_0007_become_facts(url: str) -> None:
    """A person's open and click (SendGrid, before engagement facts), a machine open, and a
    send that has facts already: only the earlier sends' events become facts, once."""
    engine = create_engine(url)
    schema.upgrade(engine, "0009")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as connection:
        lead_with_sends(connection, now, ["snd_old", "snd_new"], "sendgrid")
        events = [
            ("e1", "email_open", None, {"send_id": "snd_old", "machine_open": True}),
            ("e2", "email_open", None, {"send_id": "snd_old", "machine_open": False}),
            ("e3", "email_click", "https://acme.example/a", {"send_id": "snd_old"}),
            ("e4", "email_open", None, {"send_id": "snd_new", "machine_open": False}),
            ("e5", "page", "https://acme.example/", {}),
        ]
        for event_id, kind, link, properties in events:
            connection.execute(
                text(
                    "INSERT INTO events (event_id, lead_id, type, url, product, properties, "
                    "occurred_at, received_at) VALUES (:id, 'ld_1', :type, :url, 'acme', "
                    ":properties, :now, :now)"
                ),
                {
                    "id": event_id,
                    "type": kind,
                    "url": link,
                    "now": now,
                    "properties": json.dumps(properties),
                },
            )
        connection.execute(
            text(
                "INSERT INTO engagements (fact_id, send_id, lead_id, product, kind, human, "
                "source, occurred_at, recorded_at) VALUES ('sg-1', 'snd_new', 'ld_1', 'acme', "
                "'delivered', NULL, 'sendgrid', :now, :now)"
            ),
            {"now": now},
        )
    schema.upgrade(engine)
    with engine.connect() as connection:
        facts = connection.execute(
            text("SELECT fact_id, send_id, kind, human, link FROM engagements ORDER BY fact_id")
        ).all()
        flags = connection.execute(
            text("SELECT id, ever_opened, ever_read, ever_clicked FROM sends ORDER BY id")
        ).all()
    assert [(f[0], f[1], f[2], bool(f[3]) if f[3] is not None else None, f[4]) for f in facts] == [
        ("backfill:e1", "snd_old", "opened", False, None),
        ("backfill:e2", "snd_old", "opened", True, None),
        ("backfill:e3", "snd_old", "clicked", True, "https://acme.example/a"),
        ("sg-1", "snd_new", "delivered", None, None),
    ]
    assert [tuple(f) for f in flags] == [("snd_new", 0, 0, 0), ("snd_old", 1, 1, 1)]
    engine.dispose()


def test_the_backfill_reads_past_its_first_chunk(url: str) -> None:
    """A send's open in the first 5,000 events and its click after them: both become facts
    (the backfill's own facts of an earlier chunk do not make the send look newer)."""
    engine = create_engine(url)
    schema.upgrade(engine, "0009")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as connection:
        lead_with_sends(connection, now, ["snd_a"], "sendgrid")
        opened = json.dumps({"send_id": "snd_a", "machine_open": False})
        connection.execute(
            text(
                "INSERT INTO events (event_id, lead_id, type, url, product, properties, "
                "occurred_at, received_at) VALUES (:id, 'ld_1', :type, :url, 'acme', "
                ":properties, :now, :now)"
            ),
            [{"id": f"o{n:05d}", "type": "email_open", "url": None, "properties": opened,
              "now": now} for n in range(5000)]
            + [{"id": "click", "type": "email_click", "url": "https://acme.example/a",
                "properties": json.dumps({"send_id": "snd_a"}), "now": now}],
        )  # fmt: skip
    schema.upgrade(engine)
    with engine.connect() as connection:
        kinds = connection.execute(
            text("SELECT kind, count(*) FROM engagements GROUP BY kind ORDER BY kind")
        ).all()
        clicked = connection.execute(text("SELECT ever_clicked FROM sends")).scalar_one()
    assert [tuple(k) for k in kinds] == [("clicked", 1), ("opened", 5000)]
    assert clicked == 1
    engine.dispose()
