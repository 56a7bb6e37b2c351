"""Personal API tokens: random, shown once, stored only as their SHA-256 (they are not passwords: 256 bits of
randomness need no slow hash)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from accessdesk.db.tables import ApiToken, Organisation, User
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Conflict, Invalid, NotFound
from accessdesk.domain.organisations import find_user, roles_of
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import API_TOKEN_DAYS, DEFAULT_API_TOKEN_DAYS, OrgKind

PREFIX = "adk_"
# Updating last_used_at on every request would turn every API read into a write; once a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as an operator sees it: never the token itself, which is not stored."""

    token: ApiToken
    email: str

    def state(self, now: datetime) -> str:
        if self.token.revoked_at is not None:
            return "revoked"
        if self.token.expires_at is not None and self.token.expires_at <= now:
            return "expired"
        return "active"


class Tokens:
    def __init__(self, unit: Unit, *, default_days: int = DEFAULT_API_TOKEN_DAYS) -> None:
        self.unit = unit
        self.default_days = default_days

    async def create(self, *, actor: Actor, email: str, name: str = "cli", days: int | None = None) -> str:
        """Create a token for the user with ``email``, lasting ``days`` (the deployment's default when None);
        returns the token, which is never stored or shown again."""
        user = await find_user(self.unit, email)
        if user.disabled_at is not None:
            raise Invalid("email", "this user is disabled")
        days = self.default_days if days is None else days
        if days not in API_TOKEN_DAYS:
            raise Invalid("days", f"a token lasts between {API_TOKEN_DAYS[0]} and {API_TOKEN_DAYS[-1]} days")
        token = PREFIX + secrets.token_urlsafe(32)
        now = self.unit.now()
        row = ApiToken(
            user_id=user.id,
            name=(name or "cli")[:100],
            token_hash=digest(token),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        self.unit.session.add(row)
        self.unit.record(actor=actor, action="api_token.created", subject=row,
                         after={"user_id": user.id, "name": row.name, "expires_at": row.expires_at})  # fmt: skip
        await self.unit.commit()
        return token

    async def listed(self, *, email: str | None = None) -> list[TokenRow]:
        """Every token (of the user with ``email``), newest first."""
        stmt = select(ApiToken, User.email).join(User, col(User.id) == ApiToken.user_id)
        if email is not None:
            stmt = stmt.where(User.id == (await find_user(self.unit, email)).id)
        rows = await self.unit.session.exec(stmt.order_by(col(ApiToken.created_at).desc(), col(ApiToken.id)))
        return [TokenRow(token, address) for token, address in rows.all()]

    async def revoke(self, *, actor: Actor, token_id: uuid.UUID) -> TokenRow:
        """Revoke a token: it stops working at once. Revoking one twice is refused and changes nothing."""
        token = await self.unit.lock(ApiToken, token_id, what="token")
        user = await self.unit.get(User, token.user_id, what="user")
        if not actor.is_system and actor.user_id != user.id:
            raise NotFound(f"token {token_id} not found")
        if token.revoked_at is not None:
            raise Conflict(f"token {token_id} was already revoked at {token.revoked_at:%Y-%m-%d %H:%M} UTC")
        token.revoked_at = self.unit.now()
        self.unit.session.add(token)
        self.unit.record(actor=actor, action="api_token.revoked", subject=token,
                         before={"revoked_at": None}, after={"revoked_at": token.revoked_at, "user_id": user.id})  # fmt: skip
        await self.unit.commit()
        return TokenRow(token, user.email)

    async def authenticate(self, token: str, *, request_id: str | None = None) -> Actor | None:
        """The actor behind a bearer token, or None when it is unknown, revoked, expired or its user disabled."""
        if not token.startswith(PREFIX):
            return None
        # Every API request passes here: the token, its user and their organisation in one query.
        found = (
            await self.unit.session.exec(
                select(ApiToken, User, Organisation)
                .join(User, col(User.id) == ApiToken.user_id)
                .join(Organisation, col(Organisation.id) == User.organisation_id)
                .where(ApiToken.token_hash == digest(token))
            )
        ).first()
        now = self.unit.now()
        if found is None:
            return None
        row, user, organisation = found
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if user.disabled_at is not None:
            return None
        actor = Actor.user(user_id=user.id, email=user.email, organisation_id=organisation.id,
                           kind=OrgKind(organisation.kind), roles=await roles_of(self.unit, user.id),
                           request_id=request_id)  # fmt: skip
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            row.last_used_at = now
            self.unit.session.add(row)
            await self.unit.session.commit()
        return actor
