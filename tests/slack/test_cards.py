"""A new nomination becomes an approval card in the model's approval channels, posted once."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from accessdesk.db.tables import OutboxMessage, SlackCard
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.domain.vocabulary import Verdict
from accessdesk.slackbot.blocks import approval_card, console_link_only, reject_reason_modal
from accessdesk.slackbot.cards import card_of
from accessdesk.slackbot.ids import ActionId, CallbackId
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
    assert "Government 0/1" in text and "2026-12-02 12:00 → 2027-01-01 12:00" in text and "invoke" in text
    [buttons] = [b for b in full["blocks"] if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in buttons["elements"]] == [
        (ActionId.APPROVE.value, str(nomination.id)), (ActionId.REJECT.value, str(nomination.id))]  # fmt: skip

    elsewhere = card.for_channel("C0GENERAL", console_url=CONSOLE)
    assert elsewhere == console_link_only(nomination.id, console_url=CONSOLE)
    leaked = json.dumps(elsewhere, ensure_ascii=False)
    for secret in ("CODE-ATLAS", "Atlas", card.names[nomination.organisation_id], "nora"):
        assert secret not in leaked
    assert f"{CONSOLE}/console/nominations/{nomination.id}" in leaked


def test_the_reject_modal_asks_for_a_required_reason():
    nomination_id = uuid.uuid4()
    modal = reject_reason_modal(nomination_id, channel=CHANNEL)
    assert modal["callback_id"] == CallbackId.REJECT_REASON.value
    assert json.loads(modal["private_metadata"]) == {"nomination_id": str(nomination_id), "channel": CHANNEL}
    [field] = modal["blocks"]
    assert field["type"] == "input" and field.get("optional", False) is False
    assert field["element"]["multiline"] is True


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
