"""The gateway's helper against accessdesk's token contract: a fake accessdesk on loopback serves its JWKS and answers
introspection; tokens and DPoP proofs are signed here with joserfc (one with PyJWT), hostile ones crafted by hand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import jwt as pyjwt
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry

from accessdesk.gateway import (
    IntrospectionFailed,
    Introspector,
    KeysUnavailable,
    Reason,
    TokenRejected,
    TokenVerifier,
    read_credentials,
)

MODEL = "https://api.acme.example/models/atlas"
GATEWAY_ID, GATEWAY_SECRET = "adk_c_gateway", "s3cret:with/odd+chars"
API_URL = "https://api.acme.example/v1/models/atlas/invoke"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gateway_check.py"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


def signing_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"})


class _Server(ThreadingHTTPServer):
    """The loopback server, with the fake it answers for."""

    accessdesk: FakeAccessdesk


class FakeAccessdesk:
    """accessdesk as a gateway meets it: ``/oauth/jwks`` and ``/oauth/introspect`` on a loopback port, and the keys
    its tokens are signed with."""

    def __init__(self) -> None:
        self.keys: list[Any] = [signing_key("k-2026-11")]
        self.jwks_hits = 0
        self.jwks_failing = False
        self.active: set[str] = set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.accessdesk = self
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "adk_c_acme", "client_id": "adk_c_acme", "aud": MODEL,
                  "scope": "model:atlas:invoke model:atlas:evaluate", "jti": secrets.token_hex(8), "iat": now,
                  "exp": now + 900, "grant_id": str(uuid.uuid4())}  # fmt: skip
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, *, key: Any = None, header: dict[str, Any] | None = None, **changes: Any) -> str:
        key = key or self.keys[0]
        alg = "EdDSA" if isinstance(key, OKPKey) else "ES256"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc warns that RFC 9864 deprecates the name EdDSA
            return jwt.encode({"alg": alg, "typ": "at+jwt", "kid": key.kid, **(header or {})},
                              self.claims(**changes), key, algorithms=[alg])  # fmt: skip

    def verifier(self, **options: Any) -> TokenVerifier:
        return TokenVerifier(issuer=self.issuer, audience=MODEL, **options)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def accessdesk(self) -> FakeAccessdesk:
        assert isinstance(self.server, _Server)
        return self.server.accessdesk

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        accessdesk = self.accessdesk
        if self.path != "/oauth/jwks":
            return self._answer(404, {})
        accessdesk.jwks_hits += 1
        if accessdesk.jwks_failing:
            return self._answer(503, {})
        self._answer(200, {"keys": [key.as_dict(private=False) for key in accessdesk.keys]})

    def do_POST(self) -> None:
        accessdesk = self.accessdesk
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        client_id, _, secret = base64.b64decode(encoded or "").decode().partition(":")
        if self.path != "/oauth/introspect" or scheme != "Basic" or form.get("token_type_hint") != ["access_token"]:
            return self._answer(400, {"error": "invalid_request"})
        if (unquote(client_id), unquote(secret)) != (GATEWAY_ID, GATEWAY_SECRET):
            return self._answer(401, {"error": "invalid_client"})
        token = form["token"][0]
        if token not in accessdesk.active:
            return self._answer(200, {"active": False})
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        self._answer(200, {"active": True, "token_type": "DPoP" if "cnf" in claims else "Bearer", **claims})


@pytest.fixture
def accessdesk() -> Iterator[FakeAccessdesk]:
    fake = FakeAccessdesk()
    yield fake
    fake.close()


def refusal(verifier: TokenVerifier, token: str, **options: Any) -> TokenRejected:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token, **options)
    return caught.value


# --- Accepted ---


def test_an_es256_bearer_token_verifies_against_the_published_jwks(accessdesk):
    verifier = accessdesk.verifier()
    token = accessdesk.token(grant_id="6f1c2d7e-0000-4000-8000-000000000001")

    presented = read_credentials(authorization=f"Bearer {token}", dpop=None)
    verified = verifier.verify(presented.token, action="invoke")

    assert verified.client_id == "adk_c_acme"
    assert verified.grant_id == "6f1c2d7e-0000-4000-8000-000000000001"
    assert verified.scopes == {"model:atlas:invoke", "model:atlas:evaluate"}
    assert verified.expires_at == datetime.fromtimestamp(verified.claims["exp"], UTC)
    assert not verified.dpop_bound
    verifier.verify(accessdesk.token(), action="evaluate")
    assert accessdesk.jwks_hits == 1  # fetched once, then from memory


def test_an_eddsa_token_verifies(accessdesk):
    ed25519 = OKPKey.generate_key("Ed25519", parameters={"kid": "k-ed", "use": "sig"})
    accessdesk.keys.append(ed25519)
    assert accessdesk.verifier().verify(accessdesk.token(key=ed25519), action="invoke").client_id == "adk_c_acme"


async def test_averify_fetches_the_jwks_with_an_async_client(accessdesk):
    async with httpx.AsyncClient() as http:
        verifier = accessdesk.verifier(http=http)
        verified = await verifier.averify(accessdesk.token(), action="invoke", model_slug="atlas")
    assert verified.client_id == "adk_c_acme"
    assert accessdesk.jwks_hits == 1


def test_a_token_signed_with_pyjwt_verifies(accessdesk):
    pem = accessdesk.keys[0].as_pem(private=True)
    token = pyjwt.encode(
        accessdesk.claims(), pem, algorithm="ES256", headers={"typ": "at+jwt", "kid": accessdesk.keys[0].kid}
    )
    assert accessdesk.verifier().verify(token).client_id == "adk_c_acme"


def test_a_list_audience_and_the_media_type_spelling_of_typ_are_accepted(accessdesk):
    token = accessdesk.token(aud=["https://other.example", MODEL], header={"typ": "application/AT+JWT"})
    assert accessdesk.verifier().verify(token).claims["aud"] == ["https://other.example", MODEL]


def test_leeway_absorbs_clock_skew_and_no_more(accessdesk):
    verifier = accessdesk.verifier(leeway=30)
    token = accessdesk.token(iat=1_800_000_000, nbf=1_800_000_000, exp=1_800_000_900)

    verifier.verify(token, now=datetime.fromtimestamp(1_800_000_000 - 29, UTC))
    verifier.verify(token, now=datetime.fromtimestamp(1_800_000_900 + 29, UTC))
    assert refusal(verifier, token, now=datetime.fromtimestamp(1_800_000_000 - 31, UTC)).reason is Reason.NOT_YET_VALID
    assert refusal(verifier, token, now=datetime.fromtimestamp(1_800_000_900 + 30, UTC)).reason is Reason.EXPIRED


def test_a_naive_now_is_a_programming_error(accessdesk):
    with pytest.raises(ValueError):
        accessdesk.verifier().verify(accessdesk.token(), now=datetime(2026, 12, 1, 12))


def test_a_static_jwks_needs_no_network():
    key = signing_key("k-static")
    verifier = TokenVerifier(issuer="https://accessdesk.example", audience=MODEL,
                             jwks={"keys": [key.as_dict(private=False)]})  # fmt: skip
    now = int(time.time())
    claims = {"iss": "https://accessdesk.example", "sub": "c", "client_id": "c", "aud": MODEL, "jti": "j",
              "scope": "model:atlas:invoke", "iat": now, "exp": now + 60, "grant_id": "g"}  # fmt: skip
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "k-static"}, claims, key, algorithms=["ES256"])
    assert verifier.jwks_uri is None
    assert verifier.verify(token, action="invoke").grant_id == "g"


# --- Refused ---


def test_alg_none_is_refused(accessdesk):
    token = compact({"alg": "none", "typ": "at+jwt", "kid": accessdesk.keys[0].kid}, accessdesk.claims())
    assert refusal(accessdesk.verifier(), token).reason is Reason.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize("encoding", ["pem", "jwk-json"])
def test_hs256_signed_with_the_public_key_is_refused(accessdesk, encoding):
    public = accessdesk.keys[0]
    secret = public.as_pem(private=False) if encoding == "pem" else json.dumps(public.as_dict(private=False)).encode()
    header, claims = {"alg": "HS256", "typ": "at+jwt", "kid": public.kid}, accessdesk.claims()
    signing_input = compact(header, claims).rsplit(".", 1)[0]
    token = f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"
    assert refusal(accessdesk.verifier(), token).reason is Reason.ALGORITHM_NOT_ALLOWED


def test_an_allowlist_with_symmetric_algorithms_or_none_is_refused_at_construction():
    for algorithms in (["ES256", "HS256"], ["none"], []):
        with pytest.raises(ValueError):
            TokenVerifier(issuer="https://accessdesk.example", audience=MODEL, algorithms=algorithms)


IN_TEN_MINUTES = object()


@pytest.mark.parametrize(
    ("changes", "header", "reason"),
    [
        ({"aud": "https://api.acme.example/models/zephyr"}, {}, Reason.WRONG_AUDIENCE),
        ({"aud": ["https://api.acme.example/models/zephyr"]}, {}, Reason.WRONG_AUDIENCE),
        ({"iss": "https://evil.example"}, {}, Reason.WRONG_ISSUER),
        ({"iat": 1_700_000_000, "exp": 1_700_000_900}, {}, Reason.EXPIRED),
        ({"nbf": IN_TEN_MINUTES}, {}, Reason.NOT_YET_VALID),
        ({"iat": IN_TEN_MINUTES}, {}, Reason.NOT_YET_VALID),
        ({}, {"typ": "JWT"}, Reason.WRONG_TYPE),
        ({"grant_id": None}, {}, Reason.MALFORMED),
        ({"exp": "tomorrow"}, {}, Reason.MALFORMED),
        ({"cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}, {}, Reason.MALFORMED),
    ],
    ids=[
        "aud",
        "aud-list",
        "iss",
        "expired",
        "nbf",
        "iat-future",
        "typ-JWT",
        "no-grant_id",
        "exp-string",
        "mtls-bound",
    ],  # fmt: skip
)
def test_a_well_signed_token_with_wrong_contents_is_refused(accessdesk, changes, header, reason):
    # "In ten minutes" is taken when the test runs, not when it is collected: a slow run must not turn it stale.
    changes = {k: int(time.time()) + 600 if v is IN_TEN_MINUTES else v for k, v in changes.items()}
    token = accessdesk.token(header=header, **changes)
    assert refusal(accessdesk.verifier(), token).reason is reason


def test_a_token_without_typ_is_refused(accessdesk):
    key = accessdesk.keys[0]
    token = jwt.encode(
        {"alg": "ES256", "kid": key.kid}, accessdesk.claims(), key, algorithms=["ES256"], default_type=None
    )
    assert refusal(accessdesk.verifier(), token).reason is Reason.WRONG_TYPE


def test_a_tampered_payload_is_refused(accessdesk):
    header, _, signature = accessdesk.token().split(".")
    widened = b64(json.dumps(accessdesk.claims(scope="model:atlas:invoke model:atlas:finetune")).encode())
    assert refusal(accessdesk.verifier(), f"{header}.{widened}.{signature}").reason is Reason.INVALID_SIGNATURE


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(accessdesk):
    impostor = signing_key(accessdesk.keys[0].kid)
    assert refusal(accessdesk.verifier(), accessdesk.token(key=impostor)).reason is Reason.INVALID_SIGNATURE


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "a.b", "\u00e9.\u00e9.\u00e9"])
def test_what_is_not_a_jws_is_refused_as_malformed(accessdesk, token):
    assert refusal(accessdesk.verifier(), token).reason is Reason.MALFORMED
    assert accessdesk.jwks_hits == 0


def test_a_critical_header_extension_is_refused_even_one_joserfc_knows(accessdesk):
    key = accessdesk.keys[0]
    header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid, "b64": True, "crit": ["b64"]}
    signing_input = compact(header, accessdesk.claims()).rsplit(".", 1)[0]
    token = f"{signing_input}.{b64(JWSRegistry.algorithms['ES256'].sign(signing_input.encode(), key))}"
    assert refusal(accessdesk.verifier(), token).reason is Reason.MALFORMED


# --- Keys and rotation ---


def test_an_unknown_kid_refetches_once_then_is_refused_and_refetching_is_rate_limited(accessdesk):
    verifier = accessdesk.verifier(refetch_interval=0.3)
    verifier.verify(accessdesk.token())
    stranger = signing_key("k-unknown")
    assert refusal(verifier, accessdesk.token(key=stranger)).reason is Reason.UNKNOWN_KEY
    assert accessdesk.jwks_hits == 1  # the JWKS fetched a moment ago is fresh enough

    time.sleep(0.35)

    assert refusal(verifier, accessdesk.token(key=stranger)).reason is Reason.UNKNOWN_KEY
    assert accessdesk.jwks_hits == 2
    for _ in range(5):
        assert refusal(verifier, accessdesk.token(key=stranger)).reason is Reason.UNKNOWN_KEY
    assert accessdesk.jwks_hits == 2  # made-up kids do not turn into a flood of fetches

    time.sleep(0.35)
    assert refusal(verifier, accessdesk.token(key=stranger)).reason is Reason.UNKNOWN_KEY
    assert accessdesk.jwks_hits == 3


def test_a_rotated_key_is_picked_up_when_its_first_token_arrives(accessdesk):
    verifier = accessdesk.verifier(refetch_interval=0)
    verifier.verify(accessdesk.token())
    upcoming = signing_key("k-2026-12")
    accessdesk.keys.append(upcoming)  # published before it signs

    assert verifier.verify(accessdesk.token(key=upcoming)).client_id == "adk_c_acme"
    assert verifier.verify(accessdesk.token()).client_id == "adk_c_acme"  # the old key still verifies its tokens
    assert accessdesk.jwks_hits == 2


def test_a_withdrawn_key_stops_verifying_once_the_jwks_is_old(accessdesk):
    verifier = accessdesk.verifier(jwks_max_age=0, refetch_interval=0)
    old = accessdesk.keys[0]
    verifier.verify(accessdesk.token())
    accessdesk.keys = [signing_key("k-new")]

    assert refusal(verifier, accessdesk.token(key=old)).reason is Reason.UNKNOWN_KEY


def test_without_any_keys_the_gateway_is_told_keys_are_unavailable(accessdesk):
    accessdesk.jwks_failing = True
    verifier = accessdesk.verifier()
    with pytest.raises(KeysUnavailable):
        verifier.refresh()
    with pytest.raises(KeysUnavailable):
        verifier.verify(accessdesk.token())


def test_known_keys_keep_working_while_the_jwks_cannot_be_fetched(accessdesk):
    verifier = accessdesk.verifier(jwks_max_age=0, refetch_interval=0)
    verifier.refresh()
    accessdesk.jwks_failing = True

    assert verifier.verify(accessdesk.token()).client_id == "adk_c_acme"
    assert accessdesk.jwks_hits == 2


# --- Scope ---


def test_an_action_outside_the_token_s_scopes_is_refused_with_403_and_the_scope_needed(accessdesk):
    token = accessdesk.token(scope="model:atlas:invoke")
    refused = refusal(accessdesk.verifier(), token, action="finetune")

    assert refused.reason is Reason.INSUFFICIENT_SCOPE
    assert refused.status_code == 403
    assert refused.www_authenticate() == (
        'Bearer error="insufficient_scope", error_description="the token lacks model:atlas:finetune", '
        'scope="model:atlas:finetune"'
    )


def test_the_model_slug_given_must_be_the_one_scoped(accessdesk):
    verifier = accessdesk.verifier()
    token = accessdesk.token(scope="model:atlas:invoke")
    assert verifier.verify(token, action="invoke", model_slug="atlas")
    assert refusal(verifier, token, action="invoke", model_slug="zephyr").reason is Reason.INSUFFICIENT_SCOPE


def test_scopes_naming_several_models_need_the_slug_given(accessdesk):
    token = accessdesk.token(scope="model:atlas:invoke model:zephyr:invoke")
    assert refusal(accessdesk.verifier(), token, action="invoke").reason is Reason.INSUFFICIENT_SCOPE
    assert accessdesk.verifier().verify(token, action="invoke", model_slug="atlas")


# --- DPoP ---


class Client:
    """A grantee's client holding a DPoP key."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")

    def proof(self, token: str, *, htm: str = "POST", htu: str = API_URL, **changes: Any) -> str:
        claims = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(time.time()),
                  "ath": b64(hashlib.sha256(token.encode()).digest())}  # fmt: skip
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        header.update(changes.pop("header", {}))
        claims.update(changes)
        return jwt.encode(header, claims, self.key, algorithms=["ES256"])


