"""cohorts (many partners nominated as one) and token issuances per credential per day

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 03:00:00

A cohort names many nominations made at once (``nominations.cohort_id``); each member stays a nomination of its own.
``token_issuance_days`` counts each credential's tokens per UTC day, for the programme overview's picture of use over
a window; counts from before this revision stay in ``oauth_clients.token_count`` only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)
from alembic import op

import accessdesk.db.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cohorts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("starts_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actions", accessdesk.db.types.JSONList(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("nominated_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["frontier_models.id"]),
        sa.ForeignKeyConstraint(["nominated_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "name"),
    )
    op.create_index("ix_cohorts_model_id", "cohorts", ["model_id"])
    op.create_index("ix_cohorts_created", "cohorts", ["created_at", "id"])
    # No foreign key (see tables.Nomination): SQLite adds a constraint only by copying and dropping the table, which
    # the tables referencing nominations refuse.
    op.add_column("nominations", sa.Column("cohort_id", sa.Uuid(), nullable=True))
    op.create_index("ix_nominations_cohort_id", "nominations", ["cohort_id"])
    op.create_table(
        "token_issuance_days",
        sa.Column("client_pk", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["client_pk"], ["oauth_clients.id"]),
        sa.PrimaryKeyConstraint("client_pk", "day"),
    )


def downgrade() -> None:
    op.drop_table("token_issuance_days")
    op.drop_index("ix_nominations_cohort_id", table_name="nominations")
    op.drop_column("nominations", "cohort_id")
    op.drop_index("ix_cohorts_created", table_name="cohorts")
    op.drop_index("ix_cohorts_model_id", table_name="cohorts")
    op.drop_table("cohorts")
