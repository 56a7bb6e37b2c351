"""Moving an embedded deployment to PostgreSQL (``accessdesk db copy``), and backing up and restoring one: every row
arrives as it was, the audit chain verifies where it arrives, and a refused copy changes nothing. The PostgreSQL
side runs as an operator's does: an owner that migrates and copies, a runtime role that the product (its
retention sweep included) runs as. Each run makes its own roles and databases, and drops them."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from accessdesk.clock import FrozenClock, SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.migrate import upgrade
from accessdesk.db.schema import head_revision
from accessdesk.db.tables import User
from accessdesk.db.transfer import TABLES
from accessdesk.domain import audit
from accessdesk.domain.retention import RetentionPolicy, prune
from accessdesk.domain.sessions import SessionPolicy, WebSessions
from accessdesk.domain.slack_links import SlackLinks
from accessdesk.domain.unit import Unit
from tests.databases import PG_URL, missing
from tests.support.cli import accessdesk

pytestmark = pytest.mark.postgres_only


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _as_superuser(*statements: str) -> None:
    connection = await asyncpg.connect(_plain(PG_URL), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class Server:
    """The test's roles on the shared server, and the databases it made there (owned by ``owner``)."""

    owner: str
    runtime: str
    cwd: Path
    databases: list[str] = field(default_factory=list)

    def url(self, database: str, role: str | None = None) -> str:
        return make_url(PG_URL).set(username=role or self.owner, password=None,
                                    database=database).render_as_string(False)  # fmt: skip

    def database(self) -> str:
        """A new empty database, owned by the owner role."""
        name = f"adk_move_{secrets.token_hex(4)}"
        asyncio.run(_as_superuser(f'CREATE DATABASE "{name}" OWNER {self.owner}'))
        self.databases.append(name)
        return name

    def run(self, url: str, *args: str) -> subprocess.CompletedProcess[str]:
        return accessdesk(*args, env={**os.environ, "ACCESSDESK_DATABASE_URL": url, "ACCESSDESK_ENV": "development"},
                          cwd=self.cwd)  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    suffix = secrets.token_hex(3)
    made = Server(owner=f"adk_mowner_{suffix}", runtime=f"adk_mapp_{suffix}", cwd=tmp_path_factory.mktemp("moving"))
    try:
        asyncio.run(_as_superuser(f"CREATE ROLE {made.owner} LOGIN", f"CREATE ROLE {made.runtime} LOGIN"))
    except (OSError, asyncpg.PostgresError) as exc:
        missing(f"PostgreSQL not reachable as a superuser at {PG_URL} ({exc})")
    try:
        yield made
    finally:
        asyncio.run(_as_superuser(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in made.databases),
                                  f"DROP ROLE IF EXISTS {made.runtime}", f"DROP ROLE IF EXISTS {made.owner}"))  # fmt: skip


@dataclass(frozen=True)
class Embedded:
    """A SQLite deployment that has been used: demo data, deliveries made, a checkpoint signed and kept outside."""

    path: Path
    checkpoint: Path

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"


@pytest.fixture(scope="module")
def embedded(server: Server) -> Embedded:
    made = Embedded(path=server.cwd / "embedded.db", checkpoint=server.cwd / "checkpoint.jws")
    for args in (("db", "upgrade"), ("demo",), ("keys", "rotate"), ("tokens", "create", "--email", "gia@oais.example"),
                 ("worker", "--once"), ("audit", "checkpoint", "--out", str(made.checkpoint))):  # fmt: skip
        result = server.run(made.url, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)

    async def used() -> None:  # a console session and a Slack link request: rows of the kinds retention prunes
        engine = make_engine(made.url)
        try:
            async with make_sessionmaker(engine)() as session:
                unit = Unit(session, SystemClock())
                user = (await session.exec(select(User).order_by(col(User.email)))).first()
                assert user is not None
                await WebSessions(unit, SessionPolicy()).start(user_id=user.id, method="test", ip="192.0.2.1")
                await SlackLinks(unit).request(slack_user_id="U0MOVED", team_id="T0", slack_name="moved")
        finally:
            await engine.dispose()

    asyncio.run(used())
    return made


