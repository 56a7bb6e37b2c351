"""Block Kit for cohorts, built by pure functions: a cohort's card, "Approve all" and what it did, and a cohort as
one item of a person's queue (App Home, ``/accessdesk pending``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accessdesk.domain.vocabulary import NominationState, Side
from accessdesk.slackbot import times
from accessdesk.slackbot.confirmations import BUTTON, TEXT, TITLE
from accessdesk.slackbot.ids import ActionId
from accessdesk.slackbot.mrkdwn import console_page, counted, escape

if TYPE_CHECKING:
    from accessdesk.db.tables import Cohort, FrontierModel
    from accessdesk.domain.cohorts import CohortDecided
    from accessdesk.slackbot.cohort_cards import CohortCard

Block = dict[str, Any]
# A cohort's name is cut at this length in a confirmation dialog, so that what it does is never the part cut off.
NAME = 40
# The members not yet decided are named up to this many characters (a section holds 3000), then counted.
NAMES = 1500


@dataclass(frozen=True, slots=True)
class WaitingCohort:
    """A cohort as one item of a person's queue: ``waiting`` of its members wait for their decision, which counts
    for ``side`` (None where not known)."""

    cohort: Cohort
    model: FrontierModel
    waiting: int
    side: Side | None = None


def _plain(text: str, limit: int = 150) -> Block:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": False}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cohort_url(console_url: str, cohort_id: uuid.UUID) -> str:
    return console_page(console_url, f"cohorts/{cohort_id}")


def named(names: Sequence[str], *, limit: int = NAMES) -> str:
    """``Acme, Beta and 3 more``: the names (escaped) as far as ``limit`` characters take them, the rest counted."""
    shown: list[str] = []
    used = 0
    for name in names:
        text = escape(name)
        if used + len(text) + 2 > limit - 20:  # room kept for "and N more"
            break
        shown.append(text)
        used += len(text) + 2
    rest = len(names) - len(shown)
    if not shown:
        return f"{rest} members" if rest else ""
    listed = ", ".join(shown)
    return f"{listed} and {rest} more" if rest else listed


def approve_all_confirm(name: str, pending: int, completes: Mapping[Side, int]) -> Block:
    """Approve all's confirmation dialog on a card both sides see: what the click does, from the members' tally
    (how many one more approval of each side completes: those get their access)."""
    text = (f"This approves, for your side, each of the {counted(pending, 'pending member')} of “{_cut(name, NAME)}” "
            f"that you may decide on, each as its own decision. A developer approval completes "
            f"{completes.get(Side.DEVELOPER, 0)} of them, a government one {completes.get(Side.GOVERNMENT, 0)}: "
            "those get access. Members you nominated or decided are skipped.")  # fmt: skip
    return {"title": _plain("Approve all pending members?", TITLE), "text": _plain(text, TEXT),
            "confirm": _plain("Yes, approve all", BUTTON), "deny": _plain("Cancel", BUTTON), "style": "primary"}  # fmt: skip


def approve_all_confirm_for(name: str, waiting: int, side: Side | None) -> Block:
    """Approve all's confirmation dialog for one person (their App Home): the members waiting for them."""
    who = f"for the {side.value} side" if side is not None else "for your side"
    text = (f"This approves, {who}, the {counted(waiting, 'member')} of “{_cut(name, NAME)}” waiting for your "
            "decision, each as its own decision; a member gets access once both sides have approved it. Members "
            "that are decided or closed in the meantime are skipped.")  # fmt: skip
    return {"title": _plain(f"Approve {counted(waiting, 'member')}?", TITLE), "text": _plain(text, TEXT),
            "confirm": _plain("Yes, approve all", BUTTON), "deny": _plain("Cancel", BUTTON), "style": "primary"}  # fmt: skip


def cohort_buttons(cohort_id: uuid.UUID, *, console_url: str, confirm: Block | None) -> Block:
    """A cohort's buttons: "Approve all" (asking first with ``confirm``; none without it: nothing left to approve)
    and "Review in console", a link button."""
    value = str(cohort_id)
    elements: list[Block] = []
    if confirm is not None:
        elements.append({"type": "button", "action_id": ActionId.COHORT_APPROVE_ALL.value, "style": "primary",
                         "text": _plain("Approve all"), "value": value, "confirm": confirm})  # fmt: skip
    elements.append({"type": "button", "action_id": ActionId.COHORT_REVIEW.value, "text": _plain("Review in console"),
                     "url": cohort_url(console_url, cohort_id), "value": value})  # fmt: skip
    return {"type": "actions", "block_id": f"cohort:{value}", "elements": elements}


def _states(states: Mapping[NominationState, int]) -> str:
    shown = [f"{states.get(s, 0)} {s.value}" for s in NominationState if states.get(s) or s == NominationState.PENDING]
    return " · ".join(shown)


