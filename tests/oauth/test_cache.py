"""On PostgreSQL each server process keeps clients, grants and revoked tokens in memory and forgets them when the
database notifies a change at commit. What must hold: a revoked grant, credential or token is refused as soon as
the change is committed and notified, and a race cannot put stale data back."""

from __future__ import annotations

import asyncio
import importlib.util
from datetime import timedelta

import asyncpg
import pytest
from joserfc.jwk import ECKey

from accessdesk.app import listen_dsn
from accessdesk.db.tables import OAuthClient
from accessdesk.domain.credentials import ClientFacts, Credentials, ModelFacts, count_issuance
from accessdesk.domain.grants import Grants
from accessdesk.oauth.cache import CHANNEL, OAuthCache
from accessdesk.resources import migrations_dir
from tests.support.api import client_of, url_of
from tests.support.oauth import SETTINGS, assertion, basic

pytestmark = pytest.mark.postgres_only

# Bounds how long a broken notification path can hang the test; nothing is asserted about how long it took.
PATIENCE_SECONDS = 20


async def until(condition) -> None:
    for _ in range(PATIENCE_SECONDS * 20):
        if await condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail("the change never reached the endpoint")


async def test_a_revocation_reaches_a_cached_endpoint_through_the_notification(app, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cached")
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    async with client_of(app, world) as client:  # runs the lifespan: the listener starts
        await until(lambda: _true(app.state.oauth_cache.enabled))
        auth = basic(issued.client.client_id, issued.secret)
        token = (await client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=auth)).json()
        introspect = {"token": token["access_token"]}
        gateway_auth = basic(gateway.client.client_id, gateway.secret)
        for _ in range(3):  # now answered from memory
            assert (await client.post("/oauth/introspect", data=introspect, headers=gateway_auth)).json()["active"]
        assert live_grant.id in app.state.oauth_cache.grants

        await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=live_grant.id, reason="incident")

        async def inactive() -> bool:
            answer = await client.post("/oauth/introspect", data=introspect, headers=gateway_auth)
            return answer.json() == {"active": False}

        await until(inactive)
        refused = await client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=auth)
        assert refused.status_code == 400 and "revoked" in refused.json()["error_description"]


async def test_issuances_are_counted_in_batches(app, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="counted")
    async with client_of(app, world) as client:
        await until(lambda: _true(app.state.oauth_cache.enabled))
        for _ in range(5):
            response = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                         headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
            assert response.status_code == 200
    # The lifespan's end flushed what was still counted in memory.
    row = await world.get(OAuthClient, issued.client.id)
    assert row.token_count == 5 and row.last_used_at is not None


async def test_a_gateway_s_basic_header_is_vouched_for_only_while_its_secret_and_credential_hold(
    app, world, clock, credentials, live_grant
):  # fmt: skip
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cached")
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    cache: OAuthCache = app.state.oauth_cache
    async with client_of(app, world) as client:
        await until(lambda: _true(cache.enabled))
        token = (await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                   headers=basic(issued.client.client_id, issued.secret))).json()["access_token"]  # fmt: skip

        async def answer(auth: dict[str, str]) -> dict:
            return (await client.post("/oauth/introspect", data={"token": token}, headers=auth)).json()

        old = basic(gateway.client.client_id, gateway.secret)
        assert (await answer(old))["active"] is True
        assert (await answer(basic(gateway.client.client_id, "wrong")))["error"] == "invalid_client"
        assert len(cache.authentications) == 1  # only what Authlib accepted
        assert (await answer(old))["active"] is True

        short = Credentials(world.unit, pepper=SETTINGS.pepper, overlap=timedelta(minutes=5))
        rotated = await short.rotate_secret(actor=world.dev_admin, client_pk=gateway.client.id)
        await world.commit()  # the change is told to the endpoint when it commits; no request comes first
        await until(lambda: _true(not cache.authentications))  # the secrets changed: forgotten
        assert rotated.secret is not None
        new = basic(gateway.client.client_id, rotated.secret)
        for auth in (old, new, old, new):  # both work during the overlap, then from memory
            assert (await answer(auth))["active"] is True
        assert len(cache.authentications) == 2
        # The old secret's end is judged at each use, remembered or not.
        clock.advance(timedelta(minutes=5, seconds=1))
        assert cache.authenticated(old["Authorization"], at=clock.now()) is None
        assert cache.authenticated(new["Authorization"], at=clock.now()) is not None
        assert (await answer(old))["error"] == "invalid_client"
        assert (await answer(new))["active"] is True

        await credentials.revoke(actor=world.dev_admin, client_pk=gateway.client.id, reason="retired")

        async def refused() -> bool:
            return (await answer(new)).get("error") == "invalid_client"

        await until(refused)


