"""The bolt app: Slack's requests in, listeners that acknowledge at once, then answer.

Listeners stay thin: acknowledge, call a domain service, render with :mod:`bots.slackbot.blocks`. The rules live in
the domain and are never re-checked here.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from accessdesk.settings import Settings
from bots.slackbot import blocks
from bots.slackbot.ids import CommandName, Subcommand
from bots.slackbot.web_api import web_client


def _subcommand(text: str) -> Subcommand:
    """The subcommand a command's text names: help for nothing, and for anything it does not know."""
    words = text.split()
    try:
        return Subcommand(words[0].lower()) if words else Subcommand.HELP
    except ValueError:
        return Subcommand.HELP


def build_app(settings: Settings, *, client: AsyncWebClient | None = None) -> AsyncApp:
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

    @app.command(CommandName.ACCESSDESK.value)
    async def accessdesk_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        subcommand = _subcommand(command.get("text") or "")
        if subcommand is Subcommand.HELP:
            await respond(**blocks.help_message(console_url=console_url))
        else:
            await respond(**blocks.not_available_message(subcommand, console_url=console_url))

    return app
