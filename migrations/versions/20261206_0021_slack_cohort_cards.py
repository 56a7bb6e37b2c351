"""slack_cohort_cards: a cohort's one card per approval channel, edited in place as its members are decided

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 12:00:00

A table of its own rather than ``slack_cards`` with a nullable nomination: that table's unique (nomination_id,
channel) and NOT NULL could change on SQLite only by copying the table. ``shown`` is a digest of what the card
shows, so that a cohort decided at once (one message per member) edits the card once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accessdesk.db.types

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_cohort_cards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("posted_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shown", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohorts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cohort_id", "channel"),
    )


def downgrade() -> None:
    op.drop_table("slack_cohort_cards")
