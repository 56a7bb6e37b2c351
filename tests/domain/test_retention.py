"""Retention (domain.retention): each kind of finished row goes at its age, not a second before; what is live or
recorded stays; the audit chain still verifies."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from accessdesk.db.tables import (
    AccessGrant,
    Decision,
    Nomination,
    OutboxMessage,
    SlackDelivery,
    SlackLinkRequest,
    WebSession,
)
from accessdesk.domain import audit
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.retention import RetentionPolicy, RetentionReport, prune
from accessdesk.domain.sessions import SessionPolicy, WebSessions, session_id
from accessdesk.domain.slack_links import SlackLinks
from accessdesk.domain.transitions import SweepReport, deliver_outbox, sweep
from accessdesk.domain.unit import Unit

SECOND = timedelta(seconds=1)
POLICY = RetentionPolicy(sessions=timedelta(days=3), outbox=timedelta(days=5), slack_deliveries=timedelta(days=2),
                         link_requests=timedelta(days=1))  # fmt: skip


class PostingNotifier:
    """Records a Slack post for each message it delivers, as the bot does, and fails the messages it is told to."""

    def __init__(self, failing: set[uuid.UUID] | None = None) -> None:
        self.failing = failing or set()

    async def deliver(self, unit: Unit, message: OutboxMessage) -> None:
        unit.session.add(SlackDelivery(message_id=message.id, channel="C0RETAIN", ts=uuid.uuid4().hex[:16],
                                       posted_at=unit.now()))  # fmt: skip
        if message.id in self.failing:
            raise RuntimeError("Slack said no")


def _message(unit: Unit, name: str) -> uuid.UUID:
    return unit.notify(topic="test.retention", recipient="slack:C0RETAIN", payload={"name": name},
                       dedupe_key=f"test.retention:{name}:{uuid.uuid4()}")  # fmt: skip


async def _ids(world, table, key) -> set:
    return set((await world.unit.session.exec(select(key))).all())


async def _pruned(world) -> SweepReport:
    """One worker sweep with the test's ages, committed."""
    report = await sweep(world.unit, NullNotifier(), POLICY)
    await world.commit()
    return report


def _counts(report: SweepReport) -> tuple[int, int, int, int]:
    return (report.sessions_pruned, report.outbox_pruned, report.slack_deliveries_pruned,
            report.link_requests_pruned)  # fmt: skip


@pytest.mark.injects_fault  # a delivery that fails, to make a dead letter
async def test_each_kind_goes_at_its_age_and_not_a_second_before(world, clock):
    t0 = world.now
    await deliver_outbox(world.unit, NullNotifier())  # what building the world wrote, delivered now as well
    earlier = len((await world.unit.session.exec(select(OutboxMessage.id))).all())
    sessions = WebSessions(world.unit, SessionPolicy())
    signed_out = await sessions.start(user_id=world.dev_admin.user_id, method="test", ip="203.0.113.7")
    await sessions.end(signed_out, actor=world.dev_admin)
    timed_out = await sessions.start(user_id=world.gov_admin.user_id, method="test", ip="203.0.113.8")
    _message(world.unit, "delivered")
    dead = _message(world.unit, "dead")
    await world.unit.commit()
    assert await deliver_outbox(world.unit, PostingNotifier({dead}), max_attempts=1) == (1, 1)
    links = SlackLinks(world.unit)
    used = await links.request(slack_user_id="U0USED", team_id="T1", slack_name="used")
    await links.confirm(actor=world.gov_member, token=used)
    await links.request(slack_user_id="U0NEVER", team_id="T1", slack_name="never used")  # expires in 15 minutes
    audited = await world.audit_count()

    async def at(instant: datetime) -> tuple[int, int, int, int]:
        clock.set(instant)
        return _counts(await _pruned(world))

    assert await at(t0 + timedelta(days=1) - SECOND) == (0, 0, 0, 0)
    assert await at(t0 + timedelta(days=1)) == (0, 0, 0, 1)  # the link used at t0
    assert await at(t0 + timedelta(days=1, minutes=15) - SECOND) == (0, 0, 0, 0)
    assert await at(t0 + timedelta(days=1, minutes=15)) == (0, 0, 0, 1)  # the one that expired unused
    assert await at(t0 + timedelta(days=2) - SECOND) == (0, 0, 0, 0)
    # The delivered message's post; the dead letter's stays with it, for a retry
    assert await at(t0 + timedelta(days=2)) == (0, 0, 1, 0)
    assert await _ids(world, SlackDelivery, SlackDelivery.message_id) == {dead}
    assert await at(t0 + timedelta(days=3) - SECOND) == (0, 0, 0, 0)
    assert await at(t0 + timedelta(days=3)) == (1, 0, 0, 0)  # signed out at t0
    assert await _ids(world, WebSession, WebSession.id) == {session_id(timed_out)}
    assert await at(t0 + timedelta(days=3, hours=12) - SECOND) == (0, 0, 0, 0)
    assert await at(t0 + timedelta(days=3, hours=12)) == (1, 0, 0, 0)  # its 12 hours were over at t0 + 12 h
    assert await at(t0 + timedelta(days=5) - SECOND) == (0, 0, 0, 0)
    # Both messages (the world's too), and the dead letter's post with it
    assert await at(t0 + timedelta(days=5)) == (0, earlier + 2, 1, 0)
    assert await world.count(OutboxMessage) == await world.count(SlackDelivery) == 0
    assert await world.count(WebSession) == await world.count(SlackLinkRequest) == 0
    assert await at(t0 + timedelta(days=400)) == (0, 0, 0, 0)
    assert await world.audit_count() == audited  # pruning is not a state change, and never touches the trail
    assert (await audit.verify(world.unit.session)).ok


