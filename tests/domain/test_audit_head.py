"""The audit chain is verified up to the head that ``audit_head`` records (DESIGN.md §3 rule 8), and the head moves
only by appending: a missing tail, an event beyond the head, or a head written by hand is named."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from accessdesk.domain import audit
from accessdesk.domain.actor import Actor
from tests.support.audit import raw, tamper_past_every_guard


async def newest(world) -> int:
    return (await audit.head_of(world.unit.session)).seq


async def test_an_intact_chain_is_verified_to_its_head(world):
    await world.government_ready()
    result = await audit.verify(world.unit.session)
    head = await newest(world)
    assert result.ok and result.checked == head == result.head_seq
    assert result.describe() == f"audit chain intact: {head} events verified, up to the head (#{head})"


async def test_the_deleted_newest_event_is_named_against_the_head(world):
    await world.government_ready()
    last = await newest(world)
    await tamper_past_every_guard(world.unit, f"DELETE FROM audit_events WHERE seq = {last}")
    result = await audit.verify(world.unit.session)
    assert not result.ok and result.broken_seq == last and result.broken_id is None and result.checked == last - 1
    assert result.describe() == f"audit chain BROKEN: event #{last} is missing: the head records #{last}"


async def test_the_deleted_newest_events_are_named_from_the_first_missing(world):
    await world.government_ready()
    last = await newest(world)
    await tamper_past_every_guard(world.unit, f"DELETE FROM audit_events WHERE seq > {last - 3}")
    result = await audit.verify(world.unit.session)
    assert not result.ok and result.broken_seq == last - 2
    assert f"events #{last - 2}–#{last} are missing: the head records #{last}" in result.describe()


async def test_events_beyond_a_rolled_back_head_are_named(world):
    await world.government_ready()
    last = await newest(world)
    await tamper_past_every_guard(world.unit, f"UPDATE audit_head SET seq = {last - 1}, hash = prev_hash, "
                             f"prev_hash = (SELECT prev_hash FROM audit_events WHERE seq = {last - 1})")  # fmt: skip
    result = await audit.verify(world.unit.session)
    assert not result.ok and result.broken_seq == last
    assert f"events up to #{last} lie beyond the head, which records #{last - 1}" in result.describe()


async def test_a_head_written_by_hand_is_named(world):
    await world.government_ready()
    last = await newest(world)
    await tamper_past_every_guard(world.unit, f"UPDATE audit_head SET hash = '{'f' * 64}'")
    result = await audit.verify(world.unit.session)
    assert result.problem is not None
    assert not result.ok and result.broken_seq == last and "audit_head was written by hand" in result.problem


@pytest.mark.parametrize("statement", [
    "UPDATE audit_head SET seq = seq - 1",
    "UPDATE audit_head SET seq = seq + 2, prev_hash = hash",
    "UPDATE audit_head SET seq = seq + 1",  # prev_hash left as it was: not an append
    "UPDATE audit_head SET hash = 'x'",
    "DELETE FROM audit_head",
])  # fmt: skip
async def test_the_head_moves_only_by_appending(world, statement):
    await world.government_ready()
    before = await audit.head_of(world.unit.session)
    with pytest.raises(DBAPIError, match="audit_head moves only by appending"):
        await raw(world.unit, statement)
    await world.rollback()
    assert await audit.head_of(world.unit.session) == before
    world.unit.record(actor=Actor.system("test"), action="test.appended")
    await world.unit.commit()
    assert await newest(world) == before.seq + 1 and (await audit.verify(world.unit.session)).ok


@pytest.mark.postgres_only
async def test_postgresql_refuses_to_truncate_or_refill_the_head(world):
    for statement in ("TRUNCATE audit_head", f"INSERT INTO audit_head VALUES (2, 0, '{audit.GENESIS}', '{audit.GENESIS}')"):
        with pytest.raises(DBAPIError, match="audit_head moves only by appending"):
            await raw(world.unit, statement)
        await world.rollback()
    assert (await audit.verify(world.unit.session)).ok