@pytest.fixture
def client() -> Client:
    return Client()


def dpop_request(verifier: TokenVerifier, token: str, proof: str | None, **options: Any) -> Any:
    presented = read_credentials(authorization=f"DPoP {token}" if proof else f"Bearer {token}", dpop=proof)
    options = {"http_method": "POST", "http_url": API_URL, **options}
    return verifier.verify(presented.token, dpop_proof=presented.dpop_proof, action="invoke", **options)


def test_a_dpop_bound_token_with_its_proof_verifies(accessdesk, client):
    token = accessdesk.token(cnf={"jkt": client.key.thumbprint()})
    verified = dpop_request(accessdesk.verifier(), token, client.proof(token),
                            http_url=API_URL + "?stream=true#part")  # fmt: skip
    assert verified.dpop_bound


def test_htu_is_compared_without_query_default_port_or_case_in_scheme_and_host(accessdesk, client):
    token = accessdesk.token(cnf={"jkt": client.key.thumbprint()})
    proof = client.proof(token, htu="HTTPS://API.acme.example:443/v1/models/atlas/invoke?x=1")
    assert dpop_request(accessdesk.verifier(), token, proof).dpop_bound


def test_a_dpop_bound_token_presented_as_bearer_is_refused(accessdesk, client):
    token = accessdesk.token(cnf={"jkt": client.key.thumbprint()})
    presented = read_credentials(authorization=f"Bearer {token}", dpop=client.proof(token))
    refused = refusal(accessdesk.verifier(), presented.token, dpop_proof=presented.dpop_proof)

    assert refused.reason is Reason.DPOP_REQUIRED
    assert refused.www_authenticate().startswith('DPoP error="invalid_token"')


