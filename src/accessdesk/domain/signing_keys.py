"""The keys that sign access tokens.

At any time there is one *current* key, which signs, and one *next* key, already published in the JWKS but not
signing yet, so that gateways caching the JWKS know it before they meet a token it signed. ``rotate`` makes the
next key current, retires the current one and creates a new next key. A retired key stays published until the last
token it signed has expired (the longest token lifetime after its retirement), so tokens verify across a rotation.

Private keys are stored sealed (accessdesk.crypto): AES-256-GCM under the key-encryption key from settings, the
``kid`` bound in as associated data so a sealed key cannot be swapped onto another row.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from accessdesk.crypto import ALGORITHM, Signer, new_signing_key, seal, unseal
from accessdesk.db.tables import SigningKey
from accessdesk.domain.actor import Actor
from accessdesk.domain.unit import Unit

# Published a little longer than the last token it signed can live: gateways' clocks drift.
PUBLISH_MARGIN = timedelta(minutes=5)


class KeyRing:
    def __init__(self, unit: Unit, *, sealing_key: bytes, token_ttl: timedelta) -> None:
        self.unit = unit
        self.sealing_key = sealing_key
        self.token_ttl = token_ttl

    def _new_key(self, *, signs_from: datetime | None) -> SigningKey:
        key = new_signing_key(f"{self.unit.now():%Y%m%d}-{secrets.token_hex(4)}")
        row = SigningKey(kid=key.kid, alg=ALGORITHM, public_jwk=key.public_jwk, created_at=self.unit.now(),
                         signs_from=signs_from, private_key_sealed=seal(self.sealing_key, key.kid, key.private_pem))  # fmt: skip
        self.unit.session.add(row)
        return row

    async def _all(self, *, lock: bool = False) -> list[SigningKey]:
        stmt = select(SigningKey).order_by(SigningKey.kid).execution_options(populate_existing=True)
        if lock:
            stmt = stmt.with_for_update()
        return list((await self.unit.session.exec(stmt)).all())

    async def ensure(self, *, actor: Actor) -> None:
        """Create the first current and next keys if there are none (first start). Processes starting at once on a
        fresh database race here (there is no row to lock yet): the unique indexes on ``signing_keys`` let one win,
        and the others find its keys and make none."""
        if _current(await self._all(lock=True)) is None:
            try:
                async with self.unit.session.begin_nested():
                    current = self._new_key(signs_from=self.unit.now())
                    upcoming = self._new_key(signs_from=None)
            except IntegrityError:  # another process made them first, and has committed them
                if _current(await self._all()) is None:
                    raise
            else:
                self.unit.record(actor=actor, action="signing_key.created", subject_type="signing_keys",
                                 subject_id=current.kid, after={"current": current.kid, "next": upcoming.kid})  # fmt: skip
        await self.unit.commit()

    async def rotate(self, *, actor: Actor) -> tuple[str, str]:
        """The next key starts signing, the current one retires (published until its last token expires), a new
        next key is published. Returns (the new current kid, the new next kid).

        A surplus left by an older version (two current or two next keys) is repaired on the way: every current key
        retires the same way, and of several next keys the one published longest starts signing while the others
        retire unpublished (they never signed anything).

        Rotations at once run one after the other: the lock waits for one under way to commit, and the keys are then
        read again, since a statement sees the database as it was when it started (before the wait), without the
        next key that rotation made."""
        await self._all(lock=True)
        keys = await self._all()
        now = self.unit.now()
        currents = sorted((k for k in keys if role_of(k) is KeyRole.CURRENT), key=lambda k: k.signs_from or now, reverse=True)
        nexts = sorted((k for k in keys if role_of(k) is KeyRole.NEXT), key=lambda k: (k.created_at, k.kid))
        for key in currents:
            key.retired_at, key.published_until = now, now + self.token_ttl + PUBLISH_MARGIN
        for key in nexts[1:]:
            key.retired_at, key.published_until = now, now
        self.unit.session.add_all([*currents, *nexts[1:]])
        await self.unit.session.flush()  # the indexes hold at every statement: retire before promoting
        if nexts:
            upcoming = nexts[0]
        else:  # only before the first start; a key nobody has seen published yet
            upcoming = self._new_key(signs_from=None)
            await self.unit.session.flush()
        upcoming.signs_from = now
        self.unit.session.add(upcoming)
        await self.unit.session.flush()
        following = self._new_key(signs_from=None)
        retired = currents[0] if currents else None
        after: dict[str, Any] = {"current": upcoming.kid, "next": following.kid,
                                 "retired_published_until": retired.published_until if retired else None}  # fmt: skip
        if currents[1:] or nexts[1:]:
            after["repaired"] = {"retired_current": [k.kid for k in currents[1:]],
                                 "withdrawn_next": [k.kid for k in nexts[1:]]}  # fmt: skip
        self.unit.record(actor=actor, action="signing_key.rotated", subject_type="signing_keys", subject_id=upcoming.kid,
                         before={"current": retired.kid if retired else None}, after=after)  # fmt: skip
        await self.unit.commit()
        return upcoming.kid, following.kid

    async def published(self) -> list[dict[str, Any]]:
        """The public keys in the JWKS: next, current, and retired ones whose tokens may still be alive."""
        now = self.unit.now()
        stmt = select(SigningKey.public_jwk).where(
            sa.or_(col(SigningKey.published_until).is_(None), col(SigningKey.published_until) > now)
        ).order_by(col(SigningKey.created_at).desc())
        return [dict(jwk) for jwk in (await self.unit.session.exec(stmt)).all()]

    async def signer(self) -> Signer | None:
        """The current key, unsealed; None before the first start."""
        stmt = select(SigningKey).where(col(SigningKey.signs_from).is_not(None), col(SigningKey.retired_at).is_(None))
        row = (await self.unit.session.exec(stmt.order_by(col(SigningKey.signs_from).desc()).limit(1))).first()
        if row is None:
            return None
        pem = unseal(self.sealing_key, row.kid, row.private_key_sealed)
        return Signer.from_pem(row.kid, pem)

    async def describe(self) -> list[SigningKey]:
        return await self._all()


class KeyRole(StrEnum):
    """Where a key is in its life, read from its dates (one statement, for the ring and for ``keys list``)."""

    NEXT = "next"  # published, not signing yet
    CURRENT = "current"  # signing
    RETIRED = "retired"  # signed once; published until its last token has expired
    WITHDRAWN = "withdrawn"  # a surplus next key retired without ever signing; unpublished at once


def role_of(key: SigningKey) -> KeyRole:
    if key.retired_at is None:
        return KeyRole.NEXT if key.signs_from is None else KeyRole.CURRENT
    return KeyRole.WITHDRAWN if key.signs_from is None else KeyRole.RETIRED


def _current(keys: list[SigningKey]) -> SigningKey | None:
    return next((k for k in keys if role_of(k) is KeyRole.CURRENT), None)
