"""slack_cards.ts nullable: a card whose post got no answer is remembered before it is known to exist

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 15:10:00

A ``chat.postMessage`` slower than the client's timeout may still post the card; retrying it blindly posted a second
card that the bot never updated (issue 11, finding 7). The row is now written with the attempt (``ts`` NULL until
Slack's answer, or the channel's history, gives it), and the retry looks for the card before posting again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slack_cards") as batch:
        batch.alter_column("ts", existing_type=sa.String(length=32), nullable=True)


def downgrade() -> None:
    # A card whose post never got an answer cannot be edited anyway: forgotten, as before this revision.
    op.execute("DELETE FROM slack_cards WHERE ts IS NULL")
    with op.batch_alter_table("slack_cards") as batch:
        batch.alter_column("ts", existing_type=sa.String(length=32), nullable=False)
