"""Deciding on a card: Approve and Reject (with a reason) as the linked accessdesk user, refusals explained."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from accessdesk.db.tables import AccessGrant, Nomination, Organisation
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations
from accessdesk.slackbot.blocks import not_linked_text, reject_reason_modal
from accessdesk.slackbot.confirmations import Case
from accessdesk.slackbot.ids import ActionId
from tests.support.fake_slack import FakeSlack, Reply
from tests.support.slack import (
    CARD_TS,
    CHANNEL,
    CONSOLE,
    card_posted,
    click,
    decisions_on,
    known,
    nominated,
    reason_submitted,
    remembered,
    send,
    serving_bot,
    slack_user,
)
from tests.world import OPERATOR

POST, UPDATE, EPHEMERAL = "chat.postMessage", "chat.update", "chat.postEphemeral"


@pytest.fixture
async def nomination(world, fake_slack: FakeSlack) -> Nomination:
    """A pending nomination by an approver (Dev2), whose card is posted in the approval channel."""
    return await card_posted(world, fake_slack, await nominated(world, by=world.dev_approver2))


@pytest.fixture
async def bot(engine, world, nomination, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


async def test_an_approval_is_recorded_and_the_card_edited_in_place_with_a_note_in_its_thread(
    world, bot, nomination, fake_slack: FakeSlack
):
    fake_slack.script("users.info", slack_user("U0DEV1", "Dev1@Acme.test"))
    await send(bot, click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    [update] = await fake_slack.wait_for(UPDATE)
    [note] = await fake_slack.wait_for(POST)
    assert fake_slack.calls_to("users.info")[0].body["user"] == "U0DEV1"
    [decision] = await decisions_on(world, nomination.id)
    assert (decision.approver_id, decision.verdict) == (world.dev_approver.user_id, "approve")
    assert (update.body["channel"], update.body["ts"]) == (CHANNEL, CARD_TS)
    assert "Developer 1/1 · Government 0/1" in update.body["text"]
    assert "✓ Dev1 (dev1@acme.test) approved (developer side)" in str(update.body["blocks"])
    assert (note.body["channel"], note.body["thread_ts"], note.body["text"]) == (
        CHANNEL, CARD_TS, "Dev1 approved (developer side)")  # fmt: skip
    assert fake_slack.calls_to(EPHEMERAL) == [] and fake_slack.calls_to("users.lookupByEmail") == []


async def test_the_second_side_approving_creates_the_grant_and_the_nominator_hears_of_it(
    world, bot, nomination, fake_slack: FakeSlack
):
    fake_slack.script("users.info", slack_user("U0DEV1", "dev1@acme.test"), slack_user("U0GOV1", "gov1@aiso.test"))
    fake_slack.script("users.lookupByEmail", slack_user("U0DEV2", "dev2@acme.test"))
    await send(bot, click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    await fake_slack.wait_for(UPDATE)
    await send(bot, click(ActionId.APPROVE, nomination.id, user="U0GOV1"))
    updates = await fake_slack.wait_for(UPDATE, 2)
    posts = await fake_slack.wait_for(POST, 3)
    [dm] = [c for c in posts if c.body["channel"] == "U0DEV2"]
    stmt = select(AccessGrant).where(AccessGrant.nomination_id == nomination.id)
    grants = (await world.unit.session.exec(stmt)).all()
    await world.commit()  # a read holds SQLite's write lock: the bot's listeners may still be at work
    assert len(grants) == 1
    assert "Approved" in str(updates[1].body["blocks"]) and "actions" not in str(updates[1].body["blocks"])
    assert fake_slack.calls_to("users.lookupByEmail")[0].body["email"] == "dev2@acme.test"
    assert dm.body["channel"] == "U0DEV2" and "Approved" in dm.body["text"]
    assert sorted(str(c.body.get("thread_ts")) for c in fake_slack.calls_to(POST)) == [CARD_TS, CARD_TS, "None"]


@pytest.mark.parametrize(("who", "email", "why"), [
    ("U0DEV2", "dev2@acme.test", "you nominated this; someone else must decide on it"),
    ("U0NORA", "nora@acme.test", "only approvers and admins decide on nominations"),
], ids=["own nomination", "not an approver"])  # fmt: skip
async def test_a_click_the_rules_refuse_is_explained_to_the_clicker_and_changes_nothing(
    world, bot, nomination, fake_slack: FakeSlack, who, email, why
):
    fake_slack.script("users.info", slack_user(who, email))
    await send(bot, click(ActionId.APPROVE, nomination.id, user=who))
    [refusal] = await fake_slack.wait_for(EPHEMERAL)
    assert (refusal.body["channel"], refusal.body["user"], refusal.body["text"]) == (
        CHANNEL, who, f"Nothing was changed: {why}")  # fmt: skip
    assert await decisions_on(world, nomination.id) == []
    assert fake_slack.calls_to(UPDATE) == [] and fake_slack.calls_to(POST) == []


@pytest.mark.parametrize("answer", [
    slack_user("U0DEV1", "dev1@acme.test", confirmed=False),
    slack_user("U0DEV1", "stranger@elsewhere.test"),
    Reply(body={"ok": False, "error": "user_not_found"}),
], ids=["unconfirmed e-mail", "unknown e-mail", "unknown to Slack"])  # fmt: skip
async def test_someone_not_linked_is_told_how_to_get_linked_and_nothing_is_decided(
    world, bot, nomination, fake_slack: FakeSlack, answer
):
    fake_slack.script("users.info", answer)
    await send(bot, click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    [refusal] = await fake_slack.wait_for(EPHEMERAL)
    assert refusal.body["text"] == not_linked_text(console_url=CONSOLE)
    assert "`/accessdesk link`" in refusal.body["text"] and "signing in to" in refusal.body["text"]
    assert await decisions_on(world, nomination.id) == []
    assert fake_slack.calls_to(UPDATE) == []


async def test_a_disabled_user_is_refused_at_once(world, bot, nomination, fake_slack: FakeSlack):
    await Organisations(world.unit).update_user(actor=OPERATOR, user_id=world.dev_approver.user_id, disabled=True)
    fake_slack.script("users.info", slack_user("U0DEV1", "dev1@acme.test"))
    await send(bot, click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    [refusal] = await fake_slack.wait_for(EPHEMERAL)
    assert refusal.body["text"] == not_linked_text(console_url=CONSOLE)
    assert await decisions_on(world, nomination.id) == []


async def test_reject_asks_for_a_reason_then_rejects_with_it(world, bot, nomination, fake_slack: FakeSlack):
    fake_slack.script("users.info", slack_user("U0GOV1", "gov1@aiso.test"))
    await send(bot, click(ActionId.REJECT, nomination.id, user="U0GOV1"))
    [opened] = await fake_slack.wait_for("views.open")
    assert opened.body["trigger_id"] == "1337.42.trigger"
    organisation = (await world.get(Organisation, nomination.organisation_id)).name
    assert opened.body["view"] == reject_reason_modal(Case(nomination, organisation, "Atlas"), channel=CHANNEL)
    shown = json.dumps(opened.body["view"], ensure_ascii=False)
    assert f"*{organisation}* for *Atlas*" in shown and "|2026-12-02 12:00 UTC> → " in shown
    assert f"This rejects the nomination: {organisation} will not get this access to Atlas." in shown
    assert "CODE-ATLAS" not in shown
    # Who clicked is confirmed with Slack after the modal opened: the submission does not ask again.
    assert (await remembered(world, "U0GOV1")).user_id == world.gov_approver.user_id

    response = await send(bot, reason_submitted(nomination.id, "   ", user="U0GOV1"))
    assert response.json() == {"response_action": "errors", "errors": {"reason": "a reason for rejecting is required"}}
    assert await decisions_on(world, nomination.id) == []

    response = await send(bot, reason_submitted(nomination.id, "Not vetted for red-teaming.", user="U0GOV1"))
    assert response.text == ""  # acknowledged: the modal closes
    [update] = await fake_slack.wait_for(UPDATE)
    [note, *_] = await fake_slack.wait_for(POST)
    [decision] = await decisions_on(world, nomination.id)
    assert (decision.verdict, decision.reason) == ("reject", "Not vetted for red-teaming.")
    assert "Rejected*: Not vetted for red-teaming." in str(update.body["blocks"])
    assert note.body["text"] == "Gov1 rejected (government side)"
    assert fake_slack.calls_to(EPHEMERAL) == []
    assert len(fake_slack.calls_to("users.info")) == 1


async def test_a_refused_rejection_closes_the_modal_and_explains(world, bot, nomination, fake_slack: FakeSlack):
    fake_slack.script("users.info", slack_user("U0DEV2", "dev2@acme.test"))
    response = await send(bot, reason_submitted(nomination.id, "Changed my mind.", user="U0DEV2"))
    assert response.text == ""
    [refusal] = await fake_slack.wait_for(EPHEMERAL)
    assert (refusal.body["channel"], refusal.body["user"]) == (CHANNEL, "U0DEV2")
    assert "someone else must decide" in refusal.body["text"]
    assert await decisions_on(world, nomination.id) == []


async def test_a_retried_click_decides_once_and_edits_nothing_twice(world, bot, nomination, fake_slack: FakeSlack):
    fake_slack.always("users.info", slack_user("U0DEV1", "dev1@acme.test"))
    request = click(ActionId.APPROVE, nomination.id, user="U0DEV1")
    await send(bot, request)
    await fake_slack.wait_for(UPDATE)
    await send(bot, request, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    [refusal] = await fake_slack.wait_for(EPHEMERAL)
    assert "already decided" in refusal.body["text"]
    assert len(await decisions_on(world, nomination.id)) == 1
    assert len(fake_slack.calls_to(UPDATE)) == 1 and len(fake_slack.calls_to(POST)) == 1


@pytest.mark.parametrize(("who", "email", "why"), [
    ("U0DEV2", "dev2@acme.test", "you nominated this; someone else must decide on it"),
    ("U0NORA", "nora@acme.test", "only approvers and admins decide on nominations"),
], ids=["own nomination", "not an approver"])  # fmt: skip
async def test_reject_refused_by_the_rules_opens_no_modal_and_is_explained(
    world, bot, nomination, fake_slack: FakeSlack, who, email, why
):
    actor = {"U0DEV2": world.dev_approver2, "U0NORA": world.dev_nominator}[who]
    await known(world, who, actor)  # known: asked before the modal opens, as the submission would be
    await send(bot, click(ActionId.REJECT, nomination.id, user=who))
    [refusal] = await fake_slack.wait_for(EPHEMERAL)
    assert (refusal.body["channel"], refusal.body["user"], refusal.body["text"]) == (
        CHANNEL, who, f"Nothing was changed: {why}")  # fmt: skip
    assert fake_slack.calls_to("views.open") == []
    assert await decisions_on(world, nomination.id) == []


async def test_reject_by_someone_not_linked_opens_no_modal_and_says_how_to_link(
    world, bot, fake_slack: FakeSlack, nomination
):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": ["C0ELSEWHERE"]})  # fmt: skip
    fake_slack.always("users.info", slack_user("U0DEV1", "dev1@acme.test", confirmed=False))
    await send(bot, click(ActionId.REJECT, nomination.id, user="U0DEV1"))
    [refusal] = await fake_slack.wait_for(EPHEMERAL)
    assert refusal.body["text"] == not_linked_text(console_url=CONSOLE)
    assert fake_slack.calls_to("views.open") == []
    assert await decisions_on(world, nomination.id) == []
