"""Migrations are reviewed code: from an empty database to head, and then the models match the schema exactly."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import accessdesk.db.tables  # noqa: F401
from accessdesk.db.engine import make_engine
from accessdesk.db.migrate import upgrade


def differences(url: str) -> list[object]:
    async def compare() -> list[object]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}),
                                                  SQLModel.metadata)  # fmt: skip
                )
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def test_upgrade_from_empty_then_autogenerate_finds_nothing(tmp_path, request):
    """On both databases: a fresh one is migrated by the fixtures from empty; compare it with the models."""
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    upgrade(sqlite_url)
    assert differences(sqlite_url) == []
    upgrade(sqlite_url)  # idempotent: already at head


def test_postgresql_schema_matches_the_models(postgres_database):
    assert differences(postgres_database.url) == []
