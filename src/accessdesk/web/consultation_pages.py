"""Console pages for designation consultations: the government's queue (how long each round has waited, the planned
release), a round's page (its thread, a message from either side, the government's decision), and a model's
consultations (its rounds, its designation's history, the developer's request or the government's opening)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.domain.consultations import Consultations, waited_words
from accessdesk.domain.queries import Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import OrgKind
from accessdesk.web.history import history_lines
from accessdesk.web.pages import FIRST_OF_LIST, PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, back_to, notice_of, page
from accessdesk.web.refusals import Refusal, on_refusal

NOTICES = {
    "requested": "Your request is sent: the model is in consultation until the government decides.",
    "opened": "The consultation is open: the model is in consultation until it is decided.",
    "written": "Your message is in the thread.",
    "decided": "The outcome is recorded and the model designated; its grants follow the designation.",
}


def provide_consultations(unit: NamedDependency[Unit]) -> Consultations:
    return Consultations(unit)


def _lines_of(form: Posted, name: str) -> list[str]:
    """A textarea of one entry per line."""
    return [line.strip() for line in form.raw(name).splitlines()]


async def consultation_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], consultations: NamedDependency[Consultations],
    queries: NamedDependency[Queries], consultation_id: FromPath[uuid.UUID], *, refusal: Refusal | None = None,
    values: dict[str, Any] | None = None, section: str | None = None,
) -> Template:  # fmt: skip
    """A round's page; a refused message or decision shown again in its ``section`` with what was typed."""
    found = await consultations.round(signed.actor, consultation_id)
    c = found.consultation
    events = [e for e in await consultations.history(signed.actor, c.model_id)
              if e.subject_type == "consultations" and e.subject_id == str(c.id)]  # fmt: skip
    names = await queries.people_names([u for u in (c.requested_by, c.decided_by, *(m.author_id for m in found.messages))
                                        if u])  # fmt: skip
    return page("console/consultation.html", signed, status_code=refusal.status if refusal else 200, found=found,
                c=c, model=found.model, names=names, history=await history_lines(queries, signed.actor, events),
                refusal=refusal, form_name=section, values=values or {}, waited=waited_words(found.waited),
                notice=notice_of(request, NOTICES))  # fmt: skip


async def model_consultations_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], consultations: NamedDependency[Consultations],
    queries: NamedDependency[Queries], model_id: FromPath[uuid.UUID], *, refusal: Refusal | None = None,
    values: dict[str, Any] | None = None,
) -> Template:  # fmt: skip
    """A model's rounds and designation history, with the form that asks for (or opens) a new round."""
    model, rounds = await consultations.rounds(signed.actor, model_id)
    may = Consultations.allowed(signed.actor, model)
    history = await history_lines(queries, signed.actor, await consultations.history(signed.actor, model.id))
    return page("console/consultation_model.html", signed, status_code=refusal.status if refusal else 200,
                model=model, rounds=rounds, may=may, history=history, refusal=refusal, values=values or {},
                waited_words=waited_words, notice=notice_of(request, NOTICES),
                government=signed.actor.kind == OrgKind.GOVERNMENT)  # fmt: skip


class ConsultationPagesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = {**PAGE_DEPENDENCIES, "consultations": Provide(provide_consultations, sync_to_thread=False)}

    @get("/consultations")
    async def queue(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed],
        consultations: NamedDependency[Consultations],
    ) -> Template:  # fmt: skip
        found = await consultations.queue(signed.actor, cursor=request.query_params.get("cursor") or None,
                                          limit=FIRST_OF_LIST)  # fmt: skip
        return page("console/consultations.html", signed, waiting=found.items, waited_words=waited_words,
                    more=f"/console/consultations?cursor={found.next_cursor}" if found.next_cursor else None)  # fmt: skip

    @get("/consultations/{consultation_id:uuid}")
    async def consultation(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed],
        consultations: NamedDependency[Consultations], queries: NamedDependency[Queries],
        consultation_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await consultation_page(request, signed, consultations, queries, consultation_id)

    @post("/consultations/{consultation_id:uuid}/messages")
    @on_refusal(consultation_page, section="message")
    async def write(
        self, signed: NamedDependency[Signed], form: NamedDependency[Posted],
        consultations: NamedDependency[Consultations], consultation_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await consultations.message(actor=signed.actor, consultation_id=consultation_id, body=form.raw("body"))
        return back_to(f"/console/consultations/{consultation_id}", "written")

    @post("/consultations/{consultation_id:uuid}/decision")
    @on_refusal(consultation_page, section="decide")
    async def decide(
        self, signed: NamedDependency[Signed], form: NamedDependency[Posted],
        consultations: NamedDependency[Consultations], consultation_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await consultations.decide(actor=signed.actor, consultation_id=consultation_id, outcome=form["outcome"],
                                   assessment_ref=form["assessment_ref"])  # fmt: skip
        return back_to(f"/console/consultations/{consultation_id}", "decided")

    @get("/models/{model_id:uuid}/consultations")
    async def of_model(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed],
        consultations: NamedDependency[Consultations], queries: NamedDependency[Queries], model_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await model_consultations_page(request, signed, consultations, queries, model_id)

    @post("/models/{model_id:uuid}/consultations")
    @on_refusal(model_consultations_page)
    async def begin(
        self, signed: NamedDependency[Signed], form: NamedDependency[Posted],
        consultations: NamedDependency[Consultations], model_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        """The developer's request, or the government's opening (or reopening): whichever the person's side makes."""
        note, contacts, capabilities = form.raw("note"), _lines_of(form, "contacts"), _lines_of(form, "capabilities")
        if signed.actor.kind == OrgKind.GOVERNMENT:
            opened = await consultations.open(actor=signed.actor, model_id=model_id, note=note, contacts=contacts,
                                              capabilities=capabilities)  # fmt: skip
            return back_to(f"/console/consultations/{opened.id}", "opened")
        opened = await consultations.request(actor=signed.actor, model_id=model_id, note=note, contacts=contacts,
                                             capabilities=capabilities)  # fmt: skip
        return back_to(f"/console/consultations/{opened.id}", "requested")
