"""api_keys.kind, origins, products: publishable keys for browser trackers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 22:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="secret", nullable=False)
        )
        batch_op.add_column(sa.Column("origins", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("products", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("products")
        batch_op.drop_column("origins")
        batch_op.drop_column("kind")
