"""When the database is away (issue 11, finding 9): every request that needs it answers 503 with Retry-After, in its
surface's form (problem+json, a console page, RFC 6749 for OAuth); nothing acknowledged is lost; the app recovers
without a restart; the log says so in a few lines, never a traceback.

The fault test stops and starts a PostgreSQL server of its own (tests/support/private_postgres.py) under writers
of the JSON API and of a console form. The others check the rule that tells an outage from a bug.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import exc as sa_exc

from accessdesk.app import create_app
from accessdesk.clock import FrozenClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.migrate import upgrade
from accessdesk.domain.unit import Unit
from accessdesk.settings import Settings
from accessdesk.unavailable import OutageLog, is_database_unavailable, slack_listener_errors
from tests.support.api import bearer_headers, mint_token
from tests.support.console import csrf_in, sign_in
from tests.support.private_postgres import PrivatePostgres
from tests.world import T0, World

API_SUCCESS, PAGE_SUCCESS = 201, 303


def _raised(exc: BaseException) -> BaseException:
    """``exc`` as it is when caught: with a traceback through the raising frame (here, this module)."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - the point is to hold it
        return caught


def _wrapped(orig: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    wrapped = sa_exc.DBAPIError.instance("SELECT 1", {}, orig, Exception, connection_invalidated=invalidated)
    assert isinstance(wrapped, sa_exc.DBAPIError)  # what SQLAlchemy makes of a driver's Exception
    return wrapped


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (_wrapped(Exception("connection was closed in the middle of operation"), invalidated=True), True),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
        (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), True),
        (asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"), True),
        (sa_exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"), True),
        # Bugs, not outages: a 500 with the traceback.
        (asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"), False),
        (asyncpg.exceptions.UndefinedColumnError('column "nope" does not exist'), False),
        (asyncpg.exceptions.ProtocolViolationError("invalid message format"), False),
        (_wrapped(Exception("syntax error at or near")), False),
        (sa_exc.OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked")), False),
        (ZeroDivisionError("division by zero"), False),
        (KeyError("grant_id"), False),
    ],
)
def test_what_counts_as_the_database_being_away(exc: BaseException, unavailable: bool) -> None:
    assert is_database_unavailable(_raised(exc)) is unavailable
    wrapped = _raised(_wrapped(exc)) if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError) else None
    if wrapped is not None:  # as SQLAlchemy raises it: the driver's error as the cause
        wrapped.__cause__ = exc
        assert is_database_unavailable(wrapped) is unavailable


def test_a_socket_error_counts_only_when_the_driver_raised_it() -> None:
    # Raised here (not in asyncpg or SQLAlchemy): Slack's or an identity provider's, not the database's.
    assert not is_database_unavailable(_raised(ConnectionRefusedError(111, "Connect call failed")))
    # A programming error raised while handling an outage is still a programming error.
    try:
        try:
            raise _wrapped(Exception("closed"), invalidated=True)
        except sa_exc.DBAPIError:
            raise NameError("undefined") from None
    except NameError as bug:
        assert not is_database_unavailable(bug)


def test_the_outage_log_says_it_once_then_summarises_then_says_it_is_over(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = OutageLog(every=30, monotonic=lambda: now[0])
    refused = _raised(asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"))
    with caplog.at_level(logging.INFO, logger="accessdesk.unavailable"):
        for _ in range(100):  # 100 refusals in 10 s: one line
            outage.refused("POST /api/v1/organisations", refused)
            now[0] += 0.1
        assert len(caplog.records) == 1 and "shutting down" in caplog.records[0].getMessage()
        for _ in range(300):  # 30 s more: one summary
            outage.refused("POST /api/v1/organisations", refused)
            now[0] += 0.1
        outage.reachable()
        outage.reachable()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert "still unavailable" in lines[1] and "reachable again" in lines[2] and "400 requests" in lines[2]
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in caplog.records)


@pytest.mark.injects_fault  # the listener that fails for a bug logs bolt's traceback, as it should
async def test_a_slack_listener_that_cannot_reach_the_database_makes_slack_retry_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    on_error = slack_listener_errors(OutageLog())
    logger = logging.getLogger("slack_bolt.AsyncApp")
    with caplog.at_level(logging.INFO):
        away = await on_error(error=_raised(asyncpg.exceptions.CannotConnectNowError("starting up")), logger=logger)
        bug = await on_error(error=_raised(KeyError("channel")), logger=logger)
    assert away.status == 503 and away.headers["retry-after"] == ["5"]  # not 2xx: Slack sends it again
    assert bug is None  # bolt's own 500
    assert [(r.name, bool(r.exc_info)) for r in caplog.records] == [("accessdesk.unavailable", False),
                                                                    ("slack_bolt.AsyncApp", True)]  # fmt: skip


def _app(caplog: pytest.LogCaptureFixture, settings: Settings, clock: FrozenClock, *, worker: bool) -> Litestar:
    app = create_app(settings, clock=clock, embedded_worker=worker)
    # Litestar configures logging as the app is made, replacing the root logger's handlers, caplog's among them.
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    return app


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_every_surface_answers_503_when_the_database_was_never_there(caplog: pytest.LogCaptureFixture) -> None:
    """No server at all (nothing listens on the port): the shapes of the answers, on any machine."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/nothing"
    app = _app(caplog, Settings(database_url=url), FrozenClock(T0), worker=False)
    async with AsyncTestClient(app=app) as client:
        api = await client.post("/api/v1/organisations", json={"name": "Harbor", "slug": "harbor"},
                                headers=bearer_headers("adk_not-a-real-token"))  # fmt: skip
        page = await client.get("/console/organisations", headers={"accept": "text/html"})
        oauth = await client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "x",
                                                        "client_secret": "y"})  # fmt: skip
        ready = await client.get("/readyz")
    assert api.status_code == 503 and api.headers["retry-after"] == "5", api.text
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["code"] == "database_unavailable"
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert page.headers["content-type"].startswith("text/html") and "briefly unavailable" in page.text
    assert "content-security-policy" in page.headers and page.headers["x-frame-options"] == "DENY"
    # Not signed in: sent to sign in, which needs the database too; a GET can simply be tried again.
    assert 'href="/login?next=/console/organisations"' in page.text
    assert oauth.status_code == 503 and oauth.json()["error"] == "temporarily_unavailable", oauth.text
    assert oauth.headers["cache-control"] == "no-store" and oauth.headers["retry-after"] == "5"
    assert ready.status_code == 503
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    lines = [r.getMessage() for r in caplog.records if r.name == "accessdesk.unavailable"]
    assert len(lines) == 1 and "ConnectionRefusedError" in lines[0], lines


@dataclass
class Answer:
    surface: str
    slug: str
    status: int
    phase_sent: str
    phase_answered: str
    response: httpx.Response = field(repr=False)


@dataclass
class Outage:
    """The phase of the server, as the writers see it when they send and when they are answered."""

    phase: str = "up"
    answers: list[Answer] = field(default_factory=list)

    def count(self, surface: str, status: int, phase: str) -> int:
        return sum(1 for a in self.answers if a.surface == surface and a.status == status
                   and a.phase_sent == a.phase_answered == phase)  # fmt: skip


async def _until(condition, *, attempts: int = 1200) -> None:
    """Wait for ``condition`` (checked every 50 ms), failing after ``attempts`` checks rather than hanging."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition was never met")


async def _seeded(url: str) -> tuple[World, str]:
    """The world (developer, government, their staff) and a government admin's API token, on the private server."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            clock = FrozenClock(T0)
            world = await World.create(Unit(session, clock), clock)
            token = await mint_token(world, world.gov_admin)
            await session.commit()
            return world, token
    finally:
        await engine.dispose()


async def _organisation_slugs(url: str) -> set[str]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return {row["slug"] for row in await connection.fetch("SELECT slug FROM organisations")}
    finally:
        await connection.close()


@pytest.mark.postgres_only
async def test_a_database_outage_answers_503_loses_nothing_acknowledged_and_recovers_without_a_restart(
    private_postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = private_postgres.url
    await asyncio.to_thread(upgrade, url)
    world, token = await _seeded(url)
    # The app's own pooled engine (pre-ping, invalidation): the one that has to recover. The worker sweeps often, so
    # that it meets the outage too.
    app = _app(caplog, Settings(database_url=url, worker_interval_seconds=0.2), world.clock, worker=True)
    outage, numbers = Outage(), itertools.count(1)

    async with AsyncTestClient(app=app) as client:
        await sign_in(client, world.gov_admin)
        csrf = csrf_in((await client.get("/console/organisations/new")).text)
        stop = asyncio.Event()

        async def write(surface: str) -> None:
            while not stop.is_set():
                slug, sent = f"{surface}-{next(numbers)}", outage.phase
                if surface == "api":
                    response = await client.post("/api/v1/organisations", headers=bearer_headers(token),
                                                 json={"name": slug.title(), "slug": slug, "domains": [f"{slug}.test"]})  # fmt: skip
                else:
                    response = await client.post("/console/organisations/new", follow_redirects=False, data={
                        "csrf": csrf, "name": slug.title(), "slug": slug, "domains": f"{slug}.test", "sector": "research",
                        "country": "US", "contact_name": "Hana", "contact_email": f"hana@{slug}.test"})  # fmt: skip
                outage.answers.append(Answer(surface, slug, response.status_code, sent, outage.phase, response))
                await asyncio.sleep(0.02)

        writers = [asyncio.create_task(write("api")), asyncio.create_task(write("console"))]
        try:
            await _until(lambda: outage.count("api", API_SUCCESS, "up") >= 3
                         and outage.count("console", PAGE_SUCCESS, "up") >= 3)  # fmt: skip
            outage.phase = "stopping"
            await asyncio.to_thread(private_postgres.stop)
            outage.phase = "down"
            # A few seconds of writing into the void, and long enough for the worker to meet it.
            await asyncio.sleep(3)
            await _until(lambda: outage.count("api", 503, "down") >= 5 and outage.count("console", 503, "down") >= 5
                         and any("worker: database unavailable" in r.getMessage() for r in caplog.records))  # fmt: skip
            outage.phase = "starting"
            await asyncio.to_thread(private_postgres.start)
            outage.phase = "up again"
            await _until(lambda: outage.count("api", API_SUCCESS, "up again") >= 3
                         and outage.count("console", PAGE_SUCCESS, "up again") >= 3
                         and any("worker: database reachable again" in r.getMessage() for r in caplog.records))  # fmt: skip
        finally:
            stop.set()
            await asyncio.gather(*writers)

    statuses = Counter((a.surface, a.status) for a in outage.answers)
    assert set(statuses) <= {("api", API_SUCCESS), ("api", 503), ("console", PAGE_SUCCESS), ("console", 503)}, statuses
    for answer in outage.answers:
        if answer.phase_sent == answer.phase_answered == "down":
            assert answer.status == 503, answer
        if answer.status == 503:
            assert answer.response.headers["retry-after"] == "5", answer
            if answer.surface == "api":
                assert answer.response.json()["code"] == "database_unavailable", answer
            else:
                assert answer.response.headers["content-type"].startswith("text/html"), answer
                assert "briefly unavailable" in answer.response.text, answer
                assert "content-security-policy" in answer.response.headers, answer

    acknowledged = {a.slug for a in outage.answers if a.status in (API_SUCCESS, PAGE_SUCCESS)}
    assert acknowledged <= await _organisation_slugs(url)

    # The log: no traceback, nothing at ERROR, and a handful of lines however many requests were refused.
    refused = sum(1 for a in outage.answers if a.status == 503)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]  # fmt: skip
    by_logger = Counter(r.name for r in caplog.records if r.levelno >= logging.WARNING)
    requests_lines = [r.getMessage() for r in caplog.records if r.name == "accessdesk.unavailable"]
    worker_lines = [r.getMessage() for r in caplog.records if r.name == "accessdesk.worker"]
    assert refused >= 10 and len(requests_lines) <= 3, requests_lines
    assert "answered 503" in requests_lines[0] and "reachable again" in requests_lines[-1], requests_lines
    assert f"{refused} requests were answered 503" in requests_lines[-1], (refused, requests_lines)
    assert len(worker_lines) == 2, worker_lines
    assert sum(by_logger.values()) <= 12, by_logger

