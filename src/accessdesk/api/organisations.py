"""Organisations, their e-mail domains, members and roles, partner vetting, and the caller's own identity."""

from __future__ import annotations

import uuid

from litestar import Controller
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from accessdesk.api.routes import get, patch, post
from accessdesk.api.schemas import (
    DomainIn,
    Limit,
    MeOut,
    OrganisationIn,
    OrganisationOut,
    OrganisationPage,
    UserIn,
    UserOut,
    UserPatch,
    VettingDecisionIn,
    VettingSubmissionIn,
)
from accessdesk.db.tables import Organisation, User
from accessdesk.domain.actor import Actor
from accessdesk.domain.organisations import Organisations, roles_of
from accessdesk.domain.queries import Queries
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import OrgKind, Vetting


class OrganisationController(Controller):
    path = "/organisations"
    tags = ["organisations"]

    @get("/")
    async def list_organisations(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], kind: FromQuery[OrgKind | None] = None,
        vetting: FromQuery[Vetting | None] = None, cursor: FromQuery[str | None] = None, limit: Limit = 50,
    ) -> OrganisationPage:  # fmt: skip
        found = await queries.organisations(actor, kind=kind, vetting=vetting, cursor=cursor, limit=limit)
        return OrganisationPage(items=[OrganisationOut.of(o) for o in found.items], next_cursor=found.next_cursor)

    @post("/")
    async def create_organisation(
        self, actor: NamedDependency[Actor], organisations: NamedDependency[Organisations],
        data: JSONBody[OrganisationIn],
    ) -> OrganisationOut:  # fmt: skip
        created = await organisations.create(
            actor=actor, kind=data.kind, name=data.name, slug=data.slug, domains=data.domains, sector=data.sector,
            country=data.country, contact_name=data.contact_name, contact_email=data.contact_email,
        )  # fmt: skip
        return OrganisationOut.of(created)

    @get("/{organisation_id:uuid}")
    async def get_organisation(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], organisation_id: FromPath[uuid.UUID]
    ) -> OrganisationOut:
        return OrganisationOut.of(await queries.organisation(actor, organisation_id))

    @post("/{organisation_id:uuid}/domains")
    async def add_domain(
        self, actor: NamedDependency[Actor], organisations: NamedDependency[Organisations],
        organisation_id: FromPath[uuid.UUID], data: JSONBody[DomainIn],
    ) -> OrganisationOut:  # fmt: skip
        return OrganisationOut.of(
            await organisations.add_domain(actor=actor, organisation_id=organisation_id, domain=data.domain)
        )

    @get("/{organisation_id:uuid}/users")
    async def list_users(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], organisation_id: FromPath[uuid.UUID]
    ) -> list[UserOut]:
        return [UserOut.of(user, roles) for user, roles in await queries.members(actor, organisation_id)]

    @post("/{organisation_id:uuid}/users")
    async def add_user(
        self, actor: NamedDependency[Actor], organisations: NamedDependency[Organisations], unit: NamedDependency[Unit],
        organisation_id: FromPath[uuid.UUID], data: JSONBody[UserIn],
    ) -> UserOut:  # fmt: skip
        user = await organisations.add_user(
            actor=actor, organisation_id=organisation_id, email=data.email, name=data.name, roles=data.roles
        )
        return UserOut.of(user, await roles_of(unit, user.id))

    @post("/{organisation_id:uuid}/vetting/submission", status_code=200)
    async def submit_vetting(
        self, actor: NamedDependency[Actor], organisations: NamedDependency[Organisations],
        organisation_id: FromPath[uuid.UUID], data: JSONBody[VettingSubmissionIn],
    ) -> OrganisationOut:  # fmt: skip
        return OrganisationOut.of(
            await organisations.submit_vetting(actor=actor, organisation_id=organisation_id, submission=data.submission)
        )

    @post("/{organisation_id:uuid}/vetting/decision", status_code=200)
    async def decide_vetting(
        self, actor: NamedDependency[Actor], organisations: NamedDependency[Organisations],
        organisation_id: FromPath[uuid.UUID], data: JSONBody[VettingDecisionIn],
    ) -> OrganisationOut:  # fmt: skip
        decided = await organisations.decide_vetting(
            actor=actor, organisation_id=organisation_id, outcome=data.outcome, reason=data.reason
        )
        return OrganisationOut.of(decided)


class UserController(Controller):
    path = "/users"
    tags = ["organisations"]

    @patch("/{user_id:uuid}")
    async def update_user(
        self, actor: NamedDependency[Actor], organisations: NamedDependency[Organisations], unit: NamedDependency[Unit],
        user_id: FromPath[uuid.UUID], data: JSONBody[UserPatch],
    ) -> UserOut:  # fmt: skip
        user = await organisations.update_user(actor=actor, user_id=user_id, roles=data.roles, disabled=data.disabled)
        return UserOut.of(user, await roles_of(unit, user.id))


@get("/me", tags=["organisations"])
async def me(actor: NamedDependency[Actor], unit: NamedDependency[Unit]) -> MeOut:
    user = await unit.get(User, actor.user_id)
    organisation = await unit.get(Organisation, actor.organisation_id)
    return MeOut(user=UserOut.of(user, actor.roles), organisation=OrganisationOut.of(organisation),
                 permissions=sorted(p.value for p in actor.permissions))  # fmt: skip
