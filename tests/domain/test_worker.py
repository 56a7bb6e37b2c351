"""The worker materialises what time does (DESIGN.md §4); reads never wait for it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, AuditEvent, Nomination, OutboxMessage
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.queries import NominationFilter, Queries
from accessdesk.domain.transitions import deliver_outbox, lapse_nominations, materialise_grants, sweep
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import GrantState, NominationState


async def transitions_of(world, grant_id):
    rows = await world.unit.session.exec(
        select(AuditEvent).where(AuditEvent.subject_id == str(grant_id), AuditEvent.action == "grant.state_changed")
        .order_by(col(AuditEvent.seq))
    )  # fmt: skip
    return [(e.before["state"], e.after["state"]) for e in rows.all()]


async def test_scheduled_then_active_then_expired_each_recorded_once(world, clock):
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1), days=2)
    assert await materialise_grants(world.unit) == 0  # nothing due yet

    clock.set(grant.starts_at)
    assert await materialise_grants(world.unit) == 1
    assert await materialise_grants(world.unit) == 0  # a second sweep finds nothing to do
    clock.set(grant.ends_at + timedelta(minutes=5))
    assert await materialise_grants(world.unit) == 1
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.EXPIRED
    assert await transitions_of(world, grant.id) == [("scheduled", "active"), ("active", "expired")]


async def test_reads_are_right_before_the_worker_has_run(world, clock):
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1))
    clock.set(grant.starts_at + timedelta(minutes=1))
    stored = await world.get(AccessGrant, grant.id)
    assert stored.state == GrantState.SCHEDULED  # not materialised yet...
    page = await Queries(world.unit).grants(world.gov_admin, state=GrantState.ACTIVE)
    assert [g.id for g in page.items] == [grant.id]  # ...but reads derive the state from the facts
    assert (await Queries(world.unit).grants(world.gov_admin, state=GrantState.SCHEDULED)).items == []


async def test_an_attestation_lapse_is_materialised_as_suspended(world, clock):
    await world.government_ready(valid_days=3)
    grant = await world.government_grant(start=timedelta(hours=1))
    clock.set(grant.starts_at)
    await materialise_grants(world.unit)
    clock.advance(timedelta(days=3))
    await materialise_grants(world.unit)
    assert await transitions_of(world, grant.id) == [("scheduled", "active"), ("active", "suspended")]


async def test_undecided_nominations_lapse_at_their_start(world, clock):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, start=timedelta(days=1))
    listed = await Queries(world.unit).nominations(world.gov_admin, NominationFilter(state=NominationState.PENDING))
    assert [n.id for n in listed.items] == [nomination.id]
    clock.advance(timedelta(days=1))
    assert await lapse_nominations(world.unit) == 1
    assert await lapse_nominations(world.unit) == 0
    assert (await world.get(Nomination, nomination.id)).state == NominationState.LAPSED


class FlakyNotifier:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []

    async def deliver(self, unit: Unit, message: OutboxMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("upstream down")
        self.sent.append(message.dedupe_key)


async def test_messages_of_one_instant_are_delivered_in_the_order_they_were_written(world, clock):
    # One transaction's messages share its instant (and a frozen clock's, every transaction's): a thread's notes
    # must still arrive in the order of the decisions they report, not in the order of random ids.
    keys = [f"order-{n}" for n in range(40)]
    for key in keys:
        world.unit.notify(topic="test", recipient="nobody", payload={}, dedupe_key=key)
    await world.unit.commit()
    # Rows rewritten (as a failed try rewrites them) move on PostgreSQL's disk: scan order is not write order.
    for message in (await world.unit.session.exec(select(OutboxMessage))).all():
        message.last_error = "tried before"
        world.unit.session.add(message)
    await world.unit.commit()
    notifier = FlakyNotifier(failures=0)
    assert await deliver_outbox(world.unit, notifier) == (40, 0)
    assert notifier.sent == keys


@pytest.mark.injects_fault  # a notifier that fails on purpose: its failures are logged with their traceback
async def test_the_outbox_delivers_once_and_retries_with_backoff(world, clock):
    partner, _ = await world.partner()
    await world.nominate(partner)
    notifier = FlakyNotifier(failures=1)
    assert await deliver_outbox(world.unit, notifier) == (0, 1)
    assert await deliver_outbox(world.unit, notifier) == (0, 0)  # backing off
    clock.advance(timedelta(minutes=1))
    assert await deliver_outbox(world.unit, notifier) == (1, 0)
    assert await deliver_outbox(world.unit, notifier) == (0, 0)
    assert len(notifier.sent) == 1


@pytest.mark.injects_fault  # a notifier that fails on purpose: its failures are logged with their traceback
async def test_a_message_that_keeps_failing_goes_to_the_dead_letters(world, clock):
    partner, _ = await world.partner()
    await world.nominate(partner)
    notifier = FlakyNotifier(failures=100)
    for _ in range(8):
        await deliver_outbox(world.unit, notifier, max_attempts=8)
        clock.advance(timedelta(hours=2))
    dead = (await world.unit.session.exec(select(OutboxMessage).where(col(OutboxMessage.dead_at).is_not(None)))).all()
    assert len(dead) == 1 and dead[0].attempts == 8 and "upstream down" in dead[0].last_error


async def test_a_late_worker_records_the_state_as_it_is_now(world, clock):
    """A worker that was down catches up in one step; the audit shows what it found, not invented history."""
    await world.government_ready(valid_days=3)
    grant = await world.government_grant(start=timedelta(hours=1))
    clock.advance(timedelta(days=4))
    await materialise_grants(world.unit)
    assert await transitions_of(world, grant.id) == [("scheduled", "suspended")]


async def test_a_full_sweep_reports_what_it_did(world, clock):
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    report = await sweep(world.unit, NullNotifier())
    assert report.grant_transitions == 1 and report.messages_delivered >= 1
