"""Deciding from Slack: who clicked, the domain's decision, then the cards, their threads and the nominator told.

The rules are the domain's (:meth:`CoSelection.decide`); nothing here re-checks them. A refused decision raises
and changes nothing, so a replayed click (Slack's retry of the same request) is refused by the domain as already
decided and edits no card.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import Organisation, User
from accessdesk.domain.coselection import CoSelection, Outcome
from accessdesk.domain.errors import NotFound
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import NominationState, Side, Verdict
from bots.slackbot import blocks, cards
from bots.slackbot.identity import actor_of, slack_user_for


def nomination_id_of(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        raise NotFound(f"nomination {value!r} not found") from None


@dataclass(frozen=True, slots=True)
class SlackDecisions:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    console_url: str

    async def decide(self, client: AsyncWebClient, *, slack_user: str, nomination_id: uuid.UUID, verdict: Verdict,
                     reason: str | None = None) -> Outcome:  # fmt: skip
        """The decision of the accessdesk user behind ``slack_user`` (raises NotLinked, or the domain's refusal)."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            actor = await actor_of(unit, client, slack_user)
            return await CoSelection(unit).decide(actor=actor, nomination_id=nomination_id, verdict=verdict,
                                                  reason=reason)  # fmt: skip

    async def announce(self, client: AsyncWebClient, outcome: Outcome) -> None:
        """After a decision: every card edited in place, a note in each card's thread, and, once the nomination is
        decided, a direct message to the nominator if they have a Slack account with their e-mail."""
        decision = outcome.decision
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            approver = await unit.get(User, decision.approver_id)
            note = blocks.decision_note(approver.name, Verdict(decision.verdict), Side(decision.side))
            card = await cards.refresh(unit, client, outcome.nomination.id, console_url=self.console_url, note=note)
            if card.nomination.state == NominationState.PENDING.value:
                return
            nominator = await unit.get(User, card.nomination.nominated_by)
            organisation = await unit.get(Organisation, card.nomination.organisation_id)
            await session.commit()  # nothing to write: end the read before calling Slack
        slack_user = await slack_user_for(client, nominator.email)
        if slack_user is not None:
            await client.chat_postMessage(channel=slack_user, text=blocks.outcome_message(
                card.nomination, model=card.model, organisation=organisation.name, console_url=self.console_url))  # fmt: skip