async def test_a_refused_request_does_not_spoil_the_client_it_loaded_for_everyone_else(app, world, credentials,
                                                                                    live_grant):  # fmt: skip
    """Issue 11, finding 1: a refused call that first loaded a client (a wrong secret at introspection or
    revocation, a replayed client assertion, a replayed DPoP proof) rolls its session back; the client it kept must
    not be tied to that session, or every later request of that client on this process fails. Anyone who knows a
    client_id (it is in every token) could otherwise take that client down."""
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="victim")
    private = ECKey.generate_key("P-256", private=True)
    signed = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="signed victim",
                                      jwks={"keys": [{**private.as_dict(private=False), "kid": "k1"}]})  # fmt: skip
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    cache: OAuthCache = app.state.oauth_cache
    token_form = {"grant_type": "client_credentials"}
    by_secret = basic(issued.client.client_id, issued.secret)
    with_assertion = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    async with client_of(app, world) as client:
        await until(lambda: _true(cache.enabled))

        async def served() -> None:
            answer = await client.post("/oauth/token", data=token_form, headers=by_secret)
            assert answer.status_code == 200, answer.text
            fresh = {**with_assertion, "client_assertion": assertion(signed.client.client_id, private)}
            answer = await client.post("/oauth/token", data={**token_form, **fresh})
            assert answer.status_code == 200, answer.text

        # A stranger's wrong secrets, each the first request to load the client into this process.
        wrong = basic(issued.client.client_id, "wrong")
        token = (await client.post("/oauth/token", data=token_form, headers=by_secret)).json()["access_token"]
        cache.forget()
        assert (await client.post("/oauth/introspect", data={"token": token}, headers=wrong)).status_code == 401
        await served()
        cache.forget()
        assert (await client.post("/oauth/revoke", data={"token": token}, headers=wrong)).status_code == 401
        await served()
        # A replayed client assertion, at revocation and at the token endpoint.
        once = {**with_assertion, "client_assertion": assertion(signed.client.client_id, private)}
        assert (await client.post("/oauth/revoke", data={**once, "token": token})).status_code == 200
        cache.forget()
        assert (await client.post("/oauth/revoke", data={**once, "token": token})).status_code == 401
        await served()
        cache.forget()
        assert (await client.post("/oauth/token", data={**token_form, **once})).status_code == 401
        await served()
        # The gateway too: a wrong secret first, then its own calls.
        cache.forget()
        gateway_wrong = basic(gateway.client.client_id, "wrong")
        assert (await client.post("/oauth/introspect", data={"token": token}, headers=gateway_wrong)).status_code == 401
        answer = await client.post("/oauth/introspect", data={"token": token},
                                   headers=basic(gateway.client.client_id, gateway.secret))  # fmt: skip
        assert answer.status_code == 200 and answer.json()["active"] is True  # a foreign token: not revoked above
        kept = [record for record in cache.clients.values() if record is not None]
        assert kept and all(isinstance(record.client, ClientFacts) and isinstance(record.model, ModelFacts)
                            for record in kept)  # fmt: skip