async def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as the tables' column types read them, in primary-key order."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return {table.name: [dict(row._mapping) for row in await connection.execute(
                sa.select(table).order_by(*table.primary_key.columns))] for table in TABLES}  # fmt: skip
    finally:
        await engine.dispose()


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_copy_moves_every_row_exactly_and_the_chain_verifies_there(server, embedded):
    target = server.database()
    with_password = make_url(server.url(target)).set(password="kept-out-of-sight").render_as_string(False)
    copied = server.run(embedded.url, "db", "copy", "--to", with_password)  # trust authentication ignores it
    assert copied.returncode == 0, copied.stderr
    assert "kept-out-of-sight" not in copied.stdout + copied.stderr and ":***@" in copied.stdout
    source, arrived = asyncio.run(_rows(embedded.url)), asyncio.run(_rows(server.url(target)))
    assert arrived == source  # ids, timestamps, hashes: every value of every row
    assert f"migrated to {head_revision()} first" in copied.stdout
    for table, rows in source.items():
        assert f"  {table}: {len(rows)}\n" in copied.stdout
    events = len(source["audit_events"])
    assert events > 40 and all(source[t] for t in ("web_sessions", "outbox", "slack_link_requests", "audit_checkpoints",
                                                    "signing_keys", "api_tokens", "access_grants"))  # fmt: skip
    assert f"audit chain intact: {events} events verified, up to the head (#{events})" in copied.stdout

    # The moved deployment runs as the runtime role: the chain verifies, against the checkpoint kept outside too
    granted = server.run(server.url(target), "db", "grant-runtime", "--role", server.runtime)
    assert granted.returncode == 0, granted.stderr
    runtime = server.url(target, server.runtime)
    proved = server.run(runtime, "audit", "verify", "--checkpoint", str(embedded.checkpoint))
    assert proved.returncode == 0 and f"audit chain intact: {events} events" in proved.stdout, proved.stderr

    # ... and so does its retention sweep, which deletes what the runtime role may delete
    async def sweep_far_ahead() -> tuple[Any, bool]:
        engine = make_engine(runtime)
        try:
            async with make_sessionmaker(engine)() as session:
                unit = Unit(session, FrozenClock(SystemClock().now() + timedelta(days=400)))
                return await prune(unit, RetentionPolicy()), (await audit.verify(session)).ok
        finally:
            await engine.dispose()

    report, intact = asyncio.run(sweep_far_ahead())
    assert (report.sessions, report.outbox, report.link_requests) == (
        len(source["web_sessions"]),
        len(source["outbox"]),
        len(source["slack_link_requests"]),
    )
    assert intact


def test_a_copy_is_refused_in_one_line_and_changes_nothing(server, embedded, tmp_path):
    # What is wrong with the command itself: exit 2
    for url, args, says in (
        (embedded.url, ("--to", "mysql://root@db/accessdesk"), "--to must be a postgresql+asyncpg://"),
        (embedded.url, ("--to", "postgresql+asyncpg://u:secret@db:5432"), "--to must be a postgresql+asyncpg://"),
        (server.url("postgres"), ("--to", server.url("postgres")), "db copy moves an embedded deployment"),
    ):  # fmt: skip
        refused = server.run(url, "db", "copy", *args)
        assert refused.returncode == 2 and says in _one_line(refused), refused.stderr
        assert "secret" not in refused.stderr
    # A target that is not empty, or not at this version's schema, or not there at all: exit 1
    full = server.database()
    assert server.run(embedded.url, "db", "copy", "--to", server.url(full)).returncode == 0
    behind = server.database()
    upgrade(server.url(behind), "0017")
    foreign = server.database()
    asyncio.run(_execute(server.url(foreign), "CREATE TABLE invoices (id int)"))
    cases = [(full, "the target database already holds data (audit_events: "),
             (behind, f"the target database's schema is at revision 0017, not {head_revision()}"),
             (foreign, "the target database holds tables (invoices…) but no accessdesk schema"),
             ("adk_move_nowhere", 'cannot reach the target database: InvalidCatalogNameError: database '
                                  '"adk_move_nowhere" does not exist')]  # fmt: skip
    for name, says in cases:
        before = asyncio.run(_state(server.url(name))) if name != "adk_move_nowhere" else None
        refused = server.run(embedded.url, "db", "copy", "--to", server.url(name))
        assert refused.returncode == 1 and _one_line(refused).startswith(f"Error: refused: {says}"), refused.stderr
        if before is not None:
            assert asyncio.run(_state(server.url(name))) == before

    # A source whose chain does not hold is not copied (nor is the target migrated)
    broken = tmp_path / "broken.db"
    shutil.copyfile(embedded.path, broken)
    with sqlite3.connect(broken) as connection:  # as someone who can write the file would
        connection.execute("DROP TRIGGER audit_events_no_update")
        connection.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    empty = server.database()
    refused = server.run(f"sqlite+aiosqlite:///{broken}", "db", "copy", "--to", server.url(empty))
    assert refused.returncode == 1
    assert "the SQLite database's audit chain BROKEN at event #3" in _one_line(refused)
    assert asyncio.run(_state(server.url(empty))) == ([], {})
    missing_file = server.run(f"sqlite+aiosqlite:///{tmp_path / 'none.db'}", "db", "copy", "--to", server.url(empty))
    assert missing_file.returncode == 1 and "there is no SQLite database at" in _one_line(missing_file)
    assert not (tmp_path / "none.db").exists()


