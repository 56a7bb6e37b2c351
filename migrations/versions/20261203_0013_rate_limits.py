"""rate_limit_counts: the counts every instance shares for the rate limits

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 22:00:00

One row per (limit and key, fixed window): how many requests the key made in that window, all instances together,
and the limit it was counted against. Instances add to it with one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
(atomic: two instances adding at once both see the sum) and delete the rows whose window has ended
(accessdesk.ratelimit). SQLite deployments are one process and count in memory; the table is there for a uniform
schema.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)
from alembic import op

import accessdesk.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_counts",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("allowed", sa.Integer(), nullable=False),
        sa.Column("expires_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start"),
    )
    with op.batch_alter_table("rate_limit_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limit_counts_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_limit_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_counts_expires_at"))
    op.drop_table("rate_limit_counts")
