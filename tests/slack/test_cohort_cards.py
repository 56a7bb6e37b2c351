"""A cohort in Slack: one card per approval channel (none per member), posted once, edited once per change; "Approve
all" asks first and decides every member the clicker may, refusals reported member by member; the App Home, the
pending list and the reminders count a cohort as one item."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from accessdesk.db.tables import Decision, OutboxMessage, SlackCard, SlackCohortCard, SlackLink
from accessdesk.domain.cohorts import CohortNominated, Cohorts
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import Forbidden
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.reminders import Reminders
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.domain.vocabulary import Verdict
from accessdesk.slackbot import blocks, notices
from accessdesk.slackbot.cohort_blocks import approve_all_confirm, named
from accessdesk.slackbot.cohort_cards import COHORT_CARD_EVENT, cohort_card_of
from accessdesk.slackbot.cohort_decisions import waiting_cohorts
from accessdesk.slackbot.commands import Queue
from accessdesk.slackbot.ids import ActionId
from tests.support.fake_slack import Call, FakeSlack, Reply
from tests.support.slack import (
    CARD_TS,
    CHANNEL,
    CONSOLE,
    EVENTS,
    click,
    home_opened,
    notifier_on,
    send,
    serving_bot,
    slack_user,
)
from tests.support.slack_signing import Signed, interaction

SECOND = "C0SECOND"
POST, UPDATE, EPHEMERAL = "chat.postMessage", "chat.update", "chat.postEphemeral"


async def cohort_in_slack(world, count: int = 3, *, channels: list[str] | None = None,
                          start: timedelta = timedelta(days=2)) -> CohortNominated:  # fmt: skip
    """A cohort of ``count`` ready partners (Member-0, Member-1, …) nominated by Nora for the world's model, whose
    approval channels are ``channels``; what was queued before it is delivered already."""
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": channels or [CHANNEL]})  # fmt: skip
    organisations = [(await world.partner(name=f"member-{i}"))[0] for i in range(count)]
    await deliver_outbox(world.unit, NullNotifier())
    starts_at = world.now + start
    return await Cohorts(world.unit).nominate_cohort(
        actor=world.dev_nominator, model_id=world.model.id, name="Wave one", organisation_ids=[o.id for o in organisations],
        starts_at=starts_at, ends_at=starts_at + timedelta(days=30), actions=["invoke"],
        justification="Pre-release evaluation.")  # fmt: skip


def members_of(cohort: CohortNominated) -> list[uuid.UUID]:
    """The members' nomination ids, in the order their organisations were named."""
    return [m.nomination.id for m in cohort.nominated if m.nomination is not None]


async def rows(world, table: type, **where: Any) -> list[Any]:
    stmt: Any = select(table)
    for name, value in where.items():
        stmt = stmt.where(getattr(table, name) == value)
    found = list((await world.unit.session.exec(stmt)).all())
    await world.commit()  # a read holds SQLite's write lock until it ends
    return found


def body_blocks(call: Call) -> list[dict[str, Any]]:
    found = call.body["blocks"]
    return json.loads(found) if isinstance(found, str) else found


def buttons(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in content if b["type"] == "actions" for e in b["elements"]]


