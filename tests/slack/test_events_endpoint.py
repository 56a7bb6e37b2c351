"""``POST /slack/events``: verified as Slack signs, acknowledged at once, answered to the asker."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.app import create_app
from accessdesk.clock import FrozenClock
from accessdesk.settings import Settings
from accessdesk.slackbot.blocks import help_message
from accessdesk.slackbot.ids import ActionId
from tests.support.api import app_engine
from tests.support.fake_slack import RESPONSE_URL, FakeSlack
from tests.support.slack_signing import Signed, interaction, signed, slash_command

EVENTS = "/slack/events"
CONSOLE = Settings().base_url


async def post(client: AsyncTestClient, request: Signed):
    return await client.post(EVENTS, content=request.body, headers=request.headers)


async def test_help_is_acknowledged_at_once_then_answered_to_the_asker_only(slack_app, fake_slack: FakeSlack):
    response = await post(slack_app, slash_command("help", response_url=fake_slack.response_url()))
    assert response.status_code == 200 and response.text == ""
    [answer] = await fake_slack.wait_for(RESPONSE_URL)
    expected = help_message(console_url=CONSOLE)
    assert answer.path == "/respond/T0FAKE/1/hook"
    assert (answer.body["response_type"], answer.body["text"], answer.body["blocks"]) == (
        "ephemeral", expected["text"], expected["blocks"])  # fmt: skip
    # The bot identified itself once, against the Web API it was configured with, with its own token.
    [identity] = fake_slack.calls_to("auth.test")
    assert identity.headers["Authorization"] == "Bearer xoxb-test"


@pytest.mark.parametrize(("text", "unknown"), [("", None), ("frobnicate the models", "frobnicate"), ("HELP me", None)])
async def test_nothing_or_anything_unknown_gets_the_help(slack_app, fake_slack: FakeSlack, text, unknown):
    response = await post(slack_app, slash_command(text, response_url=fake_slack.response_url()))
    assert response.status_code == 200
    [answer] = await fake_slack.wait_for(RESPONSE_URL)
    # An unknown word is said back ("I don't know `/accessdesk frobnicate`."), then the help.
    assert answer.body["blocks"] == help_message(console_url=CONSOLE, unknown=unknown)["blocks"]


async def test_a_bad_signature_is_refused_and_nothing_is_sent(slack_app, fake_slack: FakeSlack):
    response = await post(slack_app, slash_command("help", response_url=fake_slack.response_url(), secret="not-it"))
    assert response.status_code == 401
    tampered = slash_command("help", response_url=fake_slack.response_url())
    response = await post(slack_app, Signed(tampered.body.replace(b"help", b"pend"), tampered.headers))
    assert response.status_code == 401
    response = await post(slack_app, interaction({"type": "block_actions", "actions": [{"action_id": ActionId.APPROVE}]},
                                                 secret="not-it"))  # fmt: skip
    assert response.status_code == 401
    assert [c.method for c in fake_slack.calls] == ["auth.test"]  # at start-up only: nothing was answered


async def test_a_request_signed_six_minutes_ago_is_refused(slack_app, fake_slack: FakeSlack):
    response = await post(slack_app, slash_command("help", response_url=fake_slack.response_url(), age=6 * 60))
    assert response.status_code == 401
    assert [c.method for c in fake_slack.calls] == ["auth.test"]  # at start-up only: nothing was answered


async def test_slack_verifies_the_url_with_a_challenge(slack_app):
    request = signed(b'{"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", '
                     b'"type": "url_verification"}', content_type="application/json")  # fmt: skip
    response = await post(slack_app, request)
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


async def test_the_endpoint_is_not_in_the_api_schema(slack_app):
    assert EVENTS not in (await slack_app.get("/schema/openapi.json")).json()["paths"]


async def test_without_slack_the_endpoint_does_not_exist_and_the_rest_works(sqlite_database, clock: FrozenClock):
    url = sqlite_database.fresh_url()
    served = app_engine(url)
    app = create_app(Settings(database_url=url), clock=clock, engine=served, embedded_worker=False)
    assert app.state.slack_bolt is None
    async with AsyncTestClient(app=app) as client:
        response = await post(client, slash_command("help", response_url="http://127.0.0.1:9/never"))
        assert response.status_code == 404
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).json() == {"status": "ok"}
    await served.dispose()
