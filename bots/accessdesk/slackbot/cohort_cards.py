"""A cohort's one card: what it shows, read through the domain (:meth:`Cohorts.summary`), and where it was posted.
The notifier posts and edits it (:mod:`accessdesk.slackbot.notifier`); its members get no card of their own."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import Nomination, Organisation, SlackCohortCard
from accessdesk.domain.cohorts import Cohorts, CohortSummary
from accessdesk.domain.coselection import approval_completes, effective_state
from accessdesk.domain.notifier import RetryAfter
from accessdesk.domain.queries import Queries
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import NominationState, Side
from accessdesk.slackbot import cohort_blocks
from accessdesk.slackbot.cards import CARDS

# Every cohort card carries this metadata (event_payload: its cohort's id): how a card whose post got no answer is
# found in the channel's history.
COHORT_CARD_EVENT = "accessdesk_cohort_card"
# How long a delivery that finds another one at work on the same cohort card waits before it tries again.
BUSY = 2.0


def cohort_card_metadata(cohort_id: uuid.UUID) -> dict[str, Any]:
    return {"event_type": COHORT_CARD_EVENT, "event_payload": {"cohort_id": str(cohort_id)}}


@dataclass(frozen=True, slots=True)
class CohortCard:
    """Everything a cohort card shows: the domain's summary, who nominated the cohort, the members not yet decided
    (by name), and how many of those one more approval of each side would complete (what "Approve all" does)."""

    summary: CohortSummary
    nominator: str
    undecided: list[str]
    completes: dict[Side, int]

    def for_channel(self, channel: str, *, console_url: str) -> dict[str, Any]:
        """The card for ``channel``: in full on the model's list of channels, else only a link to the console."""
        if channel not in self.summary.model.slack_channels:
            return cohort_blocks.cohort_link_only(self.summary.cohort.id, console_url=console_url)
        return cohort_blocks.cohort_card(self, console_url=console_url)


def digest(content: dict[str, Any]) -> str:
    """What a card shows, as a digest: equal digests, nothing to edit."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


async def cohort_card_of(unit: Unit, cohort_id: uuid.UUID) -> CohortCard:
    """The card as the cohort stands now. Read afresh (``populate_existing``): a delivery may have loaded its
    members earlier in the same transaction, before another member's decision was committed."""
    summary = await Cohorts(unit).summary(CARDS, cohort_id)
    stmt = (select(Nomination, Organisation.name)
            .join(Organisation, col(Organisation.id) == Nomination.organisation_id)
            .where(Nomination.cohort_id == cohort_id, Nomination.state == NominationState.PENDING.value)
            .order_by(sa.func.lower(Organisation.name), col(Organisation.slug))
            .execution_options(populate_existing=True))  # fmt: skip
    now = unit.now()
    pending = [(n, name) for n, name in (await unit.session.exec(stmt)).all()
               if effective_state(n, now) == NominationState.PENDING]  # fmt: skip
    people = await Queries(unit).people_names([summary.cohort.nominated_by])
    return CohortCard(summary=summary, nominator=people.get(summary.cohort.nominated_by, "someone"),
                      undecided=[name for _, name in pending],
                      completes={side: sum(approval_completes(n, side) for n, _ in pending) for side in Side})  # fmt: skip


async def cohort_cards_posted(session: AsyncSession, cohort_id: uuid.UUID) -> list[SlackCohortCard]:
    """Where the cohort's card was posted, in the order it was."""
    stmt = select(SlackCohortCard).where(SlackCohortCard.cohort_id == cohort_id)
    stmt = stmt.order_by(col(SlackCohortCard.posted_at), SlackCohortCard.channel)
    return list((await session.exec(stmt.execution_options(populate_existing=True))).all())


@asynccontextmanager
async def card_turn(unit: Unit, cohort_id: uuid.UUID) -> AsyncIterator[None]:
    """The cohort's card to this delivery alone until its transaction ends.

    Many messages speak of one cohort card (each member's, the cohort's own), and several workers may deliver
    them at once on PostgreSQL: two could post it twice, or write its row in opposite orders and deadlock. A
    transaction-scoped advisory lock, only *tried* (never waited for, so no deadlock), gives the card to one
    delivery; another is told to come back (:class:`RetryAfter`) and then sees the card as it was left. SQLite
    serialises writers already (db/engine.py)."""
    if unit.dialect == "postgresql":
        key = int.from_bytes(cohort_id.bytes[:8], "big", signed=True)
        taken = (await unit.session.exec(select(sa.func.pg_try_advisory_xact_lock(key)))).one()
        if not taken:
            raise RetryAfter(BUSY, reason=f"the card of cohort {cohort_id} is being delivered by another worker")
    yield
