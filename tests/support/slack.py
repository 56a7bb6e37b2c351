"""Slack as the bot's tests play it: the app's Slack settings against the fake Web API (``tests.support.fake_slack``),
the notifier on the fake, a world whose model has an approval channel, and the payloads Slack posts (signed as
``tests.support.slack_signing`` signs them)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from accessdesk.clock import Clock
from accessdesk.db.tables import Decision, Nomination, Organisation, SlackEmailMatch, User
from accessdesk.domain.actor import Actor
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.settings import Settings
from accessdesk.slackbot.ids import ActionId, CallbackId, NominateField
from accessdesk.slackbot.notifier import SlackNotifier
from accessdesk.slackbot.web_api import web_client
from tests.support.api import app_engine, client_of, url_of
from tests.support.apps import wired_app
from tests.support.fake_slack import FakeSlack, Reply
from tests.support.slack_signing import SIGNING_SECRET, Signed, interaction, signed
from tests.world import World

BOT_TOKEN = "xoxb-test"
CHANNEL = "C0APPROVALS"
CONSOLE = "http://127.0.0.1:8000"
GENERAL = "C0GENERAL"  # where slash_command() says the command was typed
NORA = "U0NORA"
EVENTS = "/slack/events"  # where Slack posts every request
CARD_TS = "100.000001"  # the ts the fake answers a card's chat.postMessage with (card_posted)


def slack_settings(database_url: str, fake: FakeSlack) -> Settings:
    return Settings(database_url=database_url, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                    slack_api_url=fake.url)  # fmt: skip


@asynccontextmanager
async def serving_bot(engine: AsyncEngine, world: World, fake: FakeSlack, clock: Clock,
                      **options: Any) -> AsyncIterator[AsyncTestClient]:  # fmt: skip
    """The app with Slack configured against ``fake`` on the test database, through a client that commits the
    world first (``tests.support.api.client_of``). What the bot's listeners read after their ack is read outside
    any request: a test that changes the world between two requests while a listener still works commits it."""
    served = app_engine(url_of(engine))
    with wired_app(slack_settings(url_of(engine), fake), clock=clock, engine=served) as app:
        async with client_of(app, world, **options) as client:
            yield client
    await served.dispose()


def notifier_on(fake: FakeSlack, *, clock: Clock | None = None, timeout: int = 10) -> SlackNotifier:
    """The notifier on the fake; ``clock``: the test's, when it matters how long ago a post was tried."""
    return SlackNotifier(web_client(slack_settings("sqlite+aiosqlite://", fake), timeout=timeout), console_url=CONSOLE,
                         clock=clock)  # fmt: skip


async def nominated(world: World, *, channels: list[str] | None = None, by: Actor | None = None) -> Nomination:
    """A pending nomination of a ready partner for the world's model, whose approval channels are ``channels``;
    the messages queued before it are delivered already (each test sees only the nomination's own)."""
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": [CHANNEL] if channels is None else channels})  # fmt: skip
    partner, _ = await world.partner()
    await deliver_outbox(world.unit, NullNotifier())
    return await world.nominate(partner, by=by)


def slack_user(user_id: str, email: str, *, confirmed: bool = True) -> Reply:
    """``users.info``'s answer for a person with this e-mail in their Slack profile."""
    return Reply(body={"ok": True, "user": {"id": user_id, "name": email.split("@")[0], "deleted": False,
                                            "is_bot": False, "is_email_confirmed": confirmed,
                                            "profile": {"email": email}}})  # fmt: skip


async def known(world: World, slack_user_id: str, actor: Actor) -> None:
    """Slack confirmed ``slack_user_id`` has ``actor``'s e-mail a moment ago (as the command or click that opened
    a modal does): what a modal's submission finds without asking Slack."""
    user = await world.unit.get(User, actor.user_id)
    world.unit.session.add(SlackEmailMatch(slack_user_id=slack_user_id, user_id=user.id, email=user.email,
                                           confirmed_at=world.now))  # fmt: skip
    await world.unit.commit()


async def remembered(world: World, slack_user_id: str, *, timeout: float = 5.0) -> SlackEmailMatch:
    """The match the bot remembered for ``slack_user_id`` once it has (a listener remembers it after its ack)."""
    for _ in range(int(timeout / 0.05)):
        found = await world.unit.session.get(SlackEmailMatch, slack_user_id, populate_existing=True)
        await world.unit.session.commit()  # a read holds SQLite's write lock until it ends
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no match remembered for {slack_user_id}")


def click(action: ActionId, nomination_id: object, *, user: str, channel: str = CHANNEL, ts: str = "1.000001",
          **signing: Any) -> Signed:  # fmt: skip
    """A click on a card's button, as Slack posts it."""
    return interaction({
        "type": "block_actions", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
        "api_app_id": "A0ACCESSDESK", "trigger_id": "1337.42.trigger", "channel": {"id": channel},
        "container": {"type": "message", "channel_id": channel, "message_ts": ts}, "message": {"ts": ts},
        "response_url": "http://127.0.0.1:9/never",
        "actions": [{"type": "button", "action_id": action.value, "block_id": f"decide:{nomination_id}",
                     "value": str(nomination_id), "action_ts": "1.2"}],
    }, **signing)  # fmt: skip


