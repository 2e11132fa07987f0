"""leads: custom attributes (a JSON object of the values scenarios declare)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: existing leads have none, and adding the column rewrites no row.
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("attributes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("attributes")
