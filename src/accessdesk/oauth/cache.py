"""What the token and introspection endpoints keep in memory, and how they learn it changed.

The endpoints must be fast (a gateway may introspect on every call to the model) and right (a revoked grant is
inactive at once). On PostgreSQL both hold: each server process keeps clients, grants, the revoked-token list and
verified tokens in memory, and listens on ``accessdesk_oauth``; a trigger on every table those come from notifies
at commit (migration 0007), and the process forgets what it kept from that table. While the listening connection
is down the cache is off and every request reads the database.

SQLite has no notifications, but it counts commits: ``PRAGMA data_version`` on a connection changes whenever any
other connection, in this process or another, has committed to the database file since it was last asked. Each
process keeps one read-only connection that only asks that (about 6 µs), once per OAuth request, before anything
kept is used; when it changed, everything kept is forgotten (:meth:`OAuthCache.refresh`). So the embedded default is
cached too, and stays right if someone runs a second process on the same file (``accessdesk worker``, a CLI command
revoking a grant): its commits are seen by the next request of every other process, as on PostgreSQL. The price is
coarser forgetting: any commit at all (the issuance counts flushed every 2 s among them) empties the cache, and the
next request reads again.

A read that raced with a change cannot put stale data back: each table's entries carry a generation, bumped by
every notification, and a value read under an older generation is not kept. Requests that miss the same entry at
the same time share one read (under load, a forgotten client would otherwise be read by every request in flight,
each on its own connection); a request never joins a read that began before the last notification.

Introspection also remembers which ``Authorization: Basic`` header authenticated which gateway credential, so that
Authlib runs once per credential and secret rather than on every call; the secret's life is still judged at each
use, and the memory goes with the clients' (any change to a client, a secret or a model).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.request import pathname2url

import asyncpg
from sqlmodel import select

from accessdesk.db.tables import AccessGrant, OAuthRevokedToken
from accessdesk.domain.credentials import ClientRecord, client_record, count_issuance
from accessdesk.domain.unit import Unit
from accessdesk.oauth.answers import Answer

log = logging.getLogger(__name__)
CHANNEL = "accessdesk_oauth"
# Which kept values each table's notification makes us forget.
FORGETS = {
    "oauth_clients": ("clients",), "oauth_client_secrets": ("clients",), "frontier_models": ("clients",),
    "access_grants": ("grants",), "oauth_revoked_tokens": ("revoked",), "signing_keys": ("tokens",),
}  # fmt: skip
MAX_TOKENS = 10_000
MAX_AUTHENTICATIONS = 10_000
HEARTBEAT = 10.0  # seconds
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Verified:
    """One of our access tokens whose signature, type and issuer were checked: its claims, and what introspection
    says of it whenever it is active (always the same, so made once; its expiry and everything it depends on are
    still judged at each request)."""

    claims: dict[str, Any]
    introspection: Answer


class OAuthCache:
    def __init__(self) -> None:
        self.enabled = False
        self._generation = {"clients": 0, "grants": 0, "revoked": 0, "tokens": 0}
        self._reading: dict[str, dict[Any, asyncio.Future[tuple[bool, Any]]]] = {kind: {} for kind in self._generation}
        self.clients: dict[str, ClientRecord | None] = {}
        self.authentications: OrderedDict[bytes, tuple[ClientRecord, str]] = OrderedDict()
        self.grants: dict[uuid.UUID, AccessGrant] = {}
        self.revoked: set[str] | None = None
        self.tokens: OrderedDict[str, Verified] = OrderedDict()
        self._data_version: Callable[[], int] | None = None  # SQLite: see the module's docstring
        self._seen_version: int | None = None

    def refresh(self) -> None:
        """On SQLite, forget everything kept if any connection has committed since the last request asked."""
        if self._data_version is None:
            return
        try:
            version = self._data_version()
        except Exception:  # noqa: BLE001 - the file went away, say: keep nothing, read the database (watch_sqlite retries)
            log.warning("oauth cache: the database's commits cannot be counted; reading the database until they can")
            self.watch(None)
            return
        if version != self._seen_version:
            self._seen_version = version
            self.forget()

    def watch(self, data_version: Callable[[], int] | None) -> None:
        """Keep values, and judge them by ``data_version`` before each use (SQLite); None: keep nothing."""
        self.forget()
        self._data_version, self._seen_version = data_version, None
        self.enabled = data_version is not None

    def watching(self, data_version: Callable[[], int]) -> bool:
        return self._data_version is data_version

    def forget(self, kind: str | None = None) -> None:
        for name in (kind,) if kind else tuple(self._generation):
            self._generation[name] += 1
            self._reading[name] = {}  # reads begun before this change are not joined any more
            if name == "clients":
                self.clients.clear()
                self.authentications.clear()
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
        if not self.enabled:
            return await load()
        if key in store:
            return store[key]
        reading = self._reading[kind].get(key)
        if reading is not None:
            # Shielded: a waiter that goes away must not cancel the read the others wait for.
            read, value = await asyncio.shield(reading)
            if read:
                return value
            return await load()  # that read failed or was cancelled: this request reads for itself
        generation = self._generation[kind]
        reading = self._reading[kind][key] = asyncio.get_running_loop().create_future()
        try:
            value = await load()
        except BaseException:
            reading.set_result((False, None))
            raise
        finally:
            if self._reading[kind].get(key) is reading:
                del self._reading[kind][key]
        reading.set_result((True, value))
        if self.enabled and generation == self._generation[kind]:
            store[key] = value
        return value

    async def client(self, unit: Unit, client_id: str) -> ClientRecord | None:
        if self.enabled and client_id in self.clients:  # the usual case, asked on every request: the shortest path
            return self.clients[client_id]
        return await self._kept("clients", self.clients, client_id, lambda: client_record(unit, client_id))

    async def grant(self, unit: Unit, grant_id: uuid.UUID) -> AccessGrant:
        if self.enabled and grant_id in self.grants:
            return self.grants[grant_id]

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
                select(OAuthRevokedToken.jti).where(OAuthRevokedToken.expires_at > now)
            )).all())  # fmt: skip
            if generation != self._generation["revoked"]:
                return jti in alive
            self.revoked = alive
        return jti in self.revoked

    def authenticated(self, authorization: str, *, at: datetime) -> ClientRecord | None:
        """The client this ``Authorization`` header was found to authenticate, if its secret is still alive at
        ``at``; None when it is not known (Authlib then authenticates the request)."""
        if not self.enabled:
            return None
        known = self.authentications.get(_fingerprint(authorization))
        if known is None:
            return None
        record, given = known
        return record if record.digest_matches(given, at=at) else None

    def keep_authenticated(self, authorization: str, record: ClientRecord, *, given: str) -> None:
        """Remember that ``authorization`` (HTTP Basic) authenticated ``record`` with a secret whose digest is
        ``given``. Kept only for the record read since the clients last changed (the one kept now)."""
        if not self.enabled or self.clients.get(record.client.client_id) is not record:
            return
        self.authentications[_fingerprint(authorization)] = (record, given)
        while len(self.authentications) > MAX_AUTHENTICATIONS:
            self.authentications.popitem(last=False)

    def verified(self, token: str) -> Verified | None:
        """A token whose signature was verified before (keyed by the token's hash)."""
        if not self.enabled:
            return None
        return self.tokens.get(hashlib.sha256(token.encode()).hexdigest())

    def keep_verified(self, token: str, verified: Verified) -> None:
        if not self.enabled:
            return
        self.tokens[hashlib.sha256(token.encode()).hexdigest()] = verified
        while len(self.tokens) > MAX_TOKENS:
            self.tokens.popitem(last=False)


def _fingerprint(authorization: str) -> bytes:
    # The header holds the secret: what is kept is its hash (a secret is 256 random bits: no dictionary reaches it).
    return hashlib.sha256(authorization.encode()).digest()


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


async def watch_sqlite(cache: OAuthCache, path: str, *, retry_seconds: float = 2.0) -> None:
    """Keep the cache on for as long as the app runs on the SQLite file at ``path``, judged by a read-only
    connection's ``PRAGMA data_version`` (see the module's docstring). While the file cannot be opened (not made
    yet, say) the cache is off and every request reads the database, as they would then fail to."""
    while True:
        connection = None
        try:
            connection = sqlite3.connect(f"file:{pathname2url(path)}?mode=ro", uri=True, check_same_thread=False,
                                         isolation_level=None)  # fmt: skip
            def data_version(watched: sqlite3.Connection = connection) -> int:
                return int(watched.execute("PRAGMA data_version").fetchone()[0])

            data_version()  # an unreadable file refuses here, not at the first request
            cache.watch(data_version)
            while cache.watching(data_version):  # until the app stops, or a request found it could not count
                await asyncio.sleep(HEARTBEAT)
                data_version()
        except sqlite3.Error as exc:
            log.warning("oauth cache: cannot watch %s (%s); reading the database until it can", path, exc)
        finally:
            cache.watch(None)
            if connection is not None:
                connection.close()
        await asyncio.sleep(retry_seconds)


class IssuanceCounter:
    """Token issuances counted in memory and added to each credential's counts in one statement every few seconds:
    a write per token would serialise every issuance of a credential on its row. Counted per UTC day, so that a
    flush after midnight still adds yesterday's to yesterday."""

    def __init__(self) -> None:
        self._pending: dict[tuple[uuid.UUID, date], tuple[int, datetime]] = {}

    def count(self, client_pk: uuid.UUID, at: datetime) -> None:
        key = (client_pk, at.astimezone(UTC).date())
        n, _ = self._pending.get(key, (0, at))
        self._pending[key] = (n + 1, at)

    async def flush(self, unit: Unit) -> None:
        pending, self._pending = self._pending, {}
        for (client_pk, _day), (n, at) in pending.items():
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
