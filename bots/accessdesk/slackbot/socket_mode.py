"""Socket Mode: the bolt app of ``/slack/events``, reached over a WebSocket that accessdesk opens to Slack.

For a deployment Slack cannot call (a laptop, a network with no public HTTPS way in). accessdesk asks Slack for a
connection with the app-level token (``apps.connections.open``, on ``ACCESSDESK_SLACK_API_URL`` like every other
call) and receives the same commands, clicks and events as envelopes, each acknowledged on the socket. The
listeners are the very same ones: :func:`accessdesk.slackbot.app.build_app`.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.settings import Settings
from accessdesk.slackbot.app import build_app
from accessdesk.slackbot.endpoint import warm_up


class SocketModeUnavailable(Exception):
    """Slack did not open a Socket Mode connection: it refused the app token, or could not be reached."""


def socket_mode_handler(settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession],
                        clock: Clock) -> AsyncSocketModeHandler:  # fmt: skip
    """The bolt app of HTTP mode behind a Socket Mode client, which asks for its connection through the app's own
    Web API client (on ``settings.slack_api_url``) with ``settings.slack_app_token``.

    Call it inside a running event loop: the client starts its message queue at once."""
    app = build_app(settings, sessionmaker=sessionmaker, clock=clock)
    return AsyncSocketModeHandler(app, settings.slack_app_token)


async def serve(settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock,
                stop: asyncio.Event, grace: float = 5.0) -> None:  # fmt: skip
    """Answer Slack's envelopes until ``stop`` is set. Raises :class:`SocketModeUnavailable` when Slack does not
    open the first connection; later drops are reconnected by the client.

    On ``stop`` the connection closes first, so that no envelope arrives that could not be answered; listeners
    still answering envelopes already acknowledged get up to ``grace`` seconds to finish."""
    # Bolt runs each listener on in a task of its own once it has acknowledged, and keeps no handle on it: the
    # tasks started while serving are the only way to wait for those answers.
    before = asyncio.all_tasks()
    handler = socket_mode_handler(settings, sessionmaker=sessionmaker, clock=clock)
    try:
        await _first_connection(handler)
        await warm_up(handler.app)
        connecting = asyncio.create_task(handler.connect_async())
        await stop.wait()
        # Still connecting only if the socket itself could not be opened: the client retries that for ever.
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
    finally:
        await handler.close_async()
    answering = asyncio.all_tasks() - before - {asyncio.current_task()}
    if answering:
        await asyncio.wait(answering, timeout=grace)


async def _first_connection(handler: AsyncSocketModeHandler) -> None:
    # The client would retry a refused app token every few seconds for ever, logging a traceback each time: the
    # first connection URL is asked for here, so that a wrong token, or a Slack out of reach, stops the command.
    socket = handler.client
    try:
        socket.wss_uri = await socket.issue_new_wss_url()
    except SlackApiError as exc:
        raise SocketModeUnavailable(f"Slack refused to open a Socket Mode connection: {exc.response.get('error')}"
                                    " (check ACCESSDESK_SLACK_APP_TOKEN, and that Socket Mode is on)") from exc  # fmt: skip
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SocketModeUnavailable(f"Slack could not be reached at {socket.web_client.base_url}: "
                                    f"{exc or type(exc).__name__}") from exc  # fmt: skip