def a_proof_from_another_client(token: str, client: Client) -> str:
    return Client().proof(token)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (
            lambda token, client: client.proof(token, htu="https://api.acme.example/v1/models/atlas/evaluate"),
            Reason.DPOP_INVALID,
        ),
        (
            lambda token, client: client.proof(token, htu="https://api.evil.example/v1/models/atlas/invoke"),
            Reason.DPOP_INVALID,
        ),
        (lambda token, client: client.proof(token, htm="GET"), Reason.DPOP_INVALID),
        (
            lambda token, client: client.proof(token, ath=b64(hashlib.sha256(b"another token").digest())),
            Reason.DPOP_INVALID,
        ),
        (lambda token, client: client.proof(token, ath=None), Reason.DPOP_INVALID),
        (lambda token, client: client.proof(token, jti=None), Reason.DPOP_INVALID),
        (a_proof_from_another_client, Reason.DPOP_INVALID),
        (lambda token, client: client.proof(token, iat=int(time.time()) - 600), Reason.DPOP_INVALID),
        (lambda token, client: client.proof(token, iat=int(time.time()) + 600), Reason.DPOP_INVALID),
        (lambda token, client: client.proof(token, header={"typ": "JWT"}), Reason.DPOP_INVALID),
        (
            lambda token, client: client.proof(token, header={"jwk": client.key.as_dict(private=True)}),
            Reason.DPOP_INVALID,
        ),
        (
            lambda token, client: client.proof(token, header={"jwk": Client().key.as_dict(private=False)}),
            Reason.DPOP_INVALID,
        ),
        (
            lambda token, client: compact(
                {"typ": "dpop+jwt", "alg": "none", "jwk": client.key.as_dict(private=False)},
                {"jti": "x", "htm": "POST", "htu": API_URL, "iat": int(time.time())},
            ),
            Reason.DPOP_INVALID,
        ),
    ],
    ids=[
        "htu-path",
        "htu-host",
        "htm",
        "ath",
        "no-ath",
        "no-jti",
        "other-key",
        "stale",
        "future",
        "typ",
        "private-jwk",
        "jwk-not-signer",
        "alg-none",
    ],  # fmt: skip
)
def test_a_wrong_dpop_proof_is_refused(accessdesk, client, forge, reason):
    token = accessdesk.token(cnf={"jkt": client.key.thumbprint()})
    refused = refusal(accessdesk.verifier(), token, dpop_proof=forge(token, client), http_method="POST",
                      http_url=API_URL)  # fmt: skip
    assert refused.reason is reason
    assert refused.www_authenticate().startswith('DPoP error="invalid_dpop_proof"')


