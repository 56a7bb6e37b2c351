"""Designation consultations: the developer's request or the government's opening, the thread, the decision, and
the government's queue. Each handler calls one use case of :class:`Consultations`."""

from __future__ import annotations

import uuid

from litestar import Controller
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from accessdesk.api.consultation_schemas import (
    ConsultationDecisionIn,
    ConsultationIn,
    ConsultationOut,
    MessageIn,
    MessageOut,
    RoundsOut,
    WaitingOut,
    WaitingPage,
)
from accessdesk.api.routes import get, post
from accessdesk.api.schemas import Limit
from accessdesk.domain.actor import Actor
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import OrgKind


def provide_consultations(unit: NamedDependency[Unit]) -> Consultations:
    return Consultations(unit)


class ConsultationController(Controller):
    path = "/"
    tags = ["consultations"]
    dependencies = {"consultations": Provide(provide_consultations, sync_to_thread=False)}

    @post("/models/{model_id:uuid}/consultations")
    async def begin(
        self, actor: NamedDependency[Actor], consultations: NamedDependency[Consultations],
        model_id: FromPath[uuid.UUID], data: JSONBody[ConsultationIn],
    ) -> ConsultationOut:  # fmt: skip
        """The developer's admins request a consultation on their model; the government's admins and approvers open
        one (or reopen a decided one)."""
        if actor.kind == OrgKind.GOVERNMENT:
            opened = await consultations.open(actor=actor, model_id=model_id, note=data.note, contacts=data.contacts,
                                              capabilities=data.capabilities)  # fmt: skip
        else:
            opened = await consultations.request(actor=actor, model_id=model_id, note=data.note,
                                                 contacts=data.contacts, capabilities=data.capabilities)  # fmt: skip
        return ConsultationOut.of(await consultations.round(actor, opened.id))

    @get("/models/{model_id:uuid}/consultations")
    async def of_model(
        self, actor: NamedDependency[Actor], consultations: NamedDependency[Consultations],
        model_id: FromPath[uuid.UUID],
    ) -> RoundsOut:  # fmt: skip
        _, rounds = await consultations.rounds(actor, model_id)
        return RoundsOut(items=[ConsultationOut.of(r) for r in rounds])

    @get("/consultations")
    async def queue(
        self, actor: NamedDependency[Actor], consultations: NamedDependency[Consultations],
        cursor: FromQuery[str | None] = None, limit: Limit = 50,
    ) -> WaitingPage:  # fmt: skip
        """The open rounds the caller may read, the longest waiting first."""
        found = await consultations.queue(actor, cursor=cursor, limit=limit)
        return WaitingPage(items=[WaitingOut.of(w) for w in found.items], next_cursor=found.next_cursor)

    @get("/consultations/{consultation_id:uuid}")
    async def get_round(
        self, actor: NamedDependency[Actor], consultations: NamedDependency[Consultations],
        consultation_id: FromPath[uuid.UUID],
    ) -> ConsultationOut:  # fmt: skip
        return ConsultationOut.of(await consultations.round(actor, consultation_id))

    @post("/consultations/{consultation_id:uuid}/messages")
    async def write(
        self, actor: NamedDependency[Actor], consultations: NamedDependency[Consultations],
        consultation_id: FromPath[uuid.UUID], data: JSONBody[MessageIn],
    ) -> MessageOut:  # fmt: skip
        return MessageOut.of(await consultations.message(actor=actor, consultation_id=consultation_id, body=data.body))

    @post("/consultations/{consultation_id:uuid}/decision", status_code=200)
    async def decide(
        self, actor: NamedDependency[Actor], consultations: NamedDependency[Consultations],
        consultation_id: FromPath[uuid.UUID], data: JSONBody[ConsultationDecisionIn],
    ) -> ConsultationOut:  # fmt: skip
        decided = await consultations.decide(actor=actor, consultation_id=consultation_id, outcome=data.outcome,
                                             assessment_ref=data.assessment_ref)  # fmt: skip
        return ConsultationOut.of(await consultations.round(actor, decided.id))
