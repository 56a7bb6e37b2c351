"""The registry of organisations and people: the three kinds, e-mail domains, users and roles, partner vetting."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import Organisation, OrganisationDomain, User, UserRole, WebSession
from accessdesk.domain import visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import snapshot
from accessdesk.domain.errors import Conflict, Forbidden, Invalid, NotFound
from accessdesk.domain.grants import Grants
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import SLUG, OrgKind, Role, Vetting

DOMAIN = re.compile(r"(?=.{1,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}")
VETTING_MOVES: dict[Vetting, frozenset[Vetting]] = {
    Vetting.INVITED: frozenset({Vetting.SUBMITTED}),
    Vetting.SUBMITTED: frozenset({Vetting.VETTED, Vetting.DECLINED}),
    Vetting.VETTED: frozenset({Vetting.DECLINED}),
    Vetting.DECLINED: frozenset({Vetting.SUBMITTED}),
}


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL.fullmatch(email) or not DOMAIN.fullmatch(email.rsplit("@", 1)[-1]):
        raise Invalid("email", "not a valid e-mail address")
    return email


async def roles_of(unit: Unit, user_id: uuid.UUID) -> frozenset[Role]:
    rows = await unit.session.exec(select(UserRole.role).where(UserRole.user_id == user_id))
    return frozenset(Role(r) for r in rows.all())


async def actor_for(unit: Unit, user: User, *, request_id: str | None = None) -> Actor:
    organisation = await unit.get(Organisation, user.organisation_id)
    return Actor.user(
        user_id=user.id,
        email=user.email,
        organisation_id=organisation.id,
        kind=OrgKind(organisation.kind),
        roles=await roles_of(unit, user.id),
        request_id=request_id,
    )


def may_manage(actor: Actor, organisation: Organisation) -> bool:
    """Whether ``actor`` may change ``organisation``'s people and domains: the system; its own admins; for a partner,
    the government's admins (see ``Organisations._manageable``)."""
    if actor.is_system:
        return True
    if not actor.can(Permission.ORGANISATIONS_MANAGE):
        return False
    return organisation.id == actor.organisation_id or (
        actor.kind == OrgKind.GOVERNMENT and organisation.kind == OrgKind.PARTNER
    )


DECISIONS = frozenset({Vetting.VETTED, Vetting.DECLINED})  # what the government records; the partner submits


def vetting_outcomes(actor: Actor, organisation: Organisation) -> tuple[Vetting, ...]:
    """The vetting outcomes ``actor`` may record for ``organisation`` now (none: they may not decide it). The rules
    :meth:`Organisations.decide_vetting` applies."""
    if not actor.can(Permission.PARTNERS_VET) or organisation.kind != OrgKind.PARTNER or not organisation.vetting_state:
        return ()
    return tuple(sorted(VETTING_MOVES[Vetting(organisation.vetting_state)] & DECISIONS))


def self_change_refused(actor: Actor, user_id: uuid.UUID, *, disabled: bool | None,
                        roles: list[Role] | list[str] | None) -> Forbidden | None:  # fmt: skip
    """Why ``actor`` may not make this change to the person ``user_id`` (None: they may, if they manage them):
    nobody disables themselves or takes away their own admin role."""
    if user_id == actor.user_id and (disabled or (roles is not None and Role.ADMIN not in roles)):
        return Forbidden("you cannot disable yourself or take away your own admin role")
    return None


@dataclass(frozen=True, slots=True)
class OrganisationActions:
    """What one person may do to one organisation now: what a surface offers, and nothing else."""

    manage: bool  # its people, their roles, its domains
    vetting_outcomes: tuple[Vetting, ...]
    actor_id: uuid.UUID | None

    def may_disable(self, user_id: uuid.UUID) -> bool:
        """Whether they may disable (or enable) this member of it."""
        return self.manage and user_id != self.actor_id


