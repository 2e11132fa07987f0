"""deliveries: the W3C traceparent of the request that accepted the event, so the relay's
signal continues that request's trace

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 14:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows queued before, and every row while tracing is off, have none.
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("traceparent")
