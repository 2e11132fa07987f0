"""channels: sends and consents say their channel (sends when first tried); LINE links
and spent link tokens; conversions (goals reached)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing send and consent is an email one: the server default says so at once,
    # without rewriting the rows.
    for table in ("sends", "consents"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("channel", sa.String(length=16), server_default="email", nullable=False)
            )
    with op.batch_alter_table("sends") as batch:
        batch.add_column(sa.Column("first_tried_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "line_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_line_links_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_links")),
        sa.UniqueConstraint("product", "line_user_id", name="uq_line_links_user"),
        sa.UniqueConstraint("product", "lead_id", name="uq_line_links_lead"),
    )
    op.create_index(op.f("ix_line_links_lead_id"), "line_links", ["lead_id"])
    op.create_table(
        "used_link_tokens",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_link_tokens")),
    )
    op.create_table(
        "conversions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("journey_id", sa.String(length=200), nullable=False),
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("goal", sa.String(length=64), nullable=False),
        sa.Column("journey_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
        sa.UniqueConstraint("journey_id", "goal", name="uq_conversions_journey_goal"),
    )
    op.create_index(op.f("ix_conversions_lead_id"), "conversions", ["lead_id"])
    op.create_index(op.f("ix_conversions_product"), "conversions", ["product"])


def downgrade() -> None:
    op.drop_index(op.f("ix_conversions_product"), table_name="conversions")
    op.drop_index(op.f("ix_conversions_lead_id"), table_name="conversions")
    op.drop_table("conversions")
    op.drop_table("used_link_tokens")
    op.drop_index(op.f("ix_line_links_lead_id"), table_name="line_links")
    op.drop_table("line_links")
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("first_tried_at")
    for table in ("consents", "sends"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("channel")
