"""slack approval cards: where each nomination's card was posted, to edit it in place

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accessdesk.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_cards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("nomination_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("posted_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["nomination_id"], ["nominations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nomination_id", "channel"),
    )


def downgrade() -> None:
    op.drop_table("slack_cards")
