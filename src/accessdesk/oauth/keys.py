"""The signing key and the published keys, kept in memory for a short while: the token endpoint must not unseal a
private key, nor introspection read the JWKS, on every request. A rotation reaches every instance within
``REFRESH``; that is safe because the next key is published a whole rotation before it signs."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from joserfc.jwk import KeySet

from accessdesk.crypto import Signer
from accessdesk.domain.actor import Actor
from accessdesk.domain.signing_keys import KeyRing
from accessdesk.domain.unit import Unit

REFRESH = 30.0  # seconds
# A token naming an unknown kid makes us read the keys again, but not more often than this (such tokens are cheap
# to forge; the database must not pay for each).
FORCED_REFRESH_GAP = 5.0


class KeyCache:
    def __init__(self, *, sealing_key: bytes, token_ttl: timedelta) -> None:
        self.sealing_key = sealing_key
        self.token_ttl = token_ttl
        self._signer: Signer | None = None
        self._public: list[dict] = []
        self._keyset: KeySet | None = None
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def ring(self, unit: Unit) -> KeyRing:
        return KeyRing(unit, sealing_key=self.sealing_key, token_ttl=self.token_ttl)

    async def _load(self, unit: Unit, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < REFRESH:
            return
        async with self._lock:
            if not force and time.monotonic() - self._loaded_at < REFRESH:
                return
            ring = self.ring(unit)
            signer = await ring.signer()
            if signer is None:  # first start: make the current and the next key
                await ring.ensure(actor=Actor.system("key ring"))
                signer = await ring.signer()
            self._signer, self._public = signer, await ring.published()
            self._keyset = KeySet.import_key_set({"keys": self._public})
            self._loaded_at = time.monotonic()

    async def signer(self, unit: Unit) -> Signer:
        await self._load(unit)
        assert self._signer is not None
        return self._signer

    async def published(self, unit: Unit) -> list[dict]:
        await self._load(unit)
        return self._public

    async def keyset(self, unit: Unit, *, kid: str | None = None) -> KeySet:
        """The published keys; read again at once when ``kid`` is not among them (a rotation elsewhere)."""
        await self._load(unit)
        if kid is not None and all(k.get("kid") != kid for k in self._public) and (
            time.monotonic() - self._loaded_at >= FORCED_REFRESH_GAP
        ):
            await self._load(unit, force=True)
        assert self._keyset is not None
        return self._keyset

    def forget(self) -> None:
        """Read the keys again at the next request (after a rotation in this process)."""
        self._loaded_at = float("-inf")