@pytest.mark.injects_fault  # a delivery that fails, to leave a message being retried
async def test_what_is_live_or_recorded_stays(world, clock):
    """Far beyond every age: a session still signed in, a message not yet delivered (nor dead), a link that still
    works, and the record (grants, nominations, decisions, the audit trail) are all left alone."""
    await world.government_ready()
    grant = await world.government_grant()
    clock.advance(timedelta(days=365))
    sessions = WebSessions(world.unit, SessionPolicy())
    live = await sessions.start(user_id=world.dev_admin.user_id, method="test")
    pending = _message(world.unit, "pending")
    await world.unit.commit()
    retrying = _message(world.unit, "retrying")
    await world.unit.commit()
    assert await deliver_outbox(world.unit, PostingNotifier({retrying}), only=[retrying]) == (0, 1)
    await SlackLinks(world.unit).request(slack_user_id="U0LIVE", team_id=None, slack_name=None)
    before = (await world.count(AccessGrant), await world.count(Nomination), await world.count(Decision),
              await world.audit_count())  # fmt: skip
    clock.advance(SECOND)

    report = await prune(world.unit, RetentionPolicy(sessions=SECOND, outbox=SECOND, slack_deliveries=SECOND,
                                                     link_requests=SECOND))  # fmt: skip
    assert report == RetentionReport()  # nothing here was ever delivered, given up on, ended or used
    assert await _ids(world, WebSession, WebSession.id) == {session_id(live)}
    assert {pending, retrying} <= await _ids(world, OutboxMessage, OutboxMessage.id)
    assert await _ids(world, SlackDelivery, SlackDelivery.message_id) == {retrying}  # its retry needs it
    assert await world.count(SlackLinkRequest) == 1
    assert (await world.count(AccessGrant), await world.count(Nomination), await world.count(Decision),
            await world.audit_count()) == before  # fmt: skip
    assert (await world.get(AccessGrant, grant.id)) is not None
    assert (await audit.verify(world.unit.session)).ok


async def test_zero_keeps_a_kind_for_good(world, clock):
    sessions = WebSessions(world.unit, SessionPolicy())
    await sessions.end(await sessions.start(user_id=world.dev_admin.user_id, method="test"), actor=world.dev_admin)
    clock.advance(timedelta(days=10000))
    kept = RetentionPolicy(sessions=None, outbox=None, slack_deliveries=None, link_requests=None)
    assert await prune(world.unit, kept) == RetentionReport()
    assert await world.count(WebSession) == 1


async def test_a_backlog_goes_a_batch_at_a_time_and_a_bounded_number_per_sweep(world, clock):
    sessions = WebSessions(world.unit, SessionPolicy())
    for _ in range(7):
        await sessions.end(
            await sessions.start(user_id=world.gov_member.user_id, method="test"), actor=world.gov_member
        )
    clock.advance(timedelta(days=91))
    small = RetentionPolicy(batch=2, batches_per_sweep=2)
    assert [(await prune(world.unit, small)).sessions for _ in range(3)] == [4, 3, 0]
    assert await world.count(WebSession) == 0


@pytest.mark.postgres_only
async def test_two_workers_pruning_at_once_delete_each_row_once(world, clock, sessionmaker):
    """Each claims its batch with SKIP LOCKED: together they delete every row, and no more."""
    sessions = WebSessions(world.unit, SessionPolicy())
    for _ in range(30):
        await sessions.end(
            await sessions.start(user_id=world.gov_member.user_id, method="test"), actor=world.gov_member
        )
    await world.commit()
    clock.advance(timedelta(days=91))

    async def worker() -> int:
        async with sessionmaker() as session:
            return (await prune(Unit(session, clock), RetentionPolicy(batch=3))).sessions

    assert sum(await asyncio.gather(worker(), worker(), worker())) == 30
    assert await world.count(WebSession) == 0


def test_the_ages_come_from_the_environment_with_the_documented_defaults():
    from accessdesk.settings import Settings, SettingsError
    from accessdesk.worker import retention_policy_for

    assert retention_policy_for(Settings.from_env({})) == RetentionPolicy()
    chosen = retention_policy_for(Settings.from_env({
        "ACCESSDESK_RETAIN_SESSIONS_DAYS": "400", "ACCESSDESK_RETAIN_OUTBOX_DAYS": "0",
        "ACCESSDESK_RETAIN_SLACK_DELIVERIES_DAYS": "1", "ACCESSDESK_RETAIN_LINK_REQUESTS_DAYS": "2",
    }))  # fmt: skip
    assert chosen == RetentionPolicy(sessions=timedelta(days=400), outbox=None, slack_deliveries=timedelta(days=1),
                                     link_requests=timedelta(days=2))  # fmt: skip
    for raw, says in (("-1", "ACCESSDESK_RETAIN_OUTBOX_DAYS must be a number of days from 0 (keep for good) to 36500"),
                      ("a week", "ACCESSDESK_RETAIN_OUTBOX_DAYS: not a whole number of days: 'a week'")):  # fmt: skip
        with pytest.raises(SettingsError) as refused:
            Settings.from_env({"ACCESSDESK_RETAIN_OUTBOX_DAYS": raw})
        assert str(refused.value) == says
