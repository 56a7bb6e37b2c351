"""``/accessdesk link``: a one-time link in a direct message; once confirmed in the console, the Slack user acts as
the person who confirmed it, whatever e-mail address Slack has for them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from accessdesk.db.tables import Decision, SlackLink, SlackLinkRequest
from accessdesk.domain.errors import Invalid, NotFound
from accessdesk.domain.slack_links import SlackLinks, _digest
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.slackbot.blocks import link_sent_message
from accessdesk.slackbot.ids import ActionId
from tests.support.fake_slack import RESPONSE_URL, FakeSlack
from tests.support.slack import click, nominated, notifier_on, serving_bot, slack_user
from tests.support.slack_signing import slash_command

EVENTS = "/slack/events"
LINK = re.compile(r"<(http://127\.0\.0\.1:8000/console/slack/link/([A-Za-z0-9_-]+))\|")


@pytest.fixture
async def bot(engine, world, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


async def ask_for_link(bot: AsyncTestClient, fake_slack: FakeSlack, user: str = "U0PERSONAL") -> str:
    fake_slack.script("users.info", slack_user(user, "someone@gmail.test"))
    request = slash_command("link", response_url=fake_slack.response_url(), user_id=user)
    response = await bot.post(EVENTS, content=request.body, headers=request.headers)
    assert response.status_code == 200
    [answer] = await fake_slack.wait_for(RESPONSE_URL)
    assert answer.body["text"] == link_sent_message()["text"] and answer.body["response_type"] == "ephemeral"
    [dm] = fake_slack.calls_to("chat.postMessage")
    assert dm.body["channel"] == user
    found = LINK.search(dm.body["text"])
    assert found is not None, dm.body["text"]
    return found.group(2)


async def test_the_link_arrives_by_direct_message_and_only_its_digest_is_kept(world, bot, fake_slack):
    token = await ask_for_link(bot, fake_slack)
    [request] = (await world.unit.session.exec(select(SlackLinkRequest))).all()
    assert request.slack_user_id == "U0PERSONAL" and request.team_id == "T0FAKE"
    assert request.token_sha256 == _digest(token) and token not in str(request.model_dump())
    assert request.expires_at == world.now + timedelta(minutes=15) and request.used_at is None
    assert await world.count(SlackLink) == 0  # nothing is linked until someone confirms in the console


async def test_once_confirmed_the_slack_user_acts_as_the_person_who_confirmed(world, bot, fake_slack):
    nomination = await nominated(world, by=world.dev_approver2)
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)  # its card
    fake_slack.calls.clear()
    token = await ask_for_link(bot, fake_slack)
    links = SlackLinks(world.unit)
    link = await links.confirm(actor=world.dev_approver, token=token)
    assert (link.slack_user_id, link.user_id) == ("U0PERSONAL", world.dev_approver.user_id)
    fake_slack.calls.clear()

    # The Slack profile's address (someone@gmail.test) matches no one; the link decides who this is.
    request = click(ActionId.APPROVE, nomination.id, user="U0PERSONAL")
    assert (await bot.post(EVENTS, content=request.body, headers=request.headers)).status_code == 200
    await fake_slack.wait_for("chat.update")
    [decision] = (await world.unit.session.exec(select(Decision).where(Decision.nomination_id == nomination.id))).all()
    await world.commit()  # a read holds SQLite's write lock: the bot's listeners may still be at work
    assert decision.approver_id == world.dev_approver.user_id
    assert fake_slack.calls_to("users.info") == []  # linked by hand: Slack's profile is not consulted

    # Unlinked, the same Slack user is nobody again.
    await links.unlink(actor=world.dev_approver, slack_user_id="U0PERSONAL")
    assert await links.user_of("U0PERSONAL") is None


async def test_a_link_works_once_and_not_after_it_expires(world, bot, fake_slack, clock):
    links = SlackLinks(world.unit)
    used = await ask_for_link(bot, fake_slack)
    await links.confirm(actor=world.dev_approver, token=used)
    with pytest.raises(Invalid, match="used already"):
        await links.confirm(actor=world.dev_approver2, token=used)
    await world.rollback()
    linked = await links.user_of("U0PERSONAL")
    assert linked is not None and linked.id == world.dev_approver.user_id

    fake_slack.calls.clear()
    late = await ask_for_link(bot, fake_slack, user="U0LATE")
    clock.advance(timedelta(minutes=15))
    with pytest.raises(Invalid, match="expired"):
        await links.confirm(actor=world.dev_approver, token=late)
    await world.rollback()
    with pytest.raises(NotFound):
        await links.confirm(actor=world.dev_approver, token="not-a-token")
    await world.rollback()
    assert await world.count(SlackLink) == 1
