"""Fixtures: each database test runs on SQLite and on PostgreSQL, with a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.clock import FrozenClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.domain.unit import Unit
from tests.databases import create_postgres, create_sqlite
from tests.world import World

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    database = create_sqlite(Path(tmp_path_factory.mktemp("sqlite")))
    yield database
    database.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[object]:
    database = create_postgres()
    yield database
    database.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` (row locks, TRUNCATE triggers) exist only in their PostgreSQL variant."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("postgres_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> object:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_database")
    return request.getfixturevalue("sqlite_database")


@pytest.fixture
def db_kind(database: object) -> str:
    return database.kind  # type: ignore[attr-defined]


@pytest.fixture
async def engine(database: object) -> AsyncIterator[AsyncEngine]:
    await database.reset()  # type: ignore[attr-defined]
    engine = make_engine(database.fresh_url())  # type: ignore[attr-defined]
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def sessionmaker(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    return make_sessionmaker(engine)


@pytest.fixture
async def unit(sessionmaker, clock: FrozenClock) -> AsyncIterator[Unit]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session:
        yield Unit(session, clock)


@pytest.fixture
async def world(unit: Unit, clock: FrozenClock) -> World:
    return await World.create(unit, clock)
