"""A new nomination becomes an approval card in the model's approval channels, posted once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from accessdesk.db.tables import Nomination, OutboxMessage, SlackCard
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.domain.vocabulary import NominationKind, Side, Verdict
from accessdesk.slackbot.blocks import approval_card, console_link_only, reject_reason_modal
from accessdesk.slackbot.cards import card_of
from accessdesk.slackbot.confirmations import Case, approve_confirm
from accessdesk.slackbot.ids import ActionId, CallbackId
from accessdesk.slackbot.times import local
from tests.support.fake_slack import FakeSlack, Reply
from tests.support.slack import CHANNEL, CONSOLE, nominated, notifier_on

POST = "chat.postMessage"


async def test_a_new_nomination_posts_one_card_per_approval_channel_once(world, fake_slack: FakeSlack):
    nomination = await nominated(world, channels=[CHANNEL, "C0SECOND"])
    fake_slack.script(POST, posted_as(CHANNEL, "100.000001"), posted_as("C0SECOND", "200.000002"))
    notifier = notifier_on(fake_slack)
    assert await deliver_outbox(world.unit, notifier) == (1, 0)
    posts = fake_slack.calls_to(POST)
    assert [c.body["channel"] for c in posts] == [CHANNEL, "C0SECOND"]
    expected = (await card_of(world.unit, nomination.id)).for_channel(CHANNEL, console_url=CONSOLE)
    assert (posts[0].body["text"], posts[0].body["blocks"]) == (expected["text"], expected["blocks"])
    assert "CODE-ATLAS" in json.dumps(posts[0].body)
    cards = (await world.unit.session.exec(select(SlackCard).where(SlackCard.nomination_id == nomination.id))).all()
    assert sorted((c.channel, c.ts) for c in cards) == [(CHANNEL, "100.000001"), ("C0SECOND", "200.000002")]

    # The outbox does not deliver twice; and a card already posted is never posted again.
    assert await deliver_outbox(world.unit, notifier) == (0, 0)
    await notifier.deliver(world.unit, await _created(world, nomination.id))
    assert len(fake_slack.calls_to(POST)) == 2


@pytest.mark.injects_fault
async def test_a_retry_after_a_failed_channel_posts_only_the_missing_card(world, fake_slack: FakeSlack, clock):
    nomination = await nominated(world, channels=[CHANNEL, "C0SECOND"])
    fake_slack.script(POST, Reply(), Reply(500))
    notifier = notifier_on(fake_slack, clock=clock)
    assert await deliver_outbox(world.unit, notifier) == (0, 1)
    clock.advance(timedelta(minutes=5))
    assert await deliver_outbox(world.unit, notifier) == (1, 0)
    assert [(c.body["channel"], c.status) for c in fake_slack.calls_to(POST)] == [
        (CHANNEL, 200), ("C0SECOND", 500), ("C0SECOND", 200)]  # fmt: skip
    # A 5xx does not prove nothing was posted: the channel was searched for the card before posting it again.
    assert [c.body["channel"] for c in fake_slack.calls_to("conversations.history")] == ["C0SECOND"]
    rows = (await world.unit.session.exec(select(SlackCard).where(SlackCard.nomination_id == nomination.id))).all()
    assert sorted(r.channel for r in rows) == sorted([CHANNEL, "C0SECOND"])


async def test_a_model_without_approval_channels_has_nothing_to_send(world, fake_slack: FakeSlack):
    await nominated(world, channels=[])
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    assert fake_slack.calls == []


async def test_the_card_shows_the_case_and_a_channel_off_the_list_sees_only_a_link(world):
    nomination = await nominated(world)
    card = await card_of(world.unit, nomination.id)
    full = card.for_channel(CHANNEL, console_url=CONSOLE)
    assert full == approval_card(card.nomination, model=card.model, names=card.names, people=card.people,
                                 decisions=card.decisions, console_url=CONSOLE)  # fmt: skip
    text = json.dumps(full, ensure_ascii=False)
    assert "Atlas (CODE-ATLAS)" in text and "Nora (nora@acme.test)" in text and "Developer 0/1" in text
    assert "Government 0/1" in text and "invoke" in text
    [window] = [f["text"] for f in full["blocks"][1]["fields"] if f["text"].startswith("*Window*")]
    assert window == f"*Window*\n{local(nomination.starts_at)} → {local(nomination.ends_at)}"
    assert window == ("*Window*\n<!date^1796212800^{date_short_pretty} {time}|2026-12-02 12:00 UTC> → "
                      "<!date^1798804800^{date_short_pretty} {time}|2027-01-01 12:00 UTC>")  # fmt: skip
    [buttons] = [b for b in full["blocks"] if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in buttons["elements"]] == [
        (ActionId.APPROVE.value, str(nomination.id)), (ActionId.REJECT.value, str(nomination.id))]  # fmt: skip

    elsewhere = card.for_channel("C0GENERAL", console_url=CONSOLE)
    assert elsewhere == console_link_only(nomination.id, console_url=CONSOLE)
    leaked = json.dumps(elsewhere, ensure_ascii=False)
    for secret in ("CODE-ATLAS", "Atlas", card.names[nomination.organisation_id], "nora"):
        assert secret not in leaked
    assert f"{CONSOLE}/console/nominations/{nomination.id}" in leaked


def test_the_reject_modal_names_what_it_rejects_and_asks_for_a_required_reason():
    nomination = pending(actions=["evaluate", "invoke"])
    modal = reject_reason_modal(Case(nomination, "Acme <Labs>", "Atlas"), channel=CHANNEL)
    assert modal["callback_id"] == CallbackId.REJECT_REASON.value
    assert json.loads(modal["private_metadata"]) == {"nomination_id": str(nomination.id), "channel": CHANNEL}
    case, effect, field = modal["blocks"]
    assert case["text"]["text"] == (f"*Acme &lt;Labs&gt;* for *Atlas*\n{local(nomination.starts_at)} → "
                                    f"{local(nomination.ends_at)} · evaluate, invoke")  # fmt: skip
    assert effect["text"] == {"type": "plain_text", "emoji": False, "text": (
        "This rejects the nomination: Acme <Labs> will not get this access to Atlas. Either side can turn it down, "
        "and a decision cannot be taken back.")}  # fmt: skip
    assert field["type"] == "input" and field.get("optional", False) is False
    assert field["element"]["multiline"] is True
    assert json.loads(reject_reason_modal(Case(nomination, "Acme", "Atlas"), channel=None)["private_metadata"]) == {
        "nomination_id": str(nomination.id), "home": True}  # fmt: skip


START = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)


def pending(**tally: Any) -> Nomination:
    """A pending nomination as the domain keeps it, with ``tally`` (approvals and quorums) set."""
    return Nomination(model_id=uuid.uuid4(), organisation_id=uuid.uuid4(), nominated_by=uuid.uuid4(),
                      starts_at=START, ends_at=START + timedelta(days=30), justification="Evaluation.",
                      **{"actions": ["invoke"], "developer_quorum": 1, "government_quorum": 1, **tally})  # fmt: skip


def confirm_of(nomination: Nomination, *, side: Side | None = None) -> dict[str, str]:
    """Approve's confirmation dialog on a card (``side`` None) or on a Home of one side, its texts only."""
    confirm = approve_confirm(Case(nomination, "Acme", "Atlas"), side=side)
    assert {len(confirm["title"]["text"]) <= 100, len(confirm["text"]["text"]) <= 300} == {True}
    return {key: confirm[key]["text"] for key in ("title", "text", "confirm")}


