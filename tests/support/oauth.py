"""The authorization server under test: the real app over ASGI, reached by OAuth clients we did not write
(Authlib's httpx client) and checked with a JOSE library other than the one that signs (PyJWT).

The clock starts two hours before the real time, so that the world's grants can be made before their window
starts; ``live_grant`` then brings it to the real time (frozen): client libraries stamp assertions with the real
time, and PyJWT checks tokens against it. That clock is ``real_time_clock()``: tests/oauth/conftest.py makes it the
``clock`` of its folder, and a module elsewhere that uses ``live_grant`` overrides ``clock`` with it the same way.

A plugin (``pytest_plugins`` in ``tests/conftest.py``): the fixtures ``app``, ``http``, ``credentials`` and
``live_grant`` reach every test by name; import the helpers."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import httpx2
import jwt as pyjwt
import pytest
import sqlalchemy as sa
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from accessdesk.clock import FrozenClock
from accessdesk.db.tables import AccessGrant, OAuthClient, TokenIssuanceDay
from accessdesk.domain.credentials import Credentials
from accessdesk.settings import Settings
from tests.support.api import app_engine, commit_world_first, url_of
from tests.support.apps import wired_app
from tests.world import World

ISSUER = "http://127.0.0.1:8000"
TOKEN_URL = f"{ISSUER}/oauth/token"
SETTINGS = Settings()


def real_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def real_time_clock() -> FrozenClock:
    """A frozen clock two hours before the real time, for the ``clock`` of a test that uses ``live_grant``."""
    return FrozenClock(real_now() - timedelta(hours=2))


@pytest.fixture
async def app(engine: AsyncEngine, clock: FrozenClock, world: World) -> AsyncIterator[Litestar]:
    """The app on the test database, not yet served: ``http`` serves it, or a client the test makes (through
    ``commit_world_first``, or ``client_of`` for one that runs the app's lifespan)."""
    served = app_engine(url_of(engine))
    with wired_app(Settings(database_url=url_of(engine)), clock=clock, engine=served) as app:
        yield app
    await served.dispose()


@pytest.fixture
async def http(app: Litestar, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on ``app`` over ASGI, in the test's event loop, that commits the world first."""
    async with commit_world_first(httpx.AsyncClient(transport=transport(app), base_url=ISSUER), world) as client:
        yield client


def transport(app: Litestar, **options: Any) -> httpx.ASGITransport:
    # Litestar types its __call__ with its own scope and event TypedDicts, httpx the ASGI app it takes with plain
    # MutableMappings: the same protocol, in types neither library's checker relates to the other's.
    return httpx.ASGITransport(app=app, **options)  # type: ignore[arg-type]


def authlib_transport(app: Litestar, **options: Any) -> httpx2.ASGITransport:
    """``transport`` for Authlib's clients, which are httpx2's (an httpx transport's answers are not httpx2's)."""
    return httpx2.ASGITransport(app=app, **options)  # type: ignore[arg-type]  # as in transport()


@pytest.fixture
def credentials(world: World) -> Credentials:
    return Credentials(world.unit, pepper=SETTINGS.pepper, overlap=timedelta(hours=SETTINGS.secret_overlap_hours))


@pytest.fixture
async def live_grant(world: World, clock: FrozenClock) -> AccessGrant:
    """The government's grant on the world's model, started an hour ago: usable now (the real now)."""
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1))
    clock.set(real_now())
    return grant


def basic(client_id: str, secret: str) -> dict[str, str]:
    """``client_secret_basic`` (RFC 6749 §2.3.1) as a header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def token_count(world: World, client: OAuthClient) -> int:
    """The credential's count of issued tokens, checked against its counts per day (which add up to it)."""
    count = (await world.get(OAuthClient, client.id)).token_count
    per_day = select(sa.func.coalesce(sa.func.sum(TokenIssuanceDay.count), 0)).where(
        col(TokenIssuanceDay.client_pk) == client.id
    )
    assert (await world.unit.session.exec(per_day)).one() == count
    return count


async def jwks(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/oauth/jwks")
    assert response.status_code == 200, response.text
    return response.json()


def verified(token: str, keys: dict[str, Any], *, audience: str) -> dict[str, Any]:
    """The token's claims as PyJWT sees them: signature against the JWKS, ES256 only, audience, issuer, expiry."""
    header = pyjwt.get_unverified_header(token)
    key = pyjwt.PyJWKSet.from_dict(keys)[header["kid"]]
    return pyjwt.decode(token, key=key.key, algorithms=["ES256"], audience=audience, issuer=ISSUER,
                        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})  # fmt: skip


async def post_token(http: httpx.AsyncClient, data: dict[str, str], **kw: Any) -> httpx.Response:
    return await http.post("/oauth/token", data=data, **kw)


def assertion(client_id: str, key: ECKey, *, jti: str | None = None, audience: str = TOKEN_URL,
              lifetime: int = 60) -> str:  # fmt: skip
    """A ``private_key_jwt`` client assertion (RFC 7523) signed with ``key``."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + lifetime,
              "jti": jti or secrets.token_urlsafe(16)}  # fmt: skip
    return jose_jwt.encode({"alg": "ES256"}, claims, key)


def proof(key: ECKey, *, htm: str = "POST", htu: str = TOKEN_URL, jti: str | None = None, iat: int | None = None) -> str:
    """A DPoP proof (RFC 9449) signed with ``key``."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    claims = {"htm": htm, "htu": htu, "jti": jti or secrets.token_urlsafe(16), "iat": iat or int(time.time())}
    return jose_jwt.encode(header, claims, key)
