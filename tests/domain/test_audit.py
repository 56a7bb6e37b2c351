"""The audit trail (DESIGN.md §3 rule 7): every state change is chained; tampering is found and named; the
database refuses UPDATE and DELETE."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent
from accessdesk.domain import audit
from accessdesk.domain.unit import Unit
from tests.support.audit import event, raw, tamper
from tests.world import OPERATOR


async def test_every_step_of_a_co_selection_is_chained(world):
    await world.government_ready()
    grant = await world.government_grant()
    events = (await world.unit.session.exec(select(AuditEvent).order_by(col(AuditEvent.seq)))).all()
    actions = [e.action for e in events]
    for expected in ("nomination.created", "decision.recorded", "nomination.approved", "grant.created"):
        assert expected in actions
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    created = next(e for e in events if e.action == "grant.created")
    assert created.subject_id == str(grant.id) and created.actor == "gov1@aiso.test"
    result = await audit.verify(world.unit.session)
    assert result.ok and result.checked == len(events)


async def test_an_edited_event_is_named_by_verify(world):
    await world.government_ready()
    victim = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.action == "attestation.made"))).first()
    await tamper(world.unit, "UPDATE audit_events SET reason = 'approved by nobody' WHERE seq = :seq", seq=victim.seq)
    world.unit.session.expunge_all()
    result = await audit.verify(world.unit.session)
    assert not result.ok and result.broken_seq == victim.seq and result.broken_id == victim.id
    assert result.problem is not None
    assert "altered" in result.problem
    assert f"#{victim.seq}" in result.describe()


async def test_a_deleted_event_is_named_by_verify(world):
    await world.government_ready()
    await tamper(world.unit, "DELETE FROM audit_events WHERE seq = 3")
    world.unit.session.expunge_all()
    result = await audit.verify(world.unit.session)
    assert result.problem is not None
    assert not result.ok and result.broken_seq == 4 and "missing" in result.problem


async def test_a_relinked_chain_is_still_caught(world):
    """Recomputing one event's hash after editing it breaks the link of the next one."""
    await world.government_ready()
    event = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.seq == 5))).one()
    event.reason = "forged"
    forged_hash = audit.chain_hash(event.prev_hash, event)
    await world.unit.session.rollback()
    await tamper(world.unit, "UPDATE audit_events SET reason = 'forged', hash = :h WHERE seq = 5", h=forged_hash)
    world.unit.session.expunge_all()
    result = await audit.verify(world.unit.session)
    assert result.problem is not None
    assert not result.ok and result.broken_seq == 6 and "prev_hash" in result.problem


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events"])
async def test_the_database_refuses_update_and_delete(world, statement):
    before = await world.audit_count()
    with pytest.raises(DBAPIError, match="append-only"):
        await raw(world.unit, statement)
    await world.rollback()
    assert await world.audit_count() == before
    assert (await audit.verify(world.unit.session)).ok


@pytest.mark.postgres_only
async def test_postgresql_refuses_truncate_too(world):
    with pytest.raises(DBAPIError, match="append-only"):
        await raw(world.unit, "TRUNCATE audit_events")
    await world.rollback()
    assert await world.audit_count() > 0


async def test_events_carry_the_request_id_and_the_clock(world, clock):
    from accessdesk.domain.coselection import CoSelection

    partner, _ = await world.partner()
    clock.advance(timedelta(minutes=7))
    actor = world.dev_nominator.with_request_id("req-123")
    start = world.now + timedelta(days=1)
    await CoSelection(world.unit).nominate(actor=actor, model_id=world.model.id, organisation_id=partner.id,
                                           starts_at=start, ends_at=start + timedelta(days=3), actions=["invoke"],
                                           justification="x")  # fmt: skip
    event = (await world.unit.session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()))).first()
    assert event.request_id == "req-123" and event.at == world.now and event.action == "nomination.created"


# Many events in one transaction (a cohort decision writes hundreds): appended together, chained as one by one.


def queue(unit, n: int, tag: str) -> list[audit.Entry]:
    """Record ``n`` events on ``unit``; the queued event objects, in order (each carries its seq and hashes once
    committed)."""
    for i in range(n):
        unit.record(actor=OPERATOR, action=f"test.{tag}", subject_type="nominations", subject_id=f"{tag}-{i}",
                    before={"i": i, "state": "pending"}, after={"i": i, "state": "approved", "note": "é ✓ \"q\""},
                    reason=f"batch {tag} — événement {i}" if i % 3 else None)  # fmt: skip
    return list(unit._events)


async def stored_after(unit, seq: int) -> list[AuditEvent]:
    unit.session.expunge_all()
    return list((await unit.session.exec(
        select(AuditEvent).where(AuditEvent.seq > seq).order_by(col(AuditEvent.seq)))).all())  # fmt: skip


async def test_many_events_in_one_commit_are_chained_in_order(world):
    start = await audit.head_of(world.unit.session)
    events = queue(world.unit, 300, "many")
    await world.unit.commit()
    rows = await stored_after(world.unit, start.seq)
    assert [r.seq for r in rows] == [e.seq for e in events] == list(range(start.seq + 1, start.seq + 301))
    assert [r.subject_id for r in rows] == [f"many-{i}" for i in range(300)]
    for queued, row in zip(events, rows, strict=True):
        assert (queued.id, queued.seq, queued.prev_hash, queued.hash) == (row.id, row.seq, row.prev_hash, row.hash)
        assert row.hash == audit.chain_hash(row.prev_hash, row)
    assert rows[0].prev_hash == start.hash
    assert await audit.head_of(world.unit.session) == audit.Link(rows[-1].seq, rows[-1].hash)
    result = await audit.verify(world.unit.session)
    assert result.ok and result.head_seq == start.seq + 300


