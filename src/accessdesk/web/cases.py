"""Console pages for nominations (the decision, with its tally) and grants (state and what blocks them)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from accessdesk.api.errors import status_for
from accessdesk.domain.coselection import CoSelection, effective_state
from accessdesk.domain.errors import DomainError
from accessdesk.domain.gates import explain
from accessdesk.domain.grant_state import GrantFacts, derive_state, problems_of
from accessdesk.domain.queries import Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.vocabulary import Verdict
from accessdesk.request_scope import request_unit
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, page


class CasesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/nominations/{nomination_id:uuid}")
    async def nomination(self, request: Request[Any, Any, Any], signed: Signed, nomination_id: uuid.UUID) -> Template:
        return await self._nomination_page(request, signed, nomination_id)

    async def _nomination_page(
        self, request: Request[Any, Any, Any], signed: Signed, nomination_id: uuid.UUID,
        *, refusal: str | None = None, status_code: int = 200,
    ) -> Template:  # fmt: skip
        unit = request_unit(request, request.app.state)
        queries = Queries(unit)
        nomination, decisions = await queries.nomination(signed.actor, nomination_id)
        names = await queries.display_names([nomination])
        people = await queries.people_names([d.approver_id for d in decisions] + [nomination.nominated_by])
        done = request.query_params.get("done")
        return page("console/nomination.html", signed, status_code=status_code, n=nomination, decisions=decisions,
                    state=effective_state(nomination, unit.now()).value, names=names, people=people, refusal=refusal,
                    done=done if done in ("approved", "rejected") else None)  # fmt: skip

    @post("/nominations/{nomination_id:uuid}/decision")
    async def decide(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                     nomination_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        if form["verdict"] not in {v.value for v in Verdict}:
            raise HTTPException(status_code=400, detail="choose approve or reject")
        unit = request_unit(request, request.app.state)
        try:
            await CoSelection(unit).decide(actor=signed.actor, nomination_id=nomination_id,
                                           verdict=Verdict(form["verdict"]), reason=form["reason"])  # fmt: skip
        except DomainError as exc:
            # Refused by the rules: show the nomination again, saying why, with nothing changed.
            await unit.rollback()
            return await self._nomination_page(request, signed, nomination_id, refusal=exc.message,
                                               status_code=status_for(exc))  # fmt: skip
        return Redirect(f"/console/nominations/{nomination_id}?done={form['verdict']}d", status_code=303)

    @get("/grants")
    async def grants(self, request: Request[Any, Any, Any], signed: Signed) -> Template:
        unit = request_unit(request, request.app.state)
        queries, now = Queries(unit), unit.now()
        found = (await queries.grants(signed.actor, limit=200)).items
        rows = [(g, derive_state(GrantFacts.of(g), now).value,
                 [explain(p) for p in problems_of(g)]) for g in found]  # fmt: skip
        return page("console/grants.html", signed, rows=rows, names=await queries.display_names(found))