async def test_a_cohort_is_one_card_per_approval_channel_and_its_members_have_none(world, fake_slack: FakeSlack):
    cohort = await cohort_in_slack(world, 3, channels=[CHANNEL, SECOND])
    notifier = notifier_on(fake_slack)
    assert await deliver_outbox(world.unit, notifier) == (1, 0)  # cohort.created: its members announce nothing alone

    posts = fake_slack.calls_to(POST)
    assert [c.body["channel"] for c in posts] == [CHANNEL, SECOND]
    assert {json.dumps(c.body["metadata"]) for c in posts} == {json.dumps(
        {"event_type": COHORT_CARD_EVENT, "event_payload": {"cohort_id": str(cohort.cohort.id)}})}  # fmt: skip
    assert await rows(world, SlackCard) == []
    cards = await rows(world, SlackCohortCard, cohort_id=cohort.cohort.id)
    assert sorted(c.channel for c in cards) == [CHANNEL, SECOND] and all(c.ts for c in cards)

    expected = (await cohort_card_of(world.unit, cohort.cohort.id)).for_channel(CHANNEL, console_url=CONSOLE)
    assert (posts[0].body["text"], body_blocks(posts[0])) == (expected["text"], expected["blocks"])
    text = json.dumps(expected, ensure_ascii=False)
    assert "Cohort: Wave one for Atlas (CODE-ATLAS)" in text and "3 partners" in text and "3 pending" in text
    assert "Developer 0 approved, 3 awaiting · Government 0 approved, 3 awaiting" in text
    assert "*Not yet decided* (3)\\nMember-0, Member-1, Member-2" in text
    approve_all, review = buttons(expected["blocks"])
    assert (approve_all["action_id"], approve_all["value"]) == (ActionId.COHORT_APPROVE_ALL.value,
                                                                str(cohort.cohort.id))  # fmt: skip
    assert (review["action_id"], review["url"]) == (ActionId.COHORT_REVIEW.value,
                                                    f"{CONSOLE}/console/cohorts/{cohort.cohort.id}")  # fmt: skip

    # Delivered again (a retry of any of its messages): the cards exist, nothing is posted.
    for message in await rows(world, OutboxMessage):
        if message.topic in ("nomination.created", "cohort.created"):
            await notifier.deliver(world.unit, message)
    await world.commit()
    assert len(fake_slack.calls_to(POST)) == 2


async def test_a_channel_off_the_models_list_sees_only_a_link(world):
    cohort = await cohort_in_slack(world, 2)
    elsewhere = (await cohort_card_of(world.unit, cohort.cohort.id)).for_channel("C0GENERAL", console_url=CONSOLE)
    leaked = json.dumps(elsewhere)
    for secret in ("CODE-ATLAS", "Atlas", "Member-0", "Wave one", "nora"):
        assert secret not in leaked
    assert f"{CONSOLE}/console/cohorts/{cohort.cohort.id}" in leaked


@pytest.mark.injects_fault
async def test_a_card_post_that_got_no_answer_is_found_not_posted_twice(world, fake_slack: FakeSlack, clock):
    cohort = await cohort_in_slack(world, 3)
    fake_slack.script(POST, Reply(delay=1.5))  # Slack posts the card, then answers after the client gave up
    notifier = notifier_on(fake_slack, clock=clock, timeout=1)
    delivered, failed = await deliver_outbox(world.unit, notifier)
    assert (delivered, failed) == (0, 1)  # the post timed out
    await fake_slack.wait_for(POST)
    [row] = await rows(world, SlackCohortCard)
    assert row.ts is None

    clock.advance(timedelta(minutes=2))
    assert await deliver_outbox(world.unit, notifier) == (1, 0)  # the retry finds the card in the channel
    assert len(fake_slack.calls_to(POST)) == 1 and len(fake_slack.messages(CHANNEL)) == 1
    [row] = await rows(world, SlackCohortCard)
    assert row.ts == fake_slack.messages(CHANNEL)[0]["ts"]
    assert cohort.cohort.id == row.cohort_id


async def posted_cohort(world, fake_slack: FakeSlack, count: int) -> CohortNominated:
    cohort = await cohort_in_slack(world, count)
    fake_slack.script(POST, Reply(body={"ok": True, "channel": CHANNEL, "ts": CARD_TS}))
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)  # cohort.created
    fake_slack.calls.clear()
    return cohort


async def test_the_card_follows_a_single_member_decision(world, fake_slack: FakeSlack):
    cohort = await posted_cohort(world, fake_slack, 3)
    first = members_of(cohort)[0]
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=first, verdict=Verdict.APPROVE)
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    [update] = fake_slack.calls_to(UPDATE)
    assert (update.body["channel"], update.body["ts"]) == (CHANNEL, CARD_TS)
    shown = json.dumps(body_blocks(update), ensure_ascii=False)
    assert "Developer 1 approved, 2 awaiting · Government 0 approved, 3 awaiting" in shown
    assert "*Not yet decided* (3)" in shown  # still pending: the government has not approved
    assert fake_slack.calls_to(POST) == []  # no note per member decision


