"""Copy-paste examples for a credential just shown: getting a token (client secret, private_key_jwt, DPoP) and,
for a gateway credential, checking one.

The examples are built here rather than in the template so that every value is quoted for its language (a key's
kid is typed by the client): shlex.quote for the shell, JSON for Python (a JSON string or object is a valid Python
literal)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from accessdesk.db.tables import FrontierModel, OAuthClient
from accessdesk.domain.vocabulary import Tier
from accessdesk.oauth.presented import ASSERTION_TYPE


@dataclass(frozen=True, slots=True)
class Example:
    title: str
    code: str


@dataclass(frozen=True, slots=True)
class Target:
    """What the examples talk to and with."""

    issuer: str
    client: OAuthClient
    secret: str | None
    model: FrontierModel
    scope: str

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/oauth/token"

    @property
    def dpop(self) -> bool:
        return self.model.tier == Tier.HIGH

    @property
    def key(self) -> dict[str, Any]:
        """The first registered public key (``private_key_jwt``)."""
        return (self.client.jwks or {"keys": [{}]})["keys"][0]

    @property
    def alg(self) -> str:
        """The algorithm to sign client assertions with that key."""
        key = self.key
        if isinstance(key.get("alg"), str):
            return str(key["alg"])
        if key.get("kty") == "EC":
            return {"P-384": "ES384", "P-521": "ES512"}.get(str(key.get("crv")), "ES256")
        return "EdDSA" if key.get("kty") == "OKP" else "RS256"


def _py(value: Any) -> str:
    return "None" if value is None else json.dumps(value)


def _exports(target: Target, *, prefix: str = "ACCESSDESK_CLIENT") -> str:
    lines = [f"export {prefix}_ID={shlex.quote(target.client.client_id)}"]
    if target.secret is not None:
        lines.append(f"export {prefix}_SECRET={shlex.quote(target.secret)}")
    return "\n".join(lines)


def token_examples(target: Target) -> list[Example]:
    """How the grantee gets an access token with this credential: curl, then Python."""
    if target.secret is None:
        return [_assertion_curl(target), _dpop_python(target) if target.dpop else _private_key_jwt_python(target)]
    return [_secret_curl(target), _dpop_python(target) if target.dpop else _secret_python(target)]


def _secret_curl(target: Target) -> Example:
    dpop = ' \\\n  -H "DPoP: $DPOP_PROOF"' if target.dpop else ""
    use = ("# A DPoP proof is made for each request (the Python example shows how); the token is bound to its key.\n"
           if target.dpop else "")  # fmt: skip
    return Example("curl (client_secret_basic)", (
        f"{_exports(target)}\n{use}"
        f'curl -sS -u "$ACCESSDESK_CLIENT_ID:$ACCESSDESK_CLIENT_SECRET"{dpop} \\\n'
        f"  -d grant_type=client_credentials --data-urlencode {shlex.quote('scope=' + target.scope)} \\\n"
        f"  {shlex.quote(target.token_url)}"
    ))  # fmt: skip


def _assertion_curl(target: Target) -> Example:
    dpop = ' \\\n  -H "DPoP: $DPOP_PROOF"' if target.dpop else ""
    return Example("curl (private_key_jwt)", (
        "# $CLIENT_ASSERTION: a JWT you sign with your private key for each request (the Python example makes one):\n"
        f"# iss and sub {target.client.client_id}, aud {target.token_url}, a unique jti, exp at most an hour away.\n"
        f'curl -sS{dpop} \\\n'
        f"  -d grant_type=client_credentials --data-urlencode {shlex.quote('scope=' + target.scope)} \\\n"
        f"  -d client_assertion_type={ASSERTION_TYPE} \\\n"
        f'  --data-urlencode "client_assertion=$CLIENT_ASSERTION" \\\n'
        f"  {shlex.quote(target.token_url)}"
    ))  # fmt: skip


def _secret_python(target: Target) -> Example:
    return Example("Python (Authlib)", f'''\
import os

from authlib.integrations.httpx_client import OAuth2Client

TOKEN_URL = {_py(target.token_url)}

client = OAuth2Client(
    os.environ["ACCESSDESK_CLIENT_ID"],
    os.environ["ACCESSDESK_CLIENT_SECRET"],
    token_endpoint_auth_method="client_secret_basic",
    scope={_py(target.scope)},
)
token = client.fetch_token(TOKEN_URL, grant_type="client_credentials")
# Send token["access_token"] to the model's API as "Authorization: Bearer <access_token>".
# It expires after token["expires_in"] seconds: fetch a new one then (there is no refresh token).''')


def _private_key_jwt_python(target: Target) -> Example:
    return Example("Python (Authlib, private_key_jwt)", f'''\
import json

from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import import_key

TOKEN_URL = {_py(target.token_url)}

# The private half of the key you registered, as a JWK; keep it out of source control.
with open("accessdesk-private-key.json") as file:
    private_key = import_key(json.load(file))

client = OAuth2Client(
    {_py(target.client.client_id)},
    private_key,
    token_endpoint_auth_method="private_key_jwt",
    scope={_py(target.scope)},
)
client.register_client_auth_method(PrivateKeyJWT(TOKEN_URL, alg={_py(target.alg)}, headers={_py(_kid(target))}))
token = client.fetch_token(TOKEN_URL, grant_type="client_credentials")
# Send token["access_token"] to the model's API as "Authorization: Bearer <access_token>".''')


def _kid(target: Target) -> dict[str, str] | None:
    """The JWS header naming the registered key, for servers to pick it among several."""
    return {"kid": str(target.key["kid"])} if target.key.get("kid") else None


def _dpop_python(target: Target) -> Example:
    if target.secret is not None:
        imports, setup = "import os\n", ""
        auth = '    auth=(os.environ["ACCESSDESK_CLIENT_ID"], os.environ["ACCESSDESK_CLIENT_SECRET"]),  # client_secret_basic\n'
        assertion = ""
    else:
        imports = "import json\n"
        assertion_header = {"alg": target.alg, **(_kid(target) or {})}
        setup = f'''
CLIENT_ID = {_py(target.client.client_id)}
# The private half of the key you registered, as a JWK; keep it out of source control.
with open("accessdesk-private-key.json") as file:
    client_key = import_key(json.load(file))


def client_assertion() -> str:
    """private_key_jwt: proves who you are, for one request."""
    now = int(time.time())
    claims = {{"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": TOKEN_URL, "iat": now, "exp": now + 60,
              "jti": secrets.token_urlsafe(16)}}
    return jwt.encode({_py(assertion_header)}, claims, client_key, algorithms=[{_py(target.alg)}])

'''
        auth = ""
        assertion = f'        "client_assertion_type": {_py(ASSERTION_TYPE)},\n        "client_assertion": client_assertion(),\n'
    return Example("Python (httpx and joserfc, with DPoP)", f'''\
import base64
import hashlib
{imports}import secrets
import time

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey{", import_key" if target.secret is None else ""}

TOKEN_URL = {_py(target.token_url)}
# {target.model.name} requires DPoP: the token is bound to this key. Keep it as long as you use the token.
dpop_key = ECKey.generate_key("P-256")
{setup}

def dpop_proof(method: str, url: str, access_token: str | None = None) -> str:
    """A proof for one request (RFC 9449): made now, with its own jti."""
    claims = {{"htm": method, "htu": url, "jti": secrets.token_urlsafe(16), "iat": int(time.time())}}
    if access_token is not None:  # calls to the model's API also prove which token they carry
        digest = hashlib.sha256(access_token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    header = {{"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.as_dict(private=False)}}
    return jwt.encode(header, claims, dpop_key)


response = httpx.post(
    TOKEN_URL,
{auth}    data={{
        "grant_type": "client_credentials",
        "scope": {_py(target.scope)},
{assertion}    }},
    headers={{"DPoP": dpop_proof("POST", TOKEN_URL)}},
)
response.raise_for_status()
access_token = response.json()["access_token"]  # token_type "DPoP"

# Each call to the model's API carries the token and a new proof for that very call, for example:
# headers = {{"Authorization": f"DPoP {{access_token}}", "DPoP": dpop_proof("POST", api_url, access_token)}}''')


def gateway_examples(target: Target) -> list[Example]:
    """How the developer's gateway asks accessdesk about a token with this credential."""
    introspect = f"{target.issuer}/oauth/introspect"
    return [
        Example("curl (introspection, RFC 7662)", (
            f"{_exports(target, prefix='ACCESSDESK_GATEWAY')}\n"
            f'curl -sS -u "$ACCESSDESK_GATEWAY_ID:$ACCESSDESK_GATEWAY_SECRET" \\\n'
            f'  --data-urlencode "token=$ACCESS_TOKEN" -d token_type_hint=access_token \\\n'
            f"  {shlex.quote(introspect)}\n"
            f'# {{"active": false}}, or {{"active": true, "aud": ..., "scope": ..., ...}}: check that aud is {target.model.resource}'
        )),
        Example("Python (accessdesk.gateway)", f'''\
import os

from accessdesk.gateway import Introspector, TokenRejected, TokenVerifier

# Locally on every request: signature (JWKS), issuer, audience, lifetime, scope and any DPoP proof.
verifier = TokenVerifier(issuer={_py(target.issuer)}, audience={_py(target.model.resource)})
# By asking accessdesk: also sees grants and credentials revoked or suspended since the token was issued.
introspector = Introspector(
    introspection_uri={_py(introspect)},
    client_id=os.environ["ACCESSDESK_GATEWAY_ID"],
    client_secret=os.environ["ACCESSDESK_GATEWAY_SECRET"],
)


def check(token: str, *, action: str, dpop_proof: str | None, method: str, url: str) -> bool:
    try:
        verifier.verify(token, action=action, dpop_proof=dpop_proof, http_method=method, http_url=url)
    except TokenRejected:
        return False
    answer = introspector.introspect(token)
    return answer["active"] and answer.get("aud") == {_py(target.model.resource)}'''),
    ]
