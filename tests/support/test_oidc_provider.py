"""The OIDC provider fixture works end to end with a client library we did not write: Authlib does the
authorization-code flow with PKCE (S256) against panva's oidc-provider, and joserfc checks the ID token."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.oidc import OidcProvider, OidcProviders

REDIRECT_URI = "http://127.0.0.1:9/auth/callback"  # never requested: login_with_http stops at the redirect


def new_client(provider: OidcProvider, auth_method: str = "client_secret_basic") -> tuple[str, str]:
    client_id, client_secret = f"rp-{secrets.token_hex(4)}", secrets.token_urlsafe(32)
    provider.register_client(client_id, client_secret, [REDIRECT_URI], token_endpoint_auth_method=auth_method)
    return client_id, client_secret


def verified_id_token(provider: OidcProvider, id_token: str, client_id: str, nonce: str) -> dict[str, Any]:
    token = jwt.decode(id_token, KeySet.import_key_set(provider.jwks()), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    return token.claims


def sign_in(provider: OidcProvider, login: str, client_id: str, client_secret: str,
            auth_method: str = "client_secret_basic") -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """The whole flow as a relying party does it; returns (ID token claims, userinfo)."""
    metadata = provider.metadata
    with OAuth2Client(client_id, client_secret, scope="openid email", redirect_uri=REDIRECT_URI,
                      code_challenge_method="S256", token_endpoint_auth_method=auth_method) as client:  # fmt: skip
        code_verifier, nonce = generate_token(48), generate_token(20)
        authorize_url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
        )
        assert parse_qs(urlsplit(authorize_url).query)["code_challenge_method"] == ["S256"]

        callback = provider.login_with_http(authorize_url, login)

        assert callback.startswith(REDIRECT_URI + "?")
        params = parse_qs(urlsplit(callback).query)
        assert params["state"] == [state]
        assert params["iss"] == [provider.issuer]  # RFC 9207
        token = client.fetch_token(metadata["token_endpoint"], authorization_response=callback, state=state,
                                   code_verifier=code_verifier)  # fmt: skip
        claims = verified_id_token(provider, token["id_token"], client_id, nonce)
        userinfo = client.get(metadata["userinfo_endpoint"])
        userinfo.raise_for_status()
        return claims, userinfo.json()


def test_authorization_code_flow_with_pkce_signs_in_a_verified_email(oidc_provider: OidcProvider) -> None:
    assert oidc_provider.issuer.startswith("http://127.0.0.1:")
    assert oidc_provider.metadata["issuer"] == oidc_provider.issuer
    assert oidc_provider.metadata["code_challenge_methods_supported"] == ["S256"]
    client_id, client_secret = new_client(oidc_provider)

    claims, userinfo = sign_in(oidc_provider, "hal@oais.example", client_id, client_secret)

    assert claims["sub"] == "hal@oais.example"
    assert "email" not in claims  # conformIdTokenClaims: scope claims come from userinfo
    assert userinfo == {"sub": "hal@oais.example", "email": "hal@oais.example", "email_verified": True}


def test_an_unverified_account_says_so(oidc_provider: OidcProvider) -> None:
    client_id, client_secret = new_client(oidc_provider)

    claims, userinfo = sign_in(oidc_provider, "unverified+hal@oais.example", client_id, client_secret)

    assert claims["sub"] == "unverified+hal@oais.example"
    assert userinfo == {"sub": "unverified+hal@oais.example", "email": "hal@oais.example", "email_verified": False}


async def test_client_secret_post_without_blocking_the_event_loop(oidc_provider: OidcProvider) -> None:
    client_id, client_secret = new_client(oidc_provider, "client_secret_post")
    metadata = oidc_provider.metadata
    async with AsyncOAuth2Client(client_id, client_secret, scope="openid email", redirect_uri=REDIRECT_URI,
                                 code_challenge_method="S256", token_endpoint_auth_method="client_secret_post") as client:  # fmt: skip
        code_verifier, nonce = generate_token(48), generate_token(20)
        authorize_url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
        )
        callback = await oidc_provider.alogin_with_http(authorize_url, "ada@oais.example")
        token = await client.fetch_token(metadata["token_endpoint"], authorization_response=callback, state=state,
                                         code_verifier=code_verifier)  # fmt: skip
        assert verified_id_token(oidc_provider, token["id_token"], client_id, nonce)["sub"] == "ada@oais.example"
        userinfo = (await client.get(metadata["userinfo_endpoint"])).json()
    assert userinfo["email"] == "ada@oais.example" and userinfo["email_verified"] is True


def test_claims_in_the_id_token_on_request_and_clients_known_from_the_start(oidc_providers: OidcProviders) -> None:
    client: dict[str, Any] = {"client_id": "static-rp", "client_secret": "static-secret-" + "x" * 20, "redirect_uris": [REDIRECT_URI]}
    provider = oidc_providers.start(clients=[client], id_token_claims=True)

    claims, _ = sign_in(provider, "hal@oais.example", client["client_id"], client["client_secret"])

    assert claims["email"] == "hal@oais.example" and claims["email_verified"] is True


def test_pkce_is_required(oidc_provider: OidcProvider) -> None:
    client_id, client_secret = new_client(oidc_provider)
    with OAuth2Client(client_id, client_secret, scope="openid email", redirect_uri=REDIRECT_URI) as client:
        authorize_url, _ = client.create_authorization_url(oidc_provider.metadata["authorization_endpoint"])

    callback = oidc_provider.login_with_http(authorize_url, "hal@oais.example")

    params = parse_qs(urlsplit(callback).query)
    assert params["error"] == ["invalid_request"]
    assert "PKCE" in params["error_description"][0]


def test_a_wrong_code_verifier_is_refused(oidc_provider: OidcProvider) -> None:
    client_id, client_secret = new_client(oidc_provider)
    metadata = oidc_provider.metadata
    with OAuth2Client(client_id, client_secret, scope="openid email", redirect_uri=REDIRECT_URI,
                      code_challenge_method="S256") as client:  # fmt: skip
        authorize_url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=generate_token(48), nonce=generate_token(20)
        )
        callback = oidc_provider.login_with_http(authorize_url, "hal@oais.example")
        with pytest.raises(OAuthError, match="invalid_grant"):
            client.fetch_token(metadata["token_endpoint"], authorization_response=callback, state=state,
                               code_verifier=generate_token(48))  # fmt: skip
