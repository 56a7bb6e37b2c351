"""Slack waits 3 seconds for an acknowledgement, and its own Web API may take longer: no listener waits for it before
acknowledging, and who acts is remembered once Slack confirmed it, so that the hot path never asks Slack."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from accessdesk.db.tables import Decision, Nomination, User
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.slack_links import EMAIL_MATCH_TTL
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.slackbot.blocks import not_linked_text
from tests.support.fake_slack import RESPONSE_URL, FakeSlack
from tests.support.slack import (
    CONSOLE,
    NORA,
    known,
    nominated,
    reason_submitted,
    remembered,
    serving_bot,
    slack_user,
    submitted,
    valid,
)
from tests.support.slack_signing import Signed, slash_command

EVENTS = "/slack/events"
SLOW = 3.5  # seconds every Web API answer takes: longer than Slack waits for an acknowledgement
IN_TIME = 3.0


@pytest.fixture
async def bot(engine, world, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock, timeout=30) as client:
        yield client


async def timed(bot: AsyncTestClient, request: Signed) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = await bot.post(EVENTS, content=request.body, headers=request.headers)
    return time.monotonic() - started, response


async def rows(world, table) -> list:
    found = list((await world.unit.session.exec(select(table))).all())
    await world.commit()  # a read holds SQLite's write lock until it ends; the bot's listeners may be at work
    return found


async def test_a_nomination_submitted_with_slack_slow_is_acknowledged_in_time_and_made_once(
    world, bot, fake_slack: FakeSlack
):
    partner, _ = await world.partner(name="lab-one")
    await known(world, NORA, world.dev_nominator)
    fake_slack.latency = SLOW
    seconds, response = await timed(bot, submitted(**valid(world, partner)))
    assert response.status_code == 200 and response.text == ""
    assert seconds < IN_TIME, f"acknowledged after {seconds:.1f} s"
    [nomination] = await rows(world, Nomination)
    assert nomination.nominated_by == world.dev_nominator.user_id
    await fake_slack.wait_for("chat.postEphemeral", timeout=3 * SLOW)  # the confirmation follows the ack
    assert fake_slack.calls_to("users.info") == []
    assert len(await rows(world, Nomination)) == 1


async def test_a_rejection_submitted_with_slack_slow_is_acknowledged_in_time(world, bot, fake_slack: FakeSlack):
    nomination = await nominated(world)
    await known(world, "U0GOV1", world.gov_approver)
    fake_slack.latency = SLOW
    seconds, response = await timed(bot, reason_submitted(nomination.id, "Not vetted.", user="U0GOV1"))
    assert response.status_code == 200 and response.text == ""
    assert seconds < IN_TIME, f"acknowledged after {seconds:.1f} s"
    [decision] = await rows(world, Decision)
    assert (decision.nomination_id, decision.verdict) == (nomination.id, "reject")


async def test_an_invalid_submission_with_slack_slow_shows_its_errors_in_time(world, bot, fake_slack: FakeSlack):
    partner, _ = await world.partner(name="lab-one")
    await known(world, NORA, world.dev_nominator)
    fake_slack.latency = SLOW
    seconds, response = await timed(bot, submitted(**valid(world, partner, justification=" ")))
    assert seconds < IN_TIME and response.json()["response_action"] == "errors"
    assert await rows(world, Nomination) == []
    assert fake_slack.calls == [c for c in fake_slack.calls if c.method == "auth.test"]


async def test_slack_is_asked_who_someone_is_once_then_remembered(world, bot, fake_slack: FakeSlack):
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test"))
    for n in range(1, 4):
        command = slash_command("pending", response_url=fake_slack.response_url(), user_id=NORA)
        await bot.post(EVENTS, content=command.body, headers=command.headers)
        await fake_slack.wait_for(RESPONSE_URL, n)
    assert len(fake_slack.calls_to("users.info")) == 1
    assert (await remembered(world, NORA)).email == "nora@acme.test"


async def test_a_remembered_match_ends_with_the_account_and_lapses_with_time(world, bot, fake_slack: FakeSlack, clock):
    partner, _ = await world.partner(name="lab-one")
    await known(world, NORA, world.dev_nominator)
    # Disabled in accessdesk: refused at the next click, remembered or not.
    user = await world.unit.get(User, world.dev_nominator.user_id)
    user.disabled_at = world.now
    world.unit.session.add(user)
    await world.unit.commit()
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test"))
    response = await bot.post(EVENTS, content=(s := submitted(**valid(world, partner))).body, headers=s.headers)
    assert response.text == ""
    [explained] = await fake_slack.wait_for("chat.postEphemeral")
    assert explained.body["text"] == not_linked_text(console_url=CONSOLE)
    assert await rows(world, Nomination) == []
    # Enabled again, after the match lapsed: Slack is asked again (after the acknowledgement).
    user.disabled_at = None
    world.unit.session.add(user)
    await world.unit.commit()
    clock.advance(EMAIL_MATCH_TTL + timedelta(minutes=1))
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test"))
    before = len(fake_slack.calls_to("users.info"))
    response = await bot.post(EVENTS, content=(s := submitted(**valid(world, partner))).body, headers=s.headers)
    assert response.text == ""
    await fake_slack.wait_for("users.info", before + 1)
    await fake_slack.wait_for("chat.postEphemeral", 2)
    assert len(await rows(world, Nomination)) == 1


async def test_a_card_being_posted_to_a_slow_slack_does_not_hold_up_the_next_submission(
    world, bot, fake_slack: FakeSlack
):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": ["C0APPROVALS"]})  # fmt: skip
    first, _ = await world.partner(name="lab-one")
    second, _ = await world.partner(name="lab-two")
    await deliver_outbox(world.unit, NullNotifier())
    await known(world, NORA, world.dev_nominator)
    fake_slack.latency = SLOW
    _, response = await timed(bot, submitted(**valid(world, first)))
    assert response.text == ""
    # The confirmation is answered after SLOW; then the new card's post is under way, for SLOW more.
    await fake_slack.wait_for("chat.postEphemeral", timeout=2 * SLOW)
    await fake_slack.wait_for_arrival("chat.postMessage", timeout=2 * SLOW)  # the first card's post is under way
    assert fake_slack.calls_to("chat.postMessage") == []  # and not answered yet
    seconds, response = await timed(bot, submitted(**valid(world, second)))
    assert response.text == "" and seconds < IN_TIME, f"acknowledged after {seconds:.1f} s"
    await fake_slack.wait_for("chat.postMessage", timeout=2 * SLOW)
    assert len(await rows(world, Nomination)) == 2


async def test_a_server_told_to_stop_first_finishes_what_the_bot_acknowledged(engine, world, fake_slack: FakeSlack,
                                                                               clock):  # fmt: skip
    """A listener goes on after its acknowledgement; a server stopping (a deploy, SIGTERM) waits for it rather than
    cutting it off halfway: here between asking Slack who submitted and nominating."""
    partner, _ = await world.partner(name="lab-one")
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test"))
    fake_slack.latency = 1.0
    async with serving_bot(engine, world, fake_slack, clock, timeout=30) as bot:
        _, response = await timed(bot, submitted(**valid(world, partner)))
        assert response.status_code == 200 and response.text == ""
        assert fake_slack.calls_to("chat.postEphemeral") == []  # acknowledged; the rest is under way as it stops
    [nomination] = await rows(world, Nomination)
    assert nomination.nominated_by == world.dev_nominator.user_id
    assert (await remembered(world, NORA)).user_id == world.dev_nominator.user_id
    assert len(fake_slack.calls_to("chat.postEphemeral")) == 1
