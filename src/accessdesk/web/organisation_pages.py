"""Console pages for organisations: the list, registering a partner, and an organisation's page — its e-mail
domains, vetting (the partner's submission and the staff decision), members and their roles, and what it has
accepted and attested."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from accessdesk.domain.errors import DomainError
from accessdesk.domain.organisations import VETTING_MOVES, Organisations, may_manage
from accessdesk.domain.queries import NominationFilter, Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.vocabulary import OrgKind, Role, Vetting
from accessdesk.request_scope import request_unit
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, Refusal, back_to, notice_of, page, refused

NOTICES = {
    "registered": "The organisation is registered. Add its people below; they sign in with their e-mail domain.",
    "domain": "The domain is added.",
    "vetting": "The vetting decision is recorded.",
    "member": "The person is added.",
    "roles": "The roles are saved.",
    "disabled": "The person is disabled; their sessions have ended.",
    "enabled": "The person can sign in again.",
}
VETTING_FILTERS = [v.value for v in Vetting]


class OrganisationPagesController(Controller):
    path = "/console/organisations"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def organisations(self, request: Request[Any, Any, Any], signed: Signed) -> Template:
        kind, vetting = request.query_params.get("kind") or None, request.query_params.get("vetting") or None
        queries = Queries(request_unit(request, request.app.state))
        found = (await queries.organisations(signed.actor, kind=OrgKind(kind) if kind in set(OrgKind) else None,
                                             vetting=vetting if vetting in VETTING_FILTERS else None,
                                             limit=200)).items  # fmt: skip
        return page("console/organisations.html", signed, organisations=found, kind=kind, vetting=vetting,
                    kinds=[k.value for k in OrgKind], vettings=VETTING_FILTERS)  # fmt: skip

    @get("/new")
    async def new_organisation(self, signed: Signed) -> Template:
        return self._new_page(signed, values={})

    def _new_page(self, signed: Signed, *, values: dict[str, Any], refusal: Refusal | None = None) -> Template:
        return page("console/organisation_new.html", signed, values=values, refusal=refusal,
                    status_code=refusal.status if refusal else 200)  # fmt: skip

    @post("/new")
    async def register(self, request: Request[Any, Any, Any], signed: Signed, form: Posted) -> Template | Redirect:
        try:
            organisation = await Organisations(request_unit(request, request.app.state)).create(
                actor=signed.actor, kind=OrgKind.PARTNER, name=form["name"], slug=form["slug"],
                domains=form["domains"].replace(",", " ").split(), sector=form.get("sector"),
                country=form.get("country"), contact_name=form.get("contact_name"),
                contact_email=form.get("contact_email"),
            )  # fmt: skip
        except DomainError as exc:
            return self._new_page(signed, values=form.as_dict(), refusal=await refused(request, exc))
        return back_to(f"/console/organisations/{organisation.id}", "registered")

    @get("/{organisation_id:uuid}")
    async def organisation(self, request: Request[Any, Any, Any], signed: Signed, organisation_id: uuid.UUID) -> Template:
        return await self._page(request, signed, organisation_id)

    async def _page(
        self, request: Request[Any, Any, Any], signed: Signed, organisation_id: uuid.UUID, *,
        refusal: Refusal | None = None, form_name: str | None = None, values: dict[str, Any] | None = None,
    ) -> Template:  # fmt: skip
        unit = request_unit(request, request.app.state)
        queries = Queries(unit)
        organisation = await queries.organisation(signed.actor, organisation_id)
        members = await queries.members(signed.actor, organisation_id)
        grants = (await queries.grants(signed.actor, organisation_id=organisation_id, limit=100)).items
        nominations = (await queries.nominations(signed.actor, NominationFilter(organisation_id=organisation_id),
                                                 limit=100)).items  # fmt: skip
        acceptances = await queries.nda_acceptances(signed.actor, organisation_id)
        names = await queries.display_names([*grants, *nominations])
        names.update(await queries.people_names([a.signer_id for a in acceptances] +
                                                ([organisation.vetting_decided_by] if organisation.vetting_decided_by else [])))  # fmt: skip
        manageable = may_manage(signed.actor, organisation)
        vetting_moves = sorted(VETTING_MOVES[Vetting(organisation.vetting_state)] & {Vetting.VETTED, Vetting.DECLINED}) \
            if organisation.vetting_state else []  # fmt: skip
        return page(
            "console/organisation.html", signed, status_code=refusal.status if refusal else 200, org=organisation,
            domains=await queries.domains(signed.actor, organisation_id), members=members, grants=grants,
            nominations=nominations, acceptances=acceptances, names=names, manageable=manageable,
            attestations=await queries.attestations(signed.actor, organisation_id), roles=[r.value for r in Role],
            vetting_moves=[v.value for v in vetting_moves], refusal=refusal, form_name=form_name,
            values=values or {}, notice=notice_of(request, NOTICES), now=unit.now(),
        )  # fmt: skip

    async def _refused(self, request: Request[Any, Any, Any], signed: Signed, organisation_id: uuid.UUID,
                       exc: DomainError, form: Posted, form_name: str) -> Template:  # fmt: skip
        return await self._page(request, signed, organisation_id, refusal=await refused(request, exc),
                                form_name=form_name, values=form.as_dict())  # fmt: skip

    @post("/{organisation_id:uuid}/domains")
    async def add_domain(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                         organisation_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await Organisations(request_unit(request, request.app.state)).add_domain(
                actor=signed.actor, organisation_id=organisation_id, domain=form["domain"])
        except DomainError as exc:
            return await self._refused(request, signed, organisation_id, exc, form, "domain")
        return back_to(f"/console/organisations/{organisation_id}", "domain")

    @post("/{organisation_id:uuid}/vetting")
    async def decide_vetting(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                             organisation_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await Organisations(request_unit(request, request.app.state)).decide_vetting(
                actor=signed.actor, organisation_id=organisation_id, outcome=form["outcome"],  # type: ignore[arg-type]
                reason=form.get("reason"),
            )  # fmt: skip
        except DomainError as exc:
            return await self._refused(request, signed, organisation_id, exc, form, "vetting")
        return back_to(f"/console/organisations/{organisation_id}", "vetting")

    @post("/{organisation_id:uuid}/members")
    async def add_member(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                         organisation_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await Organisations(request_unit(request, request.app.state)).add_user(
                actor=signed.actor, organisation_id=organisation_id, email=form["email"], name=form["name"],
                roles=form.all("roles"),  # type: ignore[arg-type]
            )  # fmt: skip
        except DomainError as exc:
            return await self._refused(request, signed, organisation_id, exc, form, "member")
        return back_to(f"/console/organisations/{organisation_id}", "member")

    @post("/{organisation_id:uuid}/members/{user_id:uuid}")
    async def update_member(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                            organisation_id: uuid.UUID, user_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        change = form["change"]
        if change not in ("roles", "disable", "enable"):
            raise HTTPException(status_code=400, detail="choose to change roles, disable or enable")
        organisations = Organisations(request_unit(request, request.app.state))
        try:
            if change == "roles":
                await organisations.update_user(actor=signed.actor, user_id=user_id, roles=form.all("roles"))  # type: ignore[arg-type]
            else:
                await organisations.update_user(actor=signed.actor, user_id=user_id, disabled=change == "disable")
        except DomainError as exc:
            return await self._refused(request, signed, organisation_id, exc, form, f"member-{user_id}")
        return back_to(f"/console/organisations/{organisation_id}",
                       {"roles": "roles", "disable": "disabled"}.get(change, "enabled"))  # fmt: skip
