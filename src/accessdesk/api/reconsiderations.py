"""Reconsiderations: the partner asks for a refused nomination to be looked at again; the side that nominated sees
the requests about its nominations and takes each up (a new nomination round) or declines it. Each handler calls one
use case of :class:`Reconsiderations`."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from accessdesk.api.reconsideration_schemas import (
    DeclineIn,
    ReconsiderationIn,
    ReconsiderationOut,
    ReconsiderationPage,
    TakenUpOut,
    TakeUpIn,
)
from accessdesk.api.routes import get, post
from accessdesk.api.schemas import Limit, NominationOut
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import effective_state
from accessdesk.domain.reconsiderations import Reconsiderations, ReconsiderationState
from accessdesk.domain.unit import Unit


def provide_reconsiderations(unit: NamedDependency[Unit]) -> Reconsiderations:
    return Reconsiderations(unit)


class ReconsiderationController(Controller):
    path = "/"
    tags = ["reconsiderations"]
    dependencies = {"reconsiderations": Provide(provide_reconsiderations, sync_to_thread=False)}

    @post("/nominations/{nomination_id:uuid}/reconsideration")
    async def ask(
        self, actor: NamedDependency[Actor], reconsiderations: NamedDependency[Reconsiderations],
        nomination_id: FromPath[uuid.UUID], data: JSONBody[ReconsiderationIn],
    ) -> ReconsiderationOut:  # fmt: skip
        """The nominated partner's admins and members ask for a rejected (or lapsed) nomination of theirs to be
        reconsidered; one request is open at a time (409 ``reconsideration_open``). The nominator is told."""
        asked = await reconsiderations.ask(actor=actor, nomination_id=nomination_id, note=data.note)
        return ReconsiderationOut.of(await reconsiderations.one(actor, asked.id))

    @get("/reconsiderations")
    async def list_reconsiderations(
        self, actor: NamedDependency[Actor], reconsiderations: NamedDependency[Reconsiderations],
        status: Annotated[ReconsiderationState | None, QueryParameter(name="state")] = None,
        nomination_id: FromQuery[uuid.UUID | None] = None, cursor: FromQuery[str | None] = None, limit: Limit = 50,
    ) -> ReconsiderationPage:  # fmt: skip
        """A partner's own requests; for staff, the requests about their organisation's nominations (``state=open``:
        the queue they answer), newest first."""
        found = await reconsiderations.listing(actor, state=status, nomination_id=nomination_id, cursor=cursor,
                                               limit=limit)  # fmt: skip
        return ReconsiderationPage(items=[ReconsiderationOut.of(r) for r in found.items], next_cursor=found.next_cursor)

    @get("/reconsiderations/{reconsideration_id:uuid}")
    async def get_reconsideration(
        self, actor: NamedDependency[Actor], reconsiderations: NamedDependency[Reconsiderations],
        reconsideration_id: FromPath[uuid.UUID],
    ) -> ReconsiderationOut:  # fmt: skip
        return ReconsiderationOut.of(await reconsiderations.one(actor, reconsideration_id))

    @post("/reconsiderations/{reconsideration_id:uuid}/take-up", status_code=200)
    async def take_up(
        self, actor: NamedDependency[Actor], reconsiderations: NamedDependency[Reconsiderations],
        unit: NamedDependency[Unit], reconsideration_id: FromPath[uuid.UUID], data: JSONBody[TakeUpIn],
    ) -> TakenUpOut:  # fmt: skip
        """The side that nominated opens a new nomination round for the same model, organisation and actions (every
        rule of a nomination applying); the partner and the nominator are told."""
        taken, nomination = await reconsiderations.take_up(
            actor=actor, reconsideration_id=reconsideration_id, starts_at=data.starts_at, ends_at=data.ends_at,
            response=data.response,
        )  # fmt: skip
        return TakenUpOut(reconsideration=ReconsiderationOut.of(await reconsiderations.one(actor, taken.id)),
                          nomination=NominationOut.of(nomination, state=effective_state(nomination, unit.now()).value,
                                                      decisions=[], actor=actor))  # fmt: skip

    @post("/reconsiderations/{reconsideration_id:uuid}/decline", status_code=200)
    async def decline(
        self, actor: NamedDependency[Actor], reconsiderations: NamedDependency[Reconsiderations],
        reconsideration_id: FromPath[uuid.UUID], data: JSONBody[DeclineIn],
    ) -> ReconsiderationOut:  # fmt: skip
        """The side that nominated closes the request with a response the partner reads."""
        declined = await reconsiderations.decline(actor=actor, reconsideration_id=reconsideration_id,
                                                  response=data.response)  # fmt: skip
        return ReconsiderationOut.of(await reconsiderations.one(actor, declined.id))
