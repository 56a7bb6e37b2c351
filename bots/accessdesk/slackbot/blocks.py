"""Block Kit, built by pure functions: what the bot says, comparable in tests without Slack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from accessdesk.db.tables import Decision, FrontierModel, Nomination, Organisation
from accessdesk.domain.coselection import MAX_TEXT, effective_state
from accessdesk.domain.transitions import how_it_lapsed
from accessdesk.domain.vocabulary import Action, GrantState, NominationKind, NominationState, Side, Verdict
from accessdesk.slackbot import cohort_blocks, confirmations, times
from accessdesk.slackbot.confirmations import Case
from accessdesk.slackbot.ids import ActionId, CallbackId, CommandName, NominateField, Subcommand
from accessdesk.slackbot.mrkdwn import console_page, counted, escape

if TYPE_CHECKING:
    from accessdesk.db.tables import AccessGrant
    from accessdesk.slackbot.commands import ModelStatus, NominationChoices, Queue
    from accessdesk.slackbot.home import Home

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    subcommand: Subcommand
    usage: str
    summary: str


USAGES = (
    Usage(Subcommand.NOMINATE, "nominate", "nominate a partner organisation for early access to a model"),
    Usage(Subcommand.STATUS, "status <model>", "where a model's nominations and grants stand"),
    Usage(Subcommand.PENDING, "pending", "the nominations waiting for your decision"),
    Usage(Subcommand.LINK, "link", "link your Slack account to your accessdesk account"),
    Usage(Subcommand.HELP, "help", "this message"),
)


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _ephemeral(text: str, blocks: list[Block]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def help_message(*, console_url: str, unknown: str | None = None) -> dict[str, Any]:
    """The answer to ``/accessdesk help`` (and to anything it does not understand, ``unknown``: the word typed,
    quoted back escaped), seen only by the asker."""
    lines = [f"`{CommandName.ACCESSDESK} {escape(u.usage)}` — {u.summary}" for u in USAGES]
    commands = f"accessdesk commands: {escape(', '.join(u.usage for u in USAGES))}"
    intro = "*accessdesk* — co-selected early access to frontier AI models"
    if unknown is not None:
        said = f"I don't know `{CommandName.ACCESSDESK} {escape(unknown[:64])}`."
        commands, intro = f"{said} {commands}", f"{said} {intro}"
    return _ephemeral(
        commands,
        [
            {"type": "section", "text": _mrkdwn(intro)},
            {"type": "section", "text": _mrkdwn("\n".join(lines))},
            {"type": "context", "elements": [_mrkdwn(
                f"Everything else, and all of this too, is in the console: <{console_url}|accessdesk>."
            )]},
        ],
    )  # fmt: skip


def notification_text(topic: str, payload: Mapping[str, Any]) -> str:
    """A plain summary of an outbox message: its topic, then each payload field on its own line."""
    lines = [f"accessdesk: {escape(topic)}"]
    lines += [f"{escape(str(key))}: {escape(str(value))}" for key, value in payload.items()]
    return "\n".join(lines)


# The reject modal's one input, named so that ``response_action: errors`` can point at it.
REASON_BLOCK = "reason"
REASON_INPUT = "reason"
MAX_REASON = 5000


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": False}


def nomination_url(console_url: str, nomination_id: uuid.UUID) -> str:
    return console_page(console_url, f"nominations/{nomination_id}")


def _outcome(nomination: Nomination) -> str:
    state = NominationState(nomination.state)
    if state == NominationState.APPROVED and nomination.kind == NominationKind.EXTENSION.value:
        return "*Approved* by both sides: the grant's window is extended."
    if state == NominationState.APPROVED:
        return "*Approved* by both sides: the grant is created."
    if state == NominationState.REJECTED:
        return f"*Rejected*: {escape(nomination.outcome_reason or 'no reason given')}"
    if state == NominationState.WITHDRAWN:
        return "*Withdrawn* by the nominator."
    word, rest = how_it_lapsed(nomination)  # Expired (its model's time for deciding), or Lapsed (its start came)
    return f"*{word}* {rest}."


def _window(nomination: Nomination | AccessGrant) -> str:
    return f"{times.local(nomination.starts_at)} → {times.local(nomination.ends_at)}"


def decide_buttons(case: Case, *, side: Side | None) -> Block:
    """Approve and Reject, wherever a nomination is offered for decision (a channel's card, a person's App Home):
    the same action ids, the same handling. Approve asks first, saying what it will do (``side``: the one viewer's
    side, None for a card both sides see); Reject opens a modal that says it and asks for the reason."""
    value = str(case.nomination.id)
    return {"type": "actions", "block_id": f"decide:{value}", "elements": [
        {"type": "button", "action_id": ActionId.APPROVE.value, "text": _plain("Approve"), "style": "primary",
         "value": value, "confirm": confirmations.approve_confirm(case, side=side)},
        {"type": "button", "action_id": ActionId.REJECT.value, "text": _plain("Reject"), "style": "danger",
         "value": value},
    ]}  # fmt: skip


def _decision_line(decision: Decision, people: Mapping[uuid.UUID, str]) -> str:
    who = escape(people.get(decision.approver_id, "someone"))
    if decision.verdict == Verdict.REJECT.value:
        return f"✗ {who} rejected ({decision.side} side)"
    return f"✓ {who} approved ({decision.side} side)"


def approval_card(
    nomination: Nomination,
    *,
    model: FrontierModel,
    names: Mapping[uuid.UUID, str],
    people: Mapping[uuid.UUID, str],
    decisions: Sequence[Decision],
    console_url: str,
) -> dict[str, Any]:
    """The approval card for a channel on the model's list: the nomination, the tally per side, who decided, and
    Approve / Reject while it is pending (the outcome once it is not). Edited in place after every decision."""
    organisation = names.get(nomination.organisation_id, "an organisation")
    what = "Extension" if nomination.kind == NominationKind.EXTENSION.value else "Nomination"
    title = f"{what}: {organisation} for {model.name} ({model.codename})"
    tally = (f"Developer {nomination.developer_approvals}/{nomination.developer_quorum} · "
             f"Government {nomination.government_approvals}/{nomination.government_quorum}")  # fmt: skip
    blocks: list[Block] = [
        {"type": "header", "text": _plain(title[:150])},
        {"type": "section", "fields": [
            _mrkdwn(f"*Nominated by*\n{escape(people.get(nomination.nominated_by, 'someone'))}"),
            _mrkdwn(f"*Organisation*\n{escape(organisation)}"),
            _mrkdwn(f"*Window*\n{_window(nomination)}"),
            _mrkdwn(f"*Actions*\n{escape(', '.join(nomination.actions))}"),
        ]},
        {"type": "section", "text": _mrkdwn(f"*Justification*\n{escape(nomination.justification[:1500])}")},
        {"type": "context", "elements": [_mrkdwn(f"*Approvals* — {tally}")]},
    ]  # fmt: skip
    if decisions:
        blocks.append({"type": "context", "elements": [_mrkdwn("\n".join(_decision_line(d, people) for d in decisions))]})
    if nomination.state == NominationState.PENDING.value:
        blocks.append(decide_buttons(Case(nomination, organisation, model.name), side=None))
    else:
        blocks.append({"type": "section", "text": _mrkdwn(_outcome(nomination))})
    blocks.append({"type": "context", "elements": [_mrkdwn(
        f"<{nomination_url(console_url, nomination.id)}|Open in accessdesk>"
    )]})  # fmt: skip
    return {"text": f"{title} — {tally}", "blocks": blocks}


def console_link_only(nomination_id: uuid.UUID, *, console_url: str) -> dict[str, Any]:
    """What a channel not on the model's list may see of a nomination: that there is one, and a link.

    Need-to-know: no model name or codename, no organisation, no window; the console shows them to those allowed."""
    text = f"A nomination is waiting in accessdesk: <{nomination_url(console_url, nomination_id)}|open it in the console>."
    return {"text": "A nomination is waiting in accessdesk", "blocks": [{"type": "section", "text": _mrkdwn(text)}]}


def reject_reason_modal(case: Case, *, channel: str | None) -> dict[str, Any]:
    """The modal Reject opens: what is rejected (organisation, model, window) and what rejecting does, then a
    required reason. ``private_metadata`` carries the nomination and where the click came from: the channel (where
    a refusal is then explained), or None for the person's App Home (which is then drawn again)."""
    nomination = case.nomination
    origin: dict[str, Any] = {"nomination_id": str(nomination.id)}
    origin.update({"channel": channel} if channel is not None else {"home": True})
    what = "extension" if case.extension else "nomination"
    return {
        "type": "modal",
        "callback_id": CallbackId.REJECT_REASON.value,
        "private_metadata": json.dumps(origin),
        "title": _plain(f"Reject {what}"),
        "submit": _plain("Reject"),
        "close": _plain("Cancel"),
        "blocks": [
            {"type": "section", "block_id": "case", "text": _mrkdwn(
                f"*{escape(case.organisation)}* for *{escape(case.model)}*\n{_window(nomination)} · "
                f"{escape(', '.join(nomination.actions))}")},
            {"type": "section", "block_id": "effect", "text": _plain(confirmations.reject_words(case))},
            {"type": "input", "block_id": REASON_BLOCK, "label": _plain("Why are you rejecting it?"),
             "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                         "max_length": MAX_REASON}},
        ],
    }  # fmt: skip


# Where a modal shows a refusal that no input of it is about (``response_action: update``: the modal drawn again,
# as submitted, with the refusal on top; Slack keeps what was typed in inputs whose block and action ids are kept).
REFUSAL_BLOCK = "refusal"
# Where the App Home shows what the person's last click did (Approve all's result).
TOLD_BLOCK = "told"
# What of a submitted view may be given back to Slack in a ``views.update`` or ``response_action: update``.
_VIEW_FIELDS = ("type", "callback_id", "private_metadata", "title", "submit", "close", "clear_on_close",
                "notify_on_close", "external_id")  # fmt: skip


def with_refusal(view: Mapping[str, Any], message: str) -> dict[str, Any] | None:
    """The submitted modal ``view`` again with ``message`` in its own block on top (replacing an earlier one), for a
    refusal not about any one input; None for a view without blocks (nothing to draw it again from)."""
    shown = [b for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("block_id") != REFUSAL_BLOCK]
    if not shown:
        return None
    refusal = {"type": "section", "block_id": REFUSAL_BLOCK,
               "text": _mrkdwn(f":warning: *Nothing was submitted:* {escape(message)}")}  # fmt: skip
    return {**{k: view[k] for k in _VIEW_FIELDS if k in view}, "blocks": [refusal, *shown]}


def decision_note(name: str, verdict: Verdict, side: Side) -> str:
    """The card's thread reply after a decision."""
    done = "approved" if verdict == Verdict.APPROVE else "rejected"
    return f"{escape(name)} {done} ({side.value} side)"


def outcome_message(nomination: Nomination, *, model: FrontierModel, organisation: str, console_url: str) -> str:
    """The nominator's direct message once their nomination is decided."""
    link = f"<{nomination_url(console_url, nomination.id)}|details in accessdesk>"
    what = f"Your nomination of {escape(organisation)} for {escape(model.name)}"
    return f"{what}: {_outcome(nomination)} ({link})"


def not_linked_text(*, console_url: str) -> str:
    """Why the bot will not act for someone it cannot match to an accessdesk account."""
    return ("I can't tell who you are in accessdesk, so nothing was changed. Either your Slack account's confirmed "
            "e-mail address belongs to one active accessdesk account, or you link them: type "
            f"`{CommandName.ACCESSDESK} link` and confirm the link I send you after signing in to "
            f"<{console_url}|accessdesk>.")  # fmt: skip


def link_message(url: str, *, minutes: int) -> dict[str, Any]:
    """The direct message with a one-time link to confirm in the console."""
    text = (f"To act as yourself in accessdesk from Slack, open <{url}|this link>, sign in, and confirm. It works "
            f"once, for {minutes} minutes. If you did not type `{CommandName.ACCESSDESK} link`, ignore this message "
            "and do not pass the link on: whoever confirms it lets this Slack account act as them.")
    return {"text": text, "blocks": [{"type": "section", "text": _mrkdwn(text)}]}


def link_sent_message() -> dict[str, Any]:
    text = "I've sent you a direct message with a link to confirm in accessdesk."
    return _ephemeral(text, [{"type": "section", "text": _mrkdwn(text)}])


def refusal_text(message: str) -> str:
    """A click the rules refused: why, and that nothing changed."""
    return f"Nothing was changed: {escape(message)}"


def approval_url(console_url: str, nomination_id: uuid.UUID) -> str:
    """The console's page that confirms an approval, after a fresh sign-in if it needs one."""
    return console_page(console_url, f"nominations/{nomination_id}/approve")


def step_up_text(message: str, nomination_id: uuid.UUID, *, console_url: str) -> str:
    """An Approve click refused for want of a recent sign-in (a click proves none): why, that nothing changed, and
    the console page that completes it once the person has signed in again; the card then updates as usual."""
    return (f"Nothing was changed: {escape(message)}. <{approval_url(console_url, nomination_id)}|Sign in again and "
            "approve in accessdesk>: the card here updates once you have.")  # fmt: skip


def failed_text(reference: str, *, unavailable: bool) -> str:
    """A request that failed once Slack had it acknowledged: it may or may not have been done, and the reference
    names it in accessdesk's log."""
    if unavailable:
        return (f"Sorry: accessdesk cannot reach its database for a moment, so what you asked may not have been "
                f"done. Please try again in a minute (reference `{reference}`).")  # fmt: skip
    return (f"Sorry: something went wrong in accessdesk, so what you asked may not have been done. Please check in "
            f"the console before trying again, and quote reference `{reference}` if you ask for help.")  # fmt: skip


def _option(text: str, value: str) -> Block:
    return {"text": _plain(text[:75]), "value": value}  # Slack cuts an option's text at 75 characters


def _input(field: NominateField, label: str, element: Block, *, hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": field.value, "label": _plain(label),
                    "element": {**element, "action_id": field.value}}  # fmt: skip
    if hint:
        block["hint"] = _plain(hint)
    return block


def _first_start(now: datetime) -> datetime:
    """The start the modal suggests: tomorrow, on the hour."""
    return (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def nominate_modal(choices: NominationChoices, *, channel: str, now: datetime, console_url: str) -> dict[str, Any]:
    """The nominate modal: model (by name, never its codename), organisation, window, actions, justification.

    Each input's ``block_id`` is the domain's name for the field, so a refusal is shown next to it.
    ``private_metadata`` carries the channel the command came from, where the confirmation is posted."""
    starts_at = _first_start(now)
    note = ("Only the first 100 models are listed; for any other, nominate in the console: "
            f"<{console_page(console_url, 'nominations/new')}|new nomination>.")  # fmt: skip
    window_hint = "In your Slack time zone; accessdesk records the window in UTC."
    blocks: list[Block] = [_input(NominateField.MODEL, "Model", {
        "type": "static_select", "placeholder": _plain("Choose a model"),
        "options": [_option(m.name, str(m.id)) for m in choices.models],
    })]  # fmt: skip
    if choices.more_models:
        blocks.append({"type": "context", "elements": [_mrkdwn(note)]})
    # Loaded from us as the person types (block_suggestion), so that every organisation can be found, however many
    # there are; with nothing typed yet the first ones alphabetically are listed, as a static list would be.
    blocks.append(_input(NominateField.ORGANISATION, "Partner or government organisation", {
        "type": "external_select", "placeholder": _plain("Type to find an organisation"), "min_query_length": 0,
    }, hint="Type any part of the organisation's name."))  # fmt: skip
    blocks += [
        _input(NominateField.STARTS_AT, "Access starts", {
            "type": "datetimepicker", "initial_date_time": int(starts_at.timestamp())}, hint=window_hint),
        _input(NominateField.ENDS_AT, "Access ends", {
            "type": "datetimepicker", "initial_date_time": int((starts_at + timedelta(days=30)).timestamp())},
            hint=window_hint),
        _input(NominateField.ACTIONS, "Actions", {
            "type": "checkboxes", "options": [_option(a.value.replace("_", "-"), a.value) for a in Action]}),
        _input(NominateField.JUSTIFICATION, "Justification", {
            "type": "plain_text_input", "multiline": True, "max_length": MAX_TEXT,
            "placeholder": _plain("Why this organisation needs this access before release")}),
    ]  # fmt: skip
    return {
        "type": "modal",
        "callback_id": CallbackId.NOMINATE.value,
        "private_metadata": json.dumps({"channel": channel}),
        "title": _plain("Nominate"),
        "submit": _plain("Nominate"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def _organisation_option(organisation: Organisation) -> Block:
    # Slack cuts an option's text at 75 characters: a long name is shortened instead, so that its kind shows.
    kind = f" ({organisation.kind})"
    room = 75 - len(kind)
    name = organisation.name if len(organisation.name) <= room else organisation.name[: room - 1] + "…"
    return _option(f"{name}{kind}", str(organisation.id))


def organisation_options(organisations: Sequence[Organisation]) -> dict[str, Any]:
    """The answer to the nominate modal's organisation search (``block_suggestion``): one option per organisation,
    named with its kind, which a long name never cuts off."""
    return {"options": [_organisation_option(o) for o in organisations]}


def nothing_to_nominate_message(*, console_url: str) -> dict[str, Any]:
    """For someone who sees no model open to nominations, or no organisation to nominate."""
    text = ("There is nothing you can nominate from Slack: you see no model open to nominations or no partner or "
            f"government organisation. The console shows what you can see: <{console_url}|accessdesk>.")  # fmt: skip
    return _ephemeral("Nothing to nominate", [{"type": "section", "text": _mrkdwn(text)}])


def nominated_message(nomination_id: uuid.UUID, *, console_url: str) -> dict[str, Any]:
    """The nominator's confirmation. It names nothing (the channel may not be on the model's list); the approval
    cards go to the model's own channels."""
    link = console_page(console_url, f"nominations/{nomination_id}")
    text = f"Your nomination is recorded and waits for both sides' approvers: <{link}|follow it in accessdesk>."
    return {"text": "Your nomination is recorded", "blocks": [{"type": "section", "text": _mrkdwn(text)}]}


def status_usage_message() -> dict[str, Any]:
    text = f"Which model? `{CommandName.ACCESSDESK} status <model>`, with the model's short name (its slug)."
    return _ephemeral(text, [{"type": "section", "text": _mrkdwn(text)}])


def no_model_message(slug: str) -> dict[str, Any]:
    """For a slug that names no model the asker can see: the same words whether it exists or not."""
    text = f"There is no model `{escape(slug[:64])}` you can see."
    return _ephemeral(text, [{"type": "section", "text": _mrkdwn(text)}])


def status_elsewhere_message(model_id: uuid.UUID, *, console_url: str) -> dict[str, Any]:
    """Need-to-know: in a channel not on the model's list, nothing of the model, only a link to its page."""
    link = console_page(console_url, f"models/{model_id}")
    text = f"This model is not discussed in this channel, so nothing of it is shown here: <{link}|open the console>."
    return _ephemeral("Open it in the console", [{"type": "section", "text": _mrkdwn(text)}])


def _grant_counts(counts: Mapping[GrantState, int]) -> str:
    found = [f"{counts[s]} {s.value}" for s in GrantState if counts.get(s)]
    return ", ".join(found) if found else "none"


def model_status_message(status: ModelStatus, *, console_url: str) -> dict[str, Any]:
    """``/accessdesk status``: the model by name (never its codename), its release, designation, grants by
    state and pending nominations."""
    model = status.model
    link = console_page(console_url, f"models/{model.id}")
    return _ephemeral(f"Status of {escape(model.name)}", [
        {"type": "header", "text": _plain(model.name[:150])},
        {"type": "section", "fields": [
            _mrkdwn(f"*Planned release*\n{times.local(model.planned_release_at)}"),
            _mrkdwn(f"*Designation*\n{model.designation.replace('_', ' ')}"),
            _mrkdwn(f"*Grants*\n{_grant_counts(status.grants)}"),
            _mrkdwn(f"*Pending nominations*\n{status.pending}"),
        ]},
        {"type": "context", "elements": [_mrkdwn(f"<{link}|Open in accessdesk>")]},
    ])  # fmt: skip


def _queued(nomination: Nomination, *, model: FrontierModel, names: Mapping[uuid.UUID, str], channel: str,
            console_url: str) -> str:  # fmt: skip
    link = console_page(console_url, f"nominations/{nomination.id}")
    if channel not in model.slack_channels:
        return f"• <{link}|A nomination> (its model is not discussed in this channel)"
    organisation = escape(names.get(nomination.organisation_id, "an organisation"))
    return f"• <{link}|{organisation} for {escape(model.name)}> — {_window(nomination)}"


def _waiting_count(count: int, *, more: bool, cohorts: int = 0) -> str:
    """``1 nomination waiting for your decision``; ``20+ nominations …`` when the list was cut; ``… and 2 cohorts
    …`` when some wait as cohorts (each one item, however many members)."""
    nominations = f"{count}{'+' if more else ''} {'nominations' if more or count != 1 else 'nomination'}"
    if not cohorts:
        return f"{nominations} waiting for your decision"
    grouped = counted(cohorts, "cohort")
    return f"{nominations} and {grouped} waiting for your decision" if count or more else f"{grouped} waiting for your decision"


def pending_message(queue: Queue, *, channel: str, console_url: str) -> dict[str, Any]:
    """``/accessdesk pending``: the nominations waiting for the asker's decision, each linked to the console, in
    full only where the channel is on the nomination's model's list."""
    if not queue.nominations and not queue.cohorts:
        text = "Nothing is waiting for your decision."
        return _ephemeral(text, [{"type": "section", "text": _mrkdwn(text)}])
    count = f"{len(queue.nominations) + len(queue.cohorts)}{'+' if queue.more else ''}"
    # A cohort is one line however many of its members wait (their names are on its card and its page).
    lines = [f"• {cohort_blocks.waiting_line(c, console_url=console_url)}" if channel in c.model.slack_channels
             else f"• {cohort_blocks.waiting_elsewhere(c, console_url=console_url)}" for c in queue.cohorts]  # fmt: skip
    lines += [_queued(n, model=queue.models[n.model_id], names=queue.names, channel=channel, console_url=console_url)
              for n in queue.nominations]  # fmt: skip
    blocks: list[Block] = [
        {"type": "section", "text": _mrkdwn(f"*Waiting for your decision* ({count})")},
        {"type": "section", "text": _mrkdwn("\n".join(lines)[:3000])},
    ]
    if queue.more:
        more = console_page(console_url, "nominations?for_me=1")
        blocks.append({"type": "context", "elements": [_mrkdwn(f"More in the console: <{more}|your queue>.")]})
    return _ephemeral(_waiting_count(len(queue.nominations), more=queue.more, cohorts=len(queue.cohorts)), blocks)


def no_queue_message(*, console_url: str) -> dict[str, Any]:
    text = ("You have no approval queue: only approvers and admins of the developer or the government decide on "
            f"nominations. What you can see is in the console: <{console_url}|accessdesk>.")  # fmt: skip
    return _ephemeral("You have no approval queue", [{"type": "section", "text": _mrkdwn(text)}])


def not_linked_short() -> str:
    """:func:`not_linked_text` for where Slack shows plain text only (a modal's field error)."""
    return ("I can't tell who you are in accessdesk, so nothing was submitted: your Slack e-mail must be confirmed "
            "and belong to one active accessdesk account.")  # fmt: skip


def _home_item(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _home_note(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _case(row: Nomination | AccessGrant, names: Mapping[uuid.UUID, str], *, link: str) -> str:
    organisation = escape(names.get(row.organisation_id, "an organisation"))
    model = escape(names.get(row.model_id, "a model"))
    return f"<{link}|{organisation} for {model}> — {_window(row)}"


def _waiting(nomination: Nomination, home: Home, *, console_url: str) -> list[Block]:
    """One nomination of the person's queue: the case, linked, and Approve / Reject as on the cards."""
    case = Case(nomination, home.names.get(nomination.organisation_id, "an organisation"),
                home.names.get(nomination.model_id, "a model"))  # fmt: skip
    return [_home_item(_case(nomination, home.names, link=nomination_url(console_url, nomination.id))),
            decide_buttons(case, side=home.sides.get(nomination.id))]  # fmt: skip


def home_view(home: Home, *, console_url: str, notice: str | None = None, told: str | None = None) -> dict[str, Any]:
    """The App Home: what waits for the person's decision (with Approve and Reject, as on the cards; a cohort as
    one item, with Approve all), the newest nominations they made (with their state), and access ending within 14
    days, each linked to the console. Models by name, never by codename; instants in each reader's own time zone.
    ``notice``: why what they just asked was refused, shown on top; ``told``: what it did, shown on top."""
    blocks: list[Block] = []
    if notice is not None:
        blocks.append({"type": "section", "block_id": REFUSAL_BLOCK, "text": _mrkdwn(f":warning: {notice}")})
    if told is not None:
        blocks.append({"type": "section", "block_id": TOLD_BLOCK, "text": _mrkdwn(told)})
    header = (_waiting_count(len(home.queue or []), more=home.more_queue, cohorts=len(home.cohorts))
              if home.queue or home.cohorts else "Waiting for your decision")  # fmt: skip
    blocks.append({"type": "header", "text": _plain(header[:150])})
    if home.queue is None:
        blocks.append(_home_item("You have no approval queue: only approvers and admins of the developer or the "
                                 "government decide on nominations."))  # fmt: skip
    elif not home.queue and not home.cohorts:
        blocks.append(_home_item("Nothing is waiting for your decision."))
    for cohort in home.cohorts:
        blocks += cohort_blocks.home_cohort(cohort, console_url=console_url)
    for nomination in home.queue or []:
        blocks += _waiting(nomination, home, console_url=console_url)
    if home.more_queue:
        more = console_page(console_url, "nominations?for_me=1")
        blocks.append(_home_note(f"More in the console: <{more}|your queue>."))

    blocks += [{"type": "divider"}, {"type": "header", "text": _plain("Your nominations")}]
    if not home.mine:
        blocks.append(_home_item("You have not nominated anyone."))
    blocks += [_home_item(f"{_case(n, home.names, link=nomination_url(console_url, n.id))} · "
                          f"_{effective_state(n, home.now).value}_") for n in home.mine]  # fmt: skip
    if home.more_mine:
        more = console_page(console_url, "nominations?mine=1")
        blocks.append(_home_note(f"Your {len(home.mine)} newest; all of them in the console: "
                                 f"<{more}|your nominations>."))  # fmt: skip

    blocks += [{"type": "divider"}, {"type": "header", "text": _plain("Access ending within 14 days")}]
    if not home.ending:
        blocks.append(_home_item("No access you can see ends within the next 14 days."))
    blocks += [_home_item(_case(g, home.names, link=console_page(console_url, f"grants/{g.id}")))
               for g in home.ending]  # fmt: skip
    if home.more_ending:
        blocks.append(_home_note(f"The 20 ending soonest; more in the console: <{console_url}|accessdesk>."))
    blocks.append(_home_note(f"As of {times.local(home.now)} · <{console_page(console_url, '')}|Open accessdesk>"))
    return {"type": "home", "blocks": blocks}


def home_notice(text: str) -> dict[str, Any]:
    """A Home tab that only explains (someone the bot cannot match to an accessdesk account, or a refusal)."""
    return {"type": "home", "blocks": [
        {"type": "header", "text": _plain("accessdesk")},
        {"type": "section", "text": _mrkdwn(text)},
    ]}  # fmt: skip