async def _execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _state(url: str) -> tuple[list[str], dict[str, int]]:
    """A database's tables, and how many rows each holds."""
    connection = await asyncpg.connect(_plain(url))
    try:
        tables = [r["tablename"] for r in await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]  # fmt: skip
        return tables, {t: await connection.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}
    finally:
        await connection.close()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def test_a_dump_restored_into_a_fresh_database_verifies(server, embedded, tmp_path):
    """The README's backup and restore, as written: pg_dump -Fc as the owner; a new database for the owner,
    pg_restore --no-owner into it, grant-runtime again, then audit verify (against a checkpoint kept outside)."""
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    live = server.database()
    assert server.run(embedded.url, "db", "copy", "--to", server.url(live)).returncode == 0
    assert server.run(server.url(live), "db", "grant-runtime", "--role", server.runtime).returncode == 0
    dump = tmp_path / "accessdesk.dump"
    subprocess.run([pg_dump, "-Fc", "-f", str(dump), _plain(server.url(live))], check=True, capture_output=True,
                   timeout=120)  # fmt: skip

    restored = server.database()
    done = subprocess.run([pg_restore, "--no-owner", "--exit-on-error", "-d", _plain(server.url(restored)), str(dump)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert server.run(server.url(restored), "db", "grant-runtime", "--role", server.runtime).returncode == 0
    verified = server.run(server.url(restored, server.runtime), "audit", "verify", "--checkpoint",
                          str(embedded.checkpoint))  # fmt: skip
    events = len(asyncio.run(_rows(embedded.url))["audit_events"])
    assert verified.returncode == 0 and f"audit chain intact: {events} events verified" in verified.stdout, (
        verified.stdout + verified.stderr
    )
    assert asyncio.run(_rows(server.url(restored))) == asyncio.run(_rows(server.url(live)))
    # The restored database still guards its trail, and runs: the runtime role appends as before
    assert server.run(server.url(restored, server.runtime), "audit", "checkpoint").returncode == 0
    assert "permission denied for table audit_events" in asyncio.run(
        _refused(server.url(restored, server.runtime), "DELETE FROM audit_events")
    )


async def _refused(url: str, statement: str) -> str:
    connection = await asyncpg.connect(_plain(url))
    try:
        with pytest.raises(asyncpg.PostgresError) as caught:
            await connection.execute(statement)
        return str(caught.value)
    finally:
        await connection.close()


def test_an_embedded_backup_with_vacuum_into_verifies(server, embedded, tmp_path):
    """SQLite's online backup, as the README gives it (VACUUM INTO, safe while accessdesk runs)."""
    backup = tmp_path / "backup.db"
    with sqlite3.connect(embedded.path) as connection:
        connection.execute("VACUUM INTO ?", (str(backup),))
    verified = server.run(f"sqlite+aiosqlite:///{backup}", "audit", "verify", "--checkpoint", str(embedded.checkpoint))
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout, verified.stdout + verified.stderr
