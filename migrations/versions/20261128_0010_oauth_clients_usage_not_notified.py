"""a credential's usage counters (token_count, last_used_at) no longer notify the OAuth caches

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 23:10:00

Every server flushes its issuance counts to ``oauth_clients`` every 2 seconds (oauth/cache.py IssuanceCounter).
With the statement trigger of 0007 each flush notified every process that the clients changed, and each forgot
every client it kept, gateway credentials included: under load, the caches were empty half the time. No cache keeps
the counters, so an UPDATE that sets only them notifies no one now. The trigger names every other column: a column
added to oauth_clients must be added here too (tests/oauth/test_cache.py checks the list against the table).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USAGE = ("token_count", "last_used_at")
KEPT = ("id", "client_id", "kind", "organisation_id", "model_id", "grant_id", "auth_method", "jwks", "name",
        "created_by", "created_at", "revoked_at", "revoked_by", "revoke_reason")  # fmt: skip


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER oauth_clients_oauth_changed ON oauth_clients")
    op.execute("CREATE TRIGGER oauth_clients_oauth_changed AFTER INSERT OR DELETE OR TRUNCATE ON oauth_clients "
               "FOR EACH STATEMENT EXECUTE FUNCTION accessdesk_oauth_changed()")  # fmt: skip
    op.execute(f"CREATE TRIGGER oauth_clients_oauth_updated AFTER UPDATE OF {', '.join(KEPT)} ON oauth_clients "
               "FOR EACH STATEMENT EXECUTE FUNCTION accessdesk_oauth_changed()")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER oauth_clients_oauth_updated ON oauth_clients")
    op.execute("DROP TRIGGER oauth_clients_oauth_changed ON oauth_clients")
    op.execute("CREATE TRIGGER oauth_clients_oauth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "
               "oauth_clients FOR EACH STATEMENT EXECUTE FUNCTION accessdesk_oauth_changed()")  # fmt: skip
