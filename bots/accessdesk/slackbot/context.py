"""What every listener is handed, found once per request by :func:`context_middleware` before any listener runs:
who asks and from where (:class:`Requester`, with the accessdesk actor when accessdesk already knows them and how
to answer them privately), and the services the listeners call (:class:`Services`).

Nothing here awaits Slack's Web API: the middleware runs before every acknowledgement. Who accessdesk does not know
yet is confirmed with Slack by the listener once it has acknowledged (:meth:`Requester.actor`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from accessdesk.clock import Clock
from accessdesk.domain.actor import Actor
from accessdesk.slackbot import blocks
from accessdesk.slackbot.cohort_decisions import SlackCohorts
from accessdesk.slackbot.commands import SlackCommands
from accessdesk.slackbot.decisions import SlackDecisions
from accessdesk.slackbot.home import SlackHome
from accessdesk.slackbot.identity import Identities
from accessdesk.slackbot.linking import SlackLinking
from accessdesk.slackbot.payloads import Malformed, Origin
from accessdesk.worker import PromptDelivery

Explain = Callable[[str], Awaitable[None]]


def ephemeral(client: AsyncWebClient, *, channel: str, slack_user: str) -> Explain:
    """Explain to one person in a channel (a click on a card, a modal opened from it)."""

    async def explain(text: str) -> None:
        await client.chat_postEphemeral(channel=channel, user=slack_user, text=text)

    return explain


def home_tab(client: AsyncWebClient, *, slack_user: str) -> Explain:
    """Explain on the person's own Home tab, which has no channel to answer in."""

    async def explain(text: str) -> None:
        await client.views_publish(user_id=slack_user, view=blocks.home_notice(text))

    return explain


def answer(respond: AsyncRespond) -> Explain:
    """Explain in answer to a slash command: through its ``response_url``, which works in any channel."""

    async def explain(text: str) -> None:
        await respond(text=text, response_type="ephemeral")

    return explain


def direct_message(client: AsyncWebClient, *, slack_user: str) -> Explain:
    """Explain in the person's direct messages with the bot: where there is no other place (a menu's search)."""

    async def explain(text: str) -> None:
        await client.chat_postMessage(channel=slack_user, text=text)

    return explain


@dataclass(frozen=True, slots=True)
class Services:
    """The bot's services, built once with the app; each call is a unit of work of its own."""

    console_url: str
    clock: Clock
    identities: Identities
    commands: SlackCommands
    decisions: SlackDecisions
    cohorts: SlackCohorts
    homes: SlackHome
    linking: SlackLinking
    # What a decision or a nomination made in Slack wrote to the outbox leaves at once, after the acknowledgement.
    prompt: PromptDelivery


@dataclass(frozen=True, slots=True)
class Requester:
    """The person behind one request, as far as the payload and accessdesk tell without asking Slack.

    ``known``: the accessdesk actor they act as, when accessdesk knows already (a link, a recent match by e-mail);
    None when only Slack can say. ``tell``: how to answer them privately where they asked (the command's
    ``response_url``, an ephemeral message in the card's or the modal's channel, their Home tab, else a direct
    message). A payload that names no one (or, for a listener that needs one, no channel) is refused by that
    listener's own reader (:mod:`accessdesk.slackbot.payloads`), before it acknowledges."""

    slack_user: str
    channel: str | None
    known: Actor | None
    tell: Explain
    identities: Identities
    client: AsyncWebClient

    async def actor(self) -> Actor:
        """As whom they act: who accessdesk knows, else who Slack confirms now (raises ``NotLinked``). Only once
        acknowledged: Slack may take longer than the acknowledgement may wait."""
        if self.known is not None:
            return self.known
        return await self.identities.confirmed(self.client, self.slack_user)

    async def remember(self) -> None:
        """After an answer already given: confirm with Slack who they are if accessdesk does not know yet, so that
        their next request that must answer before acknowledging finds them known (best effort)."""
        if self.known is None:
            await self.identities.remember(self.client, self.slack_user)

    def in_channel(self) -> str:
        """The channel the request came from, for a listener that answers there."""
        if self.channel is None:
            raise Malformed("no channel")
        return self.channel


def _tell(origin: Origin, slack_user: str, client: AsyncWebClient, context: AsyncBoltContext) -> Explain:
    if origin.kind == "command" and context.respond is not None:
        return answer(context.respond)
    if origin.kind == "app_home_opened":
        return home_tab(client, slack_user=slack_user)
    if origin.channel is not None and origin.kind in ("block_actions", "view_submission"):
        return ephemeral(client, channel=origin.channel, slack_user=slack_user)
    return direct_message(client, slack_user=slack_user)


class KeptAck(AsyncAck):
    """Bolt's ``ack``, whose acknowledgement once given stays given.

    slack-bolt (1.30) runs an HTTP listener apart from the request (``process_before_response=False``) and looks for
    the acknowledgement every 10 ms. When the listener fails after ``ack()``, bolt's runner calls the error boundary
    and then sets ``ack.response`` back to None: a failure within those 10 ms lost the acknowledgement, the request
    waited out 3 seconds and Slack was answered 404, though the person had been told. Setting it back does nothing
    here; an answer before the acknowledgement (bolt's 500, the door's 503) is still set."""

    @property
    def response(self) -> BoltResponse | None:
        return self._given

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is not None or getattr(self, "_given", None) is None:
            self._given = value


def context_middleware(services: Services) -> Callable[..., Awaitable[None]]:
    """Bolt's global middleware (``app.use``): puts ``services`` and the ``requester`` in bolt's context, where
    each listener is handed them by name. One short read of the database (who the Slack user is in accessdesk),
    never a Web API call.

    The requester is None for a payload that names no one: a request no listener handles, or one its listener's
    reader refuses before it looks at the requester."""

    async def who_and_where(body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient,
                            next_: Callable[[], Awaitable[None]]) -> None:  # fmt: skip
        origin = Origin.of(body)
        if context.get("ack") is None or context.ack.response is None:  # not acknowledged yet: nothing is lost
            context["ack"] = KeptAck()
        context["services"] = services
        context["requester"] = None if origin.slack_user is None else Requester(
            slack_user=origin.slack_user, channel=origin.channel,
            known=await services.identities.known(origin.slack_user),
            tell=_tell(origin, origin.slack_user, client, context), identities=services.identities, client=client,
        )  # fmt: skip
        await next_()

    return who_and_where
