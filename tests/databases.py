"""The two databases every database test runs on: the embedded SQLite and a real PostgreSQL.

Each test run gets a fresh PostgreSQL database (created here, dropped at the end) and a fresh SQLite file per
test; both are built with the real migrations. Outside CI a missing PostgreSQL skips its tests with the reason;
with CI=true it fails them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from accessdesk.db.migrate import upgrade

PG_URL = os.environ.get("ACCESSDESK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def missing(reason: str) -> None:
    """Skip for a missing real component, or fail when CI promised to provide it."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: every real component must be present)", pytrace=False)
    pytest.skip(reason)


@dataclass
class SqliteDatabase:
    template: Path
    workdir: Path
    kind: str = "sqlite"
    _n: int = 0

    def fresh_url(self) -> str:
        self._n += 1
        target = self.workdir / f"test-{self._n}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite+aiosqlite:///{target}"

    async def reset(self) -> None:  # each test has its own file already
        return None

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class PostgresDatabase:
    url: str
    name: str
    kind: str = "postgresql"

    def fresh_url(self) -> str:
        return self.url

    async def reset(self) -> None:
        """Empty every table. ``session_replication_role = replica`` switches off triggers (the foreign keys' among
        them) for this transaction only, which is how a superuser gets past the append-only audit table (tests
        only). ``DELETE`` rather than ``TRUNCATE``: a test leaves a few rows, and deleting them takes about a
        millisecond where truncating 29 tables (new files for each) took about 0.1 s, before every test."""
        connection = await asyncpg.connect(_plain(self.url))
        try:
            tables = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
            genesis = "0" * 64
            async with connection.transaction():
                await connection.execute("SET LOCAL session_replication_role = replica")
                await connection.execute(";".join(f'DELETE FROM "{t["tablename"]}"' for t in tables))
                await connection.execute("INSERT INTO audit_head (id, seq, prev_hash, hash) "
                                         f"VALUES (1, 0, '{genesis}', '{genesis}')")  # fmt: skip
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


def create_sqlite(tmp: Path) -> SqliteDatabase:
    template = tmp / "template.db"
    upgrade(f"sqlite+aiosqlite:///{template}")
    return SqliteDatabase(template=template, workdir=tmp)


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
    return PostgresDatabase(url=url, name=name)