async def test_a_cohort_decision_edits_the_card_once_not_once_per_member(world, fake_slack: FakeSlack):
    cohort = await posted_cohort(world, fake_slack, 5)
    await Cohorts(world.unit).decide_cohort(actor=world.dev_approver, cohort_id=cohort.cohort.id)
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)  # cohort.decided, not one per member
    [update] = fake_slack.calls_to(UPDATE)
    assert "Developer 5 approved, 0 awaiting" in json.dumps(body_blocks(update))
    [note] = fake_slack.calls_to(POST)
    assert (note.body["thread_ts"], note.body["text"]) == (
        CARD_TS, "Dev1 decided the cohort: 5 approved (0 of them now granted), 0 rejected, 0 refused")  # fmt: skip

    # The card's "Approve all" now says that a government approval completes all five.
    [approve_all, _] = buttons(body_blocks(update))
    assert approve_all["confirm"]["text"]["text"] == (
        "This approves, for your side, each of the 5 pending members of “Wave one” that you may decide on, each as "
        "its own decision. A developer approval completes 0 of them, a government one 5: those get access. Members "
        "you nominated or decided are skipped.")  # fmt: skip


async def test_the_nominator_gets_one_direct_message_for_a_cohort_decision(world, fake_slack: FakeSlack):
    cohort = await posted_cohort(world, fake_slack, 5)
    world.unit.session.add(SlackLink(slack_user_id="U0NORA", user_id=world.dev_nominator.person_id, linked_at=world.now))
    await world.unit.commit()
    await Cohorts(world.unit).decide_cohort(actor=world.dev_approver, cohort_id=cohort.cohort.id)
    await deliver_outbox(world.unit, notifier_on(fake_slack))
    fake_slack.calls.clear()
    first = members_of(cohort)[0]
    await Cohorts(world.unit).decide_cohort(actor=world.gov_approver, cohort_id=cohort.cohort.id,
                                            reject={first: "Export controls."})  # fmt: skip
    await deliver_outbox(world.unit, notifier_on(fake_slack))
    told = [c.body["text"] for c in fake_slack.calls_to(POST) if c.body["channel"] == "U0NORA"]
    assert told == [f"Your cohort Wave one for Atlas: Gov1's decision made 4 granted (both sides have approved) and 1 "
                    f"rejected (<{CONSOLE}/console/cohorts/{cohort.cohort.id}|details in accessdesk>)"]  # fmt: skip


def test_approve_all_asks_first_within_slacks_limits():
    confirm = approve_all_confirm("W" * 200, 1234, {})
    assert confirm["title"]["text"] == "Approve all pending members?"
    assert len(confirm["text"]["text"]) <= 300 and confirm["text"]["text"].endswith("are skipped.")
    assert (confirm["confirm"]["text"], confirm["deny"]["text"], confirm["style"]) == (
        "Yes, approve all", "Cancel", "primary")  # fmt: skip


def test_undecided_members_are_named_as_far_as_room_allows_then_counted():
    names = [f"Partner <{i:03}>" for i in range(200)]
    text = named(names)
    assert len(text) <= 1500 and text.startswith("Partner &lt;000&gt;, Partner &lt;001&gt;")
    shown = text.count("Partner")
    assert text.endswith(f" and {200 - shown} more") and shown > 50


