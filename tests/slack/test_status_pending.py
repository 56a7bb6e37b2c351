"""``/accessdesk status <model>`` and ``/accessdesk pending``: what the asker may see, in full only in a channel on
the model's list, and never the codename."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.db.tables import Nomination
from accessdesk.slackbot.times import local
from tests.support.fake_slack import RESPONSE_URL, FakeSlack
from tests.support.slack import CONSOLE, nominated, serving_bot, slack_user
from tests.support.slack_signing import slash_command

EVENTS = "/slack/events"
HERE = "C0GENERAL"  # where slash_command() says the command was typed


@pytest.fixture
async def bot(engine, world, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


async def ask(bot: AsyncTestClient, fake: FakeSlack, text: str, *, user: str, email: str) -> dict:
    """The ephemeral answer to ``/accessdesk <text>`` typed in HERE by the Slack user with ``email``."""
    fake.script("users.info", slack_user(user, email))
    request = slash_command(text, response_url=fake.response_url(), user_id=user)
    response = await bot.post(EVENTS, content=request.body, headers=request.headers)
    assert response.status_code == 200 and response.text == ""
    [answer] = await fake.wait_for(RESPONSE_URL)
    assert answer.body["response_type"] == "ephemeral"
    return answer.body


async def pending_in(world, channels: list[str]) -> Nomination:
    nomination = await nominated(world, channels=channels)
    return nomination


async def test_status_in_a_channel_on_the_models_list_shows_where_it_stands_but_never_the_codename(
    world, bot, fake_slack: FakeSlack
):
    await pending_in(world, [HERE])
    answer = await ask(bot, fake_slack, "status Atlas", user="U0DEV1", email="dev1@acme.test")
    shown = json.dumps(answer, ensure_ascii=False)
    assert answer["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "Atlas", "emoji": False}}
    fields = [f["text"] for f in answer["blocks"][1]["fields"]]
    assert fields == ["*Planned release*\n<!date^1797854400^{date_short_pretty} {time}|2026-12-21 12:00 UTC>",
                      "*Designation*\ncovered", "*Grants*\nnone", "*Pending nominations*\n1"]  # fmt: skip
    assert fields[0] == f"*Planned release*\n{local(world.model.planned_release_at)}"
    assert f"{CONSOLE}/console/models/{world.model.id}" in shown
    assert "CODE-ATLAS" not in shown


async def test_status_in_another_channel_gives_only_a_link(world, bot, fake_slack: FakeSlack):
    await pending_in(world, ["C0APPROVALS"])
    answer = await ask(bot, fake_slack, "status atlas", user="U0DEV1", email="dev1@acme.test")
    shown = json.dumps(answer, ensure_ascii=False)
    assert f"<{CONSOLE}/console/models/{world.model.id}|open the console>" in shown
    for secret in ("CODE-ATLAS", "Atlas", "atlas", "Pending", "Designation", "2026-12-21"):
        assert secret not in shown


@pytest.mark.parametrize("text", ["status nope", "status"], ids=["unknown model", "no model named"])
async def test_status_of_no_model_one_can_see_says_so(world, bot, fake_slack: FakeSlack, text):
    answer = await ask(bot, fake_slack, text, user="U0DEV1", email="dev1@acme.test")
    expected = "There is no model `nope` you can see." if text.endswith("nope") else "Which model?"
    assert expected in answer["text"]


async def test_pending_lists_what_waits_for_the_approver_with_links(world, bot, fake_slack: FakeSlack):
    nomination = await pending_in(world, [HERE])
    answer = await ask(bot, fake_slack, "pending", user="U0DEV1", email="dev1@acme.test")
    [line] = answer["blocks"][1]["text"]["text"].splitlines()
    organisation = (await world.get(type(world.developer), nomination.organisation_id)).name
    assert line == (f"• <{CONSOLE}/console/nominations/{nomination.id}|{organisation} for Atlas> — "
                    f"{local(nomination.starts_at)} → {local(nomination.ends_at)}")  # fmt: skip
    assert answer["text"] == "1 nomination waiting for your decision"
    assert "CODE-ATLAS" not in json.dumps(answer)


async def test_pending_in_a_channel_off_the_models_list_links_without_details(world, bot, fake_slack: FakeSlack):
    nomination = await pending_in(world, ["C0APPROVALS"])
    answer = await ask(bot, fake_slack, "pending", user="U0GOV1", email="gov1@aiso.test")
    shown = json.dumps(answer, ensure_ascii=False)
    assert f"{CONSOLE}/console/nominations/{nomination.id}" in shown
    assert "Atlas" not in shown and "Partner" not in shown


async def test_a_partner_has_no_approval_queue(world, bot, fake_slack: FakeSlack):
    _, admin = await world.partner()
    answer = await ask(bot, fake_slack, "pending", user="U0PART", email=admin.label)
    assert answer["text"] == "You have no approval queue"
    assert "only approvers and admins of the developer or the government" in json.dumps(answer)


async def test_three_waiting_are_three_nominations_never_nominations_in_brackets(world, bot, fake_slack: FakeSlack):
    await pending_in(world, [HERE])
    partner, _ = await world.partner(name="lab-two")
    for n in range(2):
        await world.nominate(partner, start=timedelta(days=3 + 2 * n), days=1)
    answer = await ask(bot, fake_slack, "pending", user="U0DEV1", email="dev1@acme.test")
    assert answer["text"] == "3 nominations waiting for your decision"
    assert "(s)" not in json.dumps(answer)


HOSTILE = ["<!channel>", "<@U123>", "<!here|here>&amp;"]


@pytest.mark.parametrize("typed", HOSTILE, ids=["channel", "user mention", "here and an entity"])
async def test_status_of_what_someone_typed_quotes_it_back_escaped(world, bot, fake_slack: FakeSlack, typed):
    answer = await ask(bot, fake_slack, f"status {typed}", user="U0DEV1", email="dev1@acme.test")
    quoted = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert answer["text"] == f"There is no model `{quoted}` you can see."
    assert answer["blocks"][0]["text"]["text"] == answer["text"]
    shown = json.dumps(answer)
    assert "<!" not in shown and "<@" not in shown


@pytest.mark.parametrize("typed", HOSTILE, ids=["channel", "user mention", "here and an entity"])
async def test_a_subcommand_it_does_not_know_is_quoted_back_escaped_with_the_help(world, bot, fake_slack: FakeSlack,
                                                                                 typed):  # fmt: skip
    answer = await ask(bot, fake_slack, f"{typed} now", user="U0DEV1", email="dev1@acme.test")
    quoted = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    said = f"I don't know `/accessdesk {quoted}`."
    assert answer["text"].startswith(said) and answer["blocks"][0]["text"]["text"].startswith(said)
    assert "`/accessdesk pending`" in json.dumps(answer)
    shown = json.dumps(answer)
    assert "<!" not in shown and "<@" not in shown
