"""Whatever door a decision came through (console, API, Slack), the cards follow it: edited in place, a note in
each card's thread, the nominator told in a direct message; withdrawals and lapses too. Each post exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from accessdesk.db.tables import OutboxMessage, SlackDelivery, SlackLink
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.transitions import deliver_outbox, lapse_nominations
from accessdesk.domain.vocabulary import Designation, Verdict
from tests.support.api import bearer_headers, mint_token
from tests.support.fake_slack import FakeSlack, Reply
from tests.support.slack import CHANNEL, nominated, notifier_on, serving_bot, slack_user

POST, UPDATE = "chat.postMessage", "chat.update"
SECOND = "C0SECOND"


async def carded(world, fake_slack: FakeSlack, channels: list[str] | None = None):
    """A nomination whose cards are posted; the calls that took are forgotten."""
    nomination = await nominated(world, channels=channels)
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    fake_slack.calls.clear()
    return nomination


def blocks_of(call) -> str:
    return str(call.body["blocks"])


async def test_console_decisions_edit_the_card_note_it_in_the_thread_and_tell_the_nominator(world, fake_slack):
    nomination = await carded(world, fake_slack)
    # The nominator linked their Slack account by hand: no e-mail lookup is needed to find them.
    world.unit.session.add(SlackLink(slack_user_id="U0NORA", user_id=world.dev_nominator.user_id, linked_at=world.now))
    await world.unit.commit()
    coselection = CoSelection(world.unit)
    await coselection.decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    await coselection.decide(actor=world.gov_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)

    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (3, 0)
    updates = fake_slack.calls_to(UPDATE)
    assert [u.body["channel"] for u in updates] == [CHANNEL, CHANNEL]
    assert "Approved" in blocks_of(updates[-1]) and "nomination-approve" not in blocks_of(updates[-1])
    notes = [c.body for c in fake_slack.calls_to(POST) if c.body.get("thread_ts")]
    assert [n["text"] for n in notes] == ["Dev1 approved (developer side)", "Gov1 approved (government side)"]
    [dm] = [c.body for c in fake_slack.calls_to(POST) if not c.body.get("thread_ts")]
    assert dm["channel"] == "U0NORA" and "Approved" in dm["text"] and "CODE-ATLAS" not in dm["text"]
    assert fake_slack.calls_to("users.lookupByEmail") == []

    # Delivered means delivered: another sweep posts nothing.
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (0, 0)
    assert len(fake_slack.calls_to(POST)) == 3


async def test_a_withdrawal_closes_the_card_and_says_who_withdrew(world, fake_slack):
    nomination = await carded(world, fake_slack)
    await CoSelection(world.unit).withdraw(actor=world.dev_nominator, nomination_id=nomination.id,
                                           reason="wrong window")  # fmt: skip
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    [update] = fake_slack.calls_to(UPDATE)
    assert "Withdrawn" in blocks_of(update) and "nomination-approve" not in blocks_of(update)
    [note] = fake_slack.calls_to(POST)
    assert note.body["text"] == "Withdrawn by Nora: wrong window" and note.body["thread_ts"]


async def test_a_lapse_closes_the_card_and_tells_the_nominator(world, fake_slack, clock):
    nomination = await carded(world, fake_slack)
    fake_slack.script("users.lookupByEmail", slack_user("U0NORA", "nora@acme.test"))
    clock.advance(timedelta(days=2))  # past the proposed start, undecided
    assert await lapse_nominations(world.unit) == 1
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (2, 0)
    assert "Lapsed" in blocks_of(fake_slack.calls_to(UPDATE)[0])
    texts = {c.body["channel"]: c.body["text"] for c in fake_slack.calls_to(POST)}
    assert texts[CHANNEL].startswith("Lapsed") and "Lapsed" in texts["U0NORA"]
    assert str(nomination.id) in texts["U0NORA"]


@pytest.mark.injects_fault
async def test_a_half_failed_follow_up_posts_only_what_is_missing_when_retried(world, fake_slack, clock):
    nomination = await carded(world, fake_slack, channels=[CHANNEL, SECOND])
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                         verdict=Verdict.APPROVE)  # fmt: skip
    # The note in the first card's thread goes out; the second fails with a 500.
    fake_slack.script(POST, Reply(body={"ok": True, "ts": "9.1"}), Reply(status=500, body={"ok": False}))
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (0, 1)
    clock.advance(timedelta(minutes=5))
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    notes = [(c.body["channel"], c.status) for c in fake_slack.calls_to(POST)]
    assert notes == [(CHANNEL, 200), (SECOND, 500), (SECOND, 200)]
    [message] = (await world.unit.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "nomination.decision"))).all()  # fmt: skip
    posted = (await world.unit.session.exec(select(SlackDelivery).where(SlackDelivery.message_id == message.id))).all()
    assert sorted(p.channel for p in posted) == [CHANNEL, SECOND]


async def test_nobody_is_written_to_at_an_address_they_never_confirmed(world, fake_slack):
    nomination = await carded(world, fake_slack)
    fake_slack.script("users.lookupByEmail", slack_user("U0SOMEONE", "nora@acme.test", confirmed=False))
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                         verdict=Verdict.REJECT, reason="not this quarter")  # fmt: skip
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (2, 0)
    assert [c.body["channel"] for c in fake_slack.calls_to(POST)] == [CHANNEL]  # the thread note only
    assert "Rejected" in blocks_of(fake_slack.calls_to(UPDATE)[0])


async def test_a_decision_through_the_api_edits_the_cards_without_waiting_for_the_worker(
    world, engine, clock, fake_slack
):
    nomination = await carded(world, fake_slack)
    token = await mint_token(world, world.dev_approver)
    async with serving_bot(engine, world, fake_slack, clock) as client:
        response = await client.post(f"/api/v1/nominations/{nomination.id}/decisions", json={"verdict": "approve"},
                                     headers=bearer_headers(token))  # fmt: skip
        assert response.status_code == 201, response.text
        [update] = await fake_slack.wait_for(UPDATE)
        [note] = await fake_slack.wait_for(POST)
    assert "Developer 1/1" in update.body["text"]
    assert note.body["text"] == "Dev1 approved (developer side)"
    [message] = (await world.unit.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "nomination.decision"))).all()  # fmt: skip
    assert message.delivered_at is not None
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (0, 0)  # the worker finds nothing left


async def test_a_revocation_is_told_to_each_of_the_grantees_contacts_who_is_on_slack(world, fake_slack):
    partner, admin = await world.partner()
    grant = await world.approve_both(await world.nominate(partner))
    await deliver_outbox(world.unit, NullNotifier())
    fake_slack.script("users.lookupByEmail", slack_user("U0PADMIN", admin.label))
    await Grants(world.unit).revoke(actor=world.gov_admin, grant_id=grant.id, reason="incident 42")
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    [dm] = fake_slack.calls_to(POST)
    assert dm.body["channel"] == "U0PADMIN"
    assert "was revoked: incident 42" in dm.body["text"] and f"/console/grants/{grant.id}" in dm.body["text"]
    assert "CODE-ATLAS" not in dm.body["text"]


async def test_a_moved_release_that_blocks_grants_is_posted_in_the_models_channels(world, fake_slack):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": [CHANNEL]})  # fmt: skip
    await world.government_ready()
    await world.government_grant(start=timedelta(days=1))
    await deliver_outbox(world.unit, NullNotifier())
    await FrontierModels(world.unit).move_release(actor=world.dev_admin, model_id=world.model.id,
                                                  planned_release_at=world.model.planned_release_at + timedelta(days=20))  # fmt: skip
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    [post] = fake_slack.calls_to(POST)
    assert post.body["channel"] == CHANNEL
    assert "The planned release of Atlas moved" in post.body["text"] and "1 grant no longer fit" in post.body["text"]


async def test_a_designation_that_blocks_grants_is_posted_in_the_models_channels(world, fake_slack):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": [CHANNEL]})  # fmt: skip
    await world.government_ready()
    await world.government_grant(start=timedelta(days=1))
    partner, _ = await world.partner()
    await world.approve_both(await world.nominate(partner, start=timedelta(days=2)))
    await deliver_outbox(world.unit, NullNotifier())
    await FrontierModels(world.unit).designate(actor=world.gov_admin, model_id=world.model.id,
                                               designation=Designation.IN_CONSULTATION)  # fmt: skip
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    [post] = fake_slack.calls_to(POST)
    assert post.body["channel"] == CHANNEL
    assert "The government designated Atlas in consultation; 1 grant is blocked" in post.body["text"]
    assert "CODE-ATLAS" not in post.body["text"]
