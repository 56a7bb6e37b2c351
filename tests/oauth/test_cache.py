"""On PostgreSQL each server process keeps clients, grants and revoked tokens in memory and forgets them when the
database notifies a change at commit. What must hold: a revoked grant, credential or token is refused as soon as
the change is committed and notified, and a race cannot put stale data back."""

from __future__ import annotations

import asyncio

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.db.tables import OAuthClient
from accessdesk.domain.grants import Grants
from accessdesk.oauth.cache import OAuthCache
from tests.api.conftest import settle
from tests.oauth.conftest import basic

pytestmark = pytest.mark.postgres_only

# Bounds how long a broken notification path can hang the test; nothing is asserted about how long it took.
PATIENCE_SECONDS = 20



async def until(condition) -> None:  # type: ignore[no-untyped-def]
    for _ in range(PATIENCE_SECONDS * 20):
        if await condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail("the change never reached the endpoint")


async def test_a_revocation_reaches_a_cached_endpoint_through_the_notification(app, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cached")
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    await settle(world)
    async with AsyncTestClient(app=app) as client:  # runs the lifespan: the listener starts
        await until(lambda: _true(app.state.oauth_cache.enabled))
        auth = basic(issued.client.client_id, issued.secret)
        token = (await client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=auth)).json()
        introspect = {"token": token["access_token"]}
        gateway_auth = basic(gateway.client.client_id, gateway.secret)
        for _ in range(3):  # now answered from memory
            assert (await client.post("/oauth/introspect", data=introspect, headers=gateway_auth)).json()["active"]
        assert live_grant.id in app.state.oauth_cache.grants

        await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=live_grant.id, reason="incident")
        await settle(world)

        async def inactive() -> bool:
            answer = await client.post("/oauth/introspect", data=introspect, headers=gateway_auth)
            return answer.json() == {"active": False}

        await until(inactive)
        refused = await client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=auth)
        assert refused.status_code == 400 and "revoked" in refused.json()["error_description"]


async def test_issuances_are_counted_in_batches(app, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="counted")
    await settle(world)
    async with AsyncTestClient(app=app) as client:
        await until(lambda: _true(app.state.oauth_cache.enabled))
        for _ in range(5):
            response = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                         headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
            assert response.status_code == 200
    # The lifespan's end flushed what was still counted in memory.
    row = await world.get(OAuthClient, issued.client.id)
    assert row.token_count == 5 and row.last_used_at is not None


async def test_a_value_read_before_a_change_is_not_kept_after_it():
    cache = OAuthCache()
    cache.enabled = True

    async def slow_read() -> str:
        cache.notified("oauth_clients")  # the change lands while the old value is being read
        return "stale"

    assert await cache._kept("clients", cache.clients, "adk_c_x", slow_read) == "stale"
    assert "adk_c_x" not in cache.clients


async def _true(value: bool) -> bool:
    return value


