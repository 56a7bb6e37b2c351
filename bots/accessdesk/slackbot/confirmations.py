"""What a decision will do, said before it is made (a decision cannot be taken back): Approve's confirmation dialog
and the words of the Reject modal, from the domain's own reading of the tally
(:func:`accessdesk.domain.coselection.approval_effect`), never from a rule restated here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accessdesk.db.tables import Nomination
from accessdesk.domain.coselection import approval_effect
from accessdesk.domain.vocabulary import NominationKind, Side
from accessdesk.slackbot import times

# Slack's limits on a confirmation dialog (characters): its title, its text, and each of its buttons.
TITLE, TEXT, BUTTON = 100, 300, 30
# A name is cut at this length in a dialog, so that what the decision does is never the part cut off.
NAME = 60


@dataclass(frozen=True, slots=True)
class Case:
    """A nomination in words: who would get what access to which model, by name (never the codename)."""

    nomination: Nomination
    organisation: str
    model: str

    @property
    def extension(self) -> bool:
        return self.nomination.kind == NominationKind.EXTENSION.value


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": False}


def access_words(case: Case) -> str:
    """What an approved nomination gives, in plain text (instants in UTC: a dialog formats no dates)."""
    organisation, model, nomination = _cut(case.organisation, NAME), _cut(case.model, NAME), case.nomination
    if case.extension:
        return f"{organisation}'s access to {model} is extended to {times.utc(nomination.ends_at)}"
    return (f"{organisation} gets {', '.join(nomination.actions)} access to {model} from "
            f"{times.utc(nomination.starts_at)} to {times.utc(nomination.ends_at)}")  # fmt: skip


def approve_words(case: Case, *, side: Side | None) -> tuple[str, str, bool]:
    """Approve's title and text, and whether it completes both sides' decisions. ``side``: the side of the one
    person who sees it (their App Home); None for a channel's card, which approvers of both sides see."""
    effects = [approval_effect(case.nomination, s) for s in ([side] if side is not None else list(Side))]
    completing = next((e for e in effects if e.completes), None)
    if completing is not None:
        who = "This approval" if side is not None else f"A {completing.side.value} approval"
        return ("Approve and grant access?" if not case.extension else "Approve the extension?",
                f"{who} completes both sides' decisions: {access_words(case)}.", True)  # fmt: skip
    if side is not None:
        [effect] = effects
        counts = (f"{effect.approvals} of {effect.quorum} on the {effect.side.value} side; the other side has "
                  f"{effect.other_approvals} of {effect.other_quorum}")  # fmt: skip
    else:  # a side that has its quorum already is not counting
        counts = " or ".join(f"{e.approvals} of {e.quorum} on the {e.side.value} side" for e in effects
                             if e.approvals <= e.quorum)  # fmt: skip
    gets = "the extension" if case.extension else "access"
    return ("Approve this nomination?",
            f"This is your side's approval {counts}. {_cut(case.organisation, NAME)} gets {gets} to "
            f"{_cut(case.model, NAME)} only once both sides have approved.", False)  # fmt: skip


def approve_confirm(case: Case, *, side: Side | None) -> dict[str, Any]:
    """Approve's confirmation dialog (Block Kit ``confirm``), saying in plain words what this approval does."""
    title, text, completes = approve_words(case, side=side)
    return {"title": _plain(title, TITLE), "text": _plain(text, TEXT),
            "confirm": _plain("Yes, approve and grant" if completes else "Yes, approve", BUTTON),
            "deny": _plain("Cancel", BUTTON), "style": "primary"}  # fmt: skip


def reject_words(case: Case) -> str:
    """What a rejection does, for the Reject modal: either side may veto, so it closes the nomination at once."""
    organisation, model = _cut(case.organisation, NAME), _cut(case.model, NAME)
    done = (f"the extension: {organisation}'s access to {model} is not extended" if case.extension
            else f"the nomination: {organisation} will not get this access to {model}")  # fmt: skip
    return f"This rejects {done}. Either side can turn it down, and a decision cannot be taken back."
