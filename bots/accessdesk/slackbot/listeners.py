"""The bolt app's listeners: each reads its payload (:mod:`accessdesk.slackbot.payloads`), acknowledges, calls one
service as the person who asked, and renders with :mod:`accessdesk.slackbot.blocks`. Who asks, from where, and the
services are handed to each by the context middleware (:mod:`accessdesk.slackbot.context`); the rules live in the
domain and are never re-checked here. A refusal is explained to the person alone (:func:`refusals`); any other
failure is the app's error boundary's (:mod:`accessdesk.slackbot.failures`).

No listener awaits Slack's Web API before it acknowledges: Slack waits 3 seconds for the acknowledgement, and its
Web API may take longer. A modal's submission and a menu's options are answered *in* the acknowledgement (errors
shown next to their field, the options themselves), so they decide before it, as the person accessdesk already
knows (``Requester.known``); someone only Slack could name is acknowledged first and decided for after, with the
outcome told privately.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncRespond

from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import DomainError, Invalid, ModelSwitchedOff, NotFound, StepUpRequired
from accessdesk.domain.vocabulary import Verdict
from accessdesk.slackbot import blocks, cohort_blocks
from accessdesk.slackbot.cohort_decisions import cohort_id_of
from accessdesk.slackbot.commands import Elsewhere, nomination_form
from accessdesk.slackbot.context import Explain, Requester, Services
from accessdesk.slackbot.decisions import nomination_id_of
from accessdesk.slackbot.identity import NotLinked
from accessdesk.slackbot.ids import NominateField, Subcommand
from accessdesk.slackbot.payloads import Click, Command, HomeOpened, Submission, Suggestion

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Form:
    """A modal submission not yet acknowledged, and where on the modal a refusal is shown.

    ``fields``: the block of each field the domain may name (``Invalid.field``) or each error ``code`` shown by a
    block. ``view``: the submitted modal, drawn again with any other refusal on top of it (a refusal about no one
    field is not one field's error); None to close the modal and explain any other refusal instead."""

    ack: AsyncAck
    fields: Mapping[str, str]
    view: Mapping[str, Any] | None = None

    def block_for(self, exc: DomainError | NotLinked) -> str | None:
        key = exc.field if isinstance(exc, Invalid) else getattr(exc, "code", "")
        return self.fields.get(key)


@asynccontextmanager
async def refusals(explain: Explain, *, console_url: str, form: Form | None = None) -> AsyncIterator[None]:
    """A refusal is explained to the person alone (ephemeral), and nothing else happens.

    ``form``: a modal submission not yet acknowledged; a refusal it has a block for is shown next to that input
    (``response_action: errors``), any other on top of the modal drawn again if the form says so
    (``response_action: update``), else it closes the modal and is explained."""
    try:
        yield
    except (DomainError, NotLinked) as exc:
        if form is not None:
            message = exc.message if isinstance(exc, DomainError) else blocks.not_linked_short()
            if (block := form.block_for(exc)) is not None:
                await form.ack(response_action="errors", errors={block: message})
                return
            if form.view is not None and (again := blocks.with_refusal(form.view, message)) is not None:
                await form.ack(response_action="update", view=again)
                return
            await form.ack()
        await explain(explanation(exc, console_url=console_url))


def explanation(exc: DomainError | NotLinked, *, console_url: str) -> str:
    """Why a request was refused, for the person alone. An approval that needs a recent sign-in (a click proves
    none) links the console page that completes it after one."""
    if isinstance(exc, StepUpRequired):
        return blocks.step_up_text(exc.message, exc.nomination_id, console_url=console_url)
    if isinstance(exc, DomainError):
        return blocks.refusal_text(exc.message)
    return blocks.not_linked_text(console_url=console_url)


async def submitted(form: Form, requester: Requester, services: Services,
                    use_case: Callable[[Actor], Awaitable[T]]) -> T | None:  # fmt: skip
    """A modal's submission decided: before its acknowledgement as the person accessdesk knows, so that a refusal
    is shown on the modal (one short transaction, no Web API call); else acknowledged first (the modal closes)
    and decided once Slack says who they are, the refusal told in the channel, to them alone. None if refused."""
    if requester.known is not None:
        async with refusals(requester.tell, console_url=services.console_url, form=form):
            done = await use_case(requester.known)
            await form.ack()
            return done
        return None
    await form.ack()
    async with refusals(requester.tell, console_url=services.console_url):
        return await use_case(await requester.actor())
    return None


# Every field of the nominate modal, by the domain's name for it; a model switched off is shown on the model.
NOMINATE_FORM_FIELDS = {**{f.value: f.value for f in NominateField},
                        ModelSwitchedOff.code: NominateField.MODEL.value}  # fmt: skip


def subcommand_of(text: str) -> Subcommand | None:
    """The subcommand a command's text names: help for nothing, None for a word it does not know."""
    words = text.split()
    try:
        return Subcommand(words[0].lower()) if words else Subcommand.HELP
    except ValueError:
        return None


async def accessdesk_command(ack: AsyncAck, command: dict[str, Any], requester: Requester, services: Services,
                             respond: AsyncRespond) -> None:  # fmt: skip
    """``/accessdesk <subcommand> …``: acknowledged at once, then answered by the subcommand."""
    asked = Command.of(command)
    await ack()
    async with refusals(requester.tell, console_url=services.console_url):
        subcommand = subcommand_of(asked.text)
        if subcommand is None:  # the word typed is quoted back, escaped: a command's text is anyone's
            await respond(**blocks.help_message(console_url=services.console_url, unknown=asked.text.split()[0]))
            return
        await SUBCOMMANDS[subcommand](asked, requester, services, respond)


async def open_nominate_modal(asked: Command, requester: Requester, services: Services, respond: AsyncRespond) -> None:
    # Slack's trigger_id lapses 3 seconds after the command: the choices are one short read before it. Who acts is
    # confirmed with Slack here if need be, and remembered: the modal's submission will not ask.
    choices = await services.commands.nomination_choices(actor=await requester.actor())
    if not choices.models or not choices.organisations:
        await respond(**blocks.nothing_to_nominate_message(console_url=services.console_url))
        return
    await requester.client.views_open(trigger_id=asked.trigger_id, view=blocks.nominate_modal(
        choices, channel=requester.in_channel(), now=services.clock.now(), console_url=services.console_url))  # fmt: skip


async def model_status(asked: Command, requester: Requester, services: Services, respond: AsyncRespond) -> None:
    words = asked.text.split()[1:]
    if not words:
        await respond(**blocks.status_usage_message())
        return
    actor, console_url = await requester.actor(), services.console_url
    try:
        status = await services.commands.status(actor=actor, slug=words[0].lower(), channel=requester.in_channel())
    except NotFound:
        await respond(**blocks.no_model_message(words[0]))
        return
    await respond(**(blocks.status_elsewhere_message(status.model_id, console_url=console_url)
                     if isinstance(status, Elsewhere) else blocks.model_status_message(status, console_url=console_url)))  # fmt: skip


async def pending(asked: Command, requester: Requester, services: Services, respond: AsyncRespond) -> None:
    queue, console_url = await services.commands.pending(actor=await requester.actor()), services.console_url
    await respond(**(blocks.no_queue_message(console_url=console_url) if queue is None else
                     blocks.pending_message(queue, channel=requester.in_channel(), console_url=console_url)))  # fmt: skip


async def send_link(asked: Command, requester: Requester, services: Services, respond: AsyncRespond) -> None:
    await services.linking.send_link(requester.client, slack_user=requester.slack_user, team_id=asked.team_id)
    await respond(**blocks.link_sent_message())


async def show_help(asked: Command, requester: Requester, services: Services, respond: AsyncRespond) -> None:
    await respond(**blocks.help_message(console_url=services.console_url))


SUBCOMMANDS: dict[Subcommand, Callable[[Command, Requester, Services, AsyncRespond], Awaitable[None]]] = {
    Subcommand.HELP: show_help,
    Subcommand.LINK: send_link,
    Subcommand.NOMINATE: open_nominate_modal,
    Subcommand.PENDING: pending,
    Subcommand.STATUS: model_status,
}


def on_home(requester: Requester, services: Services) -> Explain:
    """Explain on the person's App Home, drawn again with the explanation on top (a click there has no channel)."""

    async def explain(text: str) -> None:
        await publish_home(requester, services, notice=text)

    return explain


async def publish_home(requester: Requester, services: Services, *, notice: str | None = None,
                       told: str | None = None) -> None:  # fmt: skip
    """The person's App Home drawn (again), as it stands now; for someone accessdesk cannot name, only why.
    ``notice``: a refusal shown on top; ``told``: what their click did, shown on top."""
    try:
        home = await services.homes.of(actor=await requester.actor())
    except NotLinked:
        view = blocks.home_notice(notice or blocks.not_linked_text(console_url=services.console_url))
    else:
        view = blocks.home_view(home, console_url=services.console_url, notice=notice, told=told)
    await requester.client.views_publish(user_id=requester.slack_user, view=view)


async def approve(ack: AsyncAck, body: dict[str, Any], requester: Requester, services: Services) -> None:
    """Approve on a card or on the App Home (Slack asked first, with the button's ``confirm``): acknowledged, then
    decided; the cards follow through the outbox, and a Home clicked on is drawn again."""
    click = Click.of(body)
    await ack()
    decided = None
    async with refusals(on_home(requester, services) if click.on_home else requester.tell,
                        console_url=services.console_url):  # fmt: skip
        decided = await services.decisions.decide(actor=await requester.actor(), verdict=Verdict.APPROVE,
                                                  nomination_id=nomination_id_of(click.value))  # fmt: skip
    if decided is None:
        return
    if click.on_home:
        await publish_home(requester, services)
    await services.prompt.now(decided.messages)


async def approve_all(ack: AsyncAck, body: dict[str, Any], requester: Requester, services: Services) -> None:
    """Approve all on a cohort's card or on the App Home (Slack asked first, with the button's ``confirm``):
    acknowledged, then every member the person may decide on approved; what became of each member is told to them
    alone (a refused member with why, the others decided), and the card follows through the outbox."""
    click = Click.of(body)
    await ack()
    approved = None
    async with refusals(on_home(requester, services) if click.on_home else requester.tell,
                        console_url=services.console_url):  # fmt: skip
        approved = await services.cohorts.approve_all(actor=await requester.actor(), cohort_id=cohort_id_of(click.value))
    if approved is None:
        return
    result = cohort_blocks.approve_all_result(approved.decided)
    if click.on_home:
        await publish_home(requester, services, told=result)
    else:
        await requester.tell(result)
    await services.prompt.now(approved.messages)


async def acknowledge(ack: AsyncAck) -> None:
    """A click Slack only tells us of (a link button: Slack opens its page itself)."""
    await ack()


async def reject(ack: AsyncAck, body: dict[str, Any], requester: Requester, services: Services) -> None:
    """Reject on a card or on the App Home: the modal that names what is rejected and asks for the reason opens
    (the decision is its submission's); a click the rules refuse opens nothing and is explained."""
    click = Click.of(body)
    await ack()
    async with refusals(on_home(requester, services) if click.on_home else requester.tell,
                        console_url=services.console_url):  # fmt: skip
        nomination_id, channel = nomination_id_of(click.value), None if click.on_home else requester.in_channel()
        case = await services.decisions.case(nomination_id=nomination_id, actor=requester.known, channel=channel)
        if case is None:  # only Slack can say who they are, and only as them may the case be shown
            case = await services.decisions.case(nomination_id=nomination_id, actor=await requester.actor(),
                                                 channel=channel)  # fmt: skip
        if case is not None:
            await requester.client.views_open(trigger_id=click.trigger_id,
                                              view=blocks.reject_reason_modal(case, channel=channel))  # fmt: skip
    # While they type the reason: the modal's submission then knows who they are without asking Slack.
    await requester.remember()


async def reject_reason(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], requester: Requester,
                        services: Services) -> None:  # fmt: skip
    """The reason modal submitted: the rejection, its refusal shown on the modal when it can be (else the modal
    closes and it is explained where the modal was opened from); a Home it was opened from is drawn again."""
    submission = Submission.of(body, view)
    nomination_id = nomination_id_of(submission.origin_text("nomination_id"))
    reason = submission.input_value(blocks.REASON_BLOCK, blocks.REASON_INPUT)
    if submission.from_home:
        requester = replace(requester, tell=on_home(requester, services))
    decided = await submitted(Form(ack, {"reason": blocks.REASON_BLOCK}), requester, services,
                              lambda actor: services.decisions.decide(actor=actor, nomination_id=nomination_id,
                                                                      verdict=Verdict.REJECT, reason=reason))  # fmt: skip
    if decided is None:
        return
    if submission.from_home:
        await publish_home(requester, services)
    await services.prompt.now(decided.messages)


