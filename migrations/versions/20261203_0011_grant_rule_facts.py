"""grants keep the facts of the designation and government-first rules, and when each requirement lapses

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 18:40:00

``rule_problems`` holds what blocks a grant because of its model rather than its grantee (the designation, and for
a partner the absence of any government access to the model); ``government_from`` is when the government access
a partner grant relies on begins; ``gate_lapses`` names when each requirement on file lapses, so that a suspended
grant's reasons can be told from the row alone.

Live grants were judged by the old rules, which never required a designation nor followed the government's access.
They are marked ``reevaluation_due`` (a lapse in the past), so they fail closed — blocked or suspended, never
usable — until the worker's next sweep evaluates them under the new rules (domain.grants.Grants.catch_up).
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import accessdesk.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_grants") as batch:
        batch.add_column(sa.Column("rule_problems", accessdesk.db.types.JSONList(), nullable=False,
                                   server_default=sa.text("'[]'")))  # fmt: skip
        batch.add_column(sa.Column("gate_lapses", accessdesk.db.types.JSONDict(), nullable=False,
                                   server_default=sa.text("'{}'")))  # fmt: skip
        batch.add_column(sa.Column("government_from", accessdesk.db.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("access_grants") as batch:
        batch.alter_column("rule_problems", server_default=None)
        batch.alter_column("gate_lapses", server_default=None)
    op.execute(
        sa.text(
            "UPDATE access_grants SET gate_lapses = :lapses, gates_valid_until = :past, "
            "next_transition_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL"
        ).bindparams(
            sa.bindparam("lapses", type_=accessdesk.db.types.JSONDict(),
                         value={"reevaluation_due": "2000-01-01T00:00:00+00:00"}),  # fmt: skip
            sa.bindparam("past", type_=accessdesk.db.types.UTCDateTime(timezone=True),
                         value=datetime(2000, 1, 1, tzinfo=UTC)),  # fmt: skip
        )
    )
    op.create_index("ix_access_grants_awaiting_government", "access_grants", ["government_from"], unique=False,
                    sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_access_grants_awaiting_government", table_name="access_grants")
    with op.batch_alter_table("access_grants") as batch:
        batch.drop_column("government_from")
        batch.drop_column("gate_lapses")
        batch.drop_column("rule_problems")
