"""outbox.queued_seq: the messages of one instant are delivered in the order they were written

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 14:30:00

Messages written at the same instant of the domain's clock (one transaction's, or a test's frozen clock's) were
delivered in no particular order (``created_at`` ties, random ids): a Slack thread could say "Gov1 approved" before
"Dev1 approved". Rows written before this revision keep 0 and their old order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("queued_seq", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("queued_seq")
