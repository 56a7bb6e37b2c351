"""What the domain's callers share: a refused call changes nothing (the fixture ``refused``, a plugin through
``pytest_plugins`` in ``tests/conftest.py``); the statements a call sends (``counting``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.db.tables import AccessGrant, Decision, Nomination, OutboxMessage


async def _snapshot(world) -> tuple[int, ...]:
    return (await world.audit_count(), await world.count(Decision), await world.count(AccessGrant),
            await world.count(Nomination), await world.count(OutboxMessage))  # fmt: skip


@pytest.fixture
def refused(world):
    """``await refused(SomeError, service.call(...))``: the call raises SomeError and leaves no audit event,
    decision, grant, nomination or outbox message behind. Returns the error."""

    async def check(error, call):
        before = await _snapshot(world)
        with pytest.raises(error) as caught:
            await call
        await world.rollback()
        assert await _snapshot(world) == before
        return caught.value

    return check


@contextlib.contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while inside."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - SQLAlchemy's hook
        statements.append(statement)

    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", count)
