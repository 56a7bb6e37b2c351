"""The gateway helper shipped in the package, against tokens the real authorization server issued: fetched JWKS,
Bearer and DPoP-bound tokens, the model action's scope, and introspection with the gateway credential."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import timedelta

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey

from accessdesk.domain.grants import Grants
from accessdesk.domain.vocabulary import Tier
from accessdesk.gateway import Introspector, Reason, TokenRejected, TokenVerifier
from tests.support.api import commit_world_first
from tests.support.oauth import ISSUER, TOKEN_URL, basic, post_token, real_now, transport

ATLAS = "https://api.acme.test/models/atlas"


def dpop(key: ECKey, *, htm: str, htu: str, token: str | None = None) -> str:
    claims = {"htm": htm, "htu": htu, "jti": secrets.token_urlsafe(16), "iat": int(time.time())}
    if token is not None:
        claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    return jose_jwt.encode({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}, claims, key)


async def test_the_gateway_helper_accepts_our_tokens_and_sees_revocation_only_by_introspection(
    app, http, world, credentials, live_grant
):  # fmt: skip
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="cluster")
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    token = (await post_token(http, {"grant_type": "client_credentials"},
                              headers=basic(issued.client.client_id, issued.secret))).json()["access_token"]  # fmt: skip
    async with commit_world_first(httpx.AsyncClient(transport=transport(app)), world) as client:
        verifier = TokenVerifier(issuer=ISSUER, audience=ATLAS, http=client)
        checked = await verifier.averify(token, action="invoke")
        assert checked.client_id == issued.client.client_id and checked.grant_id == str(live_grant.id)
        with pytest.raises(TokenRejected) as refused:
            await verifier.averify(token, action="fine_tune")
        assert refused.value.reason == Reason.INSUFFICIENT_SCOPE
        with pytest.raises(TokenRejected) as wrong_model:
            await TokenVerifier(issuer=ISSUER, audience="https://api.acme.test/models/nimbus", http=client).averify(token)
        assert wrong_model.value.reason == Reason.WRONG_AUDIENCE

        introspector = Introspector(introspection_uri=f"{ISSUER}/oauth/introspect", client_id=gateway.client.client_id,
                                    client_secret=gateway.secret, http=client)  # fmt: skip
        assert (await introspector.aintrospect(token))["active"] is True
        await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=live_grant.id, reason="incident")
        assert (await introspector.aintrospect(token))["active"] is False  # at once
        assert (await verifier.averify(token, action="invoke")).client_id  # locally: valid until exp, as documented


async def test_the_gateway_helper_checks_dpop_bound_tokens(app, http, world, clock, credentials):
    helios = await world.new_model("helios", tier=Tier.HIGH)
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1), model=helios)
    clock.set(real_now())
    issued = await credentials.create(actor=world.gov_admin, grant_id=grant.id, name="bound")
    key = ECKey.generate_key("P-256", private=True)
    response = await post_token(http, {"grant_type": "client_credentials"},
                                headers={**basic(issued.client.client_id, issued.secret),
                                         "DPoP": dpop(key, htm="POST", htu=TOKEN_URL)})  # fmt: skip
    token = response.json()["access_token"]
    api_url = "https://api.acme.test/models/helios/v1/generate"
    async with commit_world_first(httpx.AsyncClient(transport=transport(app)), world) as client:
        verifier = TokenVerifier(issuer=ISSUER, audience="https://api.acme.test/models/helios", http=client)
        proof = dpop(key, htm="POST", htu=api_url, token=token)
        assert (await verifier.averify(token, action="invoke", dpop_proof=proof, http_method="POST",
                                       http_url=api_url)).dpop_bound  # fmt: skip
        with pytest.raises(TokenRejected) as stolen:  # the token without the key that holds it
            await verifier.averify(token, action="invoke")
        assert stolen.value.reason == Reason.DPOP_REQUIRED
