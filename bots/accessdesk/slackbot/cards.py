"""A nomination's approval cards: what they show and where they were posted (the notifier posts and edits them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import Decision, FrontierModel, Nomination, SlackCard
from accessdesk.domain.actor import Actor
from accessdesk.domain.queries import Queries
from accessdesk.domain.unit import Unit
from accessdesk.slackbot import blocks

# Cards are rendered for a channel, not for a person: the system reads, and need-to-know is decided by the
# channel (on the model's list or not) when the card is rendered.
CARDS = Actor.system("slack cards")


@dataclass(frozen=True, slots=True)
class Card:
    """Everything an approval card shows."""

    nomination: Nomination
    model: FrontierModel
    names: dict[uuid.UUID, str]
    people: dict[uuid.UUID, str]
    decisions: list[Decision]

    def for_channel(self, channel: str, *, console_url: str) -> dict[str, Any]:
        """The card for ``channel``: in full on the model's list of channels, else only a link to the console."""
        if channel not in self.model.slack_channels:
            return blocks.console_link_only(self.nomination.id, console_url=console_url)
        return blocks.approval_card(self.nomination, model=self.model, names=self.names, people=self.people,
                                    decisions=self.decisions, console_url=console_url)  # fmt: skip


async def card_of(unit: Unit, nomination_id: uuid.UUID) -> Card:
    queries = Queries(unit)
    nomination, decisions = await queries.nomination(CARDS, nomination_id)
    model = await unit.get(FrontierModel, nomination.model_id)
    people = await queries.people_names([nomination.nominated_by, *(d.approver_id for d in decisions)])
    return Card(nomination, model, await queries.display_names([nomination]), people, decisions)


async def posted(session: AsyncSession, nomination_id: uuid.UUID) -> list[SlackCard]:
    """Where the nomination's card was posted, in the order it was."""
    stmt = select(SlackCard).where(SlackCard.nomination_id == nomination_id)
    stmt = stmt.order_by(col(SlackCard.posted_at), SlackCard.channel)
    return list((await session.exec(stmt)).all())