class Organisations:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def create(
        self,
        *,
        actor: Actor,
        kind: OrgKind,
        name: str,
        slug: str,
        domains: list[str] | None = None,
        sector: str | None = None,
        country: str | None = None,
        contact_name: str | None = None,
        contact_email: str | None = None,
    ) -> Organisation:
        """Staff admins register partner organisations; developer and government organisations are created by
        the operator (CLI), i.e. the system actor."""
        kind = OrgKind(kind)
        if not actor.is_system:
            actor.require(Permission.ORGANISATIONS_MANAGE)
            if not actor.is_staff:
                raise Forbidden("only developer or government staff can register organisations")
            if kind != OrgKind.PARTNER:
                raise Forbidden("developer and government organisations are registered by the operator")
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise Invalid("name", "a name of 1 to 200 characters is required")
        if not SLUG.fullmatch(slug or ""):
            raise Invalid("slug", "lower-case letters, digits and dashes, 1 to 64 characters")
        if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
            raise Invalid("country", "an ISO 3166-1 alpha-2 code such as US")
        if contact_email is not None:
            contact_email = normalise_email(contact_email)
        clean_domains = [self._domain(d) for d in domains or []]
        if (await self.unit.session.exec(select(Organisation.id).where(Organisation.slug == slug))).first():
            raise Conflict(f"an organisation with slug {slug!r} already exists")
        organisation = Organisation(
            kind=kind.value,
            name=name,
            slug=slug,
            sector=sector,
            country=country,
            contact_name=contact_name,
            contact_email=contact_email,
            vetting_state=Vetting.INVITED.value if kind == OrgKind.PARTNER else None,
            created_at=self.unit.now(),
        )
        self.unit.session.add(organisation)
        await self.unit.session.flush()
        for domain in clean_domains:
            await self._claim(organisation, domain)
        self.unit.record(actor=actor, action="organisation.created", subject=organisation,
                         after={**snapshot(organisation), "domains": clean_domains})  # fmt: skip
        await self.unit.commit()
        return organisation

    def _domain(self, domain: str) -> str:
        domain = (domain or "").strip().lower()
        if not DOMAIN.fullmatch(domain):
            raise Invalid("domains", f"{domain!r} is not a valid e-mail domain")
        return domain

    async def _claim(self, organisation: Organisation, domain: str) -> None:
        owner = await self.unit.session.get(OrganisationDomain, domain)
        if owner is not None:
            raise Conflict(f"the domain {domain} already belongs to an organisation")
        self.unit.session.add(OrganisationDomain(domain=domain, organisation_id=organisation.id))

    async def add_domain(self, *, actor: Actor, organisation_id: uuid.UUID, domain: str) -> Organisation:
        organisation = await self._manageable(actor, organisation_id)
        domain = self._domain(domain)
        await self._claim(organisation, domain)
        self.unit.record(actor=actor, action="organisation.domain_added", subject=organisation, after={"domain": domain})
        await self.unit.commit()
        return organisation

    async def _manageable(self, actor: Actor, organisation_id: uuid.UUID) -> Organisation:
        """An organisation the actor may manage: their own (as admin), or a partner (as a government admin).

        Partners are shared by every developer's programmes, so no developer changes a partner's people or
        domains: that would change what the partner may do on another developer's models. The government, which
        screens partners, may."""
        organisation = await self.unit.get(Organisation, organisation_id, what="organisation")
        visibility.require(visibility.can_see_org(actor, organisation), "organisation", organisation_id)
        if actor.is_system:
            return organisation
        actor.require(Permission.ORGANISATIONS_MANAGE, "only admins manage organisations and their members")
        if not may_manage(actor, organisation):
            raise Forbidden("you can manage your own organisation only; partners are managed by their own admins "
                            "and the government")
        return organisation

    async def add_user(
        self, *, actor: Actor, organisation_id: uuid.UUID, email: str, name: str, roles: list[Role] | list[str]
    ) -> User:
        organisation = await self._manageable(actor, organisation_id)
        if organisation.disabled_at is not None:
            raise Conflict(f"the organisation {organisation.slug} is disabled: nobody joins it")
        email = normalise_email(email)
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise Invalid("name", "a name of 1 to 200 characters is required")
        chosen = self._roles(roles)
        if (await self.unit.session.exec(select(User.id).where(User.email == email))).first():
            raise Conflict(f"a user with e-mail {email} already exists")
        user = User(organisation_id=organisation.id, email=email, name=name, created_at=self.unit.now())
        self.unit.session.add(user)
        await self.unit.session.flush()
        for role in chosen:
            self.unit.session.add(UserRole(user_id=user.id, role=role.value))
        self.unit.record(actor=actor, action="user.created", subject=user,
                         after={**snapshot(user), "roles": sorted(chosen)})  # fmt: skip
        await self.unit.commit()
        return user

    @staticmethod
    def _roles(roles: list[Role] | list[str]) -> set[Role]:
        try:
            chosen = {Role(r) for r in roles or [Role.MEMBER]}
        except ValueError as exc:
            raise Invalid("roles", f"roles are {', '.join(r.value for r in Role)}") from exc
        return chosen

    async def update_user(
        self,
        *,
        actor: Actor,
        user_id: uuid.UUID,
        roles: list[Role] | list[str] | None = None,
        disabled: bool | None = None,
    ) -> User:
        user = await self.unit.get(User, user_id, what="user")
        await self._manageable(actor, user.organisation_id)
        if (refused := self_change_refused(actor, user.id, disabled=disabled, roles=roles)) is not None:
            raise refused
        if disabled is False and user.disabled_at is not None:
            organisation = await self.unit.get(Organisation, user.organisation_id, what="organisation")
            if organisation.disabled_at is not None:
                raise Conflict(f"the organisation {organisation.slug} is disabled: nobody in it can be enabled")
        before = {"roles": sorted(await roles_of(self.unit, user.id)), "disabled": user.disabled_at is not None}
        if roles is not None:
            chosen = self._roles(roles)
            await self.unit.session.exec(sa.delete(UserRole).where(col(UserRole.user_id) == user.id))
            for role in chosen:
                self.unit.session.add(UserRole(user_id=user.id, role=role.value))
        if disabled is not None:
            await self._set_disabled(user, disabled)
        after = {"roles": sorted(r.value for r in self._roles(roles)) if roles is not None else before["roles"],
                 "disabled": user.disabled_at is not None}  # fmt: skip
        if after != before:
            self.unit.record(actor=actor, action="user.updated", subject=user, before=before, after=after)
        await self.unit.commit()
        return user

    async def _set_disabled(self, user: User, disabled: bool) -> None:
        if (user.disabled_at is not None) == disabled:
            return
        user.disabled_at = self.unit.now() if disabled else None
        self.unit.session.add(user)
        if disabled:  # a disabled person is out at once: every console session of theirs ends now
            await self.unit.session.exec(
                sa.update(WebSession)
                .where(col(WebSession.user_id) == user.id, col(WebSession.ended_at).is_(None))
                .values(ended_at=self.unit.now())
            )

    async def disable(self, *, actor: Actor, organisation_id: uuid.UUID, reason: str | None = None) -> list[User]:
        """The operator disables an organisation: every person in it is disabled as an admin would disable them
        (sessions ended, tokens refused), and nobody joins it any more. Returns the people it disabled.

        Its grants are not touched: cutting access is revocation, or for a partner the government's vetting."""
        if not actor.is_system:
            raise Forbidden("organisations are disabled by the operator (accessdesk org disable)")
        organisation = await self.unit.lock(Organisation, organisation_id)
        if organisation.disabled_at is not None:
            raise Conflict(f"the organisation {organisation.slug} is already disabled (since "
                           f"{organisation.disabled_at:%Y-%m-%d %H:%M} UTC)")  # fmt: skip
        organisation.disabled_at = self.unit.now()
        self.unit.session.add(organisation)
        people = (await self.unit.session.exec(
            select(User).where(User.organisation_id == organisation.id, col(User.disabled_at).is_(None))
            .order_by(User.email)
        )).all()  # fmt: skip
        self.unit.record(actor=actor, action="organisation.disabled", subject=organisation, reason=reason,
                         before={"disabled": False}, after={"disabled": True, "people_disabled": len(people)})  # fmt: skip
        for person in people:
            await self._set_disabled(person, True)
            self.unit.record(actor=actor, action="user.updated", subject=person, reason="organisation disabled",
                             before={"disabled": False}, after={"disabled": True})  # fmt: skip
        await self.unit.commit()
        return list(people)

    async def submit_vetting(self, *, actor: Actor, organisation_id: uuid.UUID, submission: str) -> Organisation:
        """A partner's admin hands in its vetting questionnaire (``invited``/``declined`` → ``submitted``)."""
        organisation = await self.unit.get(Organisation, organisation_id, what="organisation")
        visibility.require(visibility.can_see_org(actor, organisation), "organisation", organisation_id)
        actor.require(Permission.VETTING_SUBMIT, "only a partner's admin submits its vetting")
        if organisation.id != actor.organisation_id:
            raise Forbidden("you can submit vetting for your own organisation only")
        text = (submission or "").strip()
        if not text or len(text) > 20000:
            raise Invalid("submission", "the vetting submission must be 1 to 20000 characters")
        return await self._move_vetting(organisation, Vetting.SUBMITTED, actor=actor, submission=text)

    @staticmethod
    def allowed(actor: Actor, organisation: Organisation) -> OrganisationActions:
        """What ``actor`` (who can see ``organisation``) may do to it now, each answered by its use case's rule."""
        return OrganisationActions(manage=may_manage(actor, organisation),
                                   vetting_outcomes=vetting_outcomes(actor, organisation), actor_id=actor.user_id)  # fmt: skip

    async def decide_vetting(
        self, *, actor: Actor, organisation_id: uuid.UUID, outcome: Vetting | str, reason: str | None
    ) -> Organisation:
        organisation = await self.unit.get(Organisation, organisation_id, what="organisation")
        visibility.require(visibility.can_see_org(actor, organisation), "organisation", organisation_id)
        actor.require(Permission.PARTNERS_VET, "vetting is the government's screening: only government admins and "
                                               "approvers decide it")
        if outcome not in (Vetting.VETTED, Vetting.DECLINED):
            raise Invalid("outcome", "the outcome of vetting is vetted or declined")
        outcome = Vetting(outcome)
        reason = (reason or "").strip() or None
        if outcome == Vetting.DECLINED and not reason:
            raise Invalid("reason", "a reason is required to decline")
        return await self._move_vetting(organisation, outcome, actor=actor, reason=reason)

    async def _move_vetting(
        self,
        organisation: Organisation,
        target: Vetting,
        *,
        actor: Actor,
        reason: str | None = None,
        submission: str | None = None,
    ) -> Organisation:
        organisation = await self.unit.lock(Organisation, organisation.id)
        if organisation.kind != OrgKind.PARTNER:
            raise Conflict("only partner organisations are vetted")
        assert organisation.vetting_state is not None, "a partner is created invited"
        current = Vetting(organisation.vetting_state)
        if target not in VETTING_MOVES[current]:
            raise Conflict(f"vetting cannot go from {current.value} to {target.value}")
        before = {"vetting_state": current.value}
        organisation.vetting_state = target.value
        organisation.vetting_changed_at = self.unit.now()
        if submission is not None:
            organisation.vetting_submission = submission
        else:
            organisation.vetting_reason, organisation.vetting_decided_by = reason, actor.user_id
        self.unit.session.add(organisation)
        self.unit.record(actor=actor, action=f"organisation.vetting_{target.value}", subject=organisation,
                         before=before, after={"vetting_state": target.value}, reason=reason)  # fmt: skip
        await Grants(self.unit).refresh_where(actor=actor, organisation_id=organisation.id, reason=reason)
        await self.unit.commit()
        return organisation


async def find_user(unit: Unit, email: str) -> User:
    user = (await unit.session.exec(select(User).where(User.email == email.strip().lower()))).first()
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return user


async def find_organisation(unit: Unit, slug: str) -> Organisation:
    found = (await unit.session.exec(select(Organisation).where(Organisation.slug == slug))).first()
    if found is None:
        raise NotFound(f"no organisation with slug {slug}")
    return found
