"""audit checkpoints and their keys; audit_head moves only by appending

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 20:00:00

``audit_keys`` holds the keys that sign checkpoints (sealed, like ``signing_keys``); ``audit_checkpoints`` the
signed statements "the chain ended at (seq, hash) at this time" (domain.checkpoints). Both are append-only, as the
events are.

``audit_head`` gets a guard: an UPDATE must advance ``seq`` by exactly one and set ``prev_hash`` to the hash it
replaces; INSERT, DELETE and TRUNCATE are refused. Without it, whoever may append (the runtime role needs UPDATE on
the head to append) could also roll the head back after the newest events were deleted, and ``audit verify`` would
find a shorter chain that ends where the head says.

Why a trigger rather than revoking UPDATE and appending through a SECURITY DEFINER function owned by the owner:
the append is one statement that the application already sends on both databases (domain.audit); a trigger keeps
that statement as it is, binds every role alike (the owner too, unless it switches the trigger off, which is
exactly what the runtime role cannot do: it owns nothing), and brings none of SECURITY DEFINER's own risks
(a search_path to pin, a privileged entry point to keep in step with the canonical form of an event). What the
trigger cannot check is the new ``hash``: the head may be advanced without a matching event, which ``audit verify``
then reports as a missing event, never hides.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel types)
from alembic import op

import accessdesk.db.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = ("audit_keys", "audit_checkpoints")


def upgrade() -> None:
    op.create_table(
        "audit_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", accessdesk.db.types.JSONDict(), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", accessdesk.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["kid"], ["audit_keys.kid"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_checkpoints_seq"), ["seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_checkpoints_signed_at"), ["signed_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        _guard_postgresql()
    else:
        _guard_sqlite()


def _guard_postgresql() -> None:
    op.execute(
        """
        CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in _APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()")  # fmt: skip
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()")  # fmt: skip
    op.execute(
        """
        CREATE FUNCTION audit_head_only_appends() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                IF NEW.id = OLD.id AND NEW.seq = OLD.seq + 1 AND NEW.prev_hash = OLD.hash THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'audit_head moves only by appending: UPDATE from #% to #% refused', OLD.seq, NEW.seq
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RAISE EXCEPTION 'audit_head moves only by appending: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute("CREATE TRIGGER audit_head_only_appends BEFORE INSERT OR UPDATE OR DELETE ON audit_head "
               "FOR EACH ROW EXECUTE FUNCTION audit_head_only_appends()")  # fmt: skip
    op.execute("CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_head_only_appends()")  # fmt: skip


def _guard_sqlite() -> None:
    # The same promises, as far as SQLite can make them: anyone who can write the file can drop a trigger.
    for table in _APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op_name} refused'); END")  # fmt: skip
    op.execute(
        "CREATE TRIGGER audit_head_only_appends BEFORE UPDATE ON audit_head "
        "WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1 OR NEW.prev_hash IS NOT OLD.hash "
        "BEGIN SELECT RAISE(ABORT, 'audit_head moves only by appending: UPDATE refused'); END"
    )
    op.execute("CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
               "BEGIN SELECT RAISE(ABORT, 'audit_head moves only by appending: DELETE refused'); END")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_head_no_truncate ON audit_head")
        op.execute("DROP TRIGGER audit_head_only_appends ON audit_head")
        op.execute("DROP FUNCTION audit_head_only_appends()")
    else:
        op.execute("DROP TRIGGER audit_head_no_delete")
        op.execute("DROP TRIGGER audit_head_only_appends")
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_signed_at"))
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_seq"))
    op.drop_table("audit_checkpoints")  # its triggers go with it
    op.drop_table("audit_keys")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_refuse_change()")