GRANTED = "Acme gets invoke access to Atlas from 2026-12-03 16:30 UTC to 2027-01-02 16:30 UTC."


@pytest.mark.parametrize(("tally", "side", "says"), [
    ({}, None, {"title": "Approve this nomination?", "confirm": "Yes, approve", "text": (
        "This is your side's approval 1 of 1 on the developer side or 1 of 1 on the government side. Acme gets "
        "access to Atlas only once both sides have approved.")}),
    ({"developer_approvals": 1}, None, {"title": "Approve and grant access?", "confirm": "Yes, approve and grant",
                                        "text": f"A government approval completes both sides' decisions: {GRANTED}"}),
    ({"government_approvals": 1, "developer_quorum": 2}, None, {"title": "Approve this nomination?",
        "confirm": "Yes, approve", "text": "This is your side's approval 1 of 2 on the developer side. Acme gets "
                                           "access to Atlas only once both sides have approved."}),
    ({"government_approvals": 1, "developer_quorum": 2, "developer_approvals": 1}, None, {
        "title": "Approve and grant access?", "confirm": "Yes, approve and grant",
        "text": f"A developer approval completes both sides' decisions: {GRANTED}"}),
    ({"developer_quorum": 2}, Side.DEVELOPER, {"title": "Approve this nomination?", "confirm": "Yes, approve",
        "text": "This is your side's approval 1 of 2 on the developer side; the other side has 0 of 1. Acme gets "
                "access to Atlas only once both sides have approved."}),
    ({"developer_approvals": 1}, Side.GOVERNMENT, {"title": "Approve and grant access?",
        "confirm": "Yes, approve and grant", "text": f"This approval completes both sides' decisions: {GRANTED}"}),
], ids=["card, nothing yet", "card, government completes", "card, developer 1 of 2", "card, developer completes",
        "home, developer 1 of 2", "home, government completes"])  # fmt: skip
