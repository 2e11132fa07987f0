"""handoff_slots: the per-product daily hand-off capacity and its queue

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 19:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_slots",
        sa.Column("journey_id", sa.String(length=200), nullable=False),
        sa.Column("handoff_no", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_on", sa.Date(), nullable=False),
        sa.Column("granted_day", sa.Date(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("journey_id", "handoff_no", name=op.f("pk_handoff_slots")),
    )
    with op.batch_alter_table("handoff_slots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_handoff_slots_product_day", ["product", "granted_day"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("handoff_slots", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_slots_product_day")
    op.drop_table("handoff_slots")
