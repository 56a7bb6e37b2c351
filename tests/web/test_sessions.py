"""Console sign-in (development), server-side sessions, sign-out, CSRF, redirects and security headers."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import WebSession
from accessdesk.domain.organisations import Organisations, find_organisation
from accessdesk.domain.vocabulary import OrgKind
from tests.support.console import csrf_in, sign_in
from tests.world import OPERATOR

COOKIE = "accessdesk_session"


async def sessions(world) -> list[WebSession]:
    rows = (await world.unit.session.exec(select(WebSession).execution_options(populate_existing=True))).all()
    return list(rows)


async def test_development_sign_in_lists_people_and_starts_a_server_side_session(api, world):
    page = await api.get("/login")
    assert "Sign in as Gov1" in page.text and "AI Security Office" in page.text
    response = await sign_in(api, world.gov_approver)
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    stored = await sessions(world)
    assert len(stored) == 1 and stored[0].user_id == world.gov_approver.user_id
    assert stored[0].id != api.cookies.get(COOKIE)  # only the hash of the cookie is stored
    home = await api.get("/console", follow_redirects=False)
    assert home.status_code == 200 and "Waiting for your decision" in home.text and "gov1@aiso.test" in home.text


async def test_the_home_page_shows_my_pending_decisions_and_blocked_grants(api, world):
    partner, _ = await world.partner(name="northwind")
    await world.nominate(partner)
    blocked_partner, _ = await world.partner(name="southwind", nda=False)
    await world.government_ready()
    await world.government_grant()
    await world.approve_both(await world.nominate(blocked_partner, start=timedelta(days=2)))
    await sign_in(api, world.gov_approver)
    home = (await api.get("/console", follow_redirects=False)).text
    assert "Northwind" in home and "0/1" in home
    assert "Southwind on Atlas</a>: the current major version of the NDA has not been accepted" in home


async def test_a_sign_in_without_the_csrf_token_is_refused_and_starts_nothing(api, world):
    await api.get("/login")
    response = await api.post("/login/dev", data={"user_id": str(world.gov_admin.user_id)}, follow_redirects=False)
    assert response.status_code == 403 and "did not come from accessdesk" in response.text
    assert await sessions(world) == [] and COOKIE not in api.cookies


async def test_next_only_leads_to_local_paths(api, world):
    for target, expected in [("//evil.example/x", "/console"), ("https://evil.example", "/console"),
                             ("/\\evil.example", "/console"), ("/console?tab=1", "/console?tab=1")]:  # fmt: skip
        response = await sign_in(api, world.gov_admin, next_=target)
        assert response.headers["location"] == expected, target


async def test_signing_in_again_rotates_the_session_id(api, world):
    await sign_in(api, world.gov_admin)
    first = api.cookies.get(COOKIE)
    await sign_in(api, world.gov_admin)
    assert api.cookies.get(COOKIE) != first
    live = [s for s in await sessions(world) if s.ended_at is None]
    assert len(live) == 1
    api.cookies.set(COOKIE, first)
    assert (await api.get("/console", follow_redirects=False)).status_code == 303  # the old id is dead


async def test_idle_timeout_ends_the_session(api, world, clock):
    await sign_in(api, world.gov_admin)
    clock.advance(timedelta(minutes=29))
    assert (await api.get("/console", follow_redirects=False)).status_code == 200
    clock.advance(timedelta(minutes=30))
    response = await api.get("/console", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/console"


async def test_the_absolute_timeout_ends_even_an_active_session(api, world, clock):
    await sign_in(api, world.gov_admin)
    for _ in range(35):  # every 20 minutes for almost 12 hours
        clock.advance(timedelta(minutes=20))
        assert (await api.get("/console", follow_redirects=False)).status_code == 200
    clock.advance(timedelta(minutes=20))
    assert (await api.get("/console", follow_redirects=False)).status_code == 303


async def test_disabling_a_user_ends_their_sessions_at_once(api, world):
    await sign_in(api, world.gov_approver)
    assert (await api.get("/console", follow_redirects=False)).status_code == 200
    await Organisations(world.unit).update_user(actor=world.gov_admin, user_id=world.gov_approver.user_id, disabled=True)
    assert (await api.get("/console", follow_redirects=False)).status_code == 303
    assert all(s.ended_at is not None for s in await sessions(world))


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(api, world):
    await sign_in(api, world.gov_admin)
    home = await api.get("/console", follow_redirects=False)
    refused = await api.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    assert (await api.get("/console", follow_redirects=False)).status_code == 200
    done = await api.post("/logout", data={"csrf": csrf_in(home.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert (await api.get("/console", follow_redirects=False)).status_code == 303
    assert all(s.ended_at is not None for s in await sessions(world))


async def test_pages_carry_the_security_headers(api, world):
    await sign_in(api, world.gov_admin)
    for path in ("/login", "/", "/console"):
        headers = (await api.get(path, follow_redirects=False)).headers
        csp = headers["content-security-policy"]
        for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"):
            assert directive in csp, (path, directive)
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers  # development: plain http


async def test_user_supplied_names_are_escaped(api, world):
    await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.PARTNER, name="<script>alert(1)</script>",
                                           slug="xss")  # fmt: skip
    await world.person(await find_organisation(world.unit, "xss"), "eve", [])
    page = (await api.get("/login")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page

