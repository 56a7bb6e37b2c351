"""Console pages for nominations (list with filters, proposing one, the decision with its tally, withdrawal) and
grants (list, a grant's state and what blocks it, revocation, an extension round, and its credentials' status)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from accessdesk.api.errors import status_for
from accessdesk.domain.coselection import CoSelection, effective_state
from accessdesk.domain.credentials import Credentials
from accessdesk.domain.errors import DomainError
from accessdesk.domain.grants import Grants, stored_answer
from accessdesk.domain.queries import NominationFilter, Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.vocabulary import Action, GrantState, NominationState, OrgKind, Side, Verdict
from accessdesk.request_scope import request_unit
from accessdesk.web.pages import (
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    Refusal,
    back_to,
    instant,
    notice_of,
    page,
    refused,
)

NOMINATION_NOTICES = {"approved": "Your decision was recorded: approved.",
                      "rejected": "Your decision was recorded: rejected.",
                      "nominated": "The nomination is open: both sides can now decide.",
                      "extension": "The extension round is open: both sides decide on the new end.",
                      "withdrawn": "The nomination is withdrawn."}  # fmt: skip
GRANT_NOTICES = {"revoked": "Access is revoked, at once.",
                 "credential_revoked": "The credential is revoked: it gets no new token, and introspection now calls "
                                       "its tokens inactive."}  # fmt: skip


def _choice(value: str | None, allowed: type) -> Any:
    """A filter value from the URL if it is one of ``allowed``'s, else no filter."""
    return allowed(value) if value in {m.value for m in allowed} else None


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def grant_page(
    request: Request[Any, Any, Any], signed: Signed, grant_id: uuid.UUID, *, refusal: Refusal | None = None,
    form_name: str | None = None, values: dict[str, Any] | None = None,
) -> Template:  # fmt: skip
    """A grant's page: its state and what blocks it, its extension rounds, and its credentials (status only: a
    secret is shown once, by the credential pages, and never kept)."""
    unit = request_unit(request, request.app.state)
    queries, now = Queries(unit), unit.now()
    grant = await queries.grant(signed.actor, grant_id)
    answer = await Grants(unit).usability(grant.id, at=now)
    rounds = (await queries.nominations(signed.actor, NominationFilter(grant_id=grant.id), limit=50)).items
    # Listing needs no pepper, but the service is the one place that knows who may see a grant's credentials.
    credentials = await Credentials(unit, pepper=request.app.state.settings.pepper).for_grant(signed.actor, grant.id)
    names = await queries.display_names([grant])
    names.update(await queries.people_names([u for u in (grant.revoked_by, *(c.created_by for c in credentials),
                                                         *(c.revoked_by for c in credentials)) if u]))  # fmt: skip
    return page(
        "console/grant.html", signed, status_code=refusal.status if refusal else 200, g=grant, names=names,
        state=answer.state.value, problems=answer.explanations,
        rounds=rounds, now=now, effective_state=effective_state, refusal=refusal, form_name=form_name,
        values=values or {}, notice=notice_of(request, GRANT_NOTICES), credentials=credentials,
    )  # fmt: skip


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
        return page("console/nomination.html", signed, status_code=status_code, n=nomination, decisions=decisions,
                    state=effective_state(nomination, unit.now()).value, names=names, people=people, refusal=refusal,
                    notice=notice_of(request, NOMINATION_NOTICES))  # fmt: skip

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
        return back_to(f"/console/nominations/{nomination_id}", f"{form['verdict']}d")

    @post("/nominations/{nomination_id:uuid}/withdrawal")
    async def withdraw(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                       nomination_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await CoSelection(request_unit(request, request.app.state)).withdraw(
                actor=signed.actor, nomination_id=nomination_id, reason=form.get("withdraw_reason"))
        except DomainError as exc:
            refusal = await refused(request, exc)
            return await self._nomination_page(request, signed, nomination_id, refusal=refusal.message,
                                               status_code=refusal.status)  # fmt: skip
        return back_to(f"/console/nominations/{nomination_id}", "withdrawn")

    @get("/nominations")
    async def nominations(self, request: Request[Any, Any, Any], signed: Signed) -> Template:
        params = request.query_params
        filters = NominationFilter(
            state=_choice(params.get("state"), NominationState), model_id=_uuid_or_none(params.get("model_id")),
            organisation_id=_uuid_or_none(params.get("organisation_id")),
            awaiting=_choice(params.get("awaiting"), Side), for_me=params.get("for_me") == "1",
            nominated_by=signed.actor.user_id if params.get("mine") == "1" else None,
        )  # fmt: skip
        unit = request_unit(request, request.app.state)
        queries = Queries(unit)
        found = await queries.nominations(signed.actor, filters, cursor=params.get("cursor") or None, limit=50)
        models = (await queries.models(signed.actor, limit=200)).items
        # Organisations can be thousands: no list to choose from here; the organisation's own page links its
        # nominations, and this page then says which organisation it is narrowed to.
        organisation = (await queries.organisation(signed.actor, filters.organisation_id)
                        if filters.organisation_id else None)  # fmt: skip
        return page("console/nominations.html", signed, nominations=found.items, next_cursor=found.next_cursor,
                    filters=filters, names=await queries.display_names(found.items), models=models,
                    organisation=organisation,
                    states=[s.value for s in NominationState], now=unit.now(), effective_state=effective_state,
                    query={k: v for k, v in params.items() if k != "cursor"})  # fmt: skip

    @get("/nominations/new")
    async def new_nomination(self, request: Request[Any, Any, Any], signed: Signed) -> Template:
        return await self._new_nomination_page(request, signed, values={
            "model_id": request.query_params.get("model_id", ""), "actions": ["invoke"],
            "organisation_id": request.query_params.get("organisation_id", "")})  # fmt: skip

    async def _new_nomination_page(self, request: Request[Any, Any, Any], signed: Signed, *,
                                   values: dict[str, Any], refusal: Refusal | None = None) -> Template:  # fmt: skip
        queries = Queries(request_unit(request, request.app.state))
        models = [m for m in (await queries.models(signed.actor, limit=200)).items if m.killed_at is None]
        organisations = [o for o in (await queries.organisations(signed.actor, limit=200)).items
                         if o.kind in (OrgKind.PARTNER, OrgKind.GOVERNMENT)]  # fmt: skip
        return page("console/nomination_new.html", signed, values=values, refusal=refusal, models=models,
                    organisations=organisations, actions=[a.value for a in Action],
                    status_code=refusal.status if refusal else 200)  # fmt: skip

    @post("/nominations/new")
    async def nominate(self, request: Request[Any, Any, Any], signed: Signed, form: Posted) -> Template | Redirect:
        try:
            nomination = await CoSelection(request_unit(request, request.app.state)).nominate(
                actor=signed.actor, model_id=form.uuid("model_id", "a model"),
                organisation_id=form.uuid("organisation_id", "an organisation"),
                starts_at=instant(form, "starts_at"), ends_at=instant(form, "ends_at"), actions=form.all("actions"),
                justification=form["justification"],
            )  # fmt: skip
        except DomainError as exc:
            return await self._new_nomination_page(request, signed, refusal=await refused(request, exc),
                                                   values={**form.as_dict(), "actions": form.all("actions")})  # fmt: skip
        return back_to(f"/console/nominations/{nomination.id}", "nominated")

    @get("/grants")
    async def grants(self, request: Request[Any, Any, Any], signed: Signed) -> Template:
        params = request.query_params
        unit = request_unit(request, request.app.state)
        queries, now = Queries(unit), unit.now()
        state = _choice(params.get("state"), GrantState)
        found = await queries.grants(signed.actor, state=state, model_id=_uuid_or_none(params.get("model_id")),
                                     cursor=params.get("cursor") or None, limit=50)  # fmt: skip
        rows = [(g, (a := stored_answer(g, now)).state.value, a.explanations) for g in found.items]
        return page("console/grants.html", signed, rows=rows, names=await queries.display_names(found.items),
                    states=[s.value for s in GrantState], state=state, next_cursor=found.next_cursor,
                    models=(await queries.models(signed.actor, limit=200)).items,
                    model_id=params.get("model_id", ""), query={k: v for k, v in params.items() if k != "cursor"})  # fmt: skip

    @get("/grants/{grant_id:uuid}")
    async def grant(self, request: Request[Any, Any, Any], signed: Signed, grant_id: uuid.UUID) -> Template:
        return await grant_page(request, signed, grant_id)

    @post("/grants/{grant_id:uuid}/revocation")
    async def revoke(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                     grant_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await Grants(request_unit(request, request.app.state)).revoke(actor=signed.actor, grant_id=grant_id,
                                                                          reason=form["reason"])  # fmt: skip
        except DomainError as exc:
            return await grant_page(request, signed, grant_id, refusal=await refused(request, exc),
                                    form_name="revoke", values=form.as_dict())  # fmt: skip
        return back_to(f"/console/grants/{grant_id}", "revoked")

    @post("/grants/{grant_id:uuid}/extension")
    async def extend(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                     grant_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            nomination = await CoSelection(request_unit(request, request.app.state)).request_extension(
                actor=signed.actor, grant_id=grant_id, ends_at=instant(form, "ends_at"),
                justification=form["justification"],
            )  # fmt: skip
        except DomainError as exc:
            return await grant_page(request, signed, grant_id, refusal=await refused(request, exc),
                                    form_name="extension", values=form.as_dict())  # fmt: skip
        return back_to(f"/console/nominations/{nomination.id}", "extension")
