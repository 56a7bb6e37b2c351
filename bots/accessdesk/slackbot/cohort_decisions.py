"""Cohorts from Slack: "Approve all" as the person who clicked, and the cohorts waiting for a person's decision.

The rules are the domain's (:meth:`Cohorts.decide_cohort`: each member decided by :meth:`CoSelection.decide`, a
member the rules refuse reported with why and the others decided); nothing here re-checks them. What follows (the
cohort's card edited, a note in its thread) is the outbox's, written with the decisions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import Cohort, FrontierModel
from accessdesk.domain.actor import Actor
from accessdesk.domain.cohorts import CohortDecided, Cohorts
from accessdesk.domain.errors import Forbidden
from accessdesk.domain.grants import side_of
from accessdesk.domain.queries import Queries
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Side
from accessdesk.slackbot.cohort_blocks import WaitingCohort
from accessdesk.slackbot.decisions import id_of


def cohort_id_of(value: str) -> uuid.UUID:
    return id_of(value, "cohort")


@dataclass(frozen=True, slots=True)
class CohortApproved:
    decided: CohortDecided
    messages: Sequence[uuid.UUID]  # what the decisions wrote to the outbox


@dataclass(frozen=True, slots=True)
class SlackCohorts:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock

    async def approve_all(self, *, actor: Actor, cohort_id: uuid.UUID) -> CohortApproved:
        """``actor``'s approval of every member of the cohort they may decide on (the domain's refusal of the
        whole, or each refused member reported in the result)."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            decided = await Cohorts(unit).decide_cohort(actor=actor, cohort_id=cohort_id)
            return CohortApproved(decided, tuple(unit.queued))


def _side(actor: Actor, model: FrontierModel) -> Side | None:
    try:
        return Side(side_of(actor, model))
    except Forbidden:
        return None


async def waiting_cohorts(unit: Unit, actor: Actor, *, limit: int) -> tuple[list[WaitingCohort], bool]:
    """The cohorts some of whose members wait for ``actor``'s decision (their queue: ``Queries``' ``for_me``),
    newest first, each one item; and whether there are more than ``limit``. Raises Forbidden for someone with no
    queue at all."""
    waiting = await Queries(unit).waiting_by_cohort(actor)
    if not waiting:
        return [], False
    stmt = (select(Cohort, FrontierModel).join(FrontierModel, col(FrontierModel.id) == Cohort.model_id)
            .where(col(Cohort.id).in_(list(waiting)))
            .order_by(col(Cohort.created_at).desc(), col(Cohort.id).desc()).limit(limit + 1))  # fmt: skip
    rows = (await unit.session.exec(stmt)).all()
    items = [WaitingCohort(cohort, model, waiting[cohort.id], _side(actor, model)) for cohort, model in rows]
    return items[:limit], len(items) > limit
