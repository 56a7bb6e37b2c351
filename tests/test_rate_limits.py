"""Rate limits (issue 11): every limited door answers 429 with ``Retry-After`` in its own language once a key has
had its allowance, a refused request changes nothing, the window resets on the app's clock, and on PostgreSQL two
instances on one database share each limit (the busy doors within the documented overshoot: what the other
instance counted since its last flush).

The instances are served over ``httpx.ASGITransport``, without their lifespans: nothing flushes on its own, and a
test shares the counts by calling ``flush`` where the flush interval would have passed. One test runs the lifespan
to see the background flush happen."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.app import create_app
from accessdesk.clock import FrozenClock
from accessdesk.ratelimit import Counts, MemoryCounts, PostgresCounts
from accessdesk.ratelimit.counts import Hits
from accessdesk.ratelimit.limiter import Limit, Limiter, Refused
from accessdesk.settings import Rate, Settings, SettingsError
from tests.support.api import app_engine, client_of, commit_world_first, database_state, mint_token, url_of
from tests.support.oauth import ISSUER, basic, real_time_clock, transport
from tests.world import T0, World

HERE, ELSEWHERE = "198.51.100.7", "203.0.113.9"
MINUTE = Rate(3, 60)
SHARED_STATE_ONLY = {"rate_limit_counts"}  # the counts themselves are not what a refused request may not change
GRANT = {"grant_type": "client_credentials"}


@dataclass
class Desk:
    """One deployment under test: two instances of the app on one PostgreSQL database, one on SQLite (where the
    counts live in the process). ``at(i)`` is instance ``i`` modulo their number, as seen from an address."""

    apps: list[Litestar]
    engine: AsyncEngine
    world: World
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def at(self, i: int, address: str = HERE, cookies: dict[str, str] | None = None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=transport(self.apps[i % len(self.apps)], client=(address, 50000)),
                                   base_url=ISSUER, cookies=cookies)  # fmt: skip
        self._clients.append(commit_world_first(client, self.world))
        return client

    async def flush(self) -> None:
        """One flush interval passes everywhere: each instance shares its counts, then each learns the others'."""
        for _ in range(2):
            for app in self.apps:
                await app.state.rate_limits.flush()

    async def state(self) -> dict[str, list[str]]:
        await self.world.commit()  # database_state reads on a connection of its own
        return {k: v for k, v in (await database_state(self.engine)).items() if k not in SHARED_STATE_ONLY}


Start = Callable[..., Awaitable[Desk]]


@pytest.fixture
def clock() -> FrozenClock:
    """As in tests/oauth: two hours before the real time, which ``live_grant`` brings the clock to."""
    return real_time_clock()


@pytest.fixture
async def desk(engine: AsyncEngine, clock: FrozenClock, world: World) -> AsyncIterator[Start]:
    made: list[tuple[Desk, list[AsyncEngine]]] = []

    async def start(**settings: Any) -> Desk:
        url = url_of(engine)
        engines = [app_engine(url) for _ in range(1 if url.startswith("sqlite") else 2)]
        apps = [create_app(Settings(database_url=url, rate_limits=True, **settings), clock=clock, engine=served,
                           embedded_worker=False) for served in engines]  # fmt: skip
        made.append((desk := Desk(apps, engine, world), engines))
        return desk

    yield start
    for desk_, engines in made:
        for client in desk_._clients:
            await client.aclose()
        for served in engines:
            await served.dispose()


def assert_refused(response: httpx.Response, *, content_type: str, window: int = 60) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith(content_type)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    return retry_after


@pytest.fixture
async def issued(world: World, credentials, live_grant):  # noqa: F811
    return await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="fleet")


