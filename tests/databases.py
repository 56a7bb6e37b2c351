"""The two databases every database test runs on: the embedded SQLite and a real PostgreSQL.

Each test run gets a fresh PostgreSQL database (created here, dropped at the end) and a fresh SQLite file per
test; both are built with the real migrations. Outside CI a missing PostgreSQL skips its tests with the reason;
with CI=true it fails them.

A test starts from one of two states: empty (what the migrations leave), or holding the suite's world
(``tests/world.py``: two organisations, eight people, a model, an NDA). The world is built once per run and
database, through the domain services as ``World.create`` always builds it, and each test that asks for it gets
a copy of those rows (a copied file on SQLite; on PostgreSQL, rows copied back from the schema
``world_snapshot``), then reads it back with ``World.load``: about 80 ms less per test than building it again.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.db.migrate import alembic_config, upgrade
from tests.world import World

PG_URL = os.environ.get("ACCESSDESK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SNAPSHOT = "world_snapshot"  # the PostgreSQL schema that keeps the world's rows
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def missing(reason: str) -> NoReturn:
    """Skip for a missing real component, or fail when CI promised to provide it."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: every real component must be present)", pytrace=False)
    pytest.skip(reason)


@dataclass
class SqliteDatabase:
    template: Path
    world_template: Path
    workdir: Path
    kind: str = "sqlite"
    _n: int = 0

    def fresh_url(self, *, world: bool = False) -> str:
        """A new file: a copy of the migrated template, or of the one that holds the world."""
        self._n += 1
        target = self.workdir / f"test-{self._n}.db"
        shutil.copyfile(self.world_template if world else self.template, target)
        return f"sqlite+aiosqlite:///{target}"

    async def reset(self, *, world: bool = False) -> None:  # each test has its own file already
        return None

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


async def _tables(connection: asyncpg.Connection) -> list[str]:
    """The product's tables (the migrations' bookkeeping left alone)."""
    rows = await connection.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
    )
    return [row["tablename"] for row in rows]


@dataclass
class PostgresDatabase:
    url: str
    name: str
    kind: str = "postgresql"

    def fresh_url(self, *, world: bool = False) -> str:  # what reset() left
        return self.url

    async def reset(self, *, world: bool = False) -> None:
        """Empty every table, then put back the world's rows if asked. ``session_replication_role = replica``
        switches off triggers (the foreign keys' among them) for this transaction only, which is how a superuser
        gets past the append-only audit table (tests only). ``DELETE`` rather than ``TRUNCATE``: a test leaves a
        few rows, and deleting them takes about a millisecond where truncating 29 tables (new files for each)
        took about 0.1 s, before every test."""
        connection = await asyncpg.connect(_plain(self.url))
        try:
            tables = await _tables(connection)
            async with connection.transaction():
                await connection.execute("SET LOCAL session_replication_role = replica")
                await connection.execute(";".join(f'DELETE FROM "{t}"' for t in tables))
                if world:
                    await connection.execute(";".join(
                        f'INSERT INTO public."{t}" SELECT * FROM {SNAPSHOT}."{t}"' for t in tables
                    ))  # fmt: skip
                else:
                    genesis = "0" * 64
                    await connection.execute("INSERT INTO audit_head (id, seq, prev_hash, hash) "
                                             f"VALUES (1, 0, '{genesis}', '{genesis}')")  # fmt: skip
        finally:
            await connection.close()

    async def snapshot(self) -> None:
        """Build the world in the emptied database and keep a copy of every table in the schema ``SNAPSHOT``."""
        await self.reset()
        await World.seed(self.url)
        connection = await asyncpg.connect(_plain(self.url))
        try:
            tables = await _tables(connection)
            async with connection.transaction():
                await connection.execute(f"CREATE SCHEMA {SNAPSHOT}")
                await connection.execute(";".join(
                    f'CREATE TABLE {SNAPSHOT}."{t}" AS TABLE public."{t}"' for t in tables
                ))  # fmt: skip
        finally:
            await connection.close()

    def close(self) -> None:
        async def drop() -> None:
            connection = await asyncpg.connect(_plain(PG_URL))
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await connection.close()

        asyncio.run(drop())


@asynccontextmanager
async def at_revision(engine: AsyncEngine, revision: str) -> AsyncIterator[str]:
    """The test's database (``engine``'s) migrated down to ``revision``, as an older version left it, and back at
    head afterwards, whatever the test did, so that the next test on a shared PostgreSQL database finds the schema
    whole. Yields the database's URL."""
    url = engine.url.render_as_string(hide_password=False)
    await engine.dispose()
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)
    try:
        yield url
    finally:
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)


Database = SqliteDatabase | PostgresDatabase  # what the ``database`` fixture gives, by its ``kind``


def create_sqlite(tmp: Path) -> SqliteDatabase:
    template, world_template = tmp / "template.db", tmp / "world.db"
    upgrade(f"sqlite+aiosqlite:///{template}")
    shutil.copyfile(template, world_template)
    asyncio.run(World.seed(f"sqlite+aiosqlite:///{world_template}"))
    return SqliteDatabase(template=template, world_template=world_template, workdir=tmp)


def create_postgres() -> PostgresDatabase:
    name = f"accessdesk_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def create() -> None:
        connection = await asyncpg.connect(_plain(PG_URL), timeout=5)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    try:
        asyncio.run(create())
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        missing(f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}: {exc}); "
                "set ACCESSDESK_TEST_POSTGRES_URL or start PostgreSQL")  # fmt: skip
    url = _with_db(PG_URL, name)
    upgrade(url)
    database = PostgresDatabase(url=url, name=name)
    asyncio.run(database.snapshot())
    return database
