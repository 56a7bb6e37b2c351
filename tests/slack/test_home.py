"""The App Home: what waits for the person's decision, their own nominations, access ending within 14 days —
opened by a signed ``app_home_opened`` event and drawn with one ``views.publish``, never with a codename."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.slackbot.blocks import home_view, not_linked_text
from accessdesk.slackbot.home import HOME_LIST, Home
from accessdesk.slackbot.times import local
from tests.support.fake_slack import Call, FakeSlack
from tests.support.slack import CONSOLE, home_opened, nominated, serving_bot, slack_user

EVENTS = "/slack/events"


@pytest.fixture
async def bot(engine, world, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


async def open_home(bot: AsyncTestClient, fake: FakeSlack, *, user: str, email: str, confirmed: bool = True) -> Call:
    fake.script("users.info", slack_user(user, email, confirmed=confirmed))
    request = home_opened(user)
    response = await bot.post(EVENTS, content=request.body, headers=request.headers)
    assert response.status_code == 200
    [published] = await fake.wait_for("views.publish")
    assert published.body["user_id"] == user
    return published


def view_of(published: Call) -> dict[str, Any]:
    view = published.body["view"]
    return json.loads(view) if isinstance(view, str) else view


def texts(view: dict[str, Any]) -> list[str]:
    """Every block's text, in order (headers, sections, notes)."""
    found = []
    for block in view["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return found


async def test_an_approver_sees_the_nomination_waiting_for_them_and_the_other_sections(
    world, bot, fake_slack: FakeSlack
):
    nomination = await nominated(world)
    organisation = (await world.get(type(world.developer), nomination.organisation_id)).name
    view = view_of(await open_home(bot, fake_slack, user="U0DEV1", email="dev1@acme.test"))
    assert view["type"] == "home"
    assert texts(view)[:6] == [
        "1 nomination waiting for your decision",
        f"<{CONSOLE}/console/nominations/{nomination.id}|{organisation} for Atlas> — "
        f"{local(nomination.starts_at)} → {local(nomination.ends_at)}",
        "Your nominations",
        "You have not nominated anyone.",
        "Access ending within 14 days",
        "No access you can see ends within the next 14 days.",
    ]
    assert "CODE-ATLAS" not in json.dumps(view)
    assert len(fake_slack.calls_to("views.publish")) == 1


async def test_a_nominator_sees_their_own_nomination_and_no_queue(world, bot, fake_slack: FakeSlack):
    nomination = await nominated(world)
    view = view_of(await open_home(bot, fake_slack, user="U0NORA", email="nora@acme.test"))
    shown = texts(view)
    assert shown[1].startswith("You have no approval queue")
    [mine] = [t for t in shown if f"/console/nominations/{nomination.id}|" in t]
    assert mine.endswith(f"{local(nomination.ends_at)} · _pending_")
    assert shown.index(mine) > shown.index("Your nominations")
    assert "CODE-ATLAS" not in json.dumps(view)


async def test_a_partner_admin_has_no_queue_and_sees_their_grant_ending_soon(world, bot, fake_slack: FakeSlack,
                                                                             clock):  # fmt: skip
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1), days=10)  # partners start no earlier; not theirs to see
    partner, admin = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, start=timedelta(hours=1), days=10))
    clock.advance(timedelta(hours=2))
    view = view_of(await open_home(bot, fake_slack, user="U0PART", email=admin.label))
    shown = texts(view)
    assert shown[1].startswith("You have no approval queue")
    assert "Nothing is waiting for your decision." not in shown
    assert (f"<{CONSOLE}/console/grants/{grant.id}|{partner.name} for Atlas> — "
            f"{local(grant.starts_at)} → {local(grant.ends_at)}") in shown  # fmt: skip
    assert "|2026-12-01 13:00 UTC> → <!date^" in json.dumps(view, ensure_ascii=False)
    assert [t for t in shown if "/console/grants/" in t] == [t for t in shown if partner.name in t]
    assert "CODE-ATLAS" not in json.dumps(view)


async def test_someone_the_bot_cannot_match_is_told_how_to_link(world, bot, fake_slack: FakeSlack):
    view = view_of(await open_home(bot, fake_slack, user="U0DEV1", email="dev1@acme.test", confirmed=False))
    assert texts(view) == ["accessdesk", not_linked_text(console_url=CONSOLE)]


async def test_the_messages_tab_draws_nothing(world, bot, fake_slack: FakeSlack):
    request = home_opened("U0DEV1", tab="messages")
    assert (await bot.post(EVENTS, content=request.body, headers=request.headers)).status_code == 200
    await open_home(bot, fake_slack, user="U0GOV1", email="gov1@aiso.test")
    assert [c.body["user_id"] for c in fake_slack.calls_to("views.publish")] == ["U0GOV1"]


async def test_a_nominator_sees_their_own_newest_nominations_however_many_others_made_since(
    world, bot, fake_slack: FakeSlack, clock
):
    partner, _ = await world.partner()
    hers = []
    for n in range(HOME_LIST + 1):
        hers.append(await world.nominate(partner, start=timedelta(days=1 + 2 * n), days=1))
        clock.advance(timedelta(minutes=1))
    for n in range(HOME_LIST + 5):  # newer than all of hers, by an approver
        await world.nominate(partner, start=timedelta(days=60 + 2 * n), days=1, by=world.dev_approver)
        clock.advance(timedelta(minutes=1))
    shown = texts(view_of(await open_home(bot, fake_slack, user="U0NORA", email="nora@acme.test")))
    listed = [t for t in shown if "/console/nominations/" in t]
    assert listed == [t for t in listed if t.endswith("· _pending_")]
    # Her 20 newest, newest first; the oldest is left to the console.
    shown_ids = [t.split("/console/nominations/")[1].split("|")[0] for t in listed]
    assert shown_ids == [str(n.id) for n in reversed(hers[1:])]
    more = f"<{CONSOLE}/console/nominations?mine=1|your nominations>"
    assert shown[shown.index(listed[-1]) + 1] == f"Your {HOME_LIST} newest; all of them in the console: {more}."


def test_a_home_with_none_of_ones_own_says_so_and_promises_no_more():
    home = Home(now=datetime(2026, 12, 1, 12, tzinfo=UTC), queue=[], more_queue=False, mine=[], more_mine=False,
                ending=[], more_ending=False, names={})  # fmt: skip
    shown = texts(home_view(home, console_url=CONSOLE))
    assert "Nothing is waiting for your decision." in shown
    assert "You have not nominated anyone." in shown
    assert not [t for t in shown if "mine=1" in t]
