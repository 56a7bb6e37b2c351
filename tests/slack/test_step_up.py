"""Step-up for approvals made in Slack (issue 18): a click proves no recent sign-in, so Approve on a high-tier
model's card (or on the App Home) records nothing, edits no card, and answers the clicker alone with the console page
that completes it after a fresh sign-in; approved there, the card updates as after a click. Reject stays one click
(and its reason)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.db.tables import Decision, Nomination, OutboxMessage
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.slackbot.blocks import step_up_text
from accessdesk.slackbot.ids import ActionId
from tests.support.console import confirm, is_confirmation, sign_in, words_of
from tests.support.fake_slack import FakeSlack
from tests.support.slack import (
    CARD_TS,
    CHANNEL,
    CONSOLE,
    card_posted,
    click,
    decisions_on,
    home_click,
    nominated,
    reason_submitted,
    remembered,
    send,
    serving_bot,
    slack_user,
)

POST, UPDATE, EPHEMERAL, PUBLISH = "chat.postMessage", "chat.update", "chat.postEphemeral", "views.publish"
WHY = "approving access to atlas needs a sign-in within the last 15 minutes: sign in again and approve in the console"


@pytest.fixture
async def nomination(world, fake_slack: FakeSlack) -> Nomination:
    """A pending nomination for the world's model, made high-tier, whose card is posted in the approval channel."""
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id, changes={"tier": "high"})
    return await card_posted(world, fake_slack, await nominated(world, by=world.dev_approver2))


@pytest.fixture
async def bot(engine, world, nomination, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


async def footprint(world) -> tuple[int, int, int]:
    """Decisions, audit events and outbox messages: what a decision would add."""
    counted = (await world.count(Decision), await world.audit_count(), await world.count(OutboxMessage))
    await world.commit()
    return counted


async def test_approve_on_a_high_tier_card_answers_privately_with_the_console_page_and_records_nothing(
    world, bot, nomination, fake_slack: FakeSlack
):
    before = await footprint(world)
    fake_slack.script("users.info", slack_user("U0DEV1", "dev1@acme.test"))
    await send(bot, click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    [told] = await fake_slack.wait_for(EPHEMERAL)
    page = f"{CONSOLE}/console/nominations/{nomination.id}/approve"
    assert (told.body["channel"], told.body["user"]) == (CHANNEL, "U0DEV1")
    assert told.body["text"] == step_up_text(WHY, nomination.id, console_url=CONSOLE)
    assert told.body["text"] == (f"Nothing was changed: {WHY}. <{page}|Sign in again and approve in accessdesk>: the "
                                 "card here updates once you have.")  # fmt: skip
    assert await footprint(world) == before
    assert fake_slack.calls_to(UPDATE) == [] and fake_slack.calls_to(POST) == []


async def test_approved_in_the_console_after_signing_in_again_the_card_updates_as_after_a_click(
    world, bot, nomination, fake_slack: FakeSlack
):
    fake_slack.script("users.info", slack_user("U0DEV1", "dev1@acme.test"))
    await send(bot, click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    [told] = await fake_slack.wait_for(EPHEMERAL)
    link = told.body["text"].split("<", 1)[1].split("|", 1)[0]
    path = link.removeprefix(CONSOLE)
    assert path == f"/console/nominations/{nomination.id}/approve"

    # The link opened in the browser: the identity provider signs the person in again, and back to the page.
    assert (await sign_in(bot, world.dev_approver, next_=path)).headers["location"] == path
    asking = await bot.get(path)
    assert is_confirmation(asking) and "Approve" in words_of(asking.text)
    assert await decisions_on(world, nomination.id) == []
    done = await confirm(bot, asking)
    assert done.status_code == 303 and done.headers["location"].endswith("?done=approved")

    [update] = await fake_slack.wait_for(UPDATE)
    [note] = await fake_slack.wait_for(POST)
    assert (update.body["channel"], update.body["ts"]) == (CHANNEL, CARD_TS)
    assert "Developer 1/1 · Government 0/1" in update.body["text"]
    assert "✓ Dev1 (dev1@acme.test) approved (developer side)" in str(update.body["blocks"])
    assert (note.body["thread_ts"], note.body["text"]) == (CARD_TS, "Dev1 approved (developer side)")
    [decision] = await decisions_on(world, nomination.id)
    assert (decision.approver_id, decision.verdict) == (world.dev_approver.user_id, "approve")


async def test_approve_on_the_app_home_shows_the_console_page_on_top_of_it(world, bot, nomination,
                                                                          fake_slack: FakeSlack):  # fmt: skip
    before = await footprint(world)
    fake_slack.script("users.info", slack_user("U0DEV1", "dev1@acme.test"))
    await send(bot, home_click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    [published] = await fake_slack.wait_for(PUBLISH)
    view = published.body["view"]
    shown = json.dumps(json.loads(view) if isinstance(view, str) else view, ensure_ascii=False)
    assert f"<{CONSOLE}/console/nominations/{nomination.id}/approve|Sign in again and approve in accessdesk>" in shown
    assert await footprint(world) == before
    assert fake_slack.calls_to(UPDATE) == [] and fake_slack.calls_to(EPHEMERAL) == []


async def test_reject_on_a_high_tier_card_stays_one_click_and_a_reason(world, bot, nomination, fake_slack: FakeSlack):
    fake_slack.script("users.info", slack_user("U0GOV1", "gov1@aiso.test"))
    await send(bot, click(ActionId.REJECT, nomination.id, user="U0GOV1"))
    await fake_slack.wait_for("views.open")
    # Who clicked is confirmed with Slack after the modal opened: the submission does not ask again.
    assert (await remembered(world, "U0GOV1")).user_id == world.gov_approver.user_id
    response = await send(bot, reason_submitted(nomination.id, "Not vetted for red-teaming.", user="U0GOV1"))
    assert response.text == ""  # acknowledged: the modal closes
    [update] = await fake_slack.wait_for(UPDATE)
    [decision] = await decisions_on(world, nomination.id)
    assert (decision.verdict, decision.reason) == ("reject", "Not vetted for red-teaming.")
    assert "Rejected*: Not vetted for red-teaming." in str(update.body["blocks"])
    assert fake_slack.calls_to(EPHEMERAL) == []
