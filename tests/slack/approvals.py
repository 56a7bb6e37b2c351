"""What the approval-card tests share: a world whose model has an approval channel, and Slack's payloads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from accessdesk.clock import Clock
from accessdesk.db.tables import Nomination, SlackEmailMatch, User
from accessdesk.domain.actor import Actor
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.slackbot.ids import ActionId, CallbackId
from accessdesk.slackbot.notifier import SlackNotifier
from accessdesk.slackbot.web_api import web_client
from tests.slack.conftest import slack_settings
from tests.slack.fake_slack import FakeSlack, Reply
from tests.slack.signing import Signed, interaction
from tests.world import World

CHANNEL = "C0APPROVALS"
CONSOLE = "http://127.0.0.1:8000"


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
