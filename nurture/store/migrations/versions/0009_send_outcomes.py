"""sends.ever_*: what ever happened to each send, rolled up from its engagement facts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:30:00.000000

The engagement and A/B reports read these flags instead of reducing millions of facts
per report; nurture.analytics.facts keeps them current as facts arrive. The upgrade fills
them from the facts already stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# flag → the facts that set it (kept in step with nurture.analytics.facts.OUTCOMES)
FLAGS = {
    "ever_delivered": "kind = 'delivered'",
    "ever_bounced": "kind = 'bounced'",
    "ever_hard_bounced": "kind = 'bounced' AND bounce = 'hard'",
    "ever_opened": "kind = 'opened'",
    "ever_read": "kind IN ('opened', 'clicked') AND human",
    "ever_clicked": "kind = 'clicked' AND human",
    "ever_unsubscribed": "kind = 'unsubscribed'",
    "ever_spam_reported": "kind = 'spam_reported'",
}


def upgrade() -> None:
    with op.batch_alter_table("sends", schema=None) as batch_op:
        for flag in FLAGS:
            batch_op.add_column(
                sa.Column(flag, sa.SmallInteger(), server_default="0", nullable=False)
            )
    for flag, condition in FLAGS.items():
        op.execute(
            f"UPDATE sends SET {flag} = 1 WHERE id IN "
            f"(SELECT send_id FROM engagements WHERE {condition})"
        )


def downgrade() -> None:
    with op.batch_alter_table("sends", schema=None) as batch_op:
        for flag in reversed(list(FLAGS)):
            batch_op.drop_column(flag)
