"""organisations.disabled_at: the operator disables an organisation (``accessdesk org disable``)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 15:30:00

A disabled organisation's people are disabled with it, and nobody joins it any more (no new person, no first
sign-in through its domains). Existing rows stay enabled.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accessdesk.db.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("disabled_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Not batch mode on SQLite: it would copy and drop the table, which the tables referencing it refuse. SQLite
    # drops a plain column in place (3.35 and later).
    op.drop_column("organisations", "disabled_at")
