"""What the domain's callers share: a refused call changes nothing (the fixture ``refused``). A plugin
(``pytest_plugins`` in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

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