async def test_a_batch_between_single_events_keeps_the_chain(world):
    start = await audit.head_of(world.unit.session)
    await event(world, "test.single_before")
    batch = queue(world.unit, 40, "between")
    await world.unit.commit()
    after = queue(world.unit, 1, "after")
    await world.unit.commit()
    await event(world, "test.single_last")
    rows = await stored_after(world.unit, start.seq)
    assert [r.seq for r in rows] == list(range(start.seq + 1, start.seq + 44))
    actions = ["test.single_before"] + ["test.between"] * 40 + ["test.after", "test.single_last"]
    assert [r.action for r in rows] == actions
    assert batch[0].prev_hash == rows[0].hash and after[0].prev_hash == batch[-1].hash
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert (await audit.verify(world.unit.session)).ok


async def test_a_rolled_back_batch_leaves_no_event_and_the_head_where_it_was(world):
    before = await audit.head_of(world.unit.session)
    count = await world.audit_count()
    events = queue(world.unit, 50, "undone")
    world.unit._events = []
    await audit.append(world.unit.session, events)  # what Unit.commit does, then the transaction fails
    assert [e.seq for e in events] == list(range(before.seq + 1, before.seq + 51))
    await world.rollback()
    assert await world.audit_count() == count
    assert await audit.head_of(world.unit.session) == before
    assert (await audit.verify(world.unit.session)).ok
    again = queue(world.unit, 5, "again")
    await world.unit.commit()
    assert again[0].seq == before.seq + 1 and again[0].prev_hash == before.hash
    assert (await audit.verify(world.unit.session)).ok


async def test_a_failing_commit_rolls_the_batch_back(world, monkeypatch):
    before = await audit.head_of(world.unit.session)
    count = await world.audit_count()
    queue(world.unit, 30, "failed")

    async def refuse() -> None:
        raise RuntimeError("the commit failed")

    monkeypatch.setattr(world.unit.session, "commit", refuse)
    with pytest.raises(RuntimeError, match="the commit failed"):
        await world.unit.commit()
    monkeypatch.undo()
    assert await world.audit_count() == count
    assert await audit.head_of(world.unit.session) == before
    assert (await audit.verify(world.unit.session)).ok


@pytest.mark.postgres_only
async def test_concurrent_batches_queue_on_the_head(world, sessionmaker, clock):
    """A second batch (and a single event) started while a first batch holds the head wait for it, then append
    after it: each batch's events stay together, in order, and the chain holds."""
    start = await audit.head_of(world.unit.session)
    async with sessionmaker() as first_session, sessionmaker() as second_session, sessionmaker() as third_session:
        first, second, third = (Unit(s, clock) for s in (first_session, second_session, third_session))
        first_events, second_events = queue(first, 120, "first"), queue(second, 150, "second")
        third_events = queue(third, 1, "third")
        first._events = []
        await audit.append(first_session, first_events)  # holds the head, not committed yet
        waiting = [asyncio.create_task(second.commit()), asyncio.create_task(third.commit())]
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in waiting)  # queued on the head
        await first_session.commit()
        await asyncio.gather(*waiting)
    rows = await stored_after(world.unit, start.seq)
    assert [r.seq for r in rows] == list(range(start.seq + 1, start.seq + 272))
    assert [r.action for r in rows[:120]] == ["test.first"] * 120
    blocks = [[r.subject_id for r in rows if r.action == f"test.{tag}"] for tag in ("second", "third")]
    assert blocks == [[f"second-{i}" for i in range(150)], ["third-0"]]
    stored = {r.id: r for r in rows}
    for e in first_events + second_events + third_events:
        assert (e.seq, e.prev_hash, e.hash) == (stored[e.id].seq, stored[e.id].prev_hash, stored[e.id].hash)
    second_seqs = [e.seq for e in second_events]
    assert second_seqs == list(range(second_seqs[0], second_seqs[0] + 150))  # not interleaved with the third
    result = await audit.verify(world.unit.session)
    assert result.ok and result.head_seq == start.seq + 271


@pytest.mark.postgres_only
async def test_batches_racing_each_other_never_fork_the_chain(world, sessionmaker, clock):
    start = await audit.head_of(world.unit.session)

    async def batch(tag: str, n: int) -> list[audit.Entry]:
        async with sessionmaker() as session:
            unit = Unit(session, clock)
            events = queue(unit, n, tag)
            await unit.commit()
            return events

    results = await asyncio.gather(*(batch(f"race{i}", 60 + i) for i in range(4)), batch("one", 1))
    total = sum(len(r) for r in results)
    rows = await stored_after(world.unit, start.seq)
    assert [r.seq for r in rows] == list(range(start.seq + 1, start.seq + total + 1))
    for events in results:
        seqs = [e.seq for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(events)))
    result = await audit.verify(world.unit.session)
    assert result.ok and result.head_seq == start.seq + total
