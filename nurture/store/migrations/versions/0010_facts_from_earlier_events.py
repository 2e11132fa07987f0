"""engagements for sends from before 0007, from the opens and clicks stored as events

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 21:40:00.000000

Before migration 0007 the store kept opens and clicks only as behaviour events
(`email_open`, `email_click`, with the send's id and SendGrid's machine-open flag in their
properties). For every send that has no engagement fact at all (so it was sent before
0007), each such event becomes a fact: an open by a person or, flagged, by a machine, a
click by a person; and its send's outcome flags are set. Sends with facts are left alone,
so nothing is counted twice. Read in chunks: the events table may be large.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CHUNK = 5000
MACHINE = "SendGrid machine open (recorded before engagement facts)"


def upgrade() -> None:
    connection = op.get_bind()
    result = connection.execute(
        sa.text(
            "SELECT event_id, lead_id, type, url, product, properties, occurred_at "
            "FROM events WHERE type IN ('email_open', 'email_click') ORDER BY id"
        ).execution_options(stream_results=True)
    )
    while rows := result.fetchmany(CHUNK):
        _backfill(connection, rows)


def _backfill(connection: Any, rows: Sequence[Any]) -> None:
    wanted = {}
    for row in rows:
        properties = row.properties
        if isinstance(properties, str):
            properties = json.loads(properties or "{}")
        send_id = (properties or {}).get("send_id")
        if isinstance(send_id, str) and row.lead_id:
            wanted[row.event_id] = (row, send_id, bool((properties or {}).get("machine_open")))
    if not wanted:
        return
    send_ids = sorted({send_id for _, send_id, _ in wanted.values()})
    known = {
        r.id: r.product
        for r in connection.execute(
            sa.text("SELECT id, product FROM sends WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": send_ids},
        )
    }
    with_facts = {
        r.send_id
        for r in connection.execute(
            sa.text(
                "SELECT DISTINCT send_id FROM engagements WHERE send_id IN :ids "
                "AND fact_id NOT LIKE 'backfill:%'"  # this migration's own, of earlier chunks
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": send_ids},
        )
    }
    facts = []
    for event_id, (row, send_id, machine) in wanted.items():
        if send_id not in known or send_id in with_facts:
            continue
        opened = row.type == "email_open"
        if not opened and machine:
            continue
        facts.append(
            {
                "fact_id": f"backfill:{event_id}"[:200],
                "send_id": send_id,
                "lead_id": row.lead_id,
                "product": row.product or known[send_id],
                "kind": "opened" if opened else "clicked",
                "human": not machine,
                "machine_reason": MACHINE if machine else None,
                "link": None if opened else row.url,
                "source": "sendgrid",
                "occurred_at": row.occurred_at,
                "recorded_at": row.occurred_at,
            }
        )
    if not facts:
        return
    connection.execute(
        sa.text(
            "INSERT INTO engagements (fact_id, send_id, lead_id, product, kind, human, "
            "machine_reason, link, source, occurred_at, recorded_at) VALUES (:fact_id, "
            ":send_id, :lead_id, :product, :kind, :human, :machine_reason, :link, :source, "
            ":occurred_at, :recorded_at)"
        ),
        facts,
    )
    for flag, match in (
        ("ever_opened", lambda f: f["kind"] == "opened"),
        ("ever_read", lambda f: f["human"]),
        ("ever_clicked", lambda f: f["kind"] == "clicked"),
    ):
        ids = sorted({f["send_id"] for f in facts if match(f)})
        if ids:
            connection.execute(
                sa.text(f"UPDATE sends SET {flag} = 1 WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": ids},
            )


def downgrade() -> None:
    op.execute("DELETE FROM engagements WHERE fact_id LIKE 'backfill:%'")