async def test_the_token_endpoint_is_limited_per_address_across_instances_and_resets_with_the_window(
    desk: Start, issued, clock: FrozenClock  # noqa: F811
) -> None:
    d = await desk(rate_limit_token=MINUTE)
    auth = basic(issued.client.client_id, issued.secret)
    for i in range(MINUTE.count):  # alternating between the instances; the interval passes between two requests
        assert (await d.at(i).post("/oauth/token", data=GRANT, headers=auth)).status_code == 200
        await d.flush()
    before = await d.state()
    for i in range(2):  # whichever instance is asked
        refused = await d.at(i).post("/oauth/token", data=GRANT, headers=auth)
        retry_after = assert_refused(refused, content_type="application/json")
        assert refused.json()["error"] == "slow_down" and refused.headers["cache-control"] == "no-store"
    assert await d.state() == before  # no token counted, nothing written
    assert (await d.at(0, ELSEWHERE).post("/oauth/token", data=GRANT, headers=auth)).status_code == 200

    clock.advance(timedelta(seconds=retry_after))
    assert (await d.at(1).post("/oauth/token", data=GRANT, headers=auth)).status_code == 200


@pytest.mark.postgres_only
async def test_between_two_flushes_the_instances_overshoot_by_at_most_what_the_other_counted(
    desk: Start, issued  # noqa: F811
) -> None:
    d = await desk(rate_limit_token=MINUTE)
    auth = basic(issued.client.client_id, issued.secret)
    answers = [(await d.at(i).post("/oauth/token", data=GRANT, headers=auth)).status_code for i in range(10)]
    # Without a flush each instance judges by its own count: each lets the whole limit through, no more.
    assert answers.count(200) == MINUTE.count * 2 and set(answers) == {200, 429}
    await d.flush()
    for i in range(2):
        assert (await d.at(i).post("/oauth/token", data=GRANT, headers=auth)).status_code == 429


async def test_failed_client_authentications_lock_that_client_out_of_that_address_only(
    desk: Start, issued, world: World, credentials  # noqa: F811
) -> None:
    d = await desk(rate_limit_oauth_failures=Rate(2, 60))
    wrong, right = basic(issued.client.client_id, "not-the-secret"), basic(issued.client.client_id, issued.secret)
    for i in range(2):
        assert (await d.at(i).post("/oauth/token", data=GRANT, headers=wrong)).status_code == 401
    await d.flush()  # each failure was counted in the shared row at once; the other instance learns at its flush
    before = await d.state()
    for i in range(2):  # now even the right secret, from this address, for this client
        refused = await d.at(i).post("/oauth/token", data=GRANT, headers=right)
        assert_refused(refused, content_type="application/json")
        assert refused.json()["error"] == "slow_down" and "failed" in refused.json()["error_description"]
    assert await d.state() == before
    # Whoever fails elsewhere cannot lock the real client out: from its own address it still gets tokens.
    assert (await d.at(0, ELSEWHERE).post("/oauth/token", data=GRANT, headers=right)).status_code == 200
    # Nor another client behind the same address (client_secret_post: the claimed client_id is in the form).
    other = await credentials.create(actor=world.gov_admin, grant_id=issued.client.grant_id, name="other")
    posted = {**GRANT, "client_id": other.client.client_id, "client_secret": other.secret}
    assert (await d.at(1).post("/oauth/token", data=posted)).status_code == 200


async def test_introspection_and_revocation_are_limited_with_the_oauth_error_shape(
    desk: Start, issued, world: World, credentials  # noqa: F811
) -> None:
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    d = await desk(rate_limit_introspect=Rate(2, 60), rate_limit_revoke=Rate(1, 60))
    token = (await d.at(0).post("/oauth/token", data=GRANT, headers=basic(issued.client.client_id, issued.secret)))
    asked = {"token": token.json()["access_token"]}
    gateway_auth = basic(gateway.client.client_id, gateway.secret)
    for i in range(2):
        assert (await d.at(i).post("/oauth/introspect", data=asked, headers=gateway_auth)).json()["active"]
        await d.flush()
    refused = await d.at(0).post("/oauth/introspect", data=asked, headers=gateway_auth)
    assert_refused(refused, content_type="application/json")
    assert refused.json()["error"] == "slow_down" and refused.headers["cache-control"] == "no-store"

    own = basic(issued.client.client_id, issued.secret)
    assert (await d.at(1).post("/oauth/revoke", data={"token": "x"}, headers=own)).status_code == 200
    await d.flush()
    before = await d.state()
    refused = await d.at(0).post("/oauth/revoke", data=asked, headers=own)
    assert_refused(refused, content_type="application/json")
    assert await d.state() == before  # the token was not revoked
    assert (await d.at(1, ELSEWHERE).post("/oauth/introspect", data=asked, headers=gateway_auth)).json()["active"]


