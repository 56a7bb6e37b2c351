"""How many grants a model has in each state, and how many nominations for it wait for a decision, among those a
person can see: what ``/accessdesk status`` shows, counted by the database rather than from a page of rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import select

from accessdesk.db.tables import AccessGrant, Nomination
from accessdesk.domain import visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import lapses_at_sql
from accessdesk.domain.grant_state import state_sql
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import GrantState, NominationState


@dataclass(frozen=True, slots=True)
class ModelTally:
    grants: dict[GrantState, int]  # only the states some grant is in
    pending: int


async def model_tally(unit: Unit, actor: Actor, *, model_id: uuid.UUID) -> ModelTally:
    """The grants of ``model_id`` ``actor`` can see, counted by their state now (the state the rules give them,
    whether or not the worker has stored the latest transition), and the nominations for it still pending (a
    pending nomination whose time has passed has lapsed: :func:`coselection.effective_state`)."""
    now = unit.now()
    state = state_sql(now)
    by_state = (select(state, sa.func.count())
                .where(visibility.cases_filter(actor, AccessGrant), AccessGrant.model_id == model_id)
                .group_by(state))  # fmt: skip
    grants = {GrantState(s): n for s, n in (await unit.session.exec(by_state)).all()}
    waiting = select(sa.func.count()).select_from(Nomination).where(
        visibility.cases_filter(actor, Nomination), Nomination.model_id == model_id,
        Nomination.state == NominationState.PENDING.value, lapses_at_sql() > now,
    )  # fmt: skip
    pending = (await unit.session.exec(waiting)).one()
    return ModelTally(grants=grants, pending=int(pending))
