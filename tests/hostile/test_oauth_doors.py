"""Hostile and malformed requests at the OAuth endpoints (token, introspection, revocation), as one table: each row
is a request no client should send, with the status and RFC 6749 error it must get. Every answer is a JSON error
that no one may store (``no-store``), whose ``error_description`` keeps to the characters RFC 6749 §5.2 allows and
to a bounded length whatever was sent; ``invalid_client`` is always 401 with ``WWW-Authenticate``; nothing is
issued, counted or written, and no traceback reaches the log.

One world and one app per database serve the whole table; a row that fails is reported with every other that
fails, by name."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from joserfc.jwk import ECKey

from accessdesk.clock import FrozenClock
from tests.support.oauth import assertion, basic, proof, real_time_clock

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"
RFC_6749_DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
LONGEST_DESCRIPTION = 400
MEGABYTE = 1_000_000


@pytest.fixture
def clock() -> FrozenClock:
    """As in tests/oauth: two hours before the real time, which ``live_grant`` brings the clock to."""
    return real_time_clock()


@dataclass(frozen=True)
class Door:
    name: str
    path: str
    status: int
    error: str
    data: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWS-shaped string with any header and claims, and a signature of nothing."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.c2lnbmF0dXJl"


def doors(ids: dict[str, Any]) -> list[Door]:
    client_id, secret, gateway_auth = ids["client_id"], ids["secret"], ids["gateway_auth"]
    auth = basic(client_id, secret)
    form = {**auth, "Content-Type": FORM}
    grant = {"grant_type": "client_credentials"}
    signed = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": ids["assertion"]}
    token, introspect, revoke = "/oauth/token", "/oauth/introspect", "/oauth/revoke"
    return [
        # the body itself
        Door("an empty body", token, 400, "invalid_request", content=b"", headers=form),
        Door("a form of only ampersands", token, 400, "invalid_request", content=b"&&&", headers=form),
        Door("grant_type without a value", token, 400, "invalid_request", data={"grant_type": ""}, headers=auth),
        Door("JSON instead of a form", token, 400, "invalid_request", content=json.dumps(grant).encode(),
             headers={**auth, "Content-Type": "application/json"}),
        Door("a repeated parameter", token, 400, "invalid_request",
             content=b"grant_type=client_credentials&grant_type=client_credentials", headers=form),
        Door('a repeated parameter whose name has " and NUL', token, 400, "invalid_request",
             content=b"a%22%00b=1&a%22%00b=2&grant_type=client_credentials", headers=form),
        Door("invalid UTF-8 in the body", token, 400, "unsupported_grant_type",
             content=b"grant_type=client_\xff\xfecredentials", headers=form),
        Door("an unknown grant_type", token, 400, "unsupported_grant_type", data={"grant_type": "password"},
             headers=auth),
        Door('a grant_type with " and \\', token, 400, "unsupported_grant_type", data={"grant_type": 'a"b\\c'},
             headers=auth),
        # scopes echoed back (finding 2)
        Door('a scope with "', token, 400, "invalid_scope", data={**grant, "scope": 'model:"atlas":invoke'},
             headers=auth),
        Door("a scope with NUL", token, 400, "invalid_scope", data={**grant, "scope": "model:atlas\x00:invoke"},
             headers=auth),
        Door("a non-ASCII scope", token, 400, "invalid_scope", data={**grant, "scope": "modèle:atlas:invoke"},
             headers=auth),
        Door("a scope with a newline and a fake header", token, 400, "invalid_scope",
             data={**grant, "scope": "x\r\nSet-Cookie: stolen=1"}, headers=auth),
        Door("a one-megabyte scope", token, 400, "invalid_scope", data={**grant, "scope": "s" * MEGABYTE},
             headers=auth),
        Door("a hundred thousand scopes", token, 400, "invalid_scope",
             data={**grant, "scope": " ".join(f"model:x{i}:invoke" for i in range(100_000))}, headers=auth),
        # two ways of authenticating at once (finding 4)
        Door("Basic and client_secret in the body", token, 400, "invalid_request",
             data={**grant, "client_id": client_id, "client_secret": secret}, headers=auth),
        Door("Basic and another client_id in the body", token, 400, "invalid_request",
             data={**grant, "client_id": "adk_c_someone_else"}, headers=auth),
        Door("Basic and a client assertion", token, 400, "invalid_request", data={**grant, **signed}, headers=auth),
        Door("client_secret_post and a client assertion", token, 400, "invalid_request",
             data={**grant, **signed, "client_secret": secret, "client_id": client_id}),
        Door("a client assertion and another client_id", token, 400, "invalid_request",
             data={**grant, **signed, "client_id": "adk_c_someone_else"}),
        Door("two at introspection", introspect, 400, "invalid_request",
             data={"token": "x", "client_id": "adk_c_gw", "client_secret": "s"}, headers=gateway_auth),
        Door("two at revocation", revoke, 400, "invalid_request",
             data={"token": "x", "client_secret": secret}, headers=auth),
        # who is calling (invalid_client: always 401)
        Door("no client authentication", token, 401, "invalid_client", data=grant),
        Door("an unknown client", token, 401, "invalid_client", data=grant, headers=basic("adk_c_nobody", "s")),
        Door("a wrong secret in Basic", token, 401, "invalid_client", data=grant, headers=basic(client_id, "no")),
        Door("a wrong secret in the body", token, 401, "invalid_client",
             data={**grant, "client_id": client_id, "client_secret": "no"}),
        Door("Basic that is not base64", token, 401, "invalid_client", data=grant,
             headers={"Authorization": "Basic !!!not base64!!!"}),
        Door("Basic that is not UTF-8", token, 401, "invalid_client", data=grant,
             headers={"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()}),
        Door("a 64 kB client id", token, 401, "invalid_client", data=grant, headers=basic("c" * 65_536, "s")),
        Door("a client id with CR LF", token, 401, "invalid_client", data=grant,
             headers=basic("adk_c_x\r\nX-Evil: 1", "s")),
        Door("an assertion naming a secret-based client (finding 3)", token, 401, "invalid_client",
             data={**grant, "client_assertion_type": ASSERTION_TYPE, "client_assertion": ids["foreign_assertion"]}),
        Door('an assertion whose alg has "', token, 401, "invalid_client",
             data={**grant, "client_assertion_type": ASSERTION_TYPE,
                   "client_assertion": unsigned({"alg": 'x"y\\z\u00e9'}, {"sub": client_id, "iss": client_id})}),
        Door("an assertion with alg none", token, 401, "invalid_client",
             data={**grant, "client_assertion_type": ASSERTION_TYPE,
                   "client_assertion": unsigned({"alg": "none"}, {"sub": ids["signed_client_id"]})}),
        Door("an assertion that is not a JWT", token, 401, "invalid_client",
             data={**grant, "client_assertion_type": ASSERTION_TYPE, "client_assertion": "a.b.c"}),
        Door("an assertion whose sub is a number", token, 401, "invalid_client",
             data={**grant, "client_assertion_type": ASSERTION_TYPE, "client_assertion": unsigned({"alg": "ES256"},
                                                                                                   {"sub": 7})}),
        Door("a grant credential at introspection", introspect, 401, "invalid_client", data={"token": "x"},
             headers=auth),
        Door("a wrong secret at revocation", revoke, 401, "invalid_client", data={"token": "x"},
             headers=basic(client_id, "no")),
        Door("an assertion naming a secret-based client at revocation", revoke, 401, "invalid_client",
             data={"token": "x", "client_assertion_type": ASSERTION_TYPE,
                   "client_assertion": ids["foreign_assertion"]}),
        # what is asked about
        Door("introspection without a token", introspect, 400, "invalid_request", data={}, headers=gateway_auth),
        Door("revocation without a token", revoke, 400, "invalid_request", data={}, headers=auth),
        # proofs
        Door("a DPoP header that is not a proof", token, 400, "invalid_dpop_proof", data=grant,
             headers={**auth, "DPoP": "not.a.proof"}),
        Door('a DPoP proof whose typ has "', token, 400, "invalid_dpop_proof", data=grant,
             headers={**auth, "DPoP": unsigned({"typ": 'dpop"+jwt', "alg": "ES256"}, {})}),
        Door("a DPoP proof for another server", token, 400, "invalid_dpop_proof", data=grant,
             headers={**auth, "DPoP": ids["stray_proof"]}),
    ]  # fmt: skip


async def test_every_hostile_oauth_request_is_an_rfc_error_and_changes_nothing(http, world, credentials, live_grant,
                                                                                unchanged):  # fmt: skip
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="partner cluster")
    private = ECKey.generate_key("P-256", private=True)
    signed = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="signed",
                                      jwks={"keys": [{**private.as_dict(private=False), "kid": "k1"}]})  # fmt: skip
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="edge")
    attacker = ECKey.generate_key("P-256", private=True)
    ids = {"client_id": issued.client.client_id, "secret": issued.secret,
           "gateway_auth": basic(gateway.client.client_id, gateway.secret),
           "signed_client_id": signed.client.client_id, "assertion": assertion(signed.client.client_id, private),
           # a well-formed assertion, signed by someone's key, naming a client that has a secret and no keys
           "foreign_assertion": assertion(issued.client.client_id, attacker),
           "stray_proof": proof(attacker, htu="https://elsewhere.example/oauth/token")}  # fmt: skip
    # The first token ever issued makes the signing keys: issued before the table, which must write nothing.
    warm = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
    assert warm.status_code == 200, warm.text
    table = doors(ids)
    wrong: list[str] = []
    async with unchanged():
        for door in table:
            response = await http.post(door.path, data=door.data, content=door.content, headers=door.headers)
            wrong.extend(f"{door.name}: {problem}" for problem in misfits(response, door))
    assert not wrong, "\n".join(wrong)
    assert len(table) >= 40


def misfits(response: Any, door: Door) -> list[str]:
    """What is wrong with the answer to ``door`` (nothing, when it is the RFC error the row expects)."""
    if response.status_code >= 500:
        return [f"server error {response.status_code}: {response.text[:200]}"]
    found = []
    if response.status_code != door.status:
        found.append(f"status {response.status_code}, expected {door.status}: {response.text[:200]}")
    if response.headers.get("cache-control") != "no-store":
        found.append(f"Cache-Control {response.headers.get('cache-control')!r}, expected no-store")
    try:
        body = response.json()
    except ValueError:
        return [*found, f"not JSON: {response.text[:200]!r}"]
    if body.get("error") != door.error:
        found.append(f"error {body.get('error')!r}, expected {door.error!r}: {body}")
    if "access_token" in body:
        found.append("a token was issued")
    description = body.get("error_description", "")
    if not RFC_6749_DESCRIPTION.fullmatch(description) or len(description) > LONGEST_DESCRIPTION:
        found.append(f"error_description outside RFC 6749 §5.2 or too long ({len(description)}): {description[:120]!r}")
    if door.error == "invalid_client" and not response.headers.get("www-authenticate", "").startswith("Basic "):
        found.append("invalid_client without WWW-Authenticate")
    return found


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
async def test_a_body_over_the_limit_is_an_rfc_error_too(http, endpoint):
    """Litestar refuses a body over its limit before the handler runs: still the RFC shape, still not stored."""
    response = await http.post(endpoint, content=b"a=" + b"x" * 20 * MEGABYTE, headers={"Content-Type": FORM})
    assert response.status_code == 413, response.text
    assert response.headers["cache-control"] == "no-store" and response.json()["error"] == "invalid_request"


async def test_a_scope_is_echoed_only_in_part_and_only_in_what_the_rfc_allows(http, credentials, world, live_grant):
    issued = await credentials.create(actor=world.gov_admin, grant_id=live_grant.id, name="echo")
    refused = await http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                    "scope": 'model:"atlas":invoke\x00' + "é" * 200},
                              headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    description = refused.json()["error_description"]
    assert description.startswith("not granted: model:?atlas?:invoke?") and "..." in description
    assert "model:atlas:invoke" in description  # what the grant does allow is still said
