"""audit_head: the end of the chain in one row, so appending costs one round trip

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    # Start from wherever the chain already is.
    op.execute(
        "INSERT INTO audit_head (id, seq, prev_hash, hash) "
        "SELECT 1, COALESCE((SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1), 0), "
        "COALESCE((SELECT prev_hash FROM audit_events ORDER BY seq DESC LIMIT 1), '" + "0" * 64 + "'), "
        "COALESCE((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '" + "0" * 64 + "')"
    )


def downgrade() -> None:
    op.drop_table("audit_head")