async def nominate(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], requester: Requester,
                   services: Services) -> None:  # fmt: skip
    """The nominate modal submitted: the nomination, a refusal shown next to its field when it can be; then a
    private confirmation and the new nomination's cards."""
    values = Submission.of(body, view).values
    # The form is read inside the decision: what cannot be read at all is refused as the domain's refusals are.
    nominated = await submitted(Form(ack, NOMINATE_FORM_FIELDS, view=view),
                                requester, services, lambda actor: services.commands.nominate(
                                    actor=actor, form=nomination_form(values)))  # fmt: skip
    if nominated is not None:
        nomination_id, messages = nominated
        confirmation = blocks.nominated_message(nomination_id, console_url=services.console_url)
        await requester.client.chat_postEphemeral(channel=requester.in_channel(), user=requester.slack_user,
                                                  **confirmation)  # fmt: skip
        await services.prompt.now(messages)


async def home_opened(event: dict[str, Any], requester: Requester, services: Services) -> None:
    """The Home tab drawn. Bolt acknowledges events itself, before this runs; opening the Messages tab is the same
    event, and draws nothing."""
    if HomeOpened.of(event).tab != "home":
        return
    async with refusals(requester.tell, console_url=services.console_url):
        await publish_home(requester, services)


async def organisation_options(ack: AsyncAck, body: dict[str, Any], requester: Requester,
                               services: Services) -> None:  # fmt: skip
    """The nominate modal's organisation search: the options are the acknowledgement, so they are one short read
    as someone accessdesk knows. Someone it does not know yet is offered nothing this time and confirmed with Slack
    after, for their next keystroke; someone who may not nominate is offered nothing, and submitting the modal then
    says why."""
    typed = Suggestion.of(body).typed
    found = []
    if requester.known is not None:
        try:
            found = await services.commands.nominees(actor=requester.known, matching=typed)
        except DomainError:
            found = []
    await ack(**blocks.organisation_options(found))
    await requester.remember()