async def test_the_api_limits_per_token_and_failed_authentications_per_address(
    desk: Start, world: World
) -> None:
    d = await desk(rate_limit_api_token=Rate(2, 60), rate_limit_api_failures=Rate(2, 60))
    mine = {"Authorization": f"Bearer {await mint_token(world, world.dev_admin)}"}
    for i in range(2):
        assert (await d.at(i).get("/api/v1/me", headers=mine)).status_code == 200
        await d.flush()
    for address in (HERE, ELSEWHERE):  # per token, wherever it comes from
        refused = await d.at(0, address).get("/api/v1/me", headers=mine)
        assert_refused(refused, content_type="application/problem+json")
        assert refused.json()["code"] == "rate_limited" and refused.json()["status"] == 429

    theirs = {"Authorization": f"Bearer {await mint_token(world, world.gov_admin)}"}
    for i in range(2):  # unknown tokens from one address
        assert (await d.at(i, ELSEWHERE).get("/api/v1/me", headers={"Authorization": f"Bearer guess{i}"})).status_code == 401
    await d.flush()
    refused = await d.at(0, ELSEWHERE).get("/api/v1/me", headers=theirs)  # then even a good one from there
    assert refused.json()["code"] == "rate_limited"
    assert (await d.at(1, HERE).get("/api/v1/me", headers=theirs)).status_code == 200


async def test_sign_in_is_limited_per_address_and_per_e_mail_and_a_refused_sign_in_starts_no_session(
    desk: Start, world: World, engine: AsyncEngine
) -> None:
    d = await desk(rate_limit_sign_in=Rate(2, 60), rate_limit_sign_in_email=Rate(1, 600))
    assert (await d.at(0).get("/login")).status_code == 200
    assert (await d.at(1).get("/login")).status_code == 200
    before = await d.state()
    chosen = {"user_id": str(world.dev_admin.user_id), "csrf": "c"}
    refused = await d.at(0, cookies={"accessdesk_csrf": "c"}).post("/login/dev", data=chosen)
    assert_refused(refused, content_type="text/html")
    assert "Too many sign-in attempts" in refused.text and "set-cookie" not in refused.headers
    assert await d.state() == before  # no session

    # The first sign-in started for an address counts against it, from wherever; the second is refused.
    started = {"email": "dana@acme.test", "csrf": "c"}
    first = await d.at(0, ELSEWHERE, {"accessdesk_csrf": "c"}).post("/login/start", data=started)
    assert first.status_code == 400  # no identity provider here: the handler ran
    again = await d.at(1, "192.0.2.1", {"accessdesk_csrf": "c"}).post("/login/start",
                                                                  data={**started, "email": " Dana@ACME.test"})
    assert_refused(again, content_type="text/html", window=600)


async def test_the_oidc_callback_and_slack_link_pages_are_limited(desk: Start) -> None:
    d = await desk(rate_limit_oidc_callback=Rate(1, 60), rate_limit_slack_link=Rate(1, 60))
    assert (await d.at(0).get("/login/callback?code=x&state=y")).status_code == 403  # no sign-in was started
    refused = await d.at(1).get("/login/callback?code=x&state=y")
    assert_refused(refused, content_type="text/html")

    session = {"accessdesk_session": "someone"}
    assert (await d.at(0, cookies=session).get("/console/slack/link/abc")).status_code in (303, 302)
    for address in (HERE, ELSEWHERE):  # per address, and per session wherever it comes from
        refused = await d.at(1, address, session).post("/console/slack/link/abc")
        assert_refused(refused, content_type="text/html")
        assert refused.headers["cache-control"] == "no-store" and "link a Slack account" in refused.text


