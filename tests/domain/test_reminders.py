"""Reminders: each sent exactly once, to the people it concerns, at 7 and 1 days before access ends, 30 and 7 days
before an NDA or attestation expires, and 48 h into a pending nomination."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, NdaAcceptance, OutboxMessage, Reminder
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import Forbidden
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.reminders import Reminders
from accessdesk.domain.transitions import deliver_outbox, sweep
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Area, OrgKind, Role, Verdict
from tests.world import OPERATOR

CHANNEL = "C0ATLAS"


async def reminders_of(world, kind: str | None = None) -> list[Reminder]:
    stmt = select(Reminder).order_by(col(Reminder.created_at), col(Reminder.kind))
    if kind is not None:
        stmt = stmt.where(Reminder.kind == kind)
    return list((await world.unit.session.exec(stmt)).all())


async def messages_of(world, reminder: Reminder) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(col(OutboxMessage.dedupe_key).in_(reminder.messages))
    return list((await world.unit.session.exec(stmt)).all())


@pytest.fixture
async def granted(world):
    """A partner's 30-day grant of a model with an approval channel, starting in a day; its admin; the world's
    own messages delivered."""
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": [CHANNEL]})  # fmt: skip
    partner, admin = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=1), days=30))
    await deliver_outbox(world.unit, NullNotifier())
    return grant, admin


async def test_access_ending_is_reminded_at_7_days_and_at_1_day_each_exactly_once(world, clock, granted):
    grant, admin = granted
    reminders = Reminders(world.unit)
    clock.set(grant.ends_at - timedelta(days=7, seconds=1))
    assert (await reminders.sweep()).sent == 0  # not yet

    clock.set(grant.ends_at - timedelta(days=7))
    report = await reminders.sweep()
    assert (report.sent, report.by_kind) == (1, {"grant.ends.7d": 1})
    [week] = await reminders_of(world)
    assert (week.subject_id, week.deadline, week.due_at) == (grant.id, grant.ends_at, grant.ends_at - timedelta(days=7))
    sent = await messages_of(world, week)
    assert sorted(m.recipient for m in sent) == sorted([f"user:{admin.user_id}", f"slack:{CHANNEL}"])
    assert {m.topic for m in sent} == {"reminder.grant_ending"}
    assert sent[0].payload["model"] == "Atlas" and sent[0].payload["kind"] == "grant.ends.7d"
    assert (await reminders.sweep()).sent == 0  # once

    clock.advance(timedelta(days=3))
    assert (await reminders.sweep()).sent == 0  # between the two
    clock.set(grant.ends_at - timedelta(hours=23))  # the worker was late: still within the last day
    assert (await reminders.sweep()).by_kind == {"grant.ends.1d": 1}
    assert (await reminders.sweep()).sent == 0
    clock.set(grant.ends_at)
    assert (await reminders.sweep()).sent == 0  # ended: nothing more
    assert [r.kind for r in await reminders_of(world)] == ["grant.ends.7d", "grant.ends.1d"]


async def test_a_window_shorter_than_a_week_gets_only_the_last_day_reminder(world, clock):
    partner, _ = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=1), days=5))
    reminders = Reminders(world.unit)
    for day in range(0, 7):
        clock.set(grant.starts_at + timedelta(days=day))
        await reminders.sweep()
    assert [r.kind for r in await reminders_of(world)] == ["grant.ends.1d"]


async def test_a_revoked_grant_is_not_reminded_and_an_extended_one_is_reminded_of_its_new_end(world, clock, granted):
    grant, _ = granted
    other, _ = await world.partner()
    revoked = await world.approve_both(await world.nominate(other, start=timedelta(days=1), days=30))
    await Grants(world.unit).revoke(actor=world.gov_admin, grant_id=revoked.id, reason="no longer needed")
    clock.set(grant.ends_at - timedelta(days=7))
    assert (await Reminders(world.unit).sweep()).sent == 1  # the live grant only

    stored = await world.get(AccessGrant, grant.id)
    stored.ends_at = grant.ends_at + timedelta(days=10)  # as an approved extension leaves it
    world.unit.session.add(stored)
    await world.unit.commit()
    clock.set(stored.ends_at - timedelta(days=7))
    assert (await Reminders(world.unit).sweep()).by_kind == {"grant.ends.7d": 1}
    assert len(await reminders_of(world, "grant.ends.7d")) == 2


async def test_an_nda_expiring_is_reminded_at_30_and_7_days_unless_signed_again(world, clock):
    partner, admin = await world.partner(attested=False)
    [acceptance] = (await world.unit.session.exec(
        select(NdaAcceptance).where(NdaAcceptance.organisation_id == partner.id))).all()  # fmt: skip
    reminders = Reminders(world.unit)
    clock.set(acceptance.expires_at - timedelta(days=30))
    assert (await reminders.sweep()).by_kind == {"nda.expires.30d": 1}
    [month] = await reminders_of(world, "nda.expires.30d")
    [message] = await messages_of(world, month)
    assert message.recipient == f"user:{admin.user_id}" and message.payload["title"] == "Acme NDA"

    # Signed again before the last week: the old acceptance is superseded, and is reminded of no more.
    await Compliance(world.unit).accept_nda(actor=admin, template_id=world.nda.id, sha256=world.nda.sha256)
    clock.set(acceptance.expires_at - timedelta(days=7))
    assert (await reminders.sweep()).sent == 0


async def test_attestations_expiring_are_reminded_per_area_to_the_organisations_admins(world, clock):
    partner, admin = await world.partner(valid_days=100)
    clock.advance(timedelta(days=70))
    report = await Reminders(world.unit).sweep()
    assert report.by_kind == {"attestation.expires.30d": len(Area)}
    for reminder in await reminders_of(world):
        [message] = await messages_of(world, reminder)
        assert message.recipient == f"user:{admin.user_id}" and message.topic == "reminder.attestation_expiring"
    clock.advance(timedelta(days=23))
    assert (await Reminders(world.unit).sweep()).by_kind == {"attestation.expires.7d": len(Area)}


async def test_a_nomination_pending_48_hours_reminds_only_the_approvers_who_could_still_decide(world, clock):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, start=timedelta(days=5), by=world.dev_approver2)
    await CoSelection(world.unit).decide(actor=world.gov_approver, nomination_id=nomination.id,
                                         verdict=Verdict.APPROVE)  # the government side is done  # fmt: skip
    reminders = Reminders(world.unit)
    clock.advance(timedelta(hours=47, minutes=59))
    assert (await reminders.sweep()).sent == 0
    clock.advance(timedelta(minutes=1))
    assert (await reminders.sweep()).by_kind == {"nomination.pending.48h": 1}
    [reminder] = await reminders_of(world)
    recipients = {m.recipient for m in await messages_of(world, reminder)}
    # Developer admins and approvers, but not the nominator (Dev2), and nobody from the government side.
    assert recipients == {f"user:{world.dev_admin.user_id}", f"user:{world.dev_approver.user_id}"}
    clock.advance(timedelta(days=1))  # (72 h: the escalation's turn, tests/domain/test_expiry_and_escalation.py)
    assert "nomination.pending.48h" not in (await reminders.sweep()).by_kind


async def test_the_worker_sweep_sends_reminders_and_delivers_them(world, clock, granted):
    grant, _ = granted
    clock.set(grant.ends_at - timedelta(days=7))
    report = await sweep(world.unit, NullNotifier())
    assert report.reminders_sent == 1 and report.messages_delivered == 2


@pytest.mark.postgres_only
async def test_two_workers_sweeping_at_once_send_each_reminder_once(world, clock, sessionmaker, granted):
    grant, _ = granted
    others = [await world.partner() for _ in range(3)]
    for partner, _ in others:
        await world.approve_both(await world.nominate(partner, start=timedelta(days=1), days=30))
    clock.set(grant.ends_at - timedelta(days=7))

    async def worker() -> int:
        async with sessionmaker() as session:
            return (await Reminders(Unit(session, clock)).sweep(batch=2)).sent

    for _ in range(5):
        counts = await asyncio.gather(worker(), worker())
    assert sum(counts) == 0  # the last round found nothing left
    reminders = await reminders_of(world, "grant.ends.7d")
    assert len(reminders) == 4 and len({r.subject_id for r in reminders}) == 4
    keys = [k for r in reminders for k in r.messages]
    messages = (await world.unit.session.exec(
        select(OutboxMessage).where(col(OutboxMessage.dedupe_key).in_(keys)))).all()  # fmt: skip
    assert len(messages) == len(keys) == 8  # each grant: its partner's admin and the model's channel

    clock.set(grant.ends_at - timedelta(days=1))
    counts = await asyncio.gather(worker(), worker())
    assert sum(counts) == 4 and sum(await asyncio.gather(worker(), worker())) == 0
    assert len(await reminders_of(world, "grant.ends.1d")) == 4
    assert len(await reminders_of(world, "grant.ends.7d")) == 4


@pytest.mark.postgres_only
async def test_two_workers_racing_for_the_same_reminders_split_them_without_overlap(world, clock, sessionmaker):
    partners = [await world.partner() for _ in range(6)]
    grants = [await world.approve_both(await world.nominate(p, start=timedelta(days=1), days=30)) for p, _ in partners]
    clock.set(grants[0].ends_at - timedelta(days=7))

    async def worker() -> int:
        async with sessionmaker() as session:
            return (await Reminders(Unit(session, clock)).sweep()).sent

    first, second = await asyncio.gather(worker(), worker())
    assert first + second == 6
    assert len(await reminders_of(world)) == 6


async def test_a_developer_sees_the_reminders_of_its_own_ndas_only(world, clock):
    partner, _ = await world.partner(attested=False)
    [acceptance] = (await world.unit.session.exec(
        select(NdaAcceptance).where(NdaAcceptance.organisation_id == partner.id))).all()  # fmt: skip
    clock.set(acceptance.expires_at - timedelta(days=30))
    assert (await Reminders(world.unit).sweep()).sent == 1
    other = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Other AI",
                                                   slug="other", domains=["other.test"])  # fmt: skip
    stranger = await world.person(other, "olga", [Role.ADMIN])
    assert (await Reminders(world.unit).listing(stranger)).items == []
    assert len((await Reminders(world.unit).listing(world.dev_admin)).items) == 1
    assert len((await Reminders(world.unit).listing(world.gov_admin)).items) == 1
    with pytest.raises(Forbidden):
        await Reminders(world.unit).listing(world.dev_approver)  # not an audit reader