@pytest.fixture
async def bot(engine, world, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


async def test_approve_all_from_slack_decides_every_member_it_may_and_reports_each_refusal(
    world, fake_slack: FakeSlack, bot
):
    cohort = await posted_cohort(world, fake_slack, 4)
    decided_by_me, rejected, granted, waiting = members_of(cohort)
    coselection = CoSelection(world.unit)
    await coselection.decide(actor=world.dev_approver, nomination_id=decided_by_me, verdict=Verdict.APPROVE)
    await coselection.decide(actor=world.gov_approver, nomination_id=rejected, verdict=Verdict.REJECT,
                             reason="Not this round.")  # fmt: skip
    await coselection.decide(actor=world.gov_approver, nomination_id=granted, verdict=Verdict.APPROVE)
    await deliver_outbox(world.unit, NullNotifier())

    fake_slack.script("users.info", slack_user("U0DEV1", "dev1@acme.test"))
    await send(bot, click(ActionId.COHORT_APPROVE_ALL, cohort.cohort.id, user="U0DEV1", ts=CARD_TS))
    [result] = await fake_slack.wait_for(EPHEMERAL)
    assert (result.body["channel"], result.body["user"]) == (CHANNEL, "U0DEV1")
    assert result.body["text"].split("\n") == [
        "*Approve all — Wave one*: approved 2, granted 1 (both sides have now approved it), refused 2.",
        "• you have already decided on this nomination (1): Member-0",
        "• this nomination is rejected; it no longer takes decisions (1): Member-1",
    ]
    mine = await rows(world, Decision, approver_id=world.dev_approver.user_id)
    assert sorted(str(d.nomination_id) for d in mine) == sorted(str(n) for n in (decided_by_me, granted, waiting))

    # The card follows: edited in place, the cohort decision noted once in its thread.
    updates = await fake_slack.wait_for(UPDATE)
    assert updates[-1].body["ts"] == CARD_TS
    assert "*Not yet decided* (2)" in json.dumps(body_blocks(updates[-1]))  # the government's approval to come
    notes = [c for c in await fake_slack.wait_for(POST) if c.body.get("thread_ts") == CARD_TS]
    assert [n.body["text"] for n in notes] == [
        "Dev1 decided the cohort: 2 approved (1 of them now granted), 0 rejected, 2 refused"]  # fmt: skip


@pytest.mark.parametrize(("who", "email", "why"), [
    ("U0NORA", "nora@acme.test", "only approvers and admins decide on nominations"),
    ("U0GUS", "gus@aiso.test", "only approvers and admins decide on nominations"),
], ids=["the nominator", "a government member"])  # fmt: skip
async def test_a_click_by_someone_who_may_not_decide_changes_nothing_and_is_explained_to_them_alone(
    world, fake_slack: FakeSlack, bot, who, email, why
):
    cohort = await posted_cohort(world, fake_slack, 3)
    messages = len(await rows(world, OutboxMessage))
    fake_slack.script("users.info", slack_user(who, email))
    await send(bot, click(ActionId.COHORT_APPROVE_ALL, cohort.cohort.id, user=who, ts=CARD_TS))
    [refusal] = await fake_slack.wait_for(EPHEMERAL)
    assert (refusal.body["channel"], refusal.body["user"], refusal.body["text"]) == (
        CHANNEL, who, f"Nothing was changed: {why}")  # fmt: skip
    assert await rows(world, Decision) == []
    assert len(await rows(world, OutboxMessage)) == messages
    assert sorted({c.method for c in fake_slack.calls}) == [EPHEMERAL, "users.info"]


async def test_review_in_console_is_only_acknowledged(world, fake_slack: FakeSlack, bot):
    cohort = await posted_cohort(world, fake_slack, 1)
    await send(bot, click(ActionId.COHORT_REVIEW, cohort.cohort.id, user="U0DEV1", ts=CARD_TS))
    assert await rows(world, Decision) == []
    assert [c.method for c in fake_slack.calls] == []


def home_click(cohort_id: uuid.UUID, *, user: str) -> Signed:
    return interaction({
        "type": "block_actions", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
        "api_app_id": "A0ACCESSDESK", "trigger_id": "1337.46.trigger", "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home", "team_id": "T0FAKE", "blocks": [], "state": {"values": {}}},
        "actions": [{"type": "button", "action_id": ActionId.COHORT_APPROVE_ALL.value, "block_id": f"cohort:{cohort_id}",
                     "value": str(cohort_id), "action_ts": "1.2"}],
    })  # fmt: skip


def view_texts(call: Call) -> list[str]:
    view = call.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    return [b["text"]["text"] for b in view["blocks"] if "text" in b]


