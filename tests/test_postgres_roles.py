"""PostgreSQL roles (DESIGN.md §3 rule 8): migrations run as the owner; accessdesk runs as a runtime role that
owns nothing, set up by ``accessdesk db grant-runtime``. That role runs the whole product (requests, the worker,
checkpoints) and still cannot switch the audit triggers off, change or remove events, nor move the head except by
appending. Each run makes its own roles and database, and drops them."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from accessdesk.clock import SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.migrate import upgrade
from accessdesk.domain import audit
from accessdesk.domain.actor import Actor
from accessdesk.domain.unit import Unit
from tests.databases import PG_URL, missing

pytestmark = pytest.mark.postgres_only


@dataclass(frozen=True)
class Roles:
    owner: str
    runtime: str
    database: str

    def url(self, role: str) -> str:
        return make_url(PG_URL).set(username=role, password=None, database=self.database).render_as_string(False)

    def plain(self, role: str) -> str:
        return self.url(role).replace("postgresql+asyncpg://", "postgresql://", 1)

    def accessdesk(self, role: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ACCESSDESK_DATABASE_URL": self.url(role), "ACCESSDESK_ENV": "development"}
        return subprocess.run([sys.executable, "-m", "accessdesk.cli", *args], env=env, capture_output=True,
                              text=True, timeout=180)  # fmt: skip


async def _as_superuser(*statements: str) -> None:
    connection = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def roles() -> Iterator[Roles]:
    suffix = secrets.token_hex(3)
    made = Roles(owner=f"adk_owner_{suffix}", runtime=f"adk_app_{suffix}", database=f"adk_roles_{suffix}")
    try:
        asyncio.run(_as_superuser(f"CREATE ROLE {made.owner} LOGIN", f"CREATE ROLE {made.runtime} LOGIN",
                                  f'CREATE DATABASE "{made.database}" OWNER {made.owner}'))  # fmt: skip
    except (OSError, asyncpg.PostgresError) as exc:
        missing(f"PostgreSQL not reachable as a superuser at {PG_URL} ({exc})")
    try:
        upgrade(made.url(made.owner))  # migrations run as the owner
        yield made
    finally:
        asyncio.run(_as_superuser(f'DROP DATABASE IF EXISTS "{made.database}" WITH (FORCE)',
                                  f"DROP ROLE IF EXISTS {made.runtime}", f"DROP ROLE IF EXISTS {made.owner}"))  # fmt: skip


@pytest.fixture(scope="module")
def granted(roles: Roles) -> Roles:
    result = roles.accessdesk(roles.owner, "db", "grant-runtime", "--role", roles.runtime)
    assert result.returncode == 0, result.stderr
    assert f"{roles.runtime} may now run accessdesk on {roles.database}" in result.stdout
    return roles


async def refused(url: str, statement: str) -> str:
    """Run ``statement`` alone on a connection of its own; the error it must raise, as text."""
    connection = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.PostgresError) as caught:
            await connection.execute(statement)
        return str(caught.value)
    finally:
        await connection.close()


def test_grant_runtime_refuses_a_role_that_could_get_past_the_triggers(roles):
    for role, says in (("postgres", "has SUPERUSER"), (roles.owner, f"is, or is a member of, {roles.owner}"),
                       ("nobody_here", "there is no role nobody_here: create it first"),
                       ("bad-name", "is not a plain role name")):  # fmt: skip
        result = roles.accessdesk(roles.owner, "db", "grant-runtime", "--role", role)
        assert result.returncode == 1 and says in result.stderr, (role, result.stderr)
    printed = roles.accessdesk(roles.owner, "db", "grant-runtime", "--role", roles.runtime, "--print")
    assert printed.returncode == 0 and f'GRANT SELECT, INSERT ON audit_events, audit_checkpoints, audit_keys TO "{roles.runtime}";' in printed.stdout
    assert f'GRANT SELECT, UPDATE (seq, prev_hash, hash) ON audit_head TO "{roles.runtime}";' in printed.stdout


def test_grant_runtime_needs_postgresql(tmp_path):
    env = {**os.environ, "ACCESSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run([sys.executable, "-m", "accessdesk.cli", "db", "grant-runtime", "--role", "app"], env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "SQLite has no roles" in result.stderr


def test_the_runtime_role_runs_accessdesk(granted):
    """Requests, the worker and checkpoints, all as the runtime role: appending works."""
    runtime = granted.runtime
    for args in (("demo",), ("worker", "--once"), ("tokens", "create", "--email", "gia@oais.example"),
                 ("audit", "checkpoint"), ("audit", "verify")):  # fmt: skip
        result = granted.accessdesk(runtime, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "audit chain intact" in result.stdout

    async def append() -> tuple[int, bool]:
        engine = make_engine(granted.url(runtime))
        try:
            async with make_sessionmaker(engine)() as session:
                unit = Unit(session, SystemClock())
                before = (await audit.head_of(session)).seq
                unit.record(actor=Actor.system("test"), action="test.appended_as_runtime")
                await unit.commit()
                return (await audit.head_of(session)).seq - before, (await audit.verify(session)).ok
        finally:
            await engine.dispose()

    assert asyncio.run(append()) == (1, True)


@pytest.mark.parametrize(("statement", "error"), [
    ("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete", "must be owner of table audit_events"),
    ("ALTER TABLE audit_events DISABLE TRIGGER ALL", "must be owner of table audit_events"),
    ("DROP TRIGGER audit_events_no_update_delete ON audit_events", "must be owner of relation audit_events"),
    ("ALTER TABLE audit_events OWNER TO CURRENT_USER", "must be owner of table audit_events"),
    ("SET session_replication_role = replica", "permission denied to set parameter"),
    ("UPDATE audit_events SET actor = 'mallory'", "permission denied for table audit_events"),
    ("DELETE FROM audit_events", "permission denied for table audit_events"),
    ("TRUNCATE audit_events", "permission denied for table audit_events"),
    ("UPDATE audit_head SET seq = seq - 1", "audit_head moves only by appending"),
    ("UPDATE audit_head SET hash = (SELECT hash FROM audit_events WHERE seq = 1)", "audit_head moves only by appending"),
    ("UPDATE audit_head SET id = 2", "permission denied for table audit_head"),
    ("DELETE FROM audit_head", "permission denied for table audit_head"),
    ("TRUNCATE audit_head", "permission denied for table audit_head"),
    ("ALTER TABLE audit_head DISABLE TRIGGER audit_head_only_appends", "must be owner of table audit_head"),
    ("CREATE OR REPLACE FUNCTION audit_head_only_appends() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; "
     "END $$", "permission denied for schema public"),
    ("UPDATE audit_checkpoints SET seq = 0", "permission denied for table audit_checkpoints"),
    ("DELETE FROM audit_checkpoints", "permission denied for table audit_checkpoints"),
    ("DELETE FROM audit_keys", "permission denied for table audit_keys"),
    ("CREATE TABLE mine (id int)", "permission denied for schema public"),
])  # fmt: skip
def test_the_runtime_role_cannot_change_the_trail(granted, statement, error):
    async def attempt() -> tuple[str, tuple[int, int], tuple[int, int]]:
        before = await _trail(granted.plain(granted.owner))
        message = await refused(granted.plain(granted.runtime), statement)
        return message, before, await _trail(granted.plain(granted.owner))

    message, before, after = asyncio.run(attempt())
    assert error in message
    assert after == before


async def _trail(url: str) -> tuple[int, int]:
    """The head's sequence number and how many events there are."""
    connection = await asyncpg.connect(url)
    try:
        return (await connection.fetchval("SELECT seq FROM audit_head"),
                await connection.fetchval("SELECT count(*) FROM audit_events"))  # fmt: skip
    finally:
        await connection.close()


def test_the_runtime_role_owns_nothing_while_the_owner_could_switch_the_guard_off(granted):
    """Why the application must not run as the owner (the finding that started this): the owner may disable the
    triggers, and then change history."""
    # History to change, whichever tests ran before on this worker's database (demo data is seeded once)
    assert granted.accessdesk(granted.runtime, "demo").returncode == 0

    async def check() -> tuple[int, str]:
        connection = await asyncpg.connect(granted.plain(granted.owner))
        try:
            owned = await connection.fetchval(
                "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)",
                granted.runtime)  # fmt: skip
            transaction = connection.transaction()
            await transaction.start()
            await connection.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
            status = await connection.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1")
            await transaction.rollback()  # shown, not done
            return owned, status
        finally:
            await connection.close()

    owned, status = asyncio.run(check())
    assert owned == 0 and status == "UPDATE 1"
    assert "audit chain intact" in granted.accessdesk(granted.runtime, "audit", "verify").stdout
