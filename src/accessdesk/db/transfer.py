"""Moving an embedded deployment to PostgreSQL (``accessdesk db copy``): every row of its SQLite database, as it
is, into an empty PostgreSQL database at the same schema revision.

Ids, timestamps and the audit chain are kept exactly: each row is read through the tables' own column types and
written through them, parents before children (the foreign keys' order), the audit events in sequence. The
target's ``audit_head`` then moves along the copied events one step at a time, as appending moves it: its trigger
(migration 0012) allows nothing else, and nothing here switches a trigger off. Everything happens in one
transaction on the target, the migration of an empty database included (PostgreSQL's DDL is transactional), and
commits only once the copied chain verifies there: a copy that fails leaves the target as it found it. The source
is read in one transaction too (on SQLite one that holds the write lock), so it cannot change under the copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import accessdesk.db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from accessdesk.db.engine import make_engine
from accessdesk.db.migrate import alembic_config
from accessdesk.db.schema import head_revision, read_schema
from accessdesk.domain import audit

BATCH = 1000
# Parents before children. audit_head is not copied: the target's moves along the copied events.
TABLES = [table for table in SQLModel.metadata.sorted_tables if table.name != "audit_head"]

_STEP_HEAD = """
DO $$
DECLARE event record;
BEGIN
    FOR event IN SELECT seq, hash FROM audit_events ORDER BY seq LOOP
        UPDATE audit_head SET seq = event.seq, prev_hash = hash, hash = event.hash WHERE id = 1;
    END LOOP;
END
$$
"""


class CopyRefused(Exception):
    """Nothing was copied, for the reason given (one line)."""


@dataclass
class Copied:
    """What a copy did: rows per table (in the order copied), whether it migrated the target first, and the
    verification of the chain on the target."""

    counts: dict[str, int] = field(default_factory=dict)
    migrated: bool = False
    chain: audit.Verification | None = None


def target_url(raw: str) -> str:
    """The target as a URL accessdesk can use: a PostgreSQL one (asyncpg), naming a database."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise CopyRefused(f"--to is not a database URL: {_redacted(raw)}") from None
    if url.drivername != "postgresql+asyncpg" or not url.database:
        raise CopyRefused(f"--to must be a postgresql+asyncpg://user:password@host:5432/database URL, not "
                          f"{_redacted(raw)}")  # fmt: skip
    return url.render_as_string(hide_password=False)


def shown(url: str) -> str:
    """A URL fit to print: its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _redacted(raw: str) -> str:
    try:
        return shown(raw)
    except ArgumentError:
        return raw.split("@", 1)[-1][:200] if "@" in raw else raw[:200]


async def copy(source_path: Path, target: str) -> Copied:
    """Copy the SQLite database at ``source_path`` into the PostgreSQL database ``target`` (see the module)."""
    if not source_path.is_file():
        raise CopyRefused(f"there is no SQLite database at {source_path}")
    source_engine, target_engine = make_engine(f"sqlite+aiosqlite:///{source_path}"), make_engine(target)
    try:
        async with source_engine.connect() as source, source.begin():
            await _check_source(source)
            try:
                connection = await target_engine.connect()
            except Exception as exc:  # noqa: BLE001 - whatever keeps us from the target, said in one line
                raise CopyRefused(f"cannot reach the target database: {_one_line(exc)}") from exc
            try:
                async with connection.begin():
                    copied = Copied(migrated=await _check_target(connection))
                    if copied.migrated:
                        await connection.run_sync(_migrate)
                    for table in TABLES:
                        copied.counts[table.name] = await _copy_table(source, connection, table)
                    await connection.exec_driver_sql(_STEP_HEAD)
                    copied.chain = await audit.verify(AsyncSession(bind=connection))
                    await _check_counts(connection, copied.counts)
                    if not copied.chain.ok:  # leaving by an exception rolls the transaction back
                        raise CopyRefused(f"the copy's {copied.chain.describe()}; nothing was copied")
            finally:
                await connection.close()
        return copied
    finally:
        await source_engine.dispose()
        await target_engine.dispose()


def _migrate(connection: Connection) -> None:
    """The migrations, on the copy's own connection and in its transaction."""
    config = alembic_config("")
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def _check_source(source: AsyncConnection) -> None:
    schema = await read_schema(source)
    if schema.revision != head_revision():
        problem = schema.problem or (f"its schema is at revision {schema.revision}, newer than this version of "
                                     f"accessdesk ({head_revision()}): copy it with the version that migrated it")  # fmt: skip
        raise CopyRefused(f"the SQLite database cannot be copied: {problem}")
    chain = await audit.verify(AsyncSession(bind=source))
    if not chain.ok:
        raise CopyRefused(f"the SQLite database's {chain.describe()}; nothing was copied")


async def _check_target(target: AsyncConnection) -> bool:
    """Whether the target must be migrated first (it has no tables at all); refuses one that holds anything, or
    a schema at another revision."""
    tables = await target.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    if not tables:
        return True
    schema = await read_schema(target)
    if schema.revision is None:
        raise CopyRefused(f"the target database holds tables ({', '.join(sorted(tables)[:5])}…) but no accessdesk "
                          "schema: db copy needs an empty database")  # fmt: skip
    if schema.revision != head_revision():
        raise CopyRefused(f"the target database's schema is at revision {schema.revision}, not {head_revision()} "
                          "as this version's: db copy needs an empty database, or one migrated by this version "
                          "and holding nothing")  # fmt: skip
    held = [
        f"{table.name}: {count}"
        for table in TABLES
        if (count := (await target.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())
    ]
    head = (await target.execute(sa.text("SELECT seq FROM audit_head WHERE id = 1"))).scalar()
    if head:
        held.append(f"audit_head at #{head}")
    if held:
        raise CopyRefused(f"the target database already holds data ({', '.join(held[:6])}"
                          f"{', …' if len(held) > 6 else ''}): db copy fills only an empty one")  # fmt: skip
    return False


async def _copy_table(source: AsyncConnection, target: AsyncConnection, table: sa.Table) -> int:
    order = [table.c.seq] if table.name == "audit_events" else list(table.primary_key.columns)
    rows = await source.stream(sa.select(table).order_by(*order))
    copied = 0
    async for batch in rows.partitions(BATCH):
        await target.execute(table.insert(), [dict(row._mapping) for row in batch])
        copied += len(batch)
    return copied


async def _check_counts(target: AsyncConnection, counts: dict[str, int]) -> None:
    for table in TABLES:
        found = (await target.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
        if found != counts[table.name]:
            raise CopyRefused(f"{table.name}: {counts[table.name]} rows read but {found} in the target; nothing "
                              "was copied")  # fmt: skip


def _one_line(exc: BaseException) -> str:
    inner: BaseException = exc
    while inner.__cause__ is not None:
        inner = inner.__cause__
    text = (str(inner).strip().splitlines() or [""])[0][:200]
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__