async def test_the_app_home_shows_a_cohort_as_one_item_with_approve_all(world, fake_slack: FakeSlack, bot):
    cohort = await cohort_in_slack(world, 3)
    single_partner, _ = await world.partner(name="solo")
    single = await world.nominate(single_partner)
    await deliver_outbox(world.unit, NullNotifier())

    fake_slack.script("users.info", slack_user("U0DEV1", "dev1@acme.test"))
    request = home_opened("U0DEV1")
    response = await bot.post(EVENTS, content=request.body, headers=request.headers)
    assert response.status_code == 200
    [published] = await fake_slack.wait_for("views.publish")
    shown = view_texts(published)
    assert shown[:3] == [
        "1 nomination and 1 cohort waiting for your decision",
        f"<{CONSOLE}/console/cohorts/{cohort.cohort.id}|Cohort Wave one> (Atlas): 3 awaiting your decision",
        shown[2],
    ]
    assert f"/console/nominations/{single.id}|" in shown[2]
    assert not any(f"/console/nominations/{member}" in text for text in shown for member in members_of(cohort))
    view = published.body["view"]
    approve_all = [e for b in (json.loads(view) if isinstance(view, str) else view)["blocks"] if b["type"] == "actions"
                   for e in b["elements"] if e["action_id"] == ActionId.COHORT_APPROVE_ALL.value]  # fmt: skip
    assert [a["confirm"]["title"]["text"] for a in approve_all] == ["Approve 3 members?"]
    assert "for the developer side, the 3 members of “Wave one” waiting" in approve_all[0]["confirm"]["text"]["text"]

    # Approve all on the Home: decided, and the Home drawn again saying what it did, the cohort gone from it.
    await send(bot, home_click(cohort.cohort.id, user="U0DEV1"))
    [_, again] = await fake_slack.wait_for("views.publish", 2)
    told = view_texts(again)
    assert told[0] == "*Approve all — Wave one*: approved 3, granted 0 (both sides have now approved them), refused 0."
    assert told[1] == "1 nomination waiting for your decision"
    assert len(await rows(world, Decision, approver_id=world.dev_approver.user_id)) == 3


async def test_the_pending_list_shows_a_cohort_as_one_line(world):
    cohort = await cohort_in_slack(world, 3)
    waiting, more = await waiting_cohorts(world.unit, world.gov_approver, limit=10)
    assert more is False and [(w.cohort.id, w.waiting) for w in waiting] == [(cohort.cohort.id, 3)]
    message = blocks.pending_message(Queue([], {}, {}, False, cohorts=waiting), channel=CHANNEL, console_url=CONSOLE)
    assert message["text"] == "1 cohort waiting for your decision"
    assert message["blocks"][1]["text"]["text"] == (
        f"• <{CONSOLE}/console/cohorts/{cohort.cohort.id}|Cohort Wave one> (Atlas): 3 awaiting your decision")
    elsewhere = blocks.pending_message(Queue([], {}, {}, False, cohorts=waiting), channel="C0GENERAL",
                                       console_url=CONSOLE)  # fmt: skip
    assert "Atlas" not in json.dumps(elsewhere) and "Wave one" not in json.dumps(elsewhere)
    with pytest.raises(Forbidden):  # no queue at all: the pending command says so
        await waiting_cohorts(world.unit, world.dev_nominator, limit=10)


async def test_a_cohort_waiting_48_hours_is_one_reminder_per_approver(world, clock):
    cohort = await cohort_in_slack(world, 3, start=timedelta(days=5))
    solo, _ = await world.partner(name="solo")
    await world.nominate(solo, start=timedelta(days=5))
    await Cohorts(world.unit).decide_cohort(actor=world.dev_approver2, cohort_id=cohort.cohort.id)
    await deliver_outbox(world.unit, NullNotifier())
    clock.advance(timedelta(hours=49))

    report = await Reminders(world.unit).sweep()
    assert report.by_kind == {"nomination.pending.48h": 1, "cohort.pending.48h": 1}
    stmt = select(OutboxMessage).where(OutboxMessage.topic == "reminder.cohort_pending")
    reminded = list((await world.unit.session.exec(stmt.order_by(col(OutboxMessage.recipient)))).all())
    # The developer side has its quorum from Dev2: only the government's approvers are reminded, once each.
    assert sorted(m.recipient for m in reminded) == sorted(
        f"user:{a.user_id}" for a in (world.gov_admin, world.gov_approver, world.gov_approver2))  # fmt: skip
    assert {m.payload["awaiting"] for m in reminded} == {3}
    text = notices.reminder_text(reminded[0].topic, reminded[0].payload, console_url=CONSOLE)
    assert text.startswith(":bell: Cohort Wave one for Atlas: 3 members have waited 48 hours for your decision")
    assert f"<{CONSOLE}/console/cohorts/{cohort.cohort.id}|review the cohort in accessdesk>" in text
    assert (await Reminders(world.unit).sweep()).sent == 0