def cohort_card(card: CohortCard, *, console_url: str) -> dict[str, Any]:
    """The cohort's card in a channel on the model's list: the cohort, its members by state and each side's tally,
    the members not yet decided, and "Approve all" while some are pending (then what became of them)."""
    summary = card.summary
    cohort, model = summary.cohort, summary.model
    title = f"Cohort: {cohort.name} for {model.name} ({model.codename})"
    members = _states(summary.states)
    sides = " · ".join(f"{side.value.capitalize()} {tally.approved} approved, {tally.awaiting} awaiting"
                       for side, tally in summary.sides.items())  # fmt: skip
    blocks: list[Block] = [
        {"type": "header", "text": _plain(title)},
        {"type": "section", "fields": [
            _mrkdwn(f"*Nominated by*\n{escape(card.nominator)}"),
            _mrkdwn(f"*Size*\n{counted(summary.size, 'partner')}"),
            _mrkdwn(f"*Window*\n{times.local(cohort.starts_at)} → {times.local(cohort.ends_at)}"),
            _mrkdwn(f"*Actions*\n{escape(', '.join(cohort.actions))}"),
        ]},
        {"type": "section", "text": _mrkdwn(f"*Justification*\n{escape(cohort.justification[:1500])}")},
        {"type": "context", "elements": [_mrkdwn(f"*Members* — {members}"), _mrkdwn(f"*Per side* — {sides}")]},
    ]  # fmt: skip
    pending = summary.pending
    if card.undecided:
        blocks.append({"type": "section", "text": _mrkdwn(f"*Not yet decided* ({pending})\n{named(card.undecided)}")})
    else:
        approved, rejected = summary.states[NominationState.APPROVED], summary.states[NominationState.REJECTED]
        blocks.append({"type": "section", "text": _mrkdwn(
            f"*No member waits for a decision*: {approved} approved, {rejected} rejected.")})  # fmt: skip
    confirm = approve_all_confirm(cohort.name, pending, card.completes) if card.undecided else None
    blocks.append(cohort_buttons(cohort.id, console_url=console_url, confirm=confirm))
    return {"text": f"{title} — {members}", "blocks": blocks}


def cohort_link_only(cohort_id: uuid.UUID, *, console_url: str) -> dict[str, Any]:
    """What a channel not on the model's list may see of a cohort: that there is one, and a link (no model, no
    members, no window)."""
    text = f"A cohort of nominations is waiting in accessdesk: <{cohort_url(console_url, cohort_id)}|open it in the console>."
    return {"text": "A cohort of nominations is waiting in accessdesk",
            "blocks": [{"type": "section", "text": _mrkdwn(text)}]}  # fmt: skip


def cohort_decided_note(name: str, payload: Mapping[str, Any]) -> str:
    """The cohort card's thread reply after a cohort decision (one, however many members it decided)."""
    counts = {key: int(payload.get(key) or 0) for key in ("approved", "granted", "rejected", "refused")}
    return (f"{escape(name)} decided the cohort: {counts['approved'] + counts['granted']} approved "
            f"({counts['granted']} of them now granted), {counts['rejected']} rejected, {counts['refused']} refused")  # fmt: skip


def cohort_outcome_message(cohort: Cohort, *, model: FrontierModel, by: str, payload: Mapping[str, Any],
                           console_url: str) -> str:  # fmt: skip
    """The nominator's one direct message when a cohort decision decides members of their cohort for good (a
    member decided on its own is told of alone, as any nomination)."""
    granted, rejected = int(payload.get("granted") or 0), int(payload.get("rejected") or 0)
    parts = [f"{granted} granted (both sides have approved)" if granted else "",
             f"{rejected} rejected" if rejected else ""]  # fmt: skip
    link = f"<{cohort_url(console_url, cohort.id)}|details in accessdesk>"
    return (f"Your cohort {escape(cohort.name)} for {escape(model.name)}: {escape(by)}'s decision made "
            f"{' and '.join(p for p in parts if p)} ({link})")


def approve_all_result(decided: CohortDecided) -> str:
    """What "Approve all" did, member by member, for the clicker alone: how many were approved and granted, and
    each refusal with its reason, members grouped by reason."""
    results = [m.result for m in decided.members]
    approved, granted = results.count("approved") + results.count("granted"), results.count("granted")
    refused = [m for m in decided.members if m.refusal is not None]
    cohort = escape(decided.summary.cohort.name)
    lines = [f"*Approve all — {cohort}*: approved {approved}, granted {granted} (both sides have now approved "
             f"{'it' if granted == 1 else 'them'}), refused {len(refused)}."]  # fmt: skip
    reasons: dict[str, list[str]] = {}
    for member in refused:
        assert member.refusal is not None
        reasons.setdefault(member.refusal.message, []).append(member.organisation_name)
    for reason, names in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"• {escape(reason)} ({len(names)}): {named(names, limit=400)}")
    return "\n".join(lines)[:3000]


def waiting_line(item: WaitingCohort, *, console_url: str) -> str:
    """``Cohort Wave one (Atlas): 12 awaiting your decision``, linked to the cohort's page."""
    link = cohort_url(console_url, item.cohort.id)
    return (f"<{link}|Cohort {escape(item.cohort.name)}> ({escape(item.model.name)}): {item.waiting} awaiting "
            "your decision")  # fmt: skip


def waiting_elsewhere(item: WaitingCohort, *, console_url: str) -> str:
    """A cohort in a channel not on its model's list: a link, nothing of the model or its members."""
    return f"<{cohort_url(console_url, item.cohort.id)}|A cohort> (its model is not discussed in this channel)"


def home_cohort(item: WaitingCohort, *, console_url: str) -> list[Block]:
    """One cohort of the person's queue on their App Home: one line, "Approve all" and "Review in console"."""
    confirm = approve_all_confirm_for(item.cohort.name, item.waiting, item.side)
    return [{"type": "section", "text": _mrkdwn(waiting_line(item, console_url=console_url))},
            cohort_buttons(item.cohort.id, console_url=console_url, confirm=confirm)]  # fmt: skip
