"""PostgreSQL tells every server process, at commit, that what the OAuth endpoints keep in memory changed

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 19:50:00

The token and introspection endpoints keep clients, grants and revoked tokens in memory (see
accessdesk.oauth.cache). A statement-level trigger on each of those tables sends NOTIFY accessdesk_oauth with the
table's name; PostgreSQL delivers it only when the transaction commits, so a cache never forgets too early. SQLite
has no NOTIFY: there the endpoints read the database every time.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("access_grants", "oauth_clients", "oauth_client_secrets", "oauth_revoked_tokens", "frontier_models",
          "signing_keys")  # fmt: skip


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION accessdesk_oauth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('accessdesk_oauth', TG_TABLE_NAME);
            RETURN NULL;
        END $$
    """)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_oauth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION accessdesk_oauth_changed()")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_oauth_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS accessdesk_oauth_changed()")
