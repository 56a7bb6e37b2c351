"""web_sessions: indexes on when a session ended, for the retention sweep

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 10:00:00

The worker deletes sessions some days after they ended (domain.retention) at every sweep; without these it would
read the whole table each time to find none.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_web_sessions_ended_at", "web_sessions", ["ended_at"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_expires_at", table_name="web_sessions")
    op.drop_index("ix_web_sessions_ended_at", table_name="web_sessions")