# The next tests drive the cache's single-flight read alone: strings stand in for the records it keeps, which is
# what each ``type: ignore[arg-type]`` on a ``_kept`` call below says.


async def test_requests_missing_the_same_value_share_one_read():
    cache = OAuthCache()
    cache.enabled = True
    reads, release = [], asyncio.Event()

    async def read() -> str:
        reads.append(1)
        await release.wait()
        return f"value {len(reads)}"

    waiting = [asyncio.create_task(cache._kept("clients", cache.clients, "adk_c_x", read))  # type: ignore[arg-type]
               for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["value 1"] * 5 and len(reads) == 1
    assert cache.clients["adk_c_x"] == "value 1"


async def test_a_read_begun_before_a_change_is_not_joined_after_it():
    cache = OAuthCache()
    cache.enabled = True
    release = asyncio.Event()
    values = iter(["before", "after"])

    async def read() -> str:
        value = next(values)
        await release.wait()
        return value

    early = asyncio.create_task(cache._kept("clients", cache.clients, "adk_c_x", read))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    cache.notified("oauth_clients")
    late = asyncio.create_task(cache._kept("clients", cache.clients, "adk_c_x", read))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    release.set()
    assert (await early, await late) == ("before", "after")
    assert cache.clients["adk_c_x"] == "after"


async def test_when_the_shared_read_fails_each_waiter_reads_for_itself():
    cache = OAuthCache()
    cache.enabled = True
    release, calls = asyncio.Event(), []

    async def read() -> str:
        calls.append(1)
        if len(calls) == 1:
            await release.wait()
            raise ConnectionError("the database went away")
        return "read again"

    first = asyncio.create_task(cache._kept("grants", cache.grants, "g", read))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    second = asyncio.create_task(cache._kept("grants", cache.grants, "g", read))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(ConnectionError):
        await first
    assert await second == "read again" and len(calls) == 2


async def test_a_value_read_before_a_change_is_not_kept_after_it():
    cache = OAuthCache()
    cache.enabled = True

    async def slow_read() -> str:
        cache.notified("oauth_clients")  # the change lands while the old value is being read
        return "stale"

    assert await cache._kept("clients", cache.clients, "adk_c_x", slow_read) == "stale"  # type: ignore[arg-type]
    assert "adk_c_x" not in cache.clients


async def _true(value: bool) -> bool:
    return value


async def test_counting_issuances_notifies_no_one_and_any_other_change_to_a_credential_does(
    engine, world, credentials, live_grant
):
    """The counts are flushed every 2 s; if each flush made every process forget its clients, the caches would be
    empty half the time under load (migration 0010)."""
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="counted")
    await world.commit()  # nothing of the world's is left to be heard once the listener listens
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(listen_dsn(url_of(engine)))
    try:
        await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))
        await count_issuance(world.unit, issued.client.id, n=3)
        await world.unit.commit()
        await credentials.revoke(actor=world.gov_admin, client_pk=issued.client.id, reason="rotating out")
        # PostgreSQL delivers notifications in commit order: the revocation's is the first one heard.
        assert await asyncio.wait_for(heard.get(), PATIENCE_SECONDS) == "oauth_clients"
    finally:
        await listener.close()
    row = await world.get(OAuthClient, issued.client.id)
    assert row.token_count == 3 and row.revoked_at is not None


def test_the_trigger_names_every_column_of_oauth_clients_but_the_usage_counters():
    path = migrations_dir() / "versions" / "20261128_0010_oauth_clients_usage_not_notified.py"
    spec = importlib.util.spec_from_file_location("migration_0010", path)
    assert spec is not None and spec.loader is not None
    notified = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(notified)
    # SQLAlchemy sets __table__ on the class; SQLModel's annotations do not declare it.
    columns = {column.name for column in OAuthClient.__table__.columns}  # type: ignore[attr-defined]
    assert set(notified.KEPT) == columns - set(notified.USAGE)
