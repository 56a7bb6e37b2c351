"""Fixtures: each database test runs on SQLite and on PostgreSQL, with a frozen clock; and no test passes while the
server logged a traceback it did not expect (see ``no_tracebacks``).

The fixtures more than one folder uses live in plugins under ``tests/support`` (``pytest_plugins`` below, which
pytest reads only here); a folder's own conftest keeps only fixtures local to it. A test module imports helpers
from ``tests.support``, ``tests.world`` and ``tests.databases``, never from a conftest or another test module
(``tests/test_architecture.py`` checks it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.clock import FrozenClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.domain.unit import Unit
from tests.databases import Database, PostgresDatabase, SqliteDatabase, create_postgres, create_sqlite
from tests.world import T0, World

# Helpers under tests/support assert too: pytest rewrites their asserts as it does a test module's (the plugins
# below are rewritten anyway), so that a failing helper says what it found.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.api",
    "tests.support.browser",
    "tests.support.cli",
    "tests.support.domain",
    "tests.support.fake_slack",
    "tests.support.oauth",
    "tests.support.oidc",
    "tests.support.private_postgres",
]


class _Tracebacks(logging.Handler):
    """Every log record, from any thread, that carries a traceback: an unhandled error somewhere in the server."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.exc_text or record.stack_info:
            with self._lock_records:
                self.records.append(record)


@pytest.fixture(autouse=True)
def no_tracebacks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which anything in this process logged a traceback, unless the test injects that fault on
    purpose (``@pytest.mark.injects_fault``). A refusal is an answer, never an unhandled error: a 4xx that logged a
    traceback on the way is a bug a status-code assertion cannot see."""
    handler = _Tracebacks()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("injects_fault") is None:
        first = handler.records[0]
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        pytest.fail(
            f"{len(handler.records)} log record(s) with a traceback during this test (mark it injects_fault if the "
            f"fault is on purpose); the first:\n{formatter.format(first)}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteDatabase]:
    database = create_sqlite(Path(tmp_path_factory.mktemp("sqlite")))
    yield database
    database.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    database = create_postgres()
    yield database
    database.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` (row locks, TRUNCATE triggers) exist only in their PostgreSQL variant, and
    tests marked ``sqlite_only`` (the embedded file) only in their SQLite one."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        database = callspec.params.get("database") if callspec is not None else None
        other = {"sqlite": "postgres_only", "postgresql": "sqlite_only"}.get(database or "")
        (drop if other and item.get_closest_marker(other) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_database")
    return request.getfixturevalue("sqlite_database")


@pytest.fixture
def db_kind(database: Database) -> str:
    return database.kind


def _from_world_snapshot(request: pytest.FixtureRequest) -> bool:
    """Whether this test's database starts as a copy of the world snapshot: it asks for ``world`` and lives at the
    instant the snapshot was built at (a module that overrides ``clock`` with the real time builds its own)."""
    return "world" in request.fixturenames and request.getfixturevalue("clock").now() == T0


@pytest.fixture
async def engine(database: Database, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    world = _from_world_snapshot(request)
    await database.reset(world=world)
    engine = make_engine(database.fresh_url(world=world))
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def sessionmaker(engine: AsyncEngine):
    return make_sessionmaker(engine)


@pytest.fixture
async def unit(sessionmaker, clock: FrozenClock) -> AsyncIterator[Unit]:
    async with sessionmaker() as session:
        yield Unit(session, clock)


@pytest.fixture
async def world(unit: Unit, clock: FrozenClock, request: pytest.FixtureRequest) -> World:
    if _from_world_snapshot(request):
        return await World.load(unit, clock)
    return await World.create(unit, clock)
