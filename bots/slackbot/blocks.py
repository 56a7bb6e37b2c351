"""Block Kit, built by pure functions: what the bot says, comparable in tests without Slack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accessdesk.db.tables import Decision, FrontierModel, Nomination
from accessdesk.domain.vocabulary import NominationKind, NominationState, Side, Verdict
from bots.slackbot.ids import ActionId, CallbackId, CommandName, Subcommand

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    subcommand: Subcommand
    usage: str
    summary: str
    available: bool


# The bot is built in steps (issue #5); the help says plainly which subcommands work today.
USAGES = (
    Usage(Subcommand.NOMINATE, "nominate", "nominate a partner organisation for early access to a model", False),
    Usage(Subcommand.STATUS, "status <model>", "where a model's nominations and grants stand", False),
    Usage(Subcommand.PENDING, "pending", "the nominations waiting for your decision", False),
    Usage(Subcommand.LINK, "link", "link your Slack account to your accessdesk account", False),
    Usage(Subcommand.HELP, "help", "this message", True),
)


def escape(text: str) -> str:
    """Slack reads ``&``, ``<`` and ``>`` as markup in message text; shown literally, they must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _ephemeral(text: str, blocks: list[Block]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def help_message(*, console_url: str) -> dict[str, Any]:
    """The answer to ``/accessdesk help`` (and to anything it does not understand), seen only by the asker."""
    lines = [
        f"`{CommandName.ACCESSDESK} {escape(u.usage)}` — {u.summary}" + ("" if u.available else " _(coming soon)_")
        for u in USAGES
    ]
    coming = ", ".join(f"`{u.subcommand}`" for u in USAGES if not u.available)
    return _ephemeral(
        f"accessdesk commands: {escape(', '.join(u.usage for u in USAGES))}",
        [
            {"type": "section", "text": _mrkdwn("*accessdesk* — co-selected early access to frontier AI models")},
            {"type": "section", "text": _mrkdwn("\n".join(lines))},
            {"type": "context", "elements": [_mrkdwn(
                f"Not available in Slack yet: {coming}. Meanwhile use the console: <{console_url}|accessdesk>."
            )]},
        ],
    )  # fmt: skip


def not_available_message(subcommand: Subcommand, *, console_url: str) -> dict[str, Any]:
    """The honest answer to a subcommand the bot does not do yet."""
    text = (
        f"`{CommandName.ACCESSDESK} {subcommand}` is not available yet. "
        f"Meanwhile use the console: <{console_url}|accessdesk>."
    )
    return _ephemeral(f"/accessdesk {subcommand} is not available yet", [{"type": "section", "text": _mrkdwn(text)}])


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


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def nomination_url(console_url: str, nomination_id: uuid.UUID) -> str:
    return f"{console_url.rstrip('/')}/nominations/{nomination_id}"


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
    return "*Lapsed*: not decided by both sides before the proposed start."


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
            _mrkdwn(f"*Window (UTC)*\n{_when(nomination.starts_at)} → {_when(nomination.ends_at)}"),
            _mrkdwn(f"*Actions*\n{escape(', '.join(nomination.actions))}"),
        ]},
        {"type": "section", "text": _mrkdwn(f"*Justification*\n{escape(nomination.justification[:1500])}")},
        {"type": "context", "elements": [_mrkdwn(f"*Approvals* — {tally}")]},
    ]  # fmt: skip
    if decisions:
        blocks.append({"type": "context", "elements": [_mrkdwn("\n".join(_decision_line(d, people) for d in decisions))]})
    if nomination.state == NominationState.PENDING.value:
        value = str(nomination.id)
        blocks.append({"type": "actions", "block_id": f"decide:{value}", "elements": [
            {"type": "button", "action_id": ActionId.APPROVE.value, "text": _plain("Approve"), "style": "primary",
             "value": value},
            {"type": "button", "action_id": ActionId.REJECT.value, "text": _plain("Reject"), "style": "danger",
             "value": value},
        ]})  # fmt: skip
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


def reject_reason_modal(nomination_id: uuid.UUID, *, channel: str) -> dict[str, Any]:
    """The modal Reject opens: a required reason. ``private_metadata`` carries the nomination and the channel the
    click came from (where a refusal is then explained)."""
    return {
        "type": "modal",
        "callback_id": CallbackId.REJECT_REASON.value,
        "private_metadata": json.dumps({"nomination_id": str(nomination_id), "channel": channel}),
        "title": _plain("Reject nomination"),
        "submit": _plain("Reject"),
        "close": _plain("Cancel"),
        "blocks": [{
            "type": "input", "block_id": REASON_BLOCK, "label": _plain("Why are you rejecting it?"),
            "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                        "max_length": MAX_REASON},
        }],
    }  # fmt: skip


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
    return ("I can't tell who you are in accessdesk, so nothing was changed. Your Slack account's e-mail address must "
            "be confirmed and belong to exactly one active accessdesk account. Linking by hand is not available yet: "
            f"ask your admin to add you with the e-mail you use in Slack, or sign in to the console at "
            f"<{console_url}|accessdesk>.")  # fmt: skip


def refusal_text(message: str) -> str:
    """A click the rules refused: why, and that nothing changed."""
    return f"Nothing was changed: {escape(message)}"
