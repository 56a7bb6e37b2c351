"""slack links and link requests, reminders, per-message slack deliveries; expiry indexes for the reminder sweep

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accessdesk.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

At = accessdesk.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "slack_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("posted_at", At(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "channel"),
    )
    op.create_table(
        "slack_links",
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("linked_at", At(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("slack_user_id"),
    )
    op.create_index("ix_slack_links_user_id", "slack_links", ["user_id"])
    op.create_table(
        "slack_link_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("slack_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", At(timezone=True), nullable=False),
        sa.Column("expires_at", At(timezone=True), nullable=False),
        sa.Column("used_at", At(timezone=True), nullable=True),
        sa.Column("used_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_slack_link_requests_slack_user_id", "slack_link_requests", ["slack_user_id"])
    op.create_table(
        "reminders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("deadline", At(timezone=True), nullable=False),
        sa.Column("due_at", At(timezone=True), nullable=False),
        sa.Column("created_at", At(timezone=True), nullable=False),
        sa.Column("messages", accessdesk.db.types.JSONList(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "subject_id", "deadline"),
    )
    op.create_index("ix_reminders_created", "reminders", ["created_at", "id"])
    op.create_index("ix_reminders_organisation_id", "reminders", ["organisation_id"])
    op.create_index("ix_nda_acceptances_expires", "nda_acceptances", ["expires_at"])
    op.create_index("ix_attestations_valid_until", "attestations", ["valid_until"])


def downgrade() -> None:
    op.drop_index("ix_attestations_valid_until", table_name="attestations")
    op.drop_index("ix_nda_acceptances_expires", table_name="nda_acceptances")
    op.drop_table("reminders")
    op.drop_table("slack_link_requests")
    op.drop_table("slack_links")
    op.drop_table("slack_deliveries")