def test_a_replayed_dpop_proof_is_refused(accessdesk, client):
    verifier = accessdesk.verifier()
    token = accessdesk.token(cnf={"jkt": client.key.thumbprint()})
    proof = client.proof(token)
    dpop_request(verifier, token, proof)

    with pytest.raises(TokenRejected) as caught:
        dpop_request(verifier, token, proof)
    assert caught.value.reason is Reason.DPOP_REPLAYED


def test_a_proof_with_an_unbound_token_is_refused(accessdesk, client):
    token = accessdesk.token()
    with pytest.raises(TokenRejected) as caught:
        dpop_request(accessdesk.verifier(), token, client.proof(token))
    assert caught.value.reason is Reason.DPOP_INVALID


def test_any_refusal_under_the_dpop_scheme_is_a_dpop_challenge(accessdesk, client):
    token = accessdesk.token(cnf={"jkt": client.key.thumbprint()}, aud="https://elsewhere.example")
    with pytest.raises(TokenRejected) as caught:
        dpop_request(accessdesk.verifier(), token, client.proof(token))
    assert caught.value.reason is Reason.WRONG_AUDIENCE
    assert caught.value.www_authenticate().startswith('DPoP error="invalid_token"')


# --- Reading the request, answering it ---


def test_a_request_without_a_token_gets_a_bare_challenge():
    for authorization in (None, "", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer"):
        with pytest.raises(TokenRejected) as caught:
            read_credentials(authorization=authorization, dpop=None)
        assert caught.value.reason is Reason.MISSING_TOKEN
        assert caught.value.status_code == 401
        assert caught.value.www_authenticate(realm="acme") == 'Bearer realm="acme"'


def test_the_dpop_scheme_needs_exactly_one_proof():
    for dpop in (None, "a.b.c, d.e.f"):
        with pytest.raises(TokenRejected) as caught:
            read_credentials(authorization="DPoP a.b.c", dpop=dpop)
        assert caught.value.reason is Reason.DPOP_INVALID


def test_challenges_never_carry_quotes_or_control_characters_from_a_token(accessdesk):
    token = accessdesk.token(iss='https://evil.example/"\r\nSet-Cookie: x=1\\')
    challenge = refusal(accessdesk.verifier(), token).www_authenticate()
    assert challenge.count('"') == 4
    assert "\r" not in challenge and "\n" not in challenge and "\\" not in challenge


# --- Introspection ---


def introspector(accessdesk: FakeAccessdesk, **options: Any) -> Introspector:
    options = {"client_id": GATEWAY_ID, "client_secret": GATEWAY_SECRET, **options}
    return Introspector(introspection_uri=f"{accessdesk.issuer}/oauth/introspect", **options)


def test_introspection_says_active_with_the_claims_or_inactive(accessdesk):
    live, revoked = accessdesk.token(), accessdesk.token()
    accessdesk.active.add(live)

    answer = introspector(accessdesk).introspect(live)

    assert answer["active"] is True
    assert (answer["aud"], answer["token_type"], answer["client_id"]) == (MODEL, "Bearer", "adk_c_acme")
    assert introspector(accessdesk).introspect(revoked) == {"active": False}


async def test_async_introspection(accessdesk):
    token = accessdesk.token()
    accessdesk.active.add(token)
    async with httpx.AsyncClient() as http:
        assert (await introspector(accessdesk, http=http).aintrospect(token))["active"] is True
    assert await introspector(accessdesk).aintrospect(accessdesk.token()) == {"active": False}


def test_introspection_with_a_wrong_gateway_secret_fails_loudly(accessdesk):
    with pytest.raises(IntrospectionFailed) as caught:
        introspector(accessdesk, client_secret="wrong").introspect(accessdesk.token())
    assert caught.value.status_code == 401


def test_an_unreachable_introspection_endpoint_fails_loudly():
    with pytest.raises(IntrospectionFailed):
        Introspector(introspection_uri="http://127.0.0.1:9/oauth/introspect", client_id="a",
                     client_secret="b").introspect("t")  # fmt: skip


# --- The example ---


def test_the_example_checks_a_token_both_ways(accessdesk):
    token = accessdesk.token(scope="model:atlas:invoke")
    accessdesk.active.add(token)

    def example(action: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(EXAMPLE), "--issuer", accessdesk.issuer, "--audience", MODEL, "--token", token,
                   "--action", action, "--introspect", "--client-id", GATEWAY_ID, "--client-secret", GATEWAY_SECRET]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    accepted, refused = example("invoke"), example("finetune")

    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "local:      accepted: client adk_c_acme" in accepted.stdout
    assert "introspect: active" in accepted.stdout
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refused (insufficient_scope)" in refused.stdout
