"""Deciding from Slack: who clicked, then the domain's decision.

The rules are the domain's (:meth:`CoSelection.decide`); nothing here re-checks them. A refused decision raises
and changes nothing, so a replayed click (Slack's retry of the same request) is refused by the domain as already
decided and edits no card.

What follows a decision (the cards edited, a note in each card's thread, the nominator's direct message) is the
outbox's, written by the domain with the decision, whichever door it came through (Slack, console, API). After a
decision made here, the listener delivers those messages at once (``worker.PromptDelivery``) rather than leave them
to the worker's next sweep.

Step-up (domain.step_up): a click proves no recent sign-in, so approving access to a high-tier model (or one whose
setting asks for it) is refused here with ``StepUpRequired``, recording nothing and editing no card. The listener
answers the clicker alone with the console page that completes the approval after a fresh sign-in through their
identity provider (``blocks.step_up_text``); the decision made there writes the same outbox messages, and the card
follows as it would after a click. Rejecting never needs a recent sign-in: it stays one click (and a reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import FrontierModel
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection, Outcome, decision_refused
from accessdesk.domain.errors import NotFound
from accessdesk.domain.queries import Queries
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Verdict
from accessdesk.slackbot.cards import CARDS
from accessdesk.slackbot.confirmations import Case


def id_of(value: str, what: str) -> uuid.UUID:
    """The id a button's value carries; NotFound (as for an unknown one) when it is not an id at all."""
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        raise NotFound(f"{what} {value!r} not found") from None


def nomination_id_of(value: str) -> uuid.UUID:
    return id_of(value, "nomination")


@dataclass(frozen=True, slots=True)
class Decided:
    outcome: Outcome
    messages: Sequence[uuid.UUID]  # what the decision wrote to the outbox


@dataclass(frozen=True, slots=True)
class SlackDecisions:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock

    async def decide(self, *, actor: Actor, nomination_id: uuid.UUID, verdict: Verdict,
                     reason: str | None = None) -> Decided:  # fmt: skip
        """The decision of ``actor``, the person behind the Slack user (or the domain's refusal: ``StepUpRequired``
        for an approval that needs a recent sign-in, which ``actor`` never has here)."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            outcome = await CoSelection(unit).decide(actor=actor, nomination_id=nomination_id, verdict=verdict,
                                                     reason=reason)  # fmt: skip
            return Decided(outcome, tuple(unit.queued))

    async def case(self, *, nomination_id: uuid.UUID, actor: Actor | None, channel: str | None) -> Case | None:
        """What the Reject modal names, read for whom it is shown.

        ``actor`` (who accessdesk knows already): as them, and refused as the domain would refuse their decision
        (so that no one types a reason for a decision they may not make). Else, from a channel on the nomination's
        model's list: what the card there shows everyone in it. Else None: the listener confirms who they are
        with Slack and asks again as them."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            queries = Queries(unit)
            if actor is None:
                nomination, _ = await queries.nomination(CARDS, nomination_id)
                model = await unit.get(FrontierModel, nomination.model_id)
                if channel is None or channel not in model.slack_channels:
                    return None
            else:
                nomination, decisions = await queries.nomination(actor, nomination_id)
                model = await unit.get(FrontierModel, nomination.model_id)
                decided = any(d.approver_id == actor.user_id for d in decisions)
                if (refused := decision_refused(actor, nomination, model=model, decided=decided,
                                                at=unit.now())) is not None:  # fmt: skip
                    raise refused
            names = await queries.display_names([nomination])
            return Case(nomination, names.get(nomination.organisation_id, "an organisation"), model.name)
