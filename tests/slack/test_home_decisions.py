"""Deciding from the App Home: each waiting nomination has Approve and Reject, with the cards' action ids, handling
and confirmation (said for the viewer's own side); the Home is drawn again after a decision, and a refusal is shown
on top of it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.db.tables import Nomination
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.vocabulary import Verdict
from accessdesk.slackbot.blocks import not_linked_text
from accessdesk.slackbot.ids import ActionId, CallbackId
from tests.support.fake_slack import Call, FakeSlack
from tests.support.slack import (
    CARD_TS,
    CONSOLE,
    card_posted,
    decisions_on,
    home_click,
    home_opened,
    known,
    nominated,
    send,
    serving_bot,
    slack_user,
)
from tests.support.slack_signing import Signed, interaction

PUBLISH, UPDATE, EPHEMERAL = "views.publish", "chat.update", "chat.postEphemeral"


@pytest.fixture
async def nomination(world, fake_slack: FakeSlack) -> Nomination:
    """A pending nomination by the world's nominator, whose card is posted in the approval channel."""
    return await card_posted(world, fake_slack, await nominated(world))


@pytest.fixture
async def bot(engine, world, nomination, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


def reason_from_home(nomination_id: object, reason: str, *, user: str) -> Signed:
    """The reject modal opened from the App Home, submitted."""
    return interaction({
        "type": "view_submission", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
        "api_app_id": "A0ACCESSDESK", "trigger_id": "1337.46.trigger",
        "view": {"id": "V0MODAL", "type": "modal", "callback_id": CallbackId.REJECT_REASON.value,
                 "private_metadata": json.dumps({"nomination_id": str(nomination_id), "home": True}),
                 "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}}},
    })  # fmt: skip


def view_of(call: Call) -> dict[str, Any]:
    view = call.body["view"]
    return json.loads(view) if isinstance(view, str) else view


def buttons(view: dict[str, Any], nomination_id: uuid.UUID) -> list[dict[str, Any]]:
    [actions] = [b for b in view["blocks"] if b.get("block_id") == f"decide:{nomination_id}"]
    return actions["elements"]


async def opened_home(bot: AsyncTestClient, fake: FakeSlack, user: str) -> dict[str, Any]:
    await send(bot, home_opened(user))
    return view_of((await fake.wait_for(PUBLISH))[-1])


async def test_each_waiting_nomination_has_the_cards_buttons_asking_first_for_the_viewers_side(
    world, bot, nomination, fake_slack: FakeSlack
):
    await known(world, "U0DEV1", world.dev_approver)
    approve, reject = buttons(await opened_home(bot, fake_slack, "U0DEV1"), nomination.id)
    assert [(b["action_id"], b["value"]) for b in (approve, reject)] == [
        (ActionId.APPROVE.value, str(nomination.id)), (ActionId.REJECT.value, str(nomination.id))]  # fmt: skip
    assert approve["confirm"]["text"]["text"].startswith(
        "This is your side's approval 1 of 1 on the developer side; the other side has 0 of 1."
    )

    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                         verdict=Verdict.APPROVE)  # fmt: skip
    await known(world, "U0GOV1", world.gov_approver)
    fake_slack.calls.clear()
    approve, _ = buttons(await opened_home(bot, fake_slack, "U0GOV1"), nomination.id)
    assert approve["confirm"]["title"]["text"] == "Approve and grant access?"
    assert approve["confirm"]["text"]["text"].startswith("This approval completes both sides' decisions: ")


async def test_approving_on_the_home_decides_edits_the_card_and_draws_the_home_again(
    world, bot, nomination, fake_slack: FakeSlack
):
    await known(world, "U0DEV1", world.dev_approver)
    await send(bot, home_click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    [again] = await fake_slack.wait_for(PUBLISH)
    [update] = await fake_slack.wait_for(UPDATE)
    [decision] = await decisions_on(world, nomination.id)
    assert (decision.approver_id, decision.verdict) == (world.dev_approver.user_id, "approve")
    assert again.body["user_id"] == "U0DEV1"
    shown = json.dumps(view_of(again))
    assert "Nothing is waiting for your decision." in shown and f"decide:{nomination.id}" not in shown
    assert update.body["ts"] == CARD_TS and "Developer 1/1" in update.body["text"]
    assert fake_slack.calls_to(EPHEMERAL) == []


async def test_a_refusal_on_the_home_is_shown_on_top_of_it_and_changes_nothing(
    world, bot, nomination, fake_slack: FakeSlack
):
    await known(world, "U0NORA", world.dev_nominator)  # her own nomination: a stale button, say
    await send(bot, home_click(ActionId.APPROVE, nomination.id, user="U0NORA"))
    [again] = await fake_slack.wait_for(PUBLISH)
    top = view_of(again)["blocks"][0]
    assert top["block_id"] == "refusal"
    assert top["text"]["text"] == (":warning: Nothing was changed: only approvers and admins decide on "
                                   "nominations")  # fmt: skip
    assert view_of(again)["type"] == "home" and "Your nominations" in json.dumps(view_of(again))
    assert await decisions_on(world, nomination.id) == []
    assert fake_slack.calls_to(UPDATE) == [] and fake_slack.calls_to(EPHEMERAL) == []


async def test_someone_not_linked_clicking_on_the_home_is_told_there_how_to_link(
    world, bot, nomination, fake_slack: FakeSlack
):
    fake_slack.always("users.info", slack_user("U0DEV1", "dev1@acme.test", confirmed=False))
    await send(bot, home_click(ActionId.APPROVE, nomination.id, user="U0DEV1"))
    [again] = await fake_slack.wait_for(PUBLISH)
    assert not_linked_text(console_url=CONSOLE) in json.dumps(view_of(again), ensure_ascii=False)
    assert await decisions_on(world, nomination.id) == []
    assert fake_slack.calls_to(UPDATE) == []


async def test_rejecting_on_the_home_names_the_case_then_rejects_and_draws_the_home_again(
    world, bot, nomination, fake_slack: FakeSlack
):
    await known(world, "U0GOV1", world.gov_approver)
    await send(bot, home_click(ActionId.REJECT, nomination.id, user="U0GOV1"))
    [opened] = await fake_slack.wait_for("views.open")
    modal = view_of(opened)
    assert json.loads(modal["private_metadata"]) == {"nomination_id": str(nomination.id), "home": True}
    assert "This rejects the nomination: " in json.dumps(modal) and "Atlas" in json.dumps(modal)
    assert fake_slack.calls_to(PUBLISH) == []

    response = await send(bot, reason_from_home(nomination.id, "Not vetted for this.", user="U0GOV1"))
    assert response.text == ""
    [again] = await fake_slack.wait_for(PUBLISH)
    await fake_slack.wait_for(UPDATE)
    [decision] = await decisions_on(world, nomination.id)
    assert (decision.verdict, decision.reason) == ("reject", "Not vetted for this.")
    assert f"decide:{nomination.id}" not in json.dumps(view_of(again))


async def test_a_rejection_from_the_home_the_rules_refuse_is_shown_on_the_home(
    world, bot, nomination, fake_slack: FakeSlack
):
    await known(world, "U0GOV1", world.gov_approver)
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                         verdict=Verdict.REJECT, reason="No.")  # fmt: skip
    response = await send(bot, reason_from_home(nomination.id, "Me neither.", user="U0GOV1"))
    assert response.text == ""  # the modal closes: the refusal is about no field of it
    [again] = await fake_slack.wait_for(PUBLISH)
    assert view_of(again)["blocks"][0]["text"]["text"] == (
        ":warning: Nothing was changed: this nomination is rejected; it no longer takes decisions"
    )
    assert [d.verdict for d in await decisions_on(world, nomination.id)] == ["reject"]
    assert fake_slack.calls_to(EPHEMERAL) == []
