"""The token endpoint, from the outside: standard clients (Authlib's) get RFC 9068 access tokens scoped to their
grant, verified here with PyJWT; every refusal is the RFC error code, with no token and nothing counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey, OKPKey
from sqlmodel import col, select

from accessdesk.db.tables import NdaTemplate, TokenIssuanceDay
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.errors import Conflict, Forbidden
from accessdesk.domain.grants import Grants
from accessdesk.oauth.cache import IssuanceCounter
from tests.support.api import commit_world_first
from tests.support.oauth import (
    SETTINGS,
    TOKEN_URL,
    assertion,
    authlib_transport,
    basic,
    jwks,
    post_token,
    real_now,
    token_count,
    verified,
)

AUDIENCE = "https://api.acme.test/models/atlas"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_standard_client_gets_a_token_that_another_jose_library_verifies(app, http, world, credentials,
                                                                                 live_grant, method):  # fmt: skip
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="evaluation cluster")
    authlib = AsyncOAuth2Client(issued.client.client_id, issued.secret, token_endpoint_auth_method=method,
                                transport=authlib_transport(app))  # fmt: skip
    async with commit_world_first(authlib, world) as client:
        token = await client.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["expires_in"] == SETTINGS.token_ttl_seconds
    assert token["scope"] == "model:atlas:invoke"
    claims = verified(token["access_token"], await jwks(http), audience=AUDIENCE)
    assert claims["sub"] == claims["client_id"] == issued.client.client_id
    assert claims["scope"] == "model:atlas:invoke" and claims["grant_id"] == str(live_grant.id)
    assert claims["exp"] - claims["iat"] == SETTINGS.token_ttl_seconds
    header = pyjwt.get_unverified_header(token["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    assert await token_count(world, issued.client) == 1


async def test_private_key_jwt_with_a_registered_public_key(app, http, world, credentials, live_grant):
    private = ECKey.generate_key("P-256", private=True)
    public = {**private.as_dict(private=False), "kid": "k1", "use": "sig"}
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="signed", jwks={"keys": [public]})
    assert issued.secret is None
    authlib = AsyncOAuth2Client(issued.client.client_id, private, token_endpoint_auth_method="private_key_jwt",
                                transport=authlib_transport(app))  # fmt: skip
    async with commit_world_first(authlib, world) as client:
        client.register_client_auth_method(PrivateKeyJWT(TOKEN_URL, alg="ES256"))
        token = await client.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert verified(token["access_token"], await jwks(http), audience=AUDIENCE)["client_id"] == issued.client.client_id


async def test_a_client_assertion_is_used_once_and_must_be_addressed_to_us(http, world, credentials, live_grant):
    private = ECKey.generate_key("P-256", private=True)
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="signed",
                                      jwks={"keys": [{**private.as_dict(private=False), "kid": "k1"}]})  # fmt: skip
    client_id = issued.client.client_id
    form = {"grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}  # fmt: skip
    once = assertion(client_id, private)
    assert (await post_token(http, {**form, "client_assertion": once})).status_code == 200
    replayed = await post_token(http, {**form, "client_assertion": once})
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"
    assert "used before" in replayed.json()["error_description"]
    for bad in (assertion(client_id, private, audience="https://elsewhere.example/token"),
                assertion(client_id, private, lifetime=7200),
                assertion(client_id, ECKey.generate_key("P-256", private=True))):  # fmt: skip
        refused = await post_token(http, {**form, "client_assertion": bad})
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client", refused.text
        assert "access_token" not in refused.json()
    assert await token_count(world, issued.client) == 1


async def test_scopes_are_never_more_than_the_grant_allows(app, http, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="scoped")
    auth = basic(issued.client.client_id, issued.secret)
    asked = await post_token(http, {"grant_type": "client_credentials", "scope": "model:atlas:invoke"}, headers=auth)
    assert asked.status_code == 200 and asked.json()["scope"] == "model:atlas:invoke"
    excess = await post_token(http, {"grant_type": "client_credentials",
                                     "scope": "model:atlas:invoke model:atlas:fine_tune"}, headers=auth)  # fmt: skip
    assert excess.status_code == 400 and excess.json()["error"] == "invalid_scope"
    assert "model:atlas:fine_tune" in excess.json()["error_description"]
    assert excess.headers["cache-control"] == "no-store"
    assert await token_count(world, issued.client) == 1


async def test_refusals_name_the_rfc_error_and_issue_nothing(http, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="refused")
    client_id, secret = issued.client.client_id, issued.secret
    cases = [
        (basic(client_id, secret + "x"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (basic("adk_c_unknown", secret), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        ({}, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (basic(client_id, secret), {"grant_type": "password", "username": "a", "password": "b"}, 400,
         "unsupported_grant_type"),
        (basic(client_id, secret), {"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
        (basic(client_id, secret), {}, 400, "invalid_request"),  # RFC 6749 §4.4.2: grant_type is REQUIRED
    ]  # fmt: skip
    for headers, data, status, error in cases:
        response = await post_token(http, data, headers=headers)
        assert response.status_code == status and response.json()["error"] == error, (data, response.text)
        assert "access_token" not in response.json() and response.headers["cache-control"] == "no-store"
    repeated = await http.post("/oauth/token", content=b"grant_type=client_credentials&grant_type=client_credentials",
                               headers={**basic(client_id, secret),
                                        "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"
    as_json = await http.post("/oauth/token", json={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert await token_count(world, issued.client) == 0


async def refused_because(http, issued, phrase: str) -> None:
    response = await post_token(http, {"grant_type": "client_credentials"},
                                headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", response.text
    assert phrase in response.json()["error_description"], response.text
    assert "access_token" not in response.json()


async def test_a_token_is_issued_only_while_the_grant_is_usable(http, world, clock, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="lifecycle")
    started = clock.now()
    clock.set(live_grant.starts_at - timedelta(minutes=1))
    await refused_because(http, issued, "the access window has not started")
    clock.set(live_grant.ends_at + timedelta(seconds=1))
    await refused_because(http, issued, "the access window has ended")
    clock.set(started)
    await Compliance(world.unit).publish_nda(actor=world.dev_admin, title="Acme NDA", body="New terms.", version="2.0")
    await refused_because(http, issued, "the current major version of the NDA has not been accepted")
    template = (await world.unit.session.exec(select(NdaTemplate).where(NdaTemplate.version_major == 2))).one()
    await Compliance(world.unit).accept_nda(actor=world.gov_admin, template_id=template.id, sha256=template.sha256)
    ok = await post_token(http, {"grant_type": "client_credentials"}, headers=basic(issued.client.client_id, issued.secret))
    assert ok.status_code == 200
    await Grants(world.unit).revoke(actor=world.dev_approver, grant_id=live_grant.id, reason="incident")
    await refused_because(http, issued, "the grant has been revoked")
    assert await token_count(world, issued.client) == 1


async def test_a_suspended_grant_gets_no_token(http, world, clock, credentials):
    await world.government_ready(valid_days=1)
    grant = await world.government_grant(start=timedelta(hours=1))
    clock.set(real_now())
    issued = await credentials.create(actor=world.gov_admin, grant_id=grant.id, name="suspended")
    clock.advance(timedelta(days=1))
    await refused_because(http, issued, "attestation has expired")


async def test_a_token_never_outlives_the_window(http, world, clock, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="late")
    clock.set(live_grant.ends_at - timedelta(minutes=5))
    response = await post_token(http, {"grant_type": "client_credentials"},
                                headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
    assert response.status_code == 200 and response.json()["expires_in"] == 300
    claims = pyjwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["exp"] == int(live_grant.ends_at.timestamp())


async def test_revoked_and_gateway_credentials_get_no_token(http, world, credentials, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="to revoke")
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    await credentials.revoke(actor=world.gov_admin, client_pk=issued.client.id, reason="laptop lost")
    revoked = await post_token(http, {"grant_type": "client_credentials"},
                               headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
    assert revoked.status_code == 401 and revoked.json()["error"] == "invalid_client"
    assert "revoked" in revoked.json()["error_description"]
    not_for_tokens = await post_token(http, {"grant_type": "client_credentials"},
                                      headers=basic(gateway.client.client_id, gateway.secret))  # fmt: skip
    assert not_for_tokens.status_code == 400 and not_for_tokens.json()["error"] == "unauthorized_client"


async def test_no_secret_or_token_reaches_a_log(app, http, world, credentials, live_grant, caplog):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="quiet")
    caplog.set_level("DEBUG")
    response = await post_token(http, {"grant_type": "client_credentials"},
                                headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
    await post_token(http, {"grant_type": "client_credentials"}, headers=basic(issued.client.client_id, "wrong"))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert issued.secret not in logged and response.json()["access_token"] not in logged
    assert issued.secret[5:20] not in logged


async def test_credentials_are_for_usable_grants_and_their_own_admins(world, credentials, clock, refused):
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1))
    await refused(Conflict, credentials.create(actor=world.gov_admin, grant_id=grant.id, name="early"))
    clock.set(real_now())
    await refused(Forbidden, credentials.create(actor=world.gov_member, grant_id=grant.id, name="member"))
    await refused(Forbidden, credentials.create(actor=world.dev_admin, grant_id=grant.id, name="developer"))


async def test_private_key_jwt_with_an_ed25519_key(app, http, world, credentials, live_grant):
    private = OKPKey.generate_key("Ed25519", private=True)
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="ed25519",
                                      jwks={"keys": [{**private.as_dict(private=False), "kid": "ed"}]})  # fmt: skip
    authlib = AsyncOAuth2Client(issued.client.client_id, private, token_endpoint_auth_method="private_key_jwt",
                                transport=authlib_transport(app))  # fmt: skip
    async with commit_world_first(authlib, world) as client:
        client.register_client_auth_method(PrivateKeyJWT(TOKEN_URL, alg="Ed25519"))
        token = await client.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert verified(token["access_token"], await jwks(http), audience=AUDIENCE)["client_id"] == issued.client.client_id


async def test_a_revoked_credential_gets_no_new_secret(world, credentials, live_grant, refused):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="gone")
    await credentials.revoke(actor=world.gov_admin, client_pk=issued.client.id, reason="lost")
    await refused(Conflict, credentials.rotate_secret(actor=world.gov_admin, client_pk=issued.client.id))


async def test_issuances_counted_in_memory_land_on_the_utc_day_they_happened(world, credentials, live_grant):
    """The programme overview draws tokens per day: a flush after midnight adds yesterday's to yesterday."""
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="counted by day")
    counter = IssuanceCounter()
    midnight = datetime(2026, 12, 7, tzinfo=UTC)
    for at in (midnight - timedelta(seconds=2), midnight - timedelta(seconds=1), midnight + timedelta(seconds=1)):
        counter.count(issued.client.id, at)
    await counter.flush(world.unit)
    days = (await world.unit.session.exec(
        select(TokenIssuanceDay).where(TokenIssuanceDay.client_pk == issued.client.id).order_by(col(TokenIssuanceDay.day))
    )).all()  # fmt: skip
    assert [(d.day.isoformat(), d.count) for d in days] == [("2026-12-06", 2), ("2026-12-07", 1)]
    assert await token_count(world, issued.client) == 3
    await counter.flush(world.unit)  # nothing counted since: nothing added
    assert await token_count(world, issued.client) == 3
