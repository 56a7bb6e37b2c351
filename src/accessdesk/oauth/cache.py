"""What the token and introspection endpoints keep in memory, and how they learn it changed.

The endpoints must be fast (a gateway may introspect on every call to the model) and right (a revoked grant is
inactive at once). On PostgreSQL both hold: each server process keeps clients, grants, the revoked-token list and
verified tokens in memory, and listens on ``accessdesk_oauth``; a trigger on every table those come from notifies
at commit (migration 0007), and the process forgets what it kept from that table. While the listening connection
is down the cache is off and every request reads the database. SQLite has no notifications: the cache stays off.

A read that raced with a change cannot put stale data back: each table's entries carry a generation, bumped by
every notification, and a value read under an older generation is not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from sqlmodel import select

from accessdesk.db.tables import AccessGrant, OAuthRevokedToken
from accessdesk.domain.credentials import ClientRecord, client_record, count_issuance
from accessdesk.domain.unit import Unit

log = logging.getLogger(__name__)
CHANNEL = "accessdesk_oauth"
# Which kept values each table's notification makes us forget.
FORGETS = {
    "oauth_clients": ("clients",), "oauth_client_secrets": ("clients",), "frontier_models": ("clients",),
    "access_grants": ("grants",), "oauth_revoked_tokens": ("revoked",), "signing_keys": ("tokens",),
}  # fmt: skip
MAX_TOKENS = 10_000
HEARTBEAT = 10.0  # seconds
T = TypeVar("T")


class OAuthCache:
    def __init__(self) -> None:
        self.enabled = False
        self._generation = {"clients": 0, "grants": 0, "revoked": 0, "tokens": 0}
        self.clients: dict[str, ClientRecord | None] = {}
        self.grants: dict[uuid.UUID, AccessGrant] = {}
        self.revoked: set[str] | None = None
        self.tokens: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def forget(self, kind: str | None = None) -> None:
        for name in (kind,) if kind else tuple(self._generation):
            self._generation[name] += 1
            if name == "clients":
                self.clients.clear()
            elif name == "grants":
                self.grants.clear()
            elif name == "revoked":
                self.revoked = None
            else:
                self.tokens.clear()

    def notified(self, table: str) -> None:
        for kind in FORGETS.get(table, ()):
            self.forget(kind)

    async def _kept(self, kind: str, store: dict[Any, T], key: Any, load: Callable[[], Awaitable[T]]) -> T:
        if self.enabled and key in store:
            return store[key]
        generation = self._generation[kind]
        value = await load()
        if self.enabled and generation == self._generation[kind]:
            store[key] = value
        return value

    async def client(self, unit: Unit, client_id: str) -> ClientRecord | None:
        return await self._kept("clients", self.clients, client_id, lambda: client_record(unit, client_id))

    async def grant(self, unit: Unit, grant_id: uuid.UUID) -> AccessGrant:
        async def load() -> AccessGrant:
            grant = await unit.get(AccessGrant, grant_id, what="grant", fresh=True)
            unit.session.expunge(grant)  # kept beyond this session: a plain value from now on
            return grant

        return await self._kept("grants", self.grants, grant_id, load)

    async def token_revoked(self, unit: Unit, jti: str) -> bool:
        if not self.enabled:
            found = await unit.session.exec(select(OAuthRevokedToken.jti).where(OAuthRevokedToken.jti == jti))
            return found.first() is not None
        if self.revoked is None:
            generation = self._generation["revoked"]
            now = unit.now()
            alive = set((await unit.session.exec(
                select(OAuthRevokedToken.jti).where(OAuthRevokedToken.expires_at > now)  # type: ignore[arg-type]
            )).all())  # fmt: skip
            if generation != self._generation["revoked"]:
                return jti in alive
            self.revoked = alive
        return jti in self.revoked

    def verified(self, token: str) -> dict[str, Any] | None:
        """Claims of a token whose signature was verified before (keyed by the token's hash)."""
        if not self.enabled:
            return None
        return self.tokens.get(hashlib.sha256(token.encode()).hexdigest())

    def keep_verified(self, token: str, claims: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.tokens[hashlib.sha256(token.encode()).hexdigest()] = claims
        while len(self.tokens) > MAX_TOKENS:
            self.tokens.popitem(last=False)


async def listen(cache: OAuthCache, dsn: str, *, retry_seconds: float = 2.0) -> None:
    """Keep a connection LISTENing on the channel for as long as the app runs; the cache is on only while it is
    connected (it starts empty each time it connects, having missed what happened meanwhile)."""
    while True:
        connection = None
        try:
            connection = await asyncpg.connect(dsn, timeout=10)
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
            await connection.add_listener(CHANNEL, lambda _c, _pid, _channel, table: cache.notified(table))
            cache.forget()
            cache.enabled = True
            while not lost.is_set():
                # A connection can die without a word (a network partition): ask it now and then.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=HEARTBEAT)
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=HEARTBEAT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the database may be away for a while; keep trying
            log.warning("oauth cache listener: %s; reading the database until it is back", type(exc).__name__)
        finally:
            cache.enabled = False
            cache.forget()
            if connection is not None and not connection.is_closed():
                with contextlib.suppress(Exception):
                    await connection.close()
        await asyncio.sleep(retry_seconds)


class IssuanceCounter:
    """Token issuances counted in memory and added to each credential's count in one statement every few seconds:
    a write per token would serialise every issuance of a credential on its row."""

    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, tuple[int, Any]] = {}

    def count(self, client_pk: uuid.UUID, at: Any) -> None:
        n, _ = self._pending.get(client_pk, (0, at))
        self._pending[client_pk] = (n + 1, at)

    async def flush(self, unit: Unit) -> None:
        pending, self._pending = self._pending, {}
        for client_pk, (n, at) in pending.items():
            await count_issuance(unit, client_pk, n=n, at=at)
        if pending:
            await unit.session.commit()


async def flush_forever(counter: IssuanceCounter, open_unit: Callable[[], Any], *, every: float = 2.0) -> None:
    try:
        while True:
            await asyncio.sleep(every)
            async with open_unit() as unit:
                await counter.flush(unit)
    finally:  # on shutdown, what was counted since the last flush
        with contextlib.suppress(Exception):
            async with open_unit() as unit:
                await counter.flush(unit)