async def test_a_key_reaching_its_limit_is_logged_once(desk: Start, issued) -> None:  # noqa: F811
    d = await desk(rate_limit_token=Rate(1, 60), rate_limit_oauth_failures=Rate(1, 60))
    auth, wrong = basic(issued.client.client_id, issued.secret), basic(issued.client.client_id, "wrong")
    with logged("accessdesk.ratelimit.limiter") as records:
        for i in range(6):
            await d.at(i).post("/oauth/token", data=GRANT, headers=auth)
            await d.at(i, ELSEWHERE).post("/oauth/token", data=GRANT, headers=wrong)
            await d.flush()
    reached = sorted(r.getMessage() for r in records if "reached" in r.getMessage())
    # Once per key, all instances together, however many requests were refused.
    assert [line.split(" (")[0] for line in reached] == [
        f"rate limit oauth-failures reached by {ELSEWHERE}|{issued.client.client_id}",
        f"rate limit token reached by {HERE}", f"rate limit token reached by {ELSEWHERE}"]


class _Keeping(logging.Handler):
    """Keeps the warnings (and worse) it is given, in ``records``."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def logged(name: str) -> Iterator[list[logging.LogRecord]]:
    # The app configures logging when it is made (Litestar's dictConfig), which takes caplog's handler off the root.
    records: list[logging.LogRecord] = []
    handler = _Keeping(records)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


async def test_limits_are_off_in_development_unless_turned_on(engine: AsyncEngine, clock: FrozenClock) -> None:  # noqa: F811
    served = app_engine(url_of(engine))
    app = create_app(Settings(database_url=url_of(engine), rate_limit_sign_in=Rate(1, 60)), clock=clock,
                     engine=served, embedded_worker=False)  # fmt: skip
    async with httpx.AsyncClient(transport=transport(app), base_url=ISSUER) as client:
        assert [(await client.get("/login")).status_code for _ in range(3)] == [200, 200, 200]
    await served.dispose()
    assert "rate_limits" not in app.state


@pytest.mark.postgres_only
async def test_the_lifespan_flushes_on_its_own(desk: Start, issued, engine: AsyncEngine) -> None:  # noqa: F811
    d = await desk(rate_limit_token=Rate(100, 60), rate_limit_flush_seconds=0.05)
    auth = basic(issued.client.client_id, issued.secret)
    async with client_of(d.apps[0], d.world) as client:
        for _ in range(3):
            assert (await client.post("/oauth/token", data=GRANT, headers=auth)).status_code == 200
        for _ in range(400):  # bounds how long a broken flush can hang the test; nothing is timed
            async with engine.connect() as connection:
                counted = (await connection.execute(sa.text("SELECT sum(count) FROM rate_limit_counts"))).scalar()
            if counted == 3:
                break
            await asyncio.sleep(0.05)
        assert counted == 3


@pytest.fixture
def counts(engine: AsyncEngine, db_kind: str) -> Counts:
    return PostgresCounts(engine) if db_kind == "postgresql" else MemoryCounts()


async def test_the_counts_add_atomically_say_who_reached_and_forget_ended_windows(counts: Counts) -> None:
    """The PostgreSQL store and its memory twin keep one promise."""
    hit = Hits("token:a", 600, 1, 5, 660)
    totals = await asyncio.gather(*[counts.add([hit]) for _ in range(5)])
    assert sorted(t[hit.slot] for t in totals) == [1, 2, 3, 4, 5]  # concurrent additions lose nothing
    assert await counts.add([Hits("token:b", 600, 2, 5, 660), Hits("token:b", 600, 1, 5, 660)]) == {("token:b", 600): 3}
    assert await counts.reached(now=630) == [("token:a", 660)]
    assert await counts.reached(now=660) == []
    assert await counts.prune(now=659) == 0
    assert await counts.prune(now=660) == 2
    assert await counts.add([hit]) == {hit.slot: 1}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ACCESSDESK_RATE_LIMIT_TOKEN": "lots"}, "ACCESSDESK_RATE_LIMIT_TOKEN must read like 600/minute"),
        ({"ACCESSDESK_RATE_LIMIT_SIGN_IN": "0/minute"}, "ACCESSDESK_RATE_LIMIT_SIGN_IN must allow at least 1"),
        ({"ACCESSDESK_RATE_LIMIT_API": "5/2days"}, "ACCESSDESK_RATE_LIMIT_API must allow"),
        ({"ACCESSDESK_RATE_LIMITS": "sometimes"}, "boolean"),
        ({"ACCESSDESK_RATE_LIMIT_FLUSH_SECONDS": "60"}, "ACCESSDESK_RATE_LIMIT_FLUSH_SECONDS"),
    ],
)
def test_malformed_limits_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_limits_read_from_the_environment() -> None:
    settings = Settings.from_env({"ACCESSDESK_RATE_LIMIT_TOKEN": "600/minute", "ACCESSDESK_RATE_LIMITS": "off",
                                  "ACCESSDESK_RATE_LIMIT_SIGN_IN_EMAIL": "5/15minutes"})  # fmt: skip
    assert settings.rate_limit_token == Rate(600, 60) and not settings.rate_limits_enabled
    assert settings.rate_limit_sign_in_email == Rate(5, 900) and str(settings.rate_limit_sign_in_email) == "5/15minutes"
    assert Settings.from_env({"ACCESSDESK_ENV": "production"} | PRODUCTION).rate_limits_enabled


PRODUCTION = {"ACCESSDESK_SECRET_KEY": "IOzXdPJjK1lro_12rO_ePHenwGk5Xmb4Ug0LpudXGDE",
              "ACCESSDESK_BASE_URL": "https://accessdesk.example.gov",
              "ACCESSDESK_CLIENT_SECRET_PEPPER": "ASuWKi2zmsEcdDxOrG_W5GEiunPXbxXZkVoh4EmBb_E",
              "ACCESSDESK_KEY_ENCRYPTION_KEY": "C9veqHd-rzTPo9O9RNmLBpM3VwzBf6-BnxZXYNCPWkI",
              "ACCESSDESK_DATABASE_URL": "postgresql+asyncpg://accessdesk@db.example.gov/accessdesk",
              "ACCESSDESK_OIDC_PROVIDERS": '[{"name": "oais", "issuer": "https://login.oais.example", "client_id": "a", '
                                           '"client_secret": "s", "domains": ["oais.example"]}]'}  # fmt: skip


class Unreachable(MemoryCounts):
    """The shared store while the database is away: every call fails, until it is back."""

    shared = True
    away = True

    async def add(self, hits):
        if self.away:
            raise OSError("connection refused")
        return await super().add(hits)


async def test_while_the_store_is_away_requests_pass_and_the_counts_wait_for_the_next_flush() -> None:
    store = Unreachable()
    limiter = Limiter(store, FrozenClock(T0))
    busy, strict = Limit("token", Rate(2, 60), "client address"), Limit("sign-in", Rate(1, 60), "client address")
    now = limiter.now()
    # A limiter that cannot count does not refuse: the service stays up (and says so in its log).
    assert [await limiter.take([(strict, HERE)], now=now) for _ in range(3)] == [None, None, None]
    assert limiter.count_one(busy, HERE, now) is None
    await limiter.flush()  # fails: what was counted is kept
    store.away = False
    await limiter.flush()
    assert await store.add([Hits(f"token:{HERE}", int(now) // 60 * 60, 0, 2, 0)]) == {(f"token:{HERE}", int(now) // 60 * 60): 1}
    assert limiter.count_one(busy, HERE, now) is None and limiter.count_one(busy, HERE, now) == Refused(60)