def reason_submitted(nomination_id: object, reason: str | None, *, user: str, channel: str = CHANNEL) -> Signed:
    """The reject modal submitted with ``reason``."""
    return interaction({
        "type": "view_submission", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
        "api_app_id": "A0ACCESSDESK", "trigger_id": "1337.43.trigger",
        "view": {"id": "V0MODAL", "type": "modal", "callback_id": CallbackId.REJECT_REASON.value,
                 "private_metadata": json.dumps({"nomination_id": str(nomination_id), "channel": channel}),
                 "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}}},
    })  # fmt: skip


def submitted(*, model_id: object | None, organisation_id: object | None, starts_at: datetime, ends_at: datetime,
              actions: list[str], justification: str, user: str = NORA) -> Signed:  # fmt: skip
    """The nominate modal submitted as Slack posts it (``view.state.values``, keyed by block then action)."""
    def select_(kind: str, value: object | None) -> dict[str, Any]:
        return {"type": kind,
                "selected_option": None if value is None else {"value": str(value), "text": {"type": "plain_text",
                                                                                            "text": "x"}}}  # fmt: skip

    values = {
        NominateField.MODEL: select_("static_select", model_id),
        NominateField.ORGANISATION: select_("external_select", organisation_id),
        NominateField.STARTS_AT: {"type": "datetimepicker", "selected_date_time": int(starts_at.timestamp())},
        NominateField.ENDS_AT: {"type": "datetimepicker", "selected_date_time": int(ends_at.timestamp())},
        NominateField.ACTIONS: {"type": "checkboxes", "selected_options": [{"value": a} for a in actions]},
        NominateField.JUSTIFICATION: {"type": "plain_text_input", "value": justification},
    }
    return interaction({
        "type": "view_submission", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
        "api_app_id": "A0ACCESSDESK", "trigger_id": "1337.44.trigger",
        "view": {"id": "V0NOMINATE", "type": "modal", "callback_id": CallbackId.NOMINATE.value,
                 "private_metadata": json.dumps({"channel": GENERAL}),
                 "state": {"values": {field.value: {field.value: value} for field, value in values.items()}}},
    })  # fmt: skip


def valid(world: World, partner: Organisation, **changes: Any) -> dict[str, Any]:
    """What ``submitted`` needs for a nomination the domain accepts, with ``changes``."""
    starts_at = world.now + timedelta(days=2)
    return {"model_id": world.model.id, "organisation_id": partner.id, "starts_at": starts_at,
            "ends_at": starts_at + timedelta(days=30), "actions": ["invoke", "evaluate"],
            "justification": "Pre-release evaluation of cyber capabilities.", **changes}  # fmt: skip


def home_opened(user: str, *, tab: str = "home") -> Signed:
    """``app_home_opened`` as Slack posts it to the Events API."""
    return signed(json.dumps({
        "token": "deprecated-verification-token", "team_id": "T0FAKE", "api_app_id": "A0ACCESSDESK",
        "type": "event_callback", "event_id": f"Ev0HOME{user}{tab}", "event_time": 1764590400,
        "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": tab,
                  "event_ts": "1764590400.000100"},
        "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}],
    }).encode(), content_type="application/json")  # fmt: skip


def home_click(action: ActionId, nomination_id: object, *, user: str) -> Signed:
    """A click on a button of the person's App Home, as Slack posts it: a view, and no channel."""
    return interaction({
        "type": "block_actions", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
        "api_app_id": "A0ACCESSDESK", "trigger_id": "1337.45.trigger",
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home", "team_id": "T0FAKE", "blocks": [], "state": {"values": {}},
                 "hash": "1.home"},
        "actions": [{"type": "button", "action_id": action.value, "block_id": f"decide:{nomination_id}",
                     "value": str(nomination_id), "action_ts": "1.2"}],
    })  # fmt: skip


async def decisions_on(world: World, nomination_id: uuid.UUID) -> list[Decision]:
    """The decisions on a nomination, read in a transaction that ends at once (a read holds SQLite's write lock
    until it ends, and the bot writes next)."""
    rows = (await world.unit.session.exec(select(Decision).where(Decision.nomination_id == nomination_id))).all()
    await world.commit()
    return list(rows)


async def send(bot: AsyncTestClient, request: Signed, **headers: str) -> Any:
    """Post a signed request to the bot as Slack does (``headers`` added, e.g. a retry's); it is acknowledged."""
    response = await bot.post(EVENTS, content=request.body, headers={**request.headers, **headers})
    assert response.status_code == 200
    return response


async def card_posted(world: World, fake: FakeSlack, nomination: Nomination) -> Nomination:
    """``nomination``'s card posted in the approval channel (as ``CARD_TS``), and the fake's calls forgotten."""
    fake.script("chat.postMessage", Reply(body={"ok": True, "channel": CHANNEL, "ts": CARD_TS}))
    assert await deliver_outbox(world.unit, notifier_on(fake)) == (1, 0)
    fake.calls.clear()
    return nomination
