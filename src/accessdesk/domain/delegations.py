"""Delegation: an approver out of office names a delegate of the same organisation (so the same side) who holds a
deciding role the approver holds, for a period. The delegate then decides in the approver's name; the decision
records both (``Decision.approver_id`` is the approver, ``decided_by`` the delegate, ``delegation_id`` this row),
and so does the audit trail.

What a delegation can never do (checked where decisions are made, :meth:`CoSelection.decide`): let a delegate
decide on their own nomination or on the approver's (the approver could not either), or make one person count twice
on a nomination — a person casts at most one decision on a nomination, as themselves or in someone's name, and an
approver is counted at most once whoever decides for them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from accessdesk.db.tables import Delegation, User, UserRole
from accessdesk.domain import instants
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import snapshot
from accessdesk.domain.errors import AlreadyRevoked, DomainError, Forbidden, Invalid, NotFound
from accessdesk.domain.organisations import actor_for
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Role

# The longest a delegation may last: long enough for a leave, short enough to be looked at again.
LONGEST = timedelta(days=90)
NOTE_LIMIT = 1000
DECIDING_ROLES = frozenset({Role.ADMIN, Role.APPROVER})


@dataclass(frozen=True, slots=True)
class DelegationRow:
    delegation: Delegation
    delegator: str  # e-mail
    delegate: str

    def state(self, at: datetime) -> str:
        d = self.delegation
        if d.revoked_at is not None:
            return "revoked"
        if at < d.starts_at:
            return "scheduled"
        return "active" if at < d.ends_at else "ended"


def in_force(at: datetime) -> sa.ColumnElement[bool]:
    """Delegations that let their delegate decide at ``at``."""
    return sa.and_(col(Delegation.revoked_at).is_(None), col(Delegation.starts_at) <= at, col(Delegation.ends_at) > at)


def revocation_refused(actor: Actor, delegation: Delegation, at: datetime) -> DomainError | None:
    """Why ``actor`` may not end ``delegation`` at ``at`` (None: they may): the person who delegated, or an admin
    of their organisation, while it has not ended. Its delegate is told so; anyone else, that it does not exist."""
    own = delegation.delegator_id == actor.user_id
    admin = actor.can(Permission.ORGANISATIONS_MANAGE) and actor.organisation_id == delegation.organisation_id
    if not (own or admin or actor.is_system):
        if actor.user_id != delegation.delegate_id:
            return NotFound(f"delegation {delegation.id} not found")
        return Forbidden("only the person who delegated (or an admin of their organisation) ends a delegation")
    if delegation.revoked_at is not None:
        return AlreadyRevoked("this delegation was already ended")
    if delegation.ends_at <= at:
        return AlreadyRevoked("this delegation has already ended")
    return None


class Delegations:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def create(
        self, *, actor: Actor, delegate_id: uuid.UUID, starts_at: datetime, ends_at: datetime, note: str | None = None
    ) -> Delegation:
        """``actor`` (an approver or admin) names ``delegate_id`` to decide in their name from ``starts_at`` to
        ``ends_at``."""
        if actor.is_system or not actor.can(Permission.NOMINATIONS_DECIDE):
            raise Forbidden("only approvers and admins, who decide on nominations, can name a delegate")
        starts_at, ends_at = instants.utc("starts_at", starts_at), instants.utc("ends_at", ends_at)
        now = self.unit.now()
        if ends_at <= starts_at:
            raise Invalid("ends_at", "a delegation must end after it starts")
        if ends_at <= now:
            raise Invalid("ends_at", "a delegation must end in the future")
        if ends_at - starts_at > LONGEST:
            raise Invalid("ends_at", f"a delegation lasts at most {LONGEST.days} days")
        text = (note or "").strip() or None
        if text is not None and (len(text) > NOTE_LIMIT or "\x00" in text):
            raise Invalid("note", f"a note of at most {NOTE_LIMIT} characters, without NUL")
        delegate = await self.unit.session.get(User, delegate_id)
        if delegate is None or delegate.organisation_id != actor.organisation_id:
            raise Invalid("delegate_id", "the delegate must be someone of your own organisation")
        if delegate.id == actor.user_id:
            raise Invalid("delegate_id", "you cannot be your own delegate")
        if delegate.disabled_at is not None:
            raise Invalid("delegate_id", "this person's account is disabled")
        theirs = (await actor_for(self.unit, delegate)).roles & DECIDING_ROLES
        if not theirs & (actor.roles & DECIDING_ROLES):
            mine = " or ".join(sorted(r.value for r in actor.roles & DECIDING_ROLES))
            raise Invalid("delegate_id", f"the delegate must hold your deciding role ({mine})")
        delegation = Delegation(delegator_id=actor.person_id, delegate_id=delegate.id,
                                organisation_id=delegate.organisation_id, starts_at=starts_at, ends_at=ends_at,
                                note=text, created_by=actor.person_id, created_at=now)  # fmt: skip
        self.unit.session.add(delegation)
        self.unit.record(actor=actor, action="delegation.created", subject=delegation, after=snapshot(delegation))
        self.unit.notify(topic="delegation.created", recipient=f"user:{delegate.id}",
                         payload={"delegation_id": delegation.id, "delegator_id": actor.person_id,
                                  "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
                         dedupe_key=f"delegation.created:{delegation.id}")  # fmt: skip
        await self.unit.commit()
        return delegation

    async def revoke(self, *, actor: Actor, delegation_id: uuid.UUID) -> Delegation:
        """The approver (or an admin of their organisation) ends a delegation now."""
        delegation = await self.unit.lock(Delegation, delegation_id, what="delegation")
        now = self.unit.now()
        if (refused := revocation_refused(actor, delegation, now)) is not None:
            raise refused
        delegation.revoked_at, delegation.revoked_by = now, actor.user_id
        self.unit.session.add(delegation)
        self.unit.record(actor=actor, action="delegation.revoked", subject=delegation,
                         before={"revoked_at": None}, after={"revoked_at": now})  # fmt: skip
        # The delegate hears that they no longer decide in the approver's name (the approver did it, or knows).
        self.unit.notify(topic="delegation.revoked", recipient=f"user:{delegation.delegate_id}",
                         payload={"delegation_id": delegation.id, "delegator_id": delegation.delegator_id,
                                  "revoked_by": actor.user_id},
                         dedupe_key=f"delegation.revoked:{delegation.id}")  # fmt: skip
        await self.unit.commit()
        return delegation

    async def listing(self, actor: Actor) -> list[DelegationRow]:
        """The delegations ``actor`` gave or holds (an admin: every one of their organisation), newest first."""
        mine = sa.or_(col(Delegation.delegator_id) == actor.user_id, col(Delegation.delegate_id) == actor.user_id)
        if actor.can(Permission.ORGANISATIONS_MANAGE):
            mine = sa.or_(mine, col(Delegation.organisation_id) == actor.organisation_id)
        delegator, delegate = aliased(User), aliased(User)
        rows = await self.unit.session.exec(
            select(Delegation, delegator.email, delegate.email)
            .join(delegator, col(delegator.id) == Delegation.delegator_id)
            .join(delegate, col(delegate.id) == Delegation.delegate_id)
            .where(mine).order_by(col(Delegation.created_at).desc(), col(Delegation.id))
        )  # fmt: skip
        return [DelegationRow(d, a, b) for d, a, b in rows.all()]

    async def candidates(self, actor: Actor) -> list[User]:
        """Whom ``actor`` may name as their delegate: the active people of their organisation, themselves aside,
        who hold one of their deciding roles (what :meth:`create` accepts, for a form to offer), by e-mail."""
        mine = [r.value for r in actor.roles & DECIDING_ROLES]
        if actor.is_system or not mine or not actor.can(Permission.NOMINATIONS_DECIDE):
            return []
        rows = await self.unit.session.exec(
            select(User).where(User.organisation_id == actor.organisation_id, User.id != actor.user_id,
                               col(User.disabled_at).is_(None),
                               sa.exists().where(col(UserRole.user_id) == User.id, col(UserRole.role).in_(mine)))
            .order_by(User.email)
        )  # fmt: skip
        return list(rows.all())

    async def person(self, actor: Actor, email: str) -> uuid.UUID:
        """The id of the person of ``actor``'s own organisation who signs in as ``email`` (a delegate named by
        e-mail); Invalid, naming ``delegate``, when no one of it does (people of other organisations are not
        told apart from no one). Asked of who may delegate only: anyone else is refused as :meth:`create` would."""
        if actor.is_system or not actor.can(Permission.NOMINATIONS_DECIDE):
            raise Forbidden("only approvers and admins, who decide on nominations, can name a delegate")
        found = (await self.unit.session.exec(
            select(User.id).where(User.email == (email or "").strip().lower(),
                                  User.organisation_id == actor.organisation_id)
        )).first()  # fmt: skip
        if found is None or actor.organisation_id is None:
            raise Invalid("delegate", "no one of your organisation signs in with that e-mail address")
        return found

    async def acting_for(self, actor: Actor, delegator_id: uuid.UUID) -> tuple[Delegation, Actor]:
        """The delegation in force now by which ``actor`` decides in ``delegator_id``'s name, and the delegator as
        an actor (whose rights the decision is judged by); Forbidden when there is none."""
        found = (await self.unit.session.exec(
            select(Delegation).where(Delegation.delegator_id == delegator_id, Delegation.delegate_id == actor.user_id,
                                     in_force(self.unit.now()))
            .order_by(col(Delegation.starts_at)).limit(1)
        )).first()  # fmt: skip
        if found is None:
            raise Forbidden("you hold no delegation in force from that person")
        delegator = await self.unit.session.get(User, delegator_id)
        if delegator is None or delegator.disabled_at is not None:
            raise Forbidden("the person who delegated can no longer decide")
        return found, await actor_for(self.unit, delegator)

    async def givers(self, actor: Actor) -> list[User]:
        """Whom ``actor`` may decide for now (the people whose delegations to them are in force)."""
        rows = await self.unit.session.exec(
            select(User).join(Delegation, col(Delegation.delegator_id) == User.id)
            .where(Delegation.delegate_id == actor.user_id, in_force(self.unit.now()), col(User.disabled_at).is_(None))
            .order_by(User.email)
        )  # fmt: skip
        return list(rows.unique().all())
