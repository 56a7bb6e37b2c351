"""slack_email_matches: Slack users matched to an account by their confirmed e-mail, remembered

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 15:00:00

The bot used to ask Slack's ``users.info`` who was clicking at every request, before acknowledging it; with Slack
slow, the acknowledgement missed Slack's 3 seconds (issue 11, finding 7). A match is now remembered for a while
(accessdesk.domain.slack_links) and listeners that must answer before acknowledging use only what is remembered.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accessdesk.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

At = accessdesk.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "slack_email_matches",
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("confirmed_at", At(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("slack_user_id"),
    )
    op.create_index("ix_slack_email_matches_user_id", "slack_email_matches", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_slack_email_matches_user_id", table_name="slack_email_matches")
    op.drop_table("slack_email_matches")
