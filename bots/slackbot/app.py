"""The bolt app: Slack's requests in, listeners that acknowledge at once, then answer.

Listeners stay thin: acknowledge, call a domain service, render with :mod:`bots.slackbot.blocks`. The rules live in
the domain and are never re-checked here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.domain.errors import DomainError, Invalid
from accessdesk.domain.vocabulary import Verdict
from accessdesk.settings import Settings
from bots.slackbot import blocks
from bots.slackbot.decisions import SlackDecisions, nomination_id_of
from bots.slackbot.identity import NotLinked
from bots.slackbot.ids import ActionId, CallbackId, CommandName, Subcommand
from bots.slackbot.web_api import web_client


def _subcommand(text: str) -> Subcommand:
    """The subcommand a command's text names: help for nothing, and for anything it does not know."""
    words = text.split()
    try:
        return Subcommand(words[0].lower()) if words else Subcommand.HELP
    except ValueError:
        return Subcommand.HELP


@asynccontextmanager
async def refusals(client: AsyncWebClient, *, channel: str, slack_user: str, console_url: str,
                   form: AsyncAck | None = None) -> AsyncIterator[None]:  # fmt: skip
    """The one error boundary: a refusal is explained to the clicker alone (ephemeral), and nothing else happens.

    ``form``: the acknowledgement of a modal submission not yet acknowledged; an invalid field of the modal is
    shown on the modal itself (``response_action: errors``), any other refusal closes it and is explained."""
    try:
        yield
    except Invalid as exc:
        if form is not None and exc.field == "reason":
            await form(response_action="errors", errors={blocks.REASON_BLOCK: exc.message})
            return
        await _explain(client, channel, slack_user, blocks.refusal_text(exc.message), form)
    except DomainError as exc:
        await _explain(client, channel, slack_user, blocks.refusal_text(exc.message), form)
    except NotLinked:
        await _explain(client, channel, slack_user, blocks.not_linked_text(console_url=console_url), form)


async def _explain(client: AsyncWebClient, channel: str, slack_user: str, text: str, form: AsyncAck | None) -> None:
    if form is not None:
        await form()
    await client.chat_postEphemeral(channel=channel, user=slack_user, text=text)


def build_app(settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock,
              client: AsyncWebClient | None = None) -> AsyncApp:  # fmt: skip
    """The bolt app for ``/slack/events``: Slack's signature and timestamp are verified by bolt itself.

    HTTP mode with ``process_before_response=False``: the acknowledgement is sent as soon as the listener calls
    ``ack()`` (Slack wants it within 3 seconds) and the listener goes on to answer through ``respond()``."""
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=client or web_client(settings),
        process_before_response=False,
        name="accessdesk",
    )
    console_url = settings.base_url
    decisions = SlackDecisions(sessionmaker, clock, console_url)

    @app.command(CommandName.ACCESSDESK.value)
    async def accessdesk_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        subcommand = _subcommand(command.get("text") or "")
        if subcommand is Subcommand.HELP:
            await respond(**blocks.help_message(console_url=console_url))
        else:
            await respond(**blocks.not_available_message(subcommand, console_url=console_url))

    @app.action(ActionId.APPROVE.value)
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel, slack_user = body["channel"]["id"], body["user"]["id"]
        async with refusals(client, channel=channel, slack_user=slack_user, console_url=console_url):
            outcome = await decisions.decide(client, slack_user=slack_user, verdict=Verdict.APPROVE,
                                             nomination_id=nomination_id_of(body["actions"][0]["value"]))  # fmt: skip
            await decisions.announce(client, outcome)

    @app.action(ActionId.REJECT.value)
    async def reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel, slack_user = body["channel"]["id"], body["user"]["id"]
        async with refusals(client, channel=channel, slack_user=slack_user, console_url=console_url):
            nomination_id = nomination_id_of(body["actions"][0]["value"])
            await client.views_open(trigger_id=body["trigger_id"],
                                    view=blocks.reject_reason_modal(nomination_id, channel=channel))  # fmt: skip

    @app.view(CallbackId.REJECT_REASON.value)
    async def reject_reason(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        # Decided before the acknowledgement, so that the domain's own check of the reason can be shown on the
        # modal; a decision is one short transaction, well inside Slack's 3 seconds.
        origin = json.loads(view["private_metadata"])
        reason = view["state"]["values"][blocks.REASON_BLOCK][blocks.REASON_INPUT].get("value")
        slack_user = body["user"]["id"]
        async with refusals(client, channel=origin["channel"], slack_user=slack_user, console_url=console_url,
                            form=ack):  # fmt: skip
            outcome = await decisions.decide(client, slack_user=slack_user, verdict=Verdict.REJECT, reason=reason,
                                             nomination_id=nomination_id_of(origin["nomination_id"]))  # fmt: skip
            await ack()
            await decisions.announce(client, outcome)

    return app
