"""Personal API tokens: random, shown once, stored only as their SHA-256 (they are not passwords: 256 bits of
randomness need no slow hash)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import col, select

from accessdesk.db.tables import ApiToken, Organisation, User
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Invalid
from accessdesk.domain.organisations import find_user, roles_of
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import OrgKind

PREFIX = "adk_"
# Updating last_used_at on every request would turn every API read into a write; once a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def create(self, *, actor: Actor, email: str, name: str = "cli", days: int | None = None) -> str:
        """Create a token for the user with ``email``; returns the token, which is never stored or shown again."""
        user = await find_user(self.unit, email)
        if user.disabled_at is not None:
            raise Invalid("email", "this user is disabled")
        if days is not None and not 1 <= days <= 3650:
            raise Invalid("days", "a token lasts between 1 and 3650 days")
        token = PREFIX + secrets.token_urlsafe(32)
        now = self.unit.now()
        row = ApiToken(
            user_id=user.id,
            name=(name or "cli")[:100],
            token_hash=digest(token),
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
        )
        self.unit.session.add(row)
        self.unit.record(actor=actor, action="api_token.created", subject=row,
                         after={"user_id": user.id, "name": row.name, "expires_at": row.expires_at})  # fmt: skip
        await self.unit.commit()
        return token

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
