"""Hostile input at the sign-in doors: ``POST /login/start`` and the OIDC callback ``GET /login/callback``.

One table per door. Each row is a request an attacker or a confused browser could send; each must be refused with
the expected status and a page that says why, start no session, create no person, change no row, and log no
traceback (the suite's ``no_tracebacks`` fixture). The provider is panva's ``oidc-provider`` on loopback; the rows
that need a sign-in this browser really started first go through it.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.app import create_app
from accessdesk.clock import FrozenClock
from accessdesk.settings import OidcProvider, Settings
from accessdesk.web.oidc import PENDING_COOKIE
from tests.support.api import app_engine, commit_world_first, url_of

BASE = "http://127.0.0.1:8000"
CALLBACK = f"{BASE}/login/callback"
LONG = "x" * 20_000


@pytest.fixture
def clock() -> FrozenClock:
    # The provider signs with the real time: the app lives in it too (as in tests/web/test_oidc_login.py).
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def door(engine, clock, world, oidc_provider) -> AsyncIterator[Callable[..., Any]]:  # noqa: F811
    """``await door(issuer=None)`` → a client of the app, configured with the test provider (or an issuer)."""
    oidc_provider.register_client("accessdesk", "client-secret-for-tests", [CALLBACK])
    engines = []

    async def serve(issuer: str | None = None) -> AsyncTestClient:
        provider = OidcProvider(name="aiso", title="AI Security Office", issuer=issuer or oidc_provider.issuer,
                                client_id="accessdesk", client_secret="client-secret-for-tests",
                                domains=("aiso.test",))  # fmt: skip
        served = app_engine(url_of(engine))
        engines.append(served)
        app = create_app(Settings(database_url=url_of(engine), base_url=BASE, oidc_providers=(provider,)),
                         clock=clock, engine=served, embedded_worker=False)  # fmt: skip
        return commit_world_first(AsyncTestClient(app=app), world)

    yield serve
    for served in engines:
        await served.dispose()


async def _csrf(client: AsyncTestClient) -> str:
    page = await client.get("/login")
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def _started(client: AsyncTestClient) -> dict[str, str]:
    """Start a real sign-in in this client; the provider's authorize URL's query."""
    response = await client.post("/login/start", data={"csrf": await _csrf(client), "email": "gov1@aiso.test"},
                                 follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _assert_refusal_page(response: Any, status: int, says: str) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert says in response.text, response.text[:2000]
    assert len(response.content) < 16_000, "a refusal page must not echo unbounded input"
    assert "<script>alert" not in response.text


# -- POST /login/start ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    id: str
    form: Callable[[str], dict[str, str]]  # csrf → form fields
    status: int
    says: str
    content_type: str | None = None


START_ROWS = [
    Start("no csrf", lambda csrf: {"email": "gov1@aiso.test"}, 403, "this form has expired"),
    Start("wrong csrf", lambda csrf: {"csrf": csrf[::-1], "email": "gov1@aiso.test"}, 403, "this form has expired"),
    Start("non-ASCII csrf", lambda csrf: {"csrf": csrf[:-1] + "ü", "email": "gov1@aiso.test"}, 403,
          "this form has expired"),
    Start("unknown domain", lambda csrf: {"csrf": csrf, "email": "someone@elsewhere.test"}, 400,
          "no identity provider"),
    Start("no address at all", lambda csrf: {"csrf": csrf}, 400, "no identity provider"),
    Start("NUL and newline in the address", lambda csrf: {"csrf": csrf, "email": "a\x00b@x\r\nSet-Cookie: a=b"}, 400,
          "no identity provider"),
    Start("markup in the address", lambda csrf: {"csrf": csrf, "email": "<script>alert(1)</script>@<b>x</b>"}, 400,
          "no identity provider"),
    Start("a huge address", lambda csrf: {"csrf": csrf, "email": LONG + "@" + LONG}, 400, "no identity provider"),
    Start("unknown provider named", lambda csrf: {"csrf": csrf, "provider": "../../etc"}, 400,
          "no identity provider"),
]  # fmt: skip


@pytest.mark.parametrize("row", START_ROWS, ids=[r.id for r in START_ROWS])
async def test_login_start_refuses_hostile_forms(row, door, world, unchanged):  # noqa: F811
    async with await door() as client:
        csrf = await _csrf(client)
        async with unchanged():
            response = await client.post("/login/start", data=row.form(csrf), follow_redirects=False)
        _assert_refusal_page(response, row.status, row.says)
        assert PENDING_COOKIE not in response.cookies


async def test_login_start_with_the_provider_away_says_so(door, world, unchanged):  # noqa: F811
    async with await door(issuer=f"http://127.0.0.1:{_closed_port()}") as client:
        csrf = await _csrf(client)
        async with unchanged():
            response = await client.post("/login/start", data={"csrf": csrf, "email": "gov1@aiso.test"},
                                         follow_redirects=False)  # fmt: skip
        _assert_refusal_page(response, 503, "did not answer")
        assert response.headers.get("retry-after")


# -- GET /login/callback ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    id: str
    query: Callable[[dict[str, str]], str]  # the started sign-in's authorize query → the callback's query string
    says: str
    started: bool = True  # whether a real sign-in was started in this browser first
    cookie: str | None = None  # replaces the pending sign-in's cookie
    status: int = 403


def _q(**params: str) -> str:
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


CALLBACK_ROWS = [
    Callback("nothing at all", lambda a: "", "not started here", started=False),
    Callback("a code but no sign-in started", lambda a: _q(code="abc", state="abc"), "not started here", started=False),
    Callback("a cookie without a seal", lambda a: _q(code="abc", state=a["state"]), "not started here",
             cookie="garbage"),
    Callback("a forged seal", lambda a: _q(code="abc", state=a["state"]), "tampered", cookie="e30.deadbeef"),
    Callback("a non-ASCII cookie", lambda a: _q(code="abc", state=a["state"]), "tampered", cookie="%C3%BC.%C3%BC"),
    Callback("a huge cookie", lambda a: _q(code="abc", state=a["state"]), "tampered", cookie=LONG[:3000] + ".x"),
    Callback("no state", lambda a: _q(code="abc"), "does not belong"),
    Callback("another state", lambda a: _q(code="abc", state=a["state"] + "x"), "does not belong"),
    Callback("a non-ASCII state", lambda a: _q(code="abc", state=a["state"] + "ü"), "does not belong"),
    Callback("a NUL in the state", lambda a: _q(code="abc", state=a["state"] + "\x00"), "does not belong"),
    Callback("a huge state", lambda a: _q(code="abc", state=LONG), "does not belong"),
    Callback("no code", lambda a: _q(state=a["state"]), "no code"),
    Callback("the provider's error, with markup and newlines",
             lambda a: _q(state=a["state"], error="access_denied",
                          error_description="<script>alert(1)</script>\r\nCRITICAL forged log line"),
             "the identity provider refused"),
    Callback("the provider's error, huge", lambda a: _q(state=a["state"], error="x", error_description=LONG),
             "the identity provider refused"),
    Callback("a code the provider never issued", lambda a: _q(code="not-a-code", state=a["state"]),
             "did not accept the sign-in code"),
    Callback("a huge code", lambda a: _q(code=LONG, state=a["state"]), "did not accept the sign-in code"),
    Callback("a code with control characters", lambda a: _q(code="a\x00\r\nb", state=a["state"]),
             "did not accept the sign-in code"),
    Callback("invalid UTF-8 in the query", lambda a: f"code=%ff%fe&state={a['state']}", "did not accept"),
]  # fmt: skip


@pytest.mark.parametrize("row", CALLBACK_ROWS, ids=[r.id for r in CALLBACK_ROWS])
async def test_the_callback_refuses_hostile_answers(row, door, world, unchanged):  # noqa: F811
    async with await door() as client:
        authorize = await _started(client) if row.started else {"state": "never-started"}
        if row.cookie is not None:
            client.cookies.set(PENDING_COOKIE, row.cookie, path="/login/callback")
        async with unchanged():
            response = await client.get(f"/login/callback?{row.query(authorize)}", follow_redirects=False)
        _assert_refusal_page(response, row.status, row.says)
        assert "Sign-in refused" in response.text
        assert "accessdesk_session" not in response.headers.get("set-cookie", "")


async def test_the_callback_with_the_provider_away_says_so(door, world, oidc_provider, unchanged):  # noqa: F811
    """The sign-in began while the provider answered; it went away before the code came back."""
    async with await door() as client:
        authorize = await _started(client)
    async with await door(issuer=f"http://127.0.0.1:{_closed_port()}") as other:
        other.cookies.set(PENDING_COOKIE, client.cookies.get(PENDING_COOKIE), path="/login/callback")
        async with unchanged():
            response = await other.get(f"/login/callback?{_q(code='abc', state=authorize['state'])}",
                                       follow_redirects=False)  # fmt: skip
        _assert_refusal_page(response, 503, "did not answer")
        assert response.headers.get("retry-after")
