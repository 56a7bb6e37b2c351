"""Sign-in through a real OpenID Connect provider we did not write (npm's oidc-provider), with accessdesk as the
relying party: code flow with PKCE, state and nonce, the ID token checked, home-realm discovery by e-mail domain."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from accessdesk.app import create_app
from accessdesk.clock import FrozenClock
from accessdesk.db.tables import AccessGrant, User, UserRole, WebSession
from accessdesk.settings import DEFAULT_SECRET_KEY, OidcProvider, Settings
from accessdesk.web.oidc import PENDING_COOKIE, Pending
from tests.support.api import app_engine, commit_world_first, url_of

BASE = "http://127.0.0.1:8000"
CALLBACK = f"{BASE}/login/callback"


@pytest.fixture
def clock() -> FrozenClock:
    # The provider signs tokens with the real time; the app must live in the same time for their expiry to mean
    # anything. (Overrides the suite's fixed instant for this module.)
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def signin(engine, clock, world, oidc_provider):  # noqa: F811
    """The app configured with the test provider for the world's government (aiso.test) and a domain that
    belongs to no organisation (stranger.test)."""
    oidc_provider.register_client("accessdesk", "client-secret-for-tests", [CALLBACK])

    async def serve(issuer: str = oidc_provider.issuer):
        provider = OidcProvider(name="aiso", title="AI Security Office", issuer=issuer, client_id="accessdesk",
                                client_secret="client-secret-for-tests", domains=("aiso.test", "stranger.test"))  # fmt: skip
        served = app_engine(url_of(engine))
        app = create_app(Settings(database_url=url_of(engine), base_url=BASE, oidc_providers=(provider,)),
                         clock=clock, engine=served, embedded_worker=False)  # fmt: skip
        return commit_world_first(AsyncTestClient(app=app), world), served

    return serve


async def start(client, email: str) -> str:
    page = await client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    response = await client.post("/login/start", data={"csrf": csrf, "email": email, "next": "/console"},
                                 follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def finish(client, callback_url: str):
    parts = urlsplit(callback_url)
    return await client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


async def sessions(world) -> list[WebSession]:
    rows = (await world.unit.session.exec(select(WebSession))).all()
    return list(rows)


async def test_a_person_signs_in_through_their_organisations_provider(signin, oidc_provider, world):  # noqa: F811
    client, served = await signin()
    async with client:
        authorize = await start(client, "gov1@aiso.test")
        query = parse_qs(urlsplit(authorize).query)
        assert authorize.startswith(oidc_provider.metadata["authorization_endpoint"])
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        assert query["state"][0] and query["nonce"][0] and query["redirect_uri"] == [CALLBACK]
        callback = await oidc_provider.alogin_with_http(authorize, "gov1@aiso.test")
        done = await finish(client, callback)
        assert done.status_code == 303 and done.headers["location"] == "/console", done.text
        home = await client.get("/console", follow_redirects=False)
        assert home.status_code == 200 and "gov1@aiso.test" in home.text
    await served.dispose()
    assert [s.user_id for s in await sessions(world)] == [world.gov_approver.user_id]


async def test_a_newcomer_of_a_known_organisation_is_created_with_the_least_role(signin, oidc_provider, world):  # noqa: F811
    client, served = await signin()
    async with client:
        callback = await oidc_provider.alogin_with_http(await start(client, "newcomer@aiso.test"), "newcomer@aiso.test")
        assert (await finish(client, callback)).status_code == 303
    await served.dispose()
    user = (await world.unit.session.exec(select(User).where(User.email == "newcomer@aiso.test"))).one()
    roles = (await world.unit.session.exec(select(UserRole.role).where(UserRole.user_id == user.id))).all()
    assert user.organisation_id == world.government.id and roles == ["member"]


@pytest.mark.parametrize(("login", "reason"), [
    ("someone@stranger.test", "belongs to no organisation"),
    ("unverified+gov1@aiso.test", "verified e-mail"),
])  # fmt: skip
async def test_an_unknown_or_unverified_person_is_refused_without_a_session(signin, oidc_provider, world, login, reason):  # noqa: F811
    client, served = await signin()
    async with client:
        email = login.replace("unverified+", "")
        callback = await oidc_provider.alogin_with_http(await start(client, email), login)
        refused = await finish(client, callback)
        assert refused.status_code == 403 and "Sign-in refused" in refused.text and reason in refused.text
    await served.dispose()
    assert await sessions(world) == []
    assert (await world.unit.session.exec(select(User).where(col(User.email).like("%stranger.test")))).all() == []


async def test_a_state_that_does_not_match_is_refused(signin, oidc_provider, world):  # noqa: F811
    client, served = await signin()
    async with client:
        callback = await oidc_provider.alogin_with_http(await start(client, "gov1@aiso.test"), "gov1@aiso.test")
        forged = callback.replace("state=", "state=x")
        refused = await finish(client, forged)
        assert refused.status_code == 403 and "does not belong to the sign-in" in refused.text
    await served.dispose()
    assert await sessions(world) == []


def _reseal(client, opened_at, **changes) -> None:
    """What an attacker cannot do (they lack the server secret) but a test can: rewrite the pending sign-in."""
    pending = Pending.open(client.cookies.get(PENDING_COOKIE), DEFAULT_SECRET_KEY, opened_at)
    data = {**asdict(pending), **changes}
    client.cookies.set(PENDING_COOKIE, Pending(**data).seal(DEFAULT_SECRET_KEY), path="/login/callback")


async def test_a_nonce_that_does_not_match_is_refused(signin, oidc_provider, world, clock):  # noqa: F811
    client, served = await signin()
    async with client:
        authorize = await start(client, "gov1@aiso.test")
        _reseal(client, clock.now(), nonce="not-the-nonce-we-sent")
        refused = await finish(client, await oidc_provider.alogin_with_http(authorize, "gov1@aiso.test"))
        assert refused.status_code == 403 and "nonce" in refused.text
    await served.dispose()
    assert await sessions(world) == []


async def test_an_expired_id_token_is_refused(signin, oidc_provider, world, clock):  # noqa: F811
    client, served = await signin()
    async with client:
        authorize = await start(client, "gov1@aiso.test")
        callback = await oidc_provider.alogin_with_http(authorize, "gov1@aiso.test")
        started = clock.now()
        clock.advance(timedelta(hours=3))  # the ID token, valid for an hour, will be stale when it arrives
        _reseal(client, started, started=clock.now().timestamp())
        refused = await finish(client, callback)
        assert refused.status_code == 403 and "expired" in refused.text.lower()
    await served.dispose()
    assert await sessions(world) == []


async def test_a_provider_announcing_another_issuer_is_refused(signin, oidc_provider, world):  # noqa: F811
    client, served = await signin(issuer=oidc_provider.issuer.replace("127.0.0.1", "localhost"))
    async with client:
        page = await client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        refused = await client.post("/login/start", data={"csrf": csrf, "email": "gov1@aiso.test"},
                                    follow_redirects=False)  # fmt: skip
        assert refused.status_code == 403 and "different issuer" in refused.text
    await served.dispose()
    assert await sessions(world) == []


async def test_a_page_that_needs_a_recent_sign_in_sends_the_person_through_the_provider_again(
    signin, oidc_provider, world, engine, clock  # noqa: F811
):  # fmt: skip
    await world.government_ready()
    grant = await world.government_grant()
    client, served = await signin()
    page = f"/console/models/{world.model.id}"
    async with client:
        assert (await finish(client, await oidc_provider.alogin_with_http(await start(client, "gail@aiso.test"),
                                                                          "gail@aiso.test"))).status_code == 303  # fmt: skip
        async with engine.begin() as connection:  # the sign-in happened a while ago
            await connection.execute(sa.update(WebSession).values(authenticated_at=clock.now() - timedelta(minutes=11)))
        shown = await client.get(page)
        csrf = shown.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        stale = await client.post(f"{page}/switch-off", data={"csrf": csrf, "reason": "leak"}, follow_redirects=False)
        assert stale.status_code == 303 and stale.headers["location"] == f"/login/again?next={page}"
        again = await client.get(stale.headers["location"])
        assert "Sign in again with AI Security Office" in again.text
        login_csrf = again.text.split('action="/login/start"', 1)[1].split('name="csrf" value="', 1)[1].split('"', 1)[0]
        authorize = await client.post("/login/start", data={"csrf": login_csrf, "email": "gail@aiso.test",
                                                            "step_up": "1", "next": page}, follow_redirects=False)  # fmt: skip
        query = parse_qs(urlsplit(authorize.headers["location"]).query)
        assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
        back = await finish(client, await oidc_provider.alogin_with_http(authorize.headers["location"], "gail@aiso.test"))
        assert back.status_code == 303 and back.headers["location"] == page, back.text
        fresh = await client.get(page)
        csrf = fresh.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = await client.post(f"{page}/switch-off", data={"csrf": csrf, "reason": "weights leaked",
                                                             "confirm_slug": "atlas"},
                                 follow_redirects=False)  # fmt: skip
        assert done.status_code == 303
    await served.dispose()
    assert (await world.get(AccessGrant, grant.id)).revoked_at is not None


async def test_a_step_up_answered_with_an_older_authentication_is_refused(signin, oidc_provider, world, clock):  # noqa: F811
    client, served = await signin()
    async with client:
        authorize = await start(client, "gov1@aiso.test")
        callback = await oidc_provider.alogin_with_http(authorize, "gov1@aiso.test")
        # As if the provider had vouched for a sign-in from before the step-up began.
        _reseal(client, clock.now(), fresh=True, started=clock.now().timestamp() + 300)
        refused = await finish(client, callback)
        assert refused.status_code == 403 and "did not sign you in again" in refused.text
    await served.dispose()
    assert await sessions(world) == []
