"""The audit trail (DESIGN.md §3 rule 7): every state change is chained; tampering is found and named; the
database refuses UPDATE and DELETE."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent
from accessdesk.domain import audit
from tests.support.audit import raw, tamper


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
