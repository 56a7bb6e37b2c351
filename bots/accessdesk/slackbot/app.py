"""The bolt app: Slack's requests in, listeners that acknowledge at once, then answer.

Listeners stay thin: read the payload (:mod:`accessdesk.slackbot.payloads`), acknowledge, call a domain service, render
with :mod:`accessdesk.slackbot.blocks`. The rules live in the domain and are never re-checked here.

No listener awaits Slack's Web API before it acknowledges: Slack waits 3 seconds for the acknowledgement, and its
Web API may take longer. A modal's submission and a menu's options are answered *in* the acknowledgement (errors
shown next to their field, the options themselves), so they decide before it, as the person accessdesk already
knows (``client=None``: :mod:`accessdesk.slackbot.identity`); someone only Slack could name is acknowledged first and
decided for after, with the outcome told privately.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.domain.errors import DomainError, Invalid, ModelSwitchedOff, NotFound
from accessdesk.domain.vocabulary import Verdict
from accessdesk.settings import Settings
from accessdesk.slackbot import blocks
from accessdesk.slackbot.commands import Elsewhere, SlackCommands, nomination_form
from accessdesk.slackbot.decisions import SlackDecisions, nomination_id_of
from accessdesk.slackbot.home import SlackHome
from accessdesk.slackbot.identity import NotLinked, Unconfirmed, confirm
from accessdesk.slackbot.ids import ActionId, CallbackId, CommandName, NominateField, Subcommand
from accessdesk.slackbot.linking import SlackLinking
from accessdesk.slackbot.notifier import SlackNotifier
from accessdesk.slackbot.payloads import Click, Command, HomeOpened, Submission, Suggestion
from accessdesk.slackbot.web_api import web_client
from accessdesk.worker import PromptDelivery


def _subcommand(text: str) -> Subcommand:
    """The subcommand a command's text names: help for nothing, and for anything it does not know."""
    words = text.split()
    try:
        return Subcommand(words[0].lower()) if words else Subcommand.HELP
    except ValueError:
        return Subcommand.HELP


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


@dataclass(frozen=True, slots=True)
class Form:
    """A modal submission not yet acknowledged, and where on the modal a refusal is shown.

    ``fields``: the block of each field the domain may name (``Invalid.field``) or each error ``code`` shown by a
    block; ``otherwise``: the block for any other refusal, or None to close the modal and explain instead."""

    ack: AsyncAck
    fields: Mapping[str, str]
    otherwise: str | None = None

    def block_for(self, exc: DomainError | NotLinked) -> str | None:
        key = exc.field if isinstance(exc, Invalid) else getattr(exc, "code", "")
        return self.fields.get(key, self.otherwise)


@asynccontextmanager
async def refusals(explain: Explain, *, console_url: str, form: Form | None = None) -> AsyncIterator[None]:
    """The one error boundary: a refusal is explained to the person alone (ephemeral), and nothing else happens.

    ``form``: a modal submission not yet acknowledged; a refusal it has a block for is shown on the modal itself
    (``response_action: errors``), any other closes it and is explained."""
    try:
        yield
    except (DomainError, NotLinked) as exc:
        block = form.block_for(exc) if form is not None else None
        if form is not None and block is not None:
            message = exc.message if isinstance(exc, DomainError) else blocks.not_linked_short()
            await form.ack(response_action="errors", errors={block: message})
            return
        if form is not None:
            await form.ack()
        await explain(blocks.refusal_text(exc.message) if isinstance(exc, DomainError)
                      else blocks.not_linked_text(console_url=console_url))  # fmt: skip


# Every field of the nominate modal, by the domain's name for it; a model switched off is shown on the model.
NOMINATE_FORM_FIELDS = {**{f.value: f.value for f in NominateField},
                        ModelSwitchedOff.code: NominateField.MODEL.value}  # fmt: skip


