"""Authlib's authorization server, fitted to accessdesk.

Authlib runs the protocol: parsing the token request, client authentication (``client_secret_basic``,
``client_secret_post``, ``private_key_jwt``), the ``client_credentials`` grant, scopes, the RFC 6749 error
responses. Authlib is synchronous and our database is not, so everything it will ask for is read *before* it runs
(the client, its live secrets, its model, whether its grant is usable now, a verified DPoP proof) and handed to it
in a :class:`TokenContext`; what must be written because of it (the assertion's ``jti``, the count of tokens) is
written after it answered, before the answer leaves.

There is one :class:`Server` per process (building Authlib's registries cost about 3 µs a request). A request's
context travels on its ``OAuth2Request`` and, for the Authlib hooks that are not given the request (``query_client``,
the assertion's claim checks), in a context variable set only while Authlib runs for that request.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError, InvalidScopeError, OAuth2Error
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from accessdesk.crypto import Signer
from accessdesk.domain.credentials import (
    PRIVATE_KEY_JWT,
    SECRET_METHODS,
    ClientRecord,
    dpop_required,
    issuance_problems,
)
from accessdesk.domain.grants import Usability
from accessdesk.gateway import allowlist
from accessdesk.oauth.dpop import DpopProof
from accessdesk.oauth.presented import shown

ACCESS_TOKEN_TYPE = "at+jwt"
ENDPOINT_PATHS = ("/oauth/token", "/oauth/introspect", "/oauth/revoke")
ASSERTION_ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256", "RS256")  # Ed25519: RFC 9864
_ASSERTION_REGISTRY = allowlist(ASSERTION_ALGORITHMS, strict_headers=True)
# A private_key_jwt assertion is made for one request and used once (its jti is remembered until it expires). It
# may claim to live at most an hour (common clients, Authlib's among them, default to that) and, when it says when
# it was made, must have been made in the last five minutes.
LONGEST_ASSERTION_SECONDS = 3600
OLDEST_ASSERTION_SECONDS = 300


_running: ContextVar[TokenContext] = ContextVar("accessdesk_oauth_request")


def _context() -> TokenContext:
    """The context of the request Authlib is running for."""
    return _running.get()


class InvalidDpopProofError(OAuth2Error):
    """RFC 9449 §7: the DPoP proof is missing where required, or invalid."""

    error = "invalid_dpop_proof"


@dataclass
class TokenContext:
    """What one token request needs, read beforehand, and what it leaves to be written afterwards."""

    record: ClientRecord | None
    usability: Usability | None
    dpop: DpopProof | None
    dpop_problem: str | None
    signer: Signer | None  # only the token endpoint signs
    now: datetime
    ttl_seconds: int
    pepper: bytes
    issuer: str
    token_endpoint: str
    auth_method: str | None = None  # how the client authenticated, once it has
    assertion_jti: tuple[str, int] | None = None  # (jti, exp) of the private_key_jwt assertion used
    issued_jti: str | None = None
    expires_at: int | None = None
    claims: dict[str, Any] = field(default_factory=dict)


def refused(error: OAuth2Error) -> tuple[int, Any, list[tuple[str, str]]]:
    """An error as every OAuth endpoint answers it (status, body, headers). ``invalid_client`` is always 401 with
    ``WWW-Authenticate``: RFC 6749 §5.2 requires it when the client tried HTTP Basic and allows it otherwise, and
    one status however the client tried means a client never learns which check refused it."""
    if isinstance(error, InvalidClientError):
        error.status_code = 401
    return error()


class ContextRequest(OAuth2Request):
    """Authlib's request as :meth:`Server.create_oauth2_request` makes it: with its form, and the token request's
    context."""

    payload: BasicOAuth2Payload
    _body: dict[str, str]  # Authlib's, which its client authentication reads as request.form
    accessdesk: TokenContext


class Client(ClientMixin):
    """An accessdesk OAuth client as Authlib sees it."""

    def __init__(self, context: TokenContext) -> None:
        assert context.record is not None
        self.context = context
        self.record = context.record

    def get_client_id(self) -> str:
        return self.record.client.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return self.record.secret_matches(self.context.pepper, client_secret, at=self.context.now)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.client.auth_method == PRIVATE_KEY_JWT:
            return method == PRIVATE_KEY_JWT
        return method in SECRET_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials" and self.record.client.kind == "grant"

    # Authlib hands over the requested scope as one string (its own example splits it); types-authlib widens it.
    def get_allowed_scope(self, scope: str) -> str:  # type: ignore[override]
        allowed = self.context.usability.scopes if self.context.usability else ()
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def get_default_redirect_uri(self) -> str:
        return ""

    def check_response_type(self, response_type: str) -> bool:
        return False


class PrivateKeyJwt(JWTBearerClientAssertion):
    """``private_key_jwt`` (RFC 7523 §2.2): the assertion is signed with a key the client registered, is addressed
    to us, lives briefly, and its ``jti`` is used once (recorded after Authlib answers; see TokenContext)."""

    # types-authlib declares it Final; Authlib reads self.CLIENT_AUTH_METHOD, for a subclass to name its method.
    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT  # type: ignore[misc]

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=30)

    def get_audiences(self) -> list[str]:
        # RFC 7523 §3: the authorization server; clients name it by its issuer or by the endpoint they call.
        issuer = _context().issuer
        return [issuer, *(f"{issuer}{path}" for path in ENDPOINT_PATHS)]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        registered = client.record.client.jwks
        if client.record.client.auth_method != PRIVATE_KEY_JWT or registered is None:
            # Checked here, before any key is looked for: a secret-based client has none to verify against.
            raise InvalidClientError(description="this client authenticates with a client secret, not "
                                     "private_key_jwt")  # fmt: skip
        return _registered_keys(registered)

    def verify_claims(self, claims: jwt.Claims) -> None:
        super().verify_claims(claims)
        now = _context().now.timestamp()
        expires, issued = claims.get("exp"), claims.get("iat")
        if not isinstance(expires, int | float) or expires - now > LONGEST_ASSERTION_SECONDS + self.leeway:
            raise InvalidClientError(description=f"the client assertion may live at most {LONGEST_ASSERTION_SECONDS} s")
        if issued is not None and (not isinstance(issued, int | float) or now - issued > OLDEST_ASSERTION_SECONDS):
            raise InvalidClientError(description=f"the client assertion was made more than {OLDEST_ASSERTION_SECONDS} s "
                                     "ago; make a new one for each request")  # fmt: skip

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> jwt.Claims:
        # joserfc's default list leaves out algorithms it does not recommend (EdDSA among them); a client may sign
        # with any asymmetric algorithm the metadata announces.
        try:
            token = jwt.decode(assertion, resolve_key, registry=_ASSERTION_REGISTRY)
        except JoseError as exc:  # its description may repeat what the assertion's header says
            raise InvalidClientError(description=shown(exc.description or exc.error, longest=200)) from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: jwt.Claims, jti: str) -> bool:
        if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
            return False
        _context().assertion_jti = (jti, int(claims["exp"]))
        return True


@functools.lru_cache(maxsize=256)
def _registered_keys(jwks: str) -> KeySet:
    """A client's registered public keys (a JWK set, as canonical JSON), parsed once: a private_key_jwt client signs
    every request with the same keys, and parsing them cost about 20 µs each time."""
    return KeySet.import_key_set(json.loads(jwks))


class ModelAccessGrant(ClientCredentialsGrant):
    """``client_credentials``, for a credential of a grant: scopes within the grant, a token only while the grant is
    usable, bound to a DPoP key when one is proven (required for high-tier models), never outliving the window."""

    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, PRIVATE_KEY_JWT]

    @property
    def oauth_request(self) -> ContextRequest:
        assert isinstance(self.request, ContextRequest)
        return self.request

    @property
    def context(self) -> TokenContext:
        return self.oauth_request.accessdesk

    def validate_token_request(self) -> None:
        super().validate_token_request()  # authenticates the client first: nothing below is told to strangers
        context = self.context
        record = context.record
        assert record is not None
        usability = context.usability
        assert usability is not None
        for code, words in issuance_problems(record, usability):
            if code == "credential_revoked":
                raise InvalidClientError(description=words, status_code=401)
            raise InvalidGrantError(description=words)
        if context.dpop_problem is not None:
            raise InvalidDpopProofError(description=context.dpop_problem)
        if context.dpop is None and dpop_required(record.model):
            raise InvalidDpopProofError(description="this model requires DPoP-bound tokens: send a DPoP proof")

    def validate_requested_scope(self) -> None:
        requested = (self.oauth_request.payload.scope or "").split()
        usability = self.context.usability
        assert usability is not None
        allowed = set(usability.scopes)
        excess = [s for s in requested if s not in allowed]
        if excess:
            raise InvalidScopeError(description=f"not granted: {shown(' '.join(excess))}; this grant allows "
                                    f"{' '.join(sorted(allowed))}")  # fmt: skip

    def generate_token(
        self, user: Any = None, scope: str | None = None, grant_type: str | None = None, expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, str | int]:  # fmt: skip
        context = self.context
        record, usability = context.record, context.usability
        assert record is not None and usability is not None
        scopes = (scope or "").split() or list(usability.scopes)
        now = int(context.now.timestamp())
        # The shorter of the configured lifetime and what is left of the window: a token never outlives the grant.
        expires = min(now + context.ttl_seconds, int(usability.ends_at.timestamp()))
        jti = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {
            "iss": context.issuer, "sub": record.client.client_id, "client_id": record.client.client_id,
            "aud": record.model.resource, "scope": " ".join(scopes), "jti": jti, "iat": now, "exp": expires,
            "grant_id": str(usability.grant_id),
        }  # fmt: skip
        if context.dpop is not None:
            claims["cnf"] = {"jkt": context.dpop.jkt}
        assert context.signer is not None
        context.issued_jti, context.expires_at, context.claims = jti, expires, claims
        return {
            "access_token": context.signer.sign(claims, typ=ACCESS_TOKEN_TYPE),
            "token_type": "DPoP" if context.dpop is not None else "Bearer",
            "expires_in": expires - now,
            "scope": " ".join(scopes),
        }


class Server(AuthorizationServer):
    """One per process (see the module's docstring); each request's context is handed to :meth:`token_response`
    or :meth:`authenticate`."""

    def __init__(self) -> None:
        super().__init__()
        self.register_grant(ModelAccessGrant)
        self.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJwt())

    def token_response(
        self, context: TokenContext, headers: Mapping[str, str], form: dict[str, str]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        """The token endpoint's answer (status, body, headers), Authlib's errors included."""
        running = _running.set(context)
        try:
            return self.create_token_response(("POST", headers, form))
        finally:
            _running.reset(running)

    def authenticate(
        self, context: TokenContext, headers: Mapping[str, str], form: dict[str, str], *, methods: list[str],
        endpoint: str,
    ) -> Client:  # fmt: skip
        """The client that sent the request, authenticated with one of ``methods``, or InvalidClientError."""
        running = _running.set(context)
        try:
            oauth_request = self.create_oauth2_request(("POST", headers, form))
            client = self.authenticate_client(oauth_request, methods, endpoint=endpoint)
            assert isinstance(client, Client)  # query_client's
        finally:
            _running.reset(running)
        context.auth_method = oauth_request.auth_method
        return client

    # Authlib answers invalid_client when this returns None; types-authlib does not let it.
    def query_client(self, client_id: str) -> Client | None:  # type: ignore[override]
        context = _context()
        record = context.record
        if record is None or record.client.client_id != client_id:
            return None
        return Client(context)

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> tuple[int, Any, list[tuple[str, str]]]:
        return self.handle_response(*refused(error))

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Tokens are self-contained JWTs: nothing to store (issuances are counted by the endpoint)."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: tuple[str, Mapping[str, str], dict[str, str]]) -> ContextRequest:
        method, headers, form = request
        context = _context()
        oauth_request = ContextRequest(method, context.token_endpoint, headers=headers)
        oauth_request.payload = BasicOAuth2Payload(form)
        oauth_request._body = form  # Authlib's client authentication reads request.form
        oauth_request.accessdesk = context
        return oauth_request

    def handle_response(
        self, status: int, body: Any,
        # Authlib hands over a list of pairs (its errors' headers, its JSON headers); types-authlib says a mapping.
        headers: list[tuple[str, str]],  # type: ignore[override]
    ) -> tuple[int, Any, list[tuple[str, str]]]:  # fmt: skip
        return status, body, headers