def test_approve_asks_first_saying_from_the_tally_what_this_approval_does(tally, side, says):
    assert confirm_of(pending(**tally), side=side) == says


def test_an_approval_completing_an_extension_says_to_when_access_is_extended():
    extension = pending(developer_approvals=1, kind=NominationKind.EXTENSION.value)
    assert confirm_of(extension)["text"] == ("A government approval completes both sides' decisions: Acme's access "
                                             "to Atlas is extended to 2027-01-02 16:30 UTC.")  # fmt: skip


async def test_the_cards_confirmation_follows_the_tally_as_the_card_is_edited(world):
    nomination = await nominated(world)
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                         verdict=Verdict.APPROVE)  # fmt: skip
    card = (await card_of(world.unit, nomination.id)).for_channel(CHANNEL, console_url=CONSOLE)
    [buttons] = [b for b in card["blocks"] if b["type"] == "actions"]
    approve, reject = buttons["elements"]
    organisation = (await card_of(world.unit, nomination.id)).names[nomination.organisation_id]
    assert approve["confirm"]["text"]["text"] == (
        f"A government approval completes both sides' decisions: {organisation} gets invoke access to "
        "Atlas from 2026-12-02 12:00 UTC to 2027-01-01 12:00 UTC.")  # fmt: skip
    assert approve["confirm"]["style"] == "primary" and "confirm" not in reject  # Reject's modal says it


def posted_as(channel: str, ts: str) -> Reply:
    return Reply(body={"ok": True, "channel": channel, "ts": ts})


async def _created(world, nomination_id: uuid.UUID) -> OutboxMessage:
    stmt = select(OutboxMessage).where(OutboxMessage.topic == "nomination.created")
    rows = (await world.unit.session.exec(stmt)).all()
    return next(m for m in rows if m.payload["nomination_id"] == str(nomination_id))


@pytest.mark.injects_fault
async def test_a_card_post_slower_than_the_client_timeout_is_one_card_that_later_edits_reach(
    world, fake_slack: FakeSlack, clock
):
    nomination = await nominated(world)
    fake_slack.script(POST, Reply(delay=1.5))  # Slack posts the card, then answers after the client gave up
    notifier = notifier_on(fake_slack, clock=clock, timeout=1)
    assert await deliver_outbox(world.unit, notifier) == (0, 1)
    await fake_slack.wait_for(POST)  # recorded when the fake answers, after the client gave up
    [card] = fake_slack.messages(CHANNEL)
    [row] = (await world.unit.session.exec(select(SlackCard))).all()
    assert row.ts is None  # remembered as tried, outcome unknown

    # Retried while that post may still land: it waits, and posts nothing.
    clock.advance(timedelta(seconds=20))
    assert await deliver_outbox(world.unit, notifier) == (0, 1)
    assert len(fake_slack.calls_to(POST)) == 1 and fake_slack.calls_to("conversations.history") == []

    # Later: the card is found in the channel by its metadata, and not posted again.
    clock.advance(timedelta(minutes=2))
    assert await deliver_outbox(world.unit, notifier) == (1, 0)
    assert len(fake_slack.calls_to(POST)) == 1 and len(fake_slack.messages(CHANNEL)) == 1
    [row] = (await world.unit.session.exec(select(SlackCard).execution_options(populate_existing=True))).all()
    assert row.ts == card["ts"]
    assert card["metadata"] == {"event_type": "accessdesk_approval_card",
                                "event_payload": {"nomination_id": str(nomination.id)}}  # fmt: skip

    # A decision edits that card, and notes it in that card's thread.
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                         verdict=Verdict.APPROVE)  # fmt: skip
    delivered, _ = await deliver_outbox(world.unit, notifier)
    assert delivered >= 1
    [edit] = fake_slack.calls_to("chat.update")
    assert (edit.body["channel"], edit.body["ts"]) == (CHANNEL, card["ts"])
    notes = [m for m in fake_slack.messages(CHANNEL) if m["thread_ts"] == card["ts"]]
    assert len(notes) == 1 and len(fake_slack.calls_to(POST)) == 2
