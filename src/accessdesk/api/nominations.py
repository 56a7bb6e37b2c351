"""Nominations and the two-sided decisions on them."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from accessdesk.api.routes import get, post
from accessdesk.api.schemas import (
    DecisionIn,
    DecisionOut,
    Limit,
    NominationIn,
    NominationOut,
    NominationPage,
    OutcomeOut,
    WithdrawalIn,
)
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection, effective_state
from accessdesk.domain.queries import NominationFilter, Queries
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import NominationState, Side


class NominationController(Controller):
    path = "/nominations"
    tags = ["nominations"]

    @get("/")
    async def list_nominations(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], unit: NamedDependency[Unit],
        status: Annotated[NominationState | None, QueryParameter(name="state")] = None,
        model_id: FromQuery[uuid.UUID | None] = None, organisation_id: FromQuery[uuid.UUID | None] = None,
        awaiting: Annotated[Side | None, QueryParameter(description="pending and short of quorum on this side")] = None,
        for_me: Annotated[bool, QueryParameter(description="only those I can still decide on")] = False,
        mine: Annotated[bool, QueryParameter(description="only those I nominated")] = False,
        cursor: FromQuery[str | None] = None, limit: Limit = 50,
    ) -> NominationPage:  # fmt: skip
        filters = NominationFilter(state=status, model_id=model_id, organisation_id=organisation_id,
                                   awaiting=awaiting, for_me=for_me,
                                   nominated_by=actor.user_id if mine else None)  # fmt: skip
        found = await queries.nominations(actor, filters, cursor=cursor, limit=limit)
        now = unit.now()
        items = [NominationOut.of(n, state=effective_state(n, now).value, actor=actor) for n in found.items]
        return NominationPage(items=items, next_cursor=found.next_cursor)

    @post("/")
    async def nominate(
        self, actor: NamedDependency[Actor], coselection: NamedDependency[CoSelection], unit: NamedDependency[Unit],
        data: JSONBody[NominationIn],
    ) -> NominationOut:  # fmt: skip
        nomination = await coselection.nominate(
            actor=actor, model_id=data.model_id, organisation_id=data.organisation_id, starts_at=data.starts_at,
            ends_at=data.ends_at, actions=[a.value for a in data.actions], justification=data.justification,
        )  # fmt: skip
        return NominationOut.of(nomination, state=effective_state(nomination, unit.now()).value, decisions=[])

    @get("/{nomination_id:uuid}")
    async def get_nomination(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], unit: NamedDependency[Unit],
        nomination_id: FromPath[uuid.UUID],
    ) -> NominationOut:  # fmt: skip
        nomination, decisions = await queries.nomination(actor, nomination_id)
        return NominationOut.of(nomination, state=effective_state(nomination, unit.now()).value, decisions=decisions,
                                actor=actor)  # fmt: skip

    @post("/{nomination_id:uuid}/decisions")
    async def decide(
        self, actor: NamedDependency[Actor], coselection: NamedDependency[CoSelection], unit: NamedDependency[Unit],
        nomination_id: FromPath[uuid.UUID], data: JSONBody[DecisionIn],
    ) -> OutcomeOut:  # fmt: skip
        """Decide, in your name or (``on_behalf_of``) by a delegation to you. Approving access to a high-tier model
        (or one whose setting asks for it) needs a recent sign-in, which a token does not prove: it is refused with
        403 ``step_up_required``, naming the console page where it is done after signing in again
        (``approve_url``). Rejecting never needs one."""
        outcome = await coselection.decide(
            actor=actor, nomination_id=nomination_id, verdict=data.verdict, reason=data.reason,
            reason_shared=data.reason_shared, on_behalf_of=data.on_behalf_of,
        )  # fmt: skip
        nomination = NominationOut.of(outcome.nomination, state=outcome.nomination.state)
        return OutcomeOut(decision=DecisionOut.of(outcome.decision, actor), nomination=nomination,
                          grant_id=outcome.grant.id if outcome.grant else None)  # fmt: skip

    @post("/{nomination_id:uuid}/withdrawal", status_code=200)
    async def withdraw(
        self, actor: NamedDependency[Actor], coselection: NamedDependency[CoSelection],
        nomination_id: FromPath[uuid.UUID], data: JSONBody[WithdrawalIn],
    ) -> NominationOut:  # fmt: skip
        nomination = await coselection.withdraw(actor=actor, nomination_id=nomination_id, reason=data.reason)
        return NominationOut.of(nomination, state=nomination.state)
