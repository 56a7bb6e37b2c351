"""PostgreSQL roles: migrations run as the owner of the tables; the application runs as a runtime role that owns
nothing and holds only the rights it uses (``accessdesk db grant-runtime``).

Why it matters for the audit trail (DESIGN.md §3 rule 8): a table's owner may ``ALTER TABLE … DISABLE TRIGGER``,
and then UPDATE or DELETE events as it likes; a role that owns nothing cannot, whatever it is granted. The runtime
role may read every table and append to the audit tables; it may move ``audit_head`` only as appending does (the
trigger of migration 0012 refuses anything else, to every role that cannot switch it off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# Read and append, nothing else: no UPDATE, DELETE or TRUNCATE (the triggers refuse those anyway).
APPEND_ONLY = ("audit_events", "audit_checkpoints", "audit_keys")


class RoleRefused(ValueError):
    """The role cannot serve as the runtime role, or does not exist."""


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class RuntimeGrants:
    role: str
    owner: str
    database: str

    def statements(self) -> list[str]:
        """The SQL that gives ``role`` what the application needs, in order (later REVOKEs narrow earlier GRANTs).
        Running it again changes nothing; run it again after ``accessdesk db upgrade``, which may add tables."""
        role, owner = quoted(self.role), quoted(self.owner)
        append_only = ", ".join(APPEND_ONLY)
        return [
            # Before PostgreSQL 15 every role may create objects in public, and so come to own something.
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            f"GRANT CONNECT ON DATABASE {quoted(self.database)} TO {role}",
            f"GRANT USAGE ON SCHEMA public TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
            # Tables that later migrations create (as the owner) are the runtime role's to use at once; an audit
            # table among them is narrowed by running this command again, and guarded by its triggers meanwhile.
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
            f"REVOKE ALL ON alembic_version FROM {role}",
            f"GRANT SELECT ON alembic_version TO {role}",
            f"REVOKE ALL ON {append_only} FROM {role}",
            f"GRANT SELECT, INSERT ON {append_only} TO {role}",
            # Appending advances the head: UPDATE of these columns, the trigger allowing only one step forward.
            f"REVOKE ALL ON audit_head FROM {role}",
            f"GRANT SELECT, UPDATE (seq, prev_hash, hash) ON audit_head TO {role}",
        ]


async def runtime_grants(connection: AsyncConnection, role: str) -> RuntimeGrants:
    """What granting ``role`` would do, once it is known to be fit: it exists, is no superuser and cannot become
    one's equal (CREATEROLE, BYPASSRLS, REPLICATION), is not and is not a member of the tables' owner, and owns
    nothing in this database. Raises RoleRefused saying which."""
    if not ROLE_NAME.fullmatch(role):
        raise RoleRefused(f"{role!r} is not a plain role name (letters, digits and _)")
    found = (await connection.execute(sa.text(
        "SELECT rolsuper, rolcreaterole, rolbypassrls, rolreplication FROM pg_roles WHERE rolname = :role"
    ), {"role": role})).first()  # fmt: skip
    if found is None:
        raise RoleRefused(f"there is no role {role}: create it first (CREATE ROLE {role} LOGIN PASSWORD '…'), then "
                          "run this again")  # fmt: skip
    powers = [name for name, held in zip(("SUPERUSER", "CREATEROLE", "BYPASSRLS", "REPLICATION"), found, strict=True)
              if held]  # fmt: skip
    if powers:
        raise RoleRefused(f"role {role} has {', '.join(powers)}: it could get past the audit trail's triggers; the "
                          "runtime role must be an ordinary role")  # fmt: skip
    owner = (await connection.execute(sa.text(
        "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'audit_events'"
    ))).scalar()  # fmt: skip
    if owner is None:
        raise RoleRefused("this database has no audit_events table: run accessdesk db upgrade first")
    member = (await connection.execute(sa.text("SELECT pg_has_role(:role, :owner, 'MEMBER')"),
                                       {"role": role, "owner": owner})).scalar()  # fmt: skip
    if member:
        raise RoleRefused(f"role {role} is, or is a member of, {owner}, which owns the tables: it could switch the "
                          "audit trail's triggers off; give the application a role of its own")  # fmt: skip
    owned = (await connection.execute(sa.text(
        """
        SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
             + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
             + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
             + (SELECT count(*) FROM pg_type WHERE typowner = r.oid AND typrelid = 0)
             + (SELECT count(*) FROM pg_database WHERE datdba = r.oid AND datname = current_database())
          FROM pg_roles r WHERE r.rolname = :role
        """
    ), {"role": role})).scalar()  # fmt: skip
    if owned:
        raise RoleRefused(f"role {role} owns {owned} object(s) in this database: the runtime role must own nothing "
                          f"(REASSIGN OWNED BY {role} TO {owner})")  # fmt: skip
    database = (await connection.execute(sa.text("SELECT current_database()"))).scalar()
    return RuntimeGrants(role=role, owner=str(owner), database=str(database))


async def grant_runtime(connection: AsyncConnection, role: str) -> RuntimeGrants:
    """Check ``role`` (see :func:`runtime_grants`) and grant it, in the connection's transaction."""
    grants = await runtime_grants(connection, role)
    for statement in grants.statements():
        await connection.execute(sa.text(statement))
    return grants
