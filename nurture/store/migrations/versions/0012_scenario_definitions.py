"""scenario_definitions: each scenario version's definition, for rollouts and diffs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenario_definitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_definitions")),
        sa.UniqueConstraint("product", "version", name="uq_scenario_definitions_key"),
    )


def downgrade() -> None:
    op.drop_table("scenario_definitions")
