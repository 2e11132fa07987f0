"""segments and broadcasts: journey_status (kept current), saved segments, broadcasts and
their frozen recipient lists, and the index engagement segments read

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None
TEXT_FIELDS = ("industry", "role", "region", "department", "source")  # nurture/segments/sql.py


def upgrade() -> None:
    op.create_table(
        "journey_status",
        sa.Column("journey_id", sa.String(200), primary_key=True),
        sa.Column("lead_id", sa.String(40), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("stage_seq", sa.Integer(), nullable=False),
        sa.Column("lifecycle", sa.String(20), nullable=True),
        sa.Column("lifecycle_seq", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("score_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_journey_status_lead_product", "journey_status", ["lead_id", "product"])
    op.create_index("ix_journey_status_product_stage", "journey_status", ["product", "stage"])
    _backfill_journey_status()
    op.create_table(
        "segments",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("segment", sa.String(64), nullable=False),
        sa.Column("segment_definition", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("mail_type", sa.String(20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("local_time", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "broadcast_recipients",
        sa.Column("broadcast_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("lead_id", sa.String(40), nullable=False),
        sa.Column("handed_to", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("broadcast_id", "lead_id", name="uq_broadcast_recipients_lead"),
    )
    op.create_index("ix_engagements_lead_time", "engagements", ["lead_id", "occurred_at"])
    op.create_index("ix_sends_send_key", "sends", ["send_key"])
    if op.get_bind().dialect.name == "postgresql":  # segments read lead_id from the index
        op.drop_index("ix_events_type_time", "events")
        op.create_index(
            "ix_events_type_time", "events", ["type", "occurred_at"], postgresql_include=["lead_id"]
        )
        # Segments compare lead fields without case or spaces; without statistics on those
        # expressions the planner guesses 0.5% of leads match and loops where it should hash.
        for field in TEXT_FIELDS:
            op.execute(
                f"CREATE STATISTICS IF NOT EXISTS st_leads_{field} ON (lower(trim({field}))) "
                "FROM leads"
            )
        op.execute("ANALYZE leads")


def _backfill_journey_status() -> None:
    """Each journey's last stage move, its last transition, and the later one's score."""
    op.execute(
        """
        INSERT INTO journey_status
            (journey_id, lead_id, product, stage, stage_seq, lifecycle, lifecycle_seq,
             score, score_at)
        SELECT s.journey_id, s.lead_id, s.product, s.to_stage, s.seq, NULL, 0,
               s.score, s.journey_time
        FROM stage_changes s
        WHERE s.seq = (SELECT max(seq) FROM stage_changes m WHERE m.journey_id = s.journey_id)
        """
    )
    op.execute(
        """
        INSERT INTO journey_status
            (journey_id, lead_id, product, stage, stage_seq, lifecycle, lifecycle_seq,
             score, score_at)
        SELECT t.journey_id, t.lead_id, t.product, t.stage, 0, NULL, 0, t.score, t.journey_time
        FROM transitions t
        WHERE t.seq = (SELECT max(seq) FROM transitions m WHERE m.journey_id = t.journey_id)
          AND t.journey_id NOT IN (SELECT journey_id FROM journey_status)
        """
    )
    op.execute(
        """
        UPDATE journey_status SET
            lifecycle = (SELECT t.to_lifecycle FROM transitions t
                         WHERE t.journey_id = journey_status.journey_id
                         ORDER BY t.seq DESC LIMIT 1),
            lifecycle_seq = COALESCE((SELECT max(t.seq) FROM transitions t
                                      WHERE t.journey_id = journey_status.journey_id), 0)
        """
    )
    op.execute(  # the score of the later record, a transition's when it came last
        """
        UPDATE journey_status SET
            score = (SELECT t.score FROM transitions t
                     WHERE t.journey_id = journey_status.journey_id
                     ORDER BY t.journey_time DESC, t.seq DESC LIMIT 1),
            score_at = (SELECT max(t.journey_time) FROM transitions t
                        WHERE t.journey_id = journey_status.journey_id)
        WHERE (SELECT max(t.journey_time) FROM transitions t
               WHERE t.journey_id = journey_status.journey_id) > journey_status.score_at
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for field in TEXT_FIELDS:
            op.execute(f"DROP STATISTICS IF EXISTS st_leads_{field}")
        op.drop_index("ix_events_type_time", "events")
        op.create_index("ix_events_type_time", "events", ["type", "occurred_at"])
    op.drop_index("ix_sends_send_key", "sends")
    op.drop_index("ix_engagements_lead_time", "engagements")
    op.drop_table("broadcast_recipients")
    op.drop_table("broadcasts")
    op.drop_table("segments")
    op.drop_table("journey_status")