def build_app(settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock,
              client: AsyncWebClient | None = None) -> AsyncApp:  # fmt: skip
    """The bolt app for ``/slack/events`` and Socket Mode.

    Over HTTP, Slack's signature and timestamp are verified before bolt sees the request
    (``accessdesk.slackbot.endpoint``), so bolt's own verification is off; Socket Mode needs none. A request no
    listener handles, or one whose payload a listener cannot read, is refused in one log line
    (``endpoint.slack_errors``).

    HTTP mode with ``process_before_response=False``: the acknowledgement is sent as soon as the listener calls
    ``ack()`` (Slack wants it within 3 seconds) and the listener goes on to answer through ``respond()``."""
    from accessdesk.slackbot.endpoint import slack_errors

    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=client or web_client(settings),
        process_before_response=False,
        request_verification_enabled=False,
        raise_error_for_unhandled_request=True,
        name="accessdesk",
    )
    app.error(slack_errors())
    console_url = settings.base_url
    decisions = SlackDecisions(sessionmaker, clock)
    # What a decision or a nomination made here wrote to the outbox leaves at once, after the acknowledgement.
    prompt = PromptDelivery(sessionmaker, clock, SlackNotifier(app.client, console_url=console_url, clock=clock))
    commands = SlackCommands(sessionmaker, clock)
    homes = SlackHome(sessionmaker, clock)
    linking = SlackLinking(sessionmaker, clock, console_url)

    @app.command(CommandName.ACCESSDESK.value)
    async def accessdesk_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond,
                                 client: AsyncWebClient) -> None:  # fmt: skip
        asked = Command.of(command)
        await ack()
        words = asked.text.split()
        subcommand = _subcommand(asked.text)
        slack_user, channel = asked.slack_user, asked.channel
        async with refusals(answer(respond), console_url=console_url):
            if subcommand is Subcommand.NOMINATE:
                await open_nominate_modal(client, respond, slack_user=slack_user, channel=channel,
                                          trigger_id=asked.trigger_id)  # fmt: skip
            elif subcommand is Subcommand.STATUS:
                await respond(**await model_status(client, slack_user=slack_user, channel=channel, words=words[1:]))
            elif subcommand is Subcommand.PENDING:
                queue = await commands.pending(client, slack_user=slack_user)
                await respond(**(blocks.no_queue_message(console_url=console_url) if queue is None else
                                 blocks.pending_message(queue, channel=channel, console_url=console_url)))  # fmt: skip
            elif subcommand is Subcommand.LINK:
                await linking.send_link(client, slack_user=slack_user, team_id=asked.team_id)
                await respond(**blocks.link_sent_message())
            else:
                await respond(**blocks.help_message(console_url=console_url))

    async def open_nominate_modal(client: AsyncWebClient, respond: AsyncRespond, *, slack_user: str, channel: str,
                                  trigger_id: str) -> None:  # fmt: skip
        # Slack's trigger_id lapses 3 seconds after the command: the choices are one short read before it. Who
        # acts is confirmed with Slack here if need be, and remembered: the modal's submission will not ask.
        choices = await commands.nomination_choices(client, slack_user=slack_user)
        if not choices.models or not choices.organisations:
            await respond(**blocks.nothing_to_nominate_message(console_url=console_url))
            return
        await client.views_open(trigger_id=trigger_id, view=blocks.nominate_modal(
            choices, channel=channel, now=clock.now(), console_url=console_url))  # fmt: skip

    async def model_status(client: AsyncWebClient, *, slack_user: str, channel: str,
                           words: list[str]) -> dict[str, Any]:  # fmt: skip
        if not words:
            return blocks.status_usage_message()
        try:
            status = await commands.status(client, slack_user=slack_user, slug=words[0].lower(), channel=channel)
        except NotFound:
            return blocks.no_model_message(words[0])
        if isinstance(status, Elsewhere):
            return blocks.status_elsewhere_message(status.model_id, console_url=console_url)
        return blocks.model_status_message(status, console_url=console_url)

    @app.action(ActionId.APPROVE.value)
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        click = Click.of(body)
        await ack()
        decided = None
        async with refusals(ephemeral(client, channel=click.channel, slack_user=click.slack_user),
                            console_url=console_url):  # fmt: skip
            decided = await decisions.decide(client, slack_user=click.slack_user, verdict=Verdict.APPROVE,
                                             nomination_id=nomination_id_of(click.value))  # fmt: skip
        if decided is not None:
            await prompt.now(decided.messages)

    @app.action(ActionId.REJECT.value)
    async def reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        click = Click.of(body)
        await ack()
        async with refusals(ephemeral(client, channel=click.channel, slack_user=click.slack_user),
                            console_url=console_url):  # fmt: skip
            nomination_id = nomination_id_of(click.value)
            await client.views_open(trigger_id=click.trigger_id,
                                    view=blocks.reject_reason_modal(nomination_id, channel=click.channel))  # fmt: skip
        # While they type the reason: the modal's submission then knows who they are without asking Slack.
        await confirm(sessionmaker, clock, client, click.slack_user)

    @app.view(CallbackId.REJECT_REASON.value)
    async def reject_reason(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        submitted = Submission.of(body, view)
        channel, slack_user = submitted.origin_text("channel"), submitted.slack_user
        nomination_value = submitted.origin_text("nomination_id")
        reason = submitted.input_value(blocks.REASON_BLOCK, blocks.REASON_INPUT)
        explain = ephemeral(client, channel=channel, slack_user=slack_user)
        decided = None
        try:
            # Decided before the acknowledgement, so that the domain's own check of the reason can be shown on the
            # modal: one short transaction, as someone accessdesk knows (no Web API call).
            async with refusals(explain, console_url=console_url, form=Form(ack, {"reason": blocks.REASON_BLOCK})):
                decided = await decisions.decide(None, slack_user=slack_user, verdict=Verdict.REJECT, reason=reason,
                                                 nomination_id=nomination_id_of(nomination_value))  # fmt: skip
                await ack()
        except Unconfirmed:
            await ack()
            async with refusals(explain, console_url=console_url):
                decided = await decisions.decide(client, slack_user=slack_user, verdict=Verdict.REJECT, reason=reason,
                                                 nomination_id=nomination_id_of(nomination_value))  # fmt: skip
        if decided is not None:
            await prompt.now(decided.messages)

    @app.view(CallbackId.NOMINATE.value)
    async def nominate(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        submitted = Submission.of(body, view)
        channel, slack_user = submitted.origin_text("channel"), submitted.slack_user
        form = Form(ack, NOMINATE_FORM_FIELDS, otherwise=NominateField.JUSTIFICATION.value)
        explain = ephemeral(client, channel=channel, slack_user=slack_user)
        nominated = None
        try:
            # Nominated before the acknowledgement, so that the domain's refusal is shown next to its field on the
            # modal: one short transaction, as someone accessdesk knows (no Web API call).
            async with refusals(explain, console_url=console_url, form=form):
                nominated = await commands.nominate(None, slack_user=slack_user,
                                                    form=nomination_form(submitted.values))  # fmt: skip
                await ack()
        except Unconfirmed:
            # Only Slack can say who this is (their match lapsed while the modal was open): the modal closes now,
            # and what follows, a refusal included, is told in the channel, to them alone.
            await ack()
            async with refusals(explain, console_url=console_url):
                nominated = await commands.nominate(client, slack_user=slack_user,
                                                    form=nomination_form(submitted.values))  # fmt: skip
        if nominated is not None:
            nomination_id, messages = nominated
            confirmation = blocks.nominated_message(nomination_id, console_url=console_url)
            await client.chat_postEphemeral(channel=channel, user=slack_user, **confirmation)
            await prompt.now(messages)

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        # Bolt acknowledges events itself, before this runs. Opening the Messages tab is the same event: only the
        # Home tab is drawn.
        opened = HomeOpened.of(event)
        if opened.tab != "home":
            return
        async with refusals(home_tab(client, slack_user=opened.slack_user), console_url=console_url):
            home = await homes.of(client, slack_user=opened.slack_user)
            await client.views_publish(user_id=opened.slack_user, view=blocks.home_view(home, console_url=console_url))

    @app.options({"action_id": NominateField.ORGANISATION.value})
    async def organisation_options(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        # The nominate modal's organisation search: the options are the acknowledgement, so they are one short read
        # as someone accessdesk knows. Someone it does not (yet) know is offered nothing this time and confirmed
        # with Slack after, for their next keystroke; someone the bot cannot act for is offered nothing, and
        # submitting the modal then says why.
        asked = Suggestion.of(body)
        try:
            found = await commands.nominees(None, slack_user=asked.slack_user, matching=asked.typed)
        except Unconfirmed:
            await ack(**blocks.organisation_options([]))
            await confirm(sessionmaker, clock, client, asked.slack_user)
            return
        except (DomainError, NotLinked):
            found = []
        await ack(**blocks.organisation_options(found))

    return app
