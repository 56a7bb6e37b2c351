"""The composition root: the one module of the core that knows the Slack bot (``accessdesk.slackbot``) exists.

It picks, from the settings, what fills each of the core's ports: the notifier the worker delivers the outbox
through, the bolt app behind the Slack door (``POST /slack/events``) with its error boundary, and Socket Mode for
``accessdesk slack socket``. The web app (:func:`accessdesk.app.create_app`) and the command line ask it; nothing
else in the core imports the bot, and the bot imports the core (the domain, the worker's ports) but never this
module, the app or the command line (``tests/test_architecture.py`` holds both to it).

The bot is imported only when Slack is configured: slack_bolt, slack_sdk and aiohttp add about half a second to
every start, and most commands never need them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple

from accessdesk.domain.notifier import Notifier, NullNotifier
from accessdesk.settings import Settings

if TYPE_CHECKING:
    from litestar.handlers import HTTPRouteHandler
    from slack_bolt.async_app import AsyncApp
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlmodel.ext.asyncio.session import AsyncSession

    from accessdesk.clock import Clock
    from accessdesk.slackbot.endpoint import SlackSignature
    from accessdesk.slackbot.work import AtWork
    from accessdesk.unavailable import OutageLog


def notifier_for(settings: Settings) -> Notifier:
    """Slack when it is configured (``Settings.slack_enabled``), else the null notifier, which only logs."""
    if not settings.slack_enabled:
        return NullNotifier()
    from accessdesk.slackbot.notifier import SlackNotifier
    from accessdesk.slackbot.web_api import web_client

    return SlackNotifier(web_client(settings), console_url=settings.base_url)


def slack_route() -> HTTPRouteHandler:
    """``POST /slack/events``: always routed, answering 404 while Slack is not configured."""
    from accessdesk.slackbot.endpoint import slack_events

    return slack_events


def slack_bolt(settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock,
               outage: OutageLog, work: AtWork | None = None) -> AsyncApp | None:  # fmt: skip
    """The bolt app behind the Slack door when Slack is configured (else None), with its error boundary: a
    listener that failed for want of the database answers 503 (or, once it acknowledged, tells the person) and
    counts in ``outage``; a request no listener handles, or a payload a listener cannot read, is a 4xx in one log
    line; any other failure after the acknowledgement is told to the person, with a reference to its traceback."""
    if not settings.slack_enabled:
        return None
    from accessdesk.slackbot.endpoint import build_bolt
    from accessdesk.slackbot.failures import slack_errors
    from accessdesk.unavailable import slack_listener_errors

    bolt = build_bolt(settings, sessionmaker=sessionmaker, clock=clock, work=work)
    if bolt is not None:
        bolt.error(slack_errors(slack_listener_errors(outage)))
    return bolt


def slack_work(settings: Settings) -> AtWork | None:
    """What the bot does after its acknowledgements, for the server to wait for before it stops (with Slack)."""
    if not settings.slack_enabled:
        return None
    from accessdesk.slackbot.work import AtWork

    return AtWork()


def slack_signature(settings: Settings) -> SlackSignature | None:
    """What proves a request at the Slack door is Slack's, when Slack is configured."""
    if not settings.slack_enabled:
        return None
    from accessdesk.slackbot.endpoint import signature_of

    return signature_of(settings)


def slack_warm_up(bolt: AsyncApp) -> Awaitable[None]:
    """Bolt's one ``auth.test``, made at start-up rather than before the first acknowledgement."""
    from accessdesk.slackbot.endpoint import warm_up

    return warm_up(bolt)


class SocketMode(NamedTuple):
    """``accessdesk slack socket``: ``serve`` runs the bot connected to Slack until its ``stop`` event is set, and
    raises ``unavailable`` when Slack cannot be reached."""

    serve: Callable[..., Awaitable[None]]
    unavailable: type[Exception]


def socket_mode() -> SocketMode:
    from accessdesk.slackbot.socket_mode import SocketModeUnavailable, serve

    return SocketMode(serve=serve, unavailable=SocketModeUnavailable)
