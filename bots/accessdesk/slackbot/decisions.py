"""Deciding from Slack: who clicked, then the domain's decision.

The rules are the domain's (:meth:`CoSelection.decide`); nothing here re-checks them. A refused decision raises
and changes nothing, so a replayed click (Slack's retry of the same request) is refused by the domain as already
decided and edits no card.

What follows a decision (the cards edited, a note in each card's thread, the nominator's direct message) is the
outbox's, written by the domain with the decision, whichever door it came through (Slack, console, API). After a
decision made here, the listener delivers those messages at once (``worker.PromptDelivery``) rather than leave them
to the worker's next sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection, Outcome
from accessdesk.domain.errors import NotFound
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Verdict


def nomination_id_of(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        raise NotFound(f"nomination {value!r} not found") from None


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
        """The decision of ``actor``, the person behind the Slack user (or the domain's refusal)."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            outcome = await CoSelection(unit).decide(actor=actor, nomination_id=nomination_id, verdict=verdict,
                                                     reason=reason)  # fmt: skip
            return Decided(outcome, tuple(unit.queued))
