"""DPoP-bound tokens for high-tier models (RFC 9449), introspection for the developer's gateway (RFC 7662) and
revocation by the client (RFC 7009)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from joserfc.jwk import ECKey

from accessdesk.domain.grants import Grants
from accessdesk.domain.vocabulary import Tier
from tests.support.oauth import TOKEN_URL, basic, jwks, post_token, proof, real_now, token_count, verified


@pytest.fixture
async def high_tier(world, clock, credentials):
    helios = await world.new_model("helios", tier=Tier.HIGH)
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1), model=helios)
    clock.set(real_now())
    issued = await credentials.create(actor=world.gov_admin, grant_id=grant.id, name="dpop")
    return issued


async def test_a_high_tier_model_needs_a_valid_dpop_proof(http, world, credentials, high_tier):
    auth = basic(high_tier.client.client_id, high_tier.secret)
    key = ECKey.generate_key("P-256", private=True)
    for headers, phrase in [
        ({}, "requires DPoP"),
        ({"DPoP": proof(key, htu="https://elsewhere.example/oauth/token")}, "htu"),
        ({"DPoP": proof(key, htm="GET")}, "htm"),
        ({"DPoP": proof(key, iat=int(time.time()) - 600)}, "not fresh"),
        ({"DPoP": "not.a.proof"}, "header"),
    ]:
        refused = await post_token(http, {"grant_type": "client_credentials"}, headers={**auth, **headers})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof", refused.text
        assert phrase in refused.json()["error_description"] and "access_token" not in refused.json()
    good = proof(key)
    issued = await post_token(http, {"grant_type": "client_credentials"}, headers={**auth, "DPoP": good})
    assert issued.status_code == 200 and issued.json()["token_type"] == "DPoP", issued.text
    claims = verified(issued.json()["access_token"], await jwks(http), audience="https://api.acme.test/models/helios")
    assert claims["cnf"] == {"jkt": key.thumbprint()}
    replayed = await post_token(http, {"grant_type": "client_credentials"}, headers={**auth, "DPoP": good})
    assert replayed.status_code == 400 and "used before" in replayed.json()["error_description"]
    assert await token_count(world, high_tier.client) == 1
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=high_tier.client.model_id, name="edge")
    answer = (await introspect(http, gateway, issued.json()["access_token"])).json()
    assert answer["active"] is True and answer["token_type"] == "DPoP" and answer["cnf"] == {"jkt": key.thumbprint()}


@pytest.fixture
async def gateway(world, credentials):
    issued = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge gateway")
    return issued


async def introspect(http, gateway, token: str):
    return await http.post("/oauth/introspect", data={"token": token, "token_type_hint": "access_token"},
                           headers=basic(gateway.client.client_id, gateway.secret))  # fmt: skip


async def test_introspection_tells_the_gateway_what_is_active_now(http, world, credentials, live_grant, gateway, clock):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cluster")
    token = (await post_token(http, {"grant_type": "client_credentials"},
                              headers=basic(issued.client.client_id, issued.secret))).json()["access_token"]  # fmt: skip
    active = await introspect(http, gateway, token)
    assert active.status_code == 200 and active.headers["cache-control"] == "no-store"
    body = active.json()
    assert body["active"] is True and body["client_id"] == issued.client.client_id and body["token_type"] == "Bearer"
    assert body["scope"] == "model:atlas:invoke" and body["aud"] == "https://api.acme.test/models/atlas"
    for garbage in ("nonsense", "a.b.c", token[:-4] + "AAAA"):
        assert (await introspect(http, gateway, garbage)).json() == {"active": False}
    # No token at all is a malformed request, not an inactive token (RFC 7662 §2.1: token is REQUIRED).
    missing = await introspect(http, gateway, "")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    # Suspended or revoked after issuance: inactive at once, though the JWT itself is still unexpired.
    await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=live_grant.id, reason="incident")
    assert (await introspect(http, gateway, token)).json() == {"active": False}


async def test_introspection_says_inactive_when_expired_or_for_another_model(http, world, credentials, live_grant,
                                                                              gateway, clock):  # fmt: skip
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cluster")
    other_model = await world.new_model("nimbus")
    other_gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=other_model.id, name="other")
    token = (await post_token(http, {"grant_type": "client_credentials"},
                              headers=basic(issued.client.client_id, issued.secret))).json()["access_token"]  # fmt: skip
    assert (await introspect(http, other_gateway, token)).json() == {"active": False}
    clock.advance(timedelta(minutes=16))
    assert (await introspect(http, gateway, token)).json() == {"active": False}


async def test_only_gateway_credentials_introspect(http, world, credentials, live_grant, gateway):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cluster")
    token = (await post_token(http, {"grant_type": "client_credentials"},
                              headers=basic(issued.client.client_id, issued.secret))).json()["access_token"]  # fmt: skip
    for headers in ({}, basic(gateway.client.client_id, "wrong"), basic(issued.client.client_id, issued.secret)):
        refused = await http.post("/oauth/introspect", data={"token": token}, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client", refused.text
        assert "active" not in refused.json()


async def test_a_client_revokes_its_own_token_and_nobody_elses(http, world, credentials, live_grant, gateway):
    mine = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="mine")
    theirs = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="theirs")
    token = (await post_token(http, {"grant_type": "client_credentials"},
                              headers=basic(mine.client.client_id, mine.secret))).json()["access_token"]  # fmt: skip
    foreign = await http.post("/oauth/revoke", data={"token": token}, headers=basic(theirs.client.client_id, theirs.secret))
    assert foreign.status_code == 200 and (await introspect(http, gateway, token)).json()["active"] is True
    unknown = await http.post("/oauth/revoke", data={"token": "never-issued"},
                              headers=basic(mine.client.client_id, mine.secret))  # fmt: skip
    assert unknown.status_code == 200
    revoked = await http.post("/oauth/revoke", data={"token": token, "token_type_hint": "access_token"},
                              headers=basic(mine.client.client_id, mine.secret))  # fmt: skip
    assert revoked.status_code == 200 and (await introspect(http, gateway, token)).json() == {"active": False}
    anonymous = await http.post("/oauth/revoke", data={"token": token})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"


async def test_the_jwks_and_the_metadata_describe_the_server(http):
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == "http://127.0.0.1:8000"
    assert metadata["token_endpoint"] == TOKEN_URL and metadata["grant_types_supported"] == ["client_credentials"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                       "private_key_jwt"}  # fmt: skip
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]
    for field in ("introspection_endpoint", "revocation_endpoint", "jwks_uri"):
        assert metadata[field].startswith("http://127.0.0.1:8000/oauth/")
    keys = (await jwks(http))["keys"]
    assert len(keys) == 2 and all(k["kty"] == "EC" and k["alg"] == "ES256" and "d" not in k for k in keys)


async def test_every_answer_is_json_never_stored_and_carries_the_request_id(http, world, credentials, live_grant,
                                                                            gateway):  # fmt: skip
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cluster")
    auth, rid = basic(issued.client.client_id, issued.secret), {"X-Request-ID": "req-42"}
    issued_token = await post_token(http, {"grant_type": "client_credentials"}, headers={**auth, **rid})
    token = issued_token.json()["access_token"]
    answers = {
        "issued": issued_token,
        "refused": await post_token(http, {"grant_type": "client_credentials", "scope": "nope"}, headers={**auth, **rid}),
        "unauthenticated": await post_token(http, {"grant_type": "client_credentials"},
                                            headers={**basic(issued.client.client_id, "wrong"), **rid}),  # fmt: skip
        "active": await http.post("/oauth/introspect", data={"token": token},
                                  headers={**basic(gateway.client.client_id, gateway.secret), **rid}),  # fmt: skip
        "inactive": await http.post("/oauth/introspect", data={"token": "a.b.c"},
                                    headers={**basic(gateway.client.client_id, gateway.secret), **rid}),  # fmt: skip
        "revoked": await http.post("/oauth/revoke", data={"token": token}, headers={**auth, **rid}),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "issued": 200, "refused": 400, "unauthenticated": 401, "active": 200, "inactive": 200, "revoked": 200,
    }  # fmt: skip
    for name, answer in answers.items():
        assert answer.headers.get_list("cache-control") == ["no-store"], name
        assert answer.headers["pragma"] == "no-cache" and answer.headers["content-type"] == "application/json", name
        assert answer.headers["x-request-id"] == "req-42" and answer.headers["x-content-type-options"] == "nosniff", name
        assert int(answer.headers["content-length"]) == len(answer.content), name
    assert answers["unauthenticated"].headers["www-authenticate"].startswith('Basic error="invalid_client"')
    assert answers["revoked"].content == b"" and answers["inactive"].json() == {"active": False}
