"""The bolt app: Slack's requests in, the context middleware, the listeners (:mod:`accessdesk.slackbot.listeners`)
and the one error boundary (:mod:`accessdesk.slackbot.failures`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.settings import Settings
from accessdesk.slackbot import listeners
from accessdesk.slackbot.cohort_decisions import SlackCohorts
from accessdesk.slackbot.commands import SlackCommands
from accessdesk.slackbot.context import Services, context_middleware
from accessdesk.slackbot.decisions import SlackDecisions
from accessdesk.slackbot.failures import slack_errors
from accessdesk.slackbot.home import SlackHome
from accessdesk.slackbot.identity import Identities
from accessdesk.slackbot.ids import ActionId, CallbackId, CommandName, NominateField
from accessdesk.slackbot.linking import SlackLinking
from accessdesk.slackbot.notifier import SlackNotifier
from accessdesk.slackbot.web_api import web_client
from accessdesk.slackbot.work import AtWork
from accessdesk.worker import PromptDelivery

# What Slack sends → the listener that answers it.
LISTENERS: tuple[tuple[Callable[[AsyncApp, Any], Callable[..., Any]], Any, Callable[..., Awaitable[None]]], ...] = (
    (AsyncApp.command, CommandName.ACCESSDESK.value, listeners.accessdesk_command),
    (AsyncApp.action, ActionId.APPROVE.value, listeners.approve),
    (AsyncApp.action, ActionId.REJECT.value, listeners.reject),
    (AsyncApp.action, ActionId.COHORT_APPROVE_ALL.value, listeners.approve_all),
    (AsyncApp.action, ActionId.COHORT_REVIEW.value, listeners.acknowledge),
    (AsyncApp.view, CallbackId.REJECT_REASON.value, listeners.reject_reason),
    (AsyncApp.view, CallbackId.NOMINATE.value, listeners.nominate),
    (AsyncApp.event, "app_home_opened", listeners.home_opened),
    (AsyncApp.options, {"action_id": NominateField.ORGANISATION.value}, listeners.organisation_options),
)


def build_app(settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock,
              client: AsyncWebClient | None = None, work: AtWork | None = None) -> AsyncApp:  # fmt: skip
    """The bolt app for ``/slack/events`` and Socket Mode.

    Over HTTP, Slack's signature and timestamp are verified before bolt sees the request
    (``accessdesk.slackbot.endpoint``), so bolt's own verification is off; Socket Mode needs none.

    HTTP mode with ``process_before_response=False``: the acknowledgement is sent as soon as the listener calls
    ``ack()`` (Slack wants it within 3 seconds) and the listener goes on to answer after it: ``work`` knows what
    is still under way (:class:`accessdesk.slackbot.work.AtWork`), for a server that waits for it before it stops."""
    work = work or AtWork()
    app = AsyncApp(signing_secret=settings.slack_signing_secret, client=client or web_client(settings),
                   process_before_response=False, request_verification_enabled=False,
                   raise_error_for_unhandled_request=True, name="accessdesk")  # fmt: skip
    console_url = settings.base_url
    notifier = SlackNotifier(app.client, console_url=console_url, clock=clock)
    prompt = PromptDelivery(sessionmaker, clock, notifier)
    work.then(prompt.drain)
    app.use(context_middleware(Services(
        console_url=console_url, clock=clock, identities=Identities(sessionmaker, clock),
        commands=SlackCommands(sessionmaker, clock), decisions=SlackDecisions(sessionmaker, clock),
        cohorts=SlackCohorts(sessionmaker, clock),
        homes=SlackHome(sessionmaker, clock), linking=SlackLinking(sessionmaker, clock, console_url),
        prompt=prompt,
    )))  # fmt: skip
    app.error(slack_errors())
    for register, matcher, listener in LISTENERS:
        register(app, matcher)(work.track(listener))
    return app
