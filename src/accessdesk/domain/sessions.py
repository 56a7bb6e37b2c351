"""Console sessions, stored server-side: started at sign-in (a new id every time), ended by sign-out, by the idle
or absolute timeout, or at once when the user is disabled."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from accessdesk.db.tables import Organisation, OrganisationDomain, User, WebSession
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Forbidden
from accessdesk.domain.organisations import Organisations, actor_for, normalise_email
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Role

# Touching last_seen_at on every page view would turn every read into a write; a minute's resolution is plenty
# against a 30-minute idle timeout.
TOUCH_RESOLUTION = timedelta(minutes=1)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Signed:
    """A live session: who, since when, and the token its forms must echo back (CSRF). Plain values, so they
    outlive the transaction that read them."""

    actor: Actor
    csrf_token: str
    authenticated_at: datetime


class WebSessions:
    def __init__(self, unit: Unit, policy: SessionPolicy) -> None:
        self.unit = unit
        self.policy = policy

    async def start(
        self, *, user_id: uuid.UUID, method: str, replacing: str | None = None, ip: str | None = None,
        user_agent: str | None = None,
    ) -> str:  # fmt: skip
        """Sign ``user_id`` in; returns the cookie value. Any session the browser had is ended first, so the id
        always changes at sign-in (no session fixation)."""
        user = await self.unit.get(User, user_id, what="user")
        if user.disabled_at is not None:
            raise Forbidden("this account is disabled")
        actor = await actor_for(self.unit, user)
        if replacing:
            await self._end(session_id(replacing), actor=actor, reason="replaced at sign-in")
        now = self.unit.now()
        token = secrets.token_urlsafe(32)
        session = WebSession(
            id=session_id(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32), created_at=now,
            authenticated_at=now, last_seen_at=now, expires_at=now + self.policy.absolute,
            ip=(ip or None) and ip[:45], user_agent=(user_agent or None) and user_agent[:500],
        )  # fmt: skip
        self.unit.session.add(session)
        self.unit.record(actor=actor, action="session.started", subject_type="users", subject_id=user.id,
                         after={"method": method, "ip": session.ip})  # fmt: skip
        await self.unit.commit()
        return token

    async def person_for_verified_email(self, *, email: str, vouched_domains: tuple[str, ...]) -> User:
        """Whom an e-mail verified by an identity provider signs in as.

        The provider must vouch for the e-mail's domain (one organisation's IdP cannot sign in another's people).
        A known person signs in as themselves; an unknown one is created, with the least role, only inside the
        organisation that owns the domain; anyone else is refused.
        """
        email = normalise_email(email)
        domain = email.rsplit("@", 1)[1]
        if domain not in vouched_domains:
            raise Forbidden(f"this identity provider does not sign in people of {domain}")
        user = (await self.unit.session.exec(select(User).where(User.email == email))).first()
        if user is not None:
            if user.disabled_at is not None:
                raise Forbidden("this account is disabled")
            return user
        owner = await self.unit.session.get(OrganisationDomain, domain)
        if owner is None:
            raise Forbidden(f"{email} is not invited to accessdesk and {domain} belongs to no organisation here; "
                            "ask your organisation's accessdesk administrator")  # fmt: skip
        if (await self.unit.get(Organisation, owner.organisation_id)).disabled_at is not None:
            raise Forbidden(f"the organisation that {domain} belongs to is disabled on accessdesk")
        return await Organisations(self.unit).add_user(
            actor=Actor.system("identity provider sign-in"), organisation_id=owner.organisation_id, email=email,
            name=email.split("@", 1)[0], roles=[Role.MEMBER],
        )

    async def resume(self, token: str | None, *, request_id: str | None = None) -> Signed | None:
        """The live session behind a cookie value, or None (unknown, ended, idle too long, too old, disabled)."""
        if not token:
            return None
        found = (
            await self.unit.session.exec(
                select(WebSession, User).join(User, col(User.id) == WebSession.user_id)
                .where(WebSession.id == session_id(token), col(WebSession.ended_at).is_(None))
            )
        ).first()  # fmt: skip
        if found is None:
            return None
        session, user = found
        now = self.unit.now()
        if user.disabled_at is not None or now >= session.expires_at or now - session.last_seen_at >= self.policy.idle:
            return None
        actor = await actor_for(self.unit, user, request_id=request_id)
        if now - session.last_seen_at >= TOUCH_RESOLUTION:
            session.last_seen_at = now
            self.unit.session.add(session)
            await self.unit.session.commit()
        return Signed(actor=actor, csrf_token=session.csrf_token, authenticated_at=session.authenticated_at)

    async def end(self, token: str | None, *, actor: Actor) -> None:
        """Sign out (idempotent)."""
        if token:
            await self._end(session_id(token), actor=actor, reason="signed out")
            await self.unit.commit()

    async def _end(self, sid: str, *, actor: Actor, reason: str) -> None:
        session = await self.unit.session.get(WebSession, sid)
        if session is None or session.ended_at is not None:
            return
        session.ended_at = self.unit.now()
        self.unit.session.add(session)
        self.unit.record(actor=actor, action="session.ended", subject_type="users", subject_id=session.user_id,
                         reason=reason)  # fmt: skip



async def sign_in_choices(unit: Unit) -> list[tuple[str, list[User]]]:
    """Every enabled person by organisation, for the development sign-in (never offered in production)."""
    rows = (
        await unit.session.exec(
            select(User, Organisation.name).join(Organisation, col(Organisation.id) == User.organisation_id)
            .where(col(User.disabled_at).is_(None)).order_by(Organisation.name, User.email)
        )
    ).all()  # fmt: skip
    grouped: dict[str, list[User]] = {}
    for user, organisation in rows:
        grouped.setdefault(organisation, []).append(user)
    return list(grouped.items())
