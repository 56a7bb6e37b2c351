"""indexes that find the grants needing attention (blocked, suspended) without reading the rest

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As SQLAlchemy spells the condition in queries on each database (see db/tables.py).
SQLITE_PROBLEMS = sa.text("has_problems = 1 AND revoked_at IS NULL")
POSTGRESQL_PROBLEMS = sa.text("has_problems AND revoked_at IS NULL")
NOT_REVOKED = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_access_grants_problems", "access_grants", ["ends_at"], unique=False,
                    sqlite_where=SQLITE_PROBLEMS, postgresql_where=POSTGRESQL_PROBLEMS)  # fmt: skip
    op.create_index("ix_access_grants_unstarted", "access_grants", ["starts_at", "gates_valid_until", "ends_at"],
                    unique=False, sqlite_where=NOT_REVOKED, postgresql_where=NOT_REVOKED)  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_access_grants_unstarted", table_name="access_grants")
    op.drop_index("ix_access_grants_problems", table_name="access_grants")
