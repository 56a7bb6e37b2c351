"""The app under test as the JSON API, console and hostile tests drive it: the app around the test database,
bearer tokens for world actors, the problem shape of a refusal, and a check that a refused request changed nothing.
A plugin (``pytest_plugins`` in ``tests/conftest.py``): the fixtures ``api``, ``bearer`` and ``unchanged`` reach
every test by name; import the helpers.

The world is built through the domain services in its own session; the app reads and writes the same database
through its own sessions. On SQLite every transaction begins IMMEDIATE (it takes the write lock), so a world
session left inside a transaction would make every request wait for the busy timeout, and on either database the
app would not see what the test built. So the clients here commit the world before every request
(:func:`commit_world_first`): a test builds, asks and reads without thinking of it. Where something other than a
request reads the database, the test says so with ``await world.commit()``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import httpx
import httpx2
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from accessdesk.clock import FrozenClock
from accessdesk.db.engine import make_engine
from accessdesk.domain.actor import Actor
from accessdesk.domain.tokens import Tokens
from accessdesk.settings import Settings
from tests.support.apps import wired_app
from tests.world import OPERATOR, World

API = "/api/v1"
# Using a token stamps its last_used_at: a read, not a change anyone asked for.
NOT_STATE = {"api_tokens"}

Bearer = Callable[[Actor], Awaitable[dict[str, str]]]
Unchanged = Callable[[], AbstractAsyncContextManager[None]]
# Authlib's clients are httpx2's; the others httpx's.
Client = TypeVar("Client", bound=httpx.AsyncClient | httpx2.AsyncClient)


def commit_world_first(client: Client, world: World) -> Client:
    """``client``, which now commits the world session before every request it sends: an httpx request hook, run
    in the test's event loop, where that session lives (the app may serve from a thread of its own)."""

    async def commit(_request: httpx.Request | httpx2.Request) -> None:
        await world.commit()

    hooks = client.event_hooks
    client.event_hooks = {**hooks, "request": [*hooks.get("request", []), commit]}
    return client


@asynccontextmanager
async def client_of(app: Litestar, world: World, **options: Any) -> AsyncIterator[AsyncTestClient]:
    """An ``AsyncTestClient`` on ``app`` (its lifespan running) that commits the world first: when the app starts
    and before every request. When the test is done, the world's transaction ends before the app stops, so that
    the app's last deliveries never wait for SQLite's write lock behind a read the test made at its end."""
    await world.commit()
    async with commit_world_first(AsyncTestClient(app=app, **options), world) as client:
        try:
            yield client
        finally:
            await world.unit.session.rollback()


async def mint_token(world: World, actor: Actor) -> str:
    """A personal API token for a world actor, created the way the CLI creates one."""
    return await Tokens(world.unit).create(actor=OPERATOR, email=actor.label)


def bearer_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def url_of(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


def app_engine(url: str) -> AsyncEngine:
    """An engine for the app under test, on the test database.

    ``AsyncTestClient`` serves the app from a portal thread with an event loop of its own, and an asyncpg
    connection belongs to the loop that opened it: a connection pooled by the test's engine breaks when the app
    uses it ("attached to a different loop"). Without a pool each request opens and closes its own connection,
    inside the app's loop."""
    if url.startswith("sqlite"):
        return make_engine(url, poolclass=NullPool)
    return create_async_engine(url, poolclass=NullPool)


@pytest.fixture
async def api(engine: AsyncEngine, clock: FrozenClock, world: World) -> AsyncIterator[AsyncTestClient]:
    """The app on the test database, through a client that commits the world first (``client_of``)."""
    served = app_engine(url_of(engine))
    with wired_app(Settings(database_url=url_of(engine)), clock=clock, engine=served) as app:
        async with client_of(app, world) as client:
            yield client
    await served.dispose()


@pytest.fixture
def bearer(world: World) -> Bearer:
    """``await bearer(world.gov_admin)`` → Authorization headers; one token per person, minted on first use."""
    minted: dict[uuid.UUID | None, str] = {}

    async def headers_for(actor: Actor) -> dict[str, str]:
        if actor.user_id not in minted:
            minted[actor.user_id] = await mint_token(world, actor)
        return bearer_headers(minted[actor.user_id])

    return headers_for


async def database_state(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table the product owns, in a comparable form."""
    state: dict[str, list[str]] = {}
    async with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in NOT_STATE:
                continue
            rows = (await connection.execute(sa.select(table))).all()
            state[table.name] = sorted(repr(tuple(row)) for row in rows)
    return state


async def count_rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(sa.text(f'SELECT count(*) FROM "{table}"'))).scalar_one()


async def outbox_topics(engine: AsyncEngine) -> list[str]:
    """The topics of the notifications waiting in the outbox, oldest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(sa.text("SELECT topic FROM outbox ORDER BY created_at, topic"))
        return [topic for (topic,) in rows]


@pytest.fixture
def unchanged(engine: AsyncEngine, world: World) -> Unchanged:
    """``async with unchanged(): <refused request>`` asserts that no row anywhere was added, changed or removed:
    no new nomination, decision or grant, no audit event, no outbox message."""

    @asynccontextmanager
    async def block() -> AsyncIterator[None]:
        await world.commit()  # database_state reads on a connection of its own
        before = await database_state(engine)
        yield
        await world.commit()
        after = await database_state(engine)
        changed = {name: (len(before[name]), len(after[name])) for name in before if before[name] != after[name]}
        assert not changed, f"a refused request changed tables (rows before, after): {changed}"

    return block


def assert_problem(response: httpx.Response, status: int, code: str, *, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code (and, for 422, names ``field``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["detail"] and body["title"], body
    if field is not None:
        assert body["errors"][0]["field"] == field, body
    return body


def as_enforced(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as the API enforces it. Request bodies refuse unknown fields (``forbid_unknown_fields``)
    but Litestar's msgspec schema plugin does not say so (no ``additionalProperties: false``); left as is, most
    "valid" generated bodies carry extra keys and stop at a 400 before reaching any rule."""
    for component in document["components"]["schemas"].values():
        if component.get("type") == "object" and component.get("title", "").endswith(("In", "Patch")):
            component["additionalProperties"] = False
    return document
