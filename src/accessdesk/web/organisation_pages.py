"""Console pages for organisations: the list, registering a partner, and an organisation's page — its e-mail
domains, vetting (the partner's submission and the staff decision), members and their roles, and what it has
accepted and attested."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.domain.actor import Actor
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.queries import ORGANISATION_SORTS, NominationFilter, Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import OrgKind, Role, Vetting
from accessdesk.web.listing import Listing
from accessdesk.web.pages import FIRST_OF_LIST, PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, back_to, notice_of, page
from accessdesk.web.refusals import Refusal, on_refusal

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
# Organisations can be thousands: the list is read a page at a time.
ORGANISATIONS_PAGE = 100


def new_organisation_page(
    signed: NamedDependency[Signed], *, values: dict[str, Any], refusal: Refusal | None = None
) -> Template:
    return page("console/organisation_new.html", signed, values=values, refusal=refusal,
                status_code=refusal.status if refusal else 200)  # fmt: skip


async def organisation_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
    queries: NamedDependency[Queries], organisation_id: FromPath[uuid.UUID], *, refusal: Refusal | None = None,
    section: str | None = None, values: dict[str, Any] | None = None,
) -> Template:  # fmt: skip
    """An organisation's page, with a refused form shown again in its ``section`` with what was typed."""
    organisation = await queries.organisation(signed.actor, organisation_id)
    members = await queries.members(signed.actor, organisation_id)
    # The first of each; the page links to the whole list when there is more.
    grants = await queries.grants(signed.actor, organisation_id=organisation_id, limit=FIRST_OF_LIST)
    nominations = await queries.nominations(signed.actor, NominationFilter(organisation_id=organisation_id),
                                            limit=FIRST_OF_LIST)  # fmt: skip
    acceptances = await queries.nda_acceptances(signed.actor, organisation_id)
    names = await queries.display_names([*grants.items, *nominations.items])
    names.update(await queries.people_names([a.signer_id for a in acceptances] +
                                            ([organisation.vetting_decided_by] if organisation.vetting_decided_by else [])))  # fmt: skip
    return page(
        "console/organisation.html", signed, status_code=refusal.status if refusal else 200, org=organisation,
        domains=await queries.domains(signed.actor, organisation_id), members=members, grants=grants.items,
        more_grants=grants.next_cursor is not None, nominations=nominations.items, acceptances=acceptances, names=names,
        allowed=Organisations.allowed(signed.actor, organisation),
        attestations=await queries.attestations(signed.actor, organisation_id), roles=[r.value for r in Role],
        refusal=refusal, form_name=section,
        values=values or {}, notice=notice_of(request, NOTICES), now=unit.now(),
    )  # fmt: skip


class OrganisationPagesController(Controller):
    path = "/console/organisations"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def organisations(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries]
    ) -> Template:
        params = request.query_params
        listing = Listing.of("/console/organisations", params, ORGANISATION_SORTS)
        kind, vetting = params.get("kind") or None, params.get("vetting") or None
        found = await queries.organisations(signed.actor, kind=OrgKind(kind) if kind in set(OrgKind) else None,
                                            vetting=vetting if vetting in VETTING_FILTERS else None,
                                            cursor=listing.cursor, limit=ORGANISATIONS_PAGE, search=listing.search,
                                            sort=listing.sort)  # fmt: skip
        return page("console/organisations.html", signed, organisations=found.items, next_cursor=found.next_cursor,
                    kind=kind, vetting=vetting, kinds=[k.value for k in OrgKind], vettings=VETTING_FILTERS,
                    listing=listing)  # fmt: skip

    @get("/new")
    async def new_organisation(self, signed: NamedDependency[Signed]) -> Template:
        return new_organisation_page(signed, values={})

    @post("/new")
    @on_refusal(new_organisation_page)
    async def register(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted],
        organisations: NamedDependency[Organisations],
    ) -> Redirect:  # fmt: skip
        organisation = await organisations.create(
            actor=actor, kind=OrgKind.PARTNER, name=form["name"], slug=form["slug"],
            domains=form["domains"].replace(",", " ").split(), sector=form.get("sector"),
            country=form.get("country"), contact_name=form.get("contact_name"),
            contact_email=form.get("contact_email"),
        )  # fmt: skip
        return back_to(f"/console/organisations/{organisation.id}", "registered")

    @get("/{organisation_id:uuid}")
    async def organisation(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries], organisation_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await organisation_page(request, signed, unit, queries, organisation_id)

    @post("/{organisation_id:uuid}/domains")
    @on_refusal(organisation_page, section="domain")
    async def add_domain(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted],
        organisations: NamedDependency[Organisations], organisation_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await organisations.add_domain(actor=actor, organisation_id=organisation_id, domain=form["domain"])
        return back_to(f"/console/organisations/{organisation_id}", "domain")

    @post("/{organisation_id:uuid}/vetting")
    @on_refusal(organisation_page, section="vetting")
    async def decide_vetting(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted],
        organisations: NamedDependency[Organisations], organisation_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await organisations.decide_vetting(actor=actor, organisation_id=organisation_id,
                                           outcome=form["outcome"],
                                           reason=form.get("reason"))  # fmt: skip
        return back_to(f"/console/organisations/{organisation_id}", "vetting")

    @post("/{organisation_id:uuid}/members")
    @on_refusal(organisation_page, section="member")
    async def add_member(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted],
        organisations: NamedDependency[Organisations], organisation_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await organisations.add_user(actor=actor, organisation_id=organisation_id, email=form["email"],
                                     name=form["name"], roles=form.all("roles"))
        return back_to(f"/console/organisations/{organisation_id}", "member")

    @post("/{organisation_id:uuid}/members/{user_id:uuid}")
    @on_refusal(organisation_page, section="member-{user_id}")
    async def update_member(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted],
        organisations: NamedDependency[Organisations], organisation_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        change = form["change"]
        if change not in ("roles", "disable", "enable"):
            raise HTTPException(status_code=400, detail="choose to change roles, disable or enable")
        if change == "roles":
            await organisations.update_user(actor=actor, user_id=user_id, roles=form.all("roles"))
        else:
            await organisations.update_user(actor=actor, user_id=user_id, disabled=change == "disable")
        return back_to(f"/console/organisations/{organisation_id}",
                       {"roles": "roles", "disable": "disabled"}.get(change, "enabled"))  # fmt: skip
