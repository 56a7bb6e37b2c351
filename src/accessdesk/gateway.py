"""Checking accessdesk's access tokens at an AI developer's API gateway.

accessdesk issues JWT access tokens (RFC 9068): signed ES256 (EdDSA is accepted too), aimed at one model's resource
URI (``aud``), carrying scopes ``model:<slug>:<action>``, and sometimes bound to the client's key with DPoP (RFC 9449).
A gateway can check them two ways, and the difference matters:

- **Locally**, with :class:`TokenVerifier`: the signature against accessdesk's JWKS, then type, issuer, audience,
  lifetime, scope and any DPoP proof. No round trip per request. It cannot know what happened after issuance: a
  grant revoked or suspended, a token revoked by its client. Such a token keeps passing until its ``exp`` -- at most
  15 minutes with accessdesk's defaults.
- **By asking accessdesk**, with :class:`Introspector` (RFC 7662) and the gateway credential issued for the model.
  Revocation shows at once; each check costs a round trip, and accessdesk's availability becomes the gateway's.

A common mix: verify locally on every request, and introspect as well before expensive or sensitive actions.

This module imports only the standard library, joserfc and httpx, so a gateway can use it without the rest of
accessdesk. A framework-free ASGI middleware using it::

    from accessdesk.gateway import KeysUnavailable, TokenRejected, TokenVerifier, read_credentials

    verifier = TokenVerifier(issuer="https://accessdesk.example", audience="https://api.acme.example/models/atlas")

    def require_token(app, *, action, public_origin="https://api.acme.example"):
        async def middleware(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)

            def header(name):  # repeated fields joined, as HTTP does: two DPoP proofs are then refused
                return ", ".join(v.decode("latin-1") for k, v in scope["headers"] if k == name) or None

            async def answer(status, headers=()):
                await send({"type": "http.response.start", "status": status, "headers": list(headers)})
                await send({"type": "http.response.body", "body": b""})

            try:
                presented = read_credentials(authorization=header(b"authorization"), dpop=header(b"dpop"))
                # The URL the client signed in its DPoP proof: the public one, not the one behind the proxy.
                scope.setdefault("state", {})["token"] = await verifier.averify(
                    presented.token, dpop_proof=presented.dpop_proof, action=action,
                    http_method=scope["method"], http_url=public_origin + scope["path"])
            except TokenRejected as refusal:
                return await answer(refusal.status_code, [(b"www-authenticate", refusal.www_authenticate().encode())])
            except KeysUnavailable:
                return await answer(503)
            return await app(scope, receive, send)
        return middleware
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import JWKRegistry, Key
from joserfc.jws import CompactSignature, JWSRegistry, extract_compact, validate_compact

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "Ed448",
                                   "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"})  # fmt: skip
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS = ("iss", "sub", "client_id", "aud", "scope", "jti", "iat", "exp", "grant_id")
PRIVATE_KEY_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 6750 §3: what may stand inside a challenge's quoted values.
UNQUOTABLE = re.compile(r'[^\x20-\x7e]|["\\]')


class Reason(StrEnum):
    """Why a token was refused: a stable code for logs, metrics and tests."""

    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    DPOP_INVALID = "dpop_invalid"
    DPOP_REPLAYED = "dpop_replayed"
    DPOP_REQUIRED = "dpop_required"
    EXPIRED = "expired"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    INVALID_SIGNATURE = "invalid_signature"
    MALFORMED = "malformed"
    MISSING_TOKEN = "missing_token"
    NOT_YET_VALID = "not_yet_valid"
    UNKNOWN_KEY = "unknown_key"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_TYPE = "wrong_type"


class TokenRejected(Exception):
    """The request's credentials do not allow it. ``status_code`` and :meth:`www_authenticate` give the answer to
    send (RFC 6750 §3, RFC 9449 §7.1); ``reason`` says why, for logs."""

    def __init__(self, reason: Reason, message: str, *, scheme: str | None = None, scope: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.scheme = scheme or ("DPoP" if reason.startswith("dpop_") else "Bearer")
        self.scope = scope

    @property
    def status_code(self) -> int:
        return 403 if self.reason is Reason.INSUFFICIENT_SCOPE else 401

    def www_authenticate(self, *, realm: str | None = None) -> str:
        """The ``WWW-Authenticate`` challenge for this refusal, its values restricted to the characters RFC 6750
        allows (messages can quote attacker-chosen text)."""
        params = {"realm": realm}
        if self.reason is not Reason.MISSING_TOKEN:
            params["error"] = {
                Reason.INSUFFICIENT_SCOPE: "insufficient_scope",
                Reason.DPOP_INVALID: "invalid_dpop_proof",
                Reason.DPOP_REPLAYED: "invalid_dpop_proof",
            }.get(self.reason, "invalid_token")
            params["error_description"] = self.message
            params["scope"] = self.scope
        quoted = ", ".join(f'{name}="{UNQUOTABLE.sub("", value)}"' for name, value in params.items() if value)
        return f"{self.scheme} {quoted}".rstrip()


class KeysUnavailable(Exception):
    """accessdesk's JWKS could not be fetched and no keys are known: answer 503, the token may well be good."""


class IntrospectionFailed(Exception):
    """accessdesk did not answer an introspection request with a usable answer."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """An access token that passed every check; ``claims`` holds all of it."""

    claims: Mapping[str, Any]
    client_id: str
    grant_id: str
    scopes: frozenset[str]
    expires_at: datetime
    dpop_bound: bool


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presented: the access token and, under the ``DPoP`` scheme, the proof."""

    token: str
    dpop_proof: str | None


def read_credentials(*, authorization: str | None, dpop: str | None) -> Credentials:
    """The token of an ``Authorization: Bearer`` or ``Authorization: DPoP`` header, and the ``DPoP`` proof header
    for the latter. A proof sent along with ``Bearer`` is dropped, so a DPoP-bound token presented as a bearer
    token is refused (RFC 9449 §7.2)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in ("bearer", "dpop") or not token:
        raise TokenRejected(Reason.MISSING_TOKEN, "no Bearer or DPoP access token")
    if scheme.lower() == "bearer":
        return Credentials(token=token, dpop_proof=None)
    if not dpop or "," in dpop:
        # Several DPoP headers arrive joined by commas, and RFC 9449 §4.3 allows exactly one.
        raise TokenRejected(Reason.DPOP_INVALID, "the DPoP scheme needs exactly one DPoP proof header")
    return Credentials(token=token, dpop_proof=dpop.strip())


class SeenProofs(Protocol):
    """Where DPoP proof ids are remembered against replay. Gateways with several instances need one store shared by
    all (say Redis ``SET key 1 NX EXAT until``): a proof replayed to another instance is otherwise accepted."""

    def first_sighting(self, key: str, *, now: float, until: float) -> bool:
        """Remember ``key`` until the epoch second ``until``; True when it was not already remembered."""
        ...


class InMemorySeenProofs:
    """Proof ids remembered in this process. Entries live only as long as a proof is fresh (a minute or two), so
    memory is bounded by the request rate times that."""

    SWEEP_EVERY = 10.0

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._swept_at = 0.0
        self._lock = threading.Lock()

    def first_sighting(self, key: str, *, now: float, until: float) -> bool:
        with self._lock:
            if now - self._swept_at >= self.SWEEP_EVERY:
                self._until = {k: u for k, u in self._until.items() if u > now}
                self._swept_at = now
            if self._until.get(key, 0.0) > now:
                return False
            self._until[key] = until
            return True


class _Allowlist(JWSRegistry):
    """joserfc's registry without its SecurityWarning on every EdDSA verification (RFC 9864 deprecates the name;
    accessdesk's contract still uses it). The allowlist, checked at construction, alone decides."""

    def get_alg(self, name: str) -> Any:
        if name not in (self.allowed or ()):
            raise UnsupportedAlgorithmError(f"algorithm {name} is not allowed")
        return self.algorithms[name]


def allowlist(algorithms: Iterable[str], *, max_header_length: int = 512, strict_headers: bool = False) -> JWSRegistry:
    """A joserfc registry that accepts exactly these asymmetric algorithms (accessdesk's own verifiers use it too)."""
    allowed = tuple(algorithms)
    if not allowed or not set(allowed) <= ASYMMETRIC_ALGORITHMS:
        raise ValueError(
            f"only asymmetric signature algorithms can be allowed, not {sorted(set(allowed) - ASYMMETRIC_ALGORITHMS)}"
        )
    registry = _Allowlist(algorithms=allowed, strict_check_header=strict_headers)
    registry.max_header_length = max_header_length
    return registry


def _open(jws: str, registry: JWSRegistry, reason: Reason, what: str) -> tuple[CompactSignature, dict[str, Any]]:
    """The header and claims of a compact JWS, not yet verified; refuses what is not one, or names a disallowed
    algorithm or a critical extension (none is understood here)."""
    try:
        signed = extract_compact(jws.encode("ascii"), registry=registry)
        claims = json.loads(signed.payload)
    except (JoseError, ValueError) as error:
        raise TokenRejected(reason, f"{what} is not a compact JWS with a JSON payload") from error
    header = signed.headers()
    if not isinstance(claims, dict) or "crit" in header:
        raise TokenRejected(reason, f"{what} has no JSON object payload, or critical header extensions")
    if header["alg"] not in (registry.allowed or ()):
        raise TokenRejected(
            Reason.ALGORITHM_NOT_ALLOWED if reason is Reason.MALFORMED else reason,
            f"{what} is signed with {str(header['alg'])[:20]}, not one of {', '.join(registry.allowed or ())}",
        )
    return signed, claims


def _signed_by(signed: CompactSignature, key: Key, registry: JWSRegistry) -> bool:
    try:
        return validate_compact(signed, key, registry=registry)
    except JoseError:  # a key of another type or curve than the algorithm, or one restricted to another use
        return False


def _number(value: Any, *, reason: Reason, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected(reason, f"{name} is not a number")
    return float(value)


def _request_uri(url: str) -> str:
    """``url`` compared as RFC 9449 §4.3 asks: without query and fragment, scheme and host in lower case, the
    default port left out."""
    parts = urlsplit(url)
    scheme, host, port = parts.scheme.lower(), parts.hostname or "", parts.port
    host = f"[{host}]" if ":" in host else host
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def _model_scope(scopes: frozenset[str], *, action: str, model_slug: str | None) -> str:
    """The scope that allows ``action``: ``model:<slug>:<action>``, the slug given or else the one model the
    token's scopes name."""
    if model_slug is None:
        slugs = {scope.split(":")[1] for scope in scopes if scope.startswith("model:") and scope.count(":") == 2}
        if len(slugs) != 1:
            raise TokenRejected(Reason.INSUFFICIENT_SCOPE, f"the token's scopes name {len(slugs)} models, not one",
                                scope=f"model:<slug>:{action}")  # fmt: skip
        model_slug = slugs.pop()
    return f"model:{model_slug}:{action}"


def _send(http: httpx.Client | httpx.AsyncClient | None, request: httpx.Request, *, timeout: float) -> httpx.Response:
    if http is None:
        with httpx.Client(timeout=timeout) as client:
            return client.send(request)
    if not isinstance(http, httpx.Client):
        raise TypeError("the synchronous methods need an httpx.Client; use the a… methods with an httpx.AsyncClient")
    return http.send(request)


async def _asend(
    http: httpx.Client | httpx.AsyncClient | None, request: httpx.Request, *, timeout: float
) -> httpx.Response:
    if http is None:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await client.send(request)
    if not isinstance(http, httpx.AsyncClient):
        raise TypeError("the a… methods need an httpx.AsyncClient; use the synchronous ones with an httpx.Client")
    return await http.send(request)


class TokenVerifier:
    """Verifies accessdesk access tokens for one model (``audience``) locally, against accessdesk's JWKS.

    The JWKS is fetched on first use from ``jwks_uri`` (by default ``<issuer>/oauth/jwks``; with only ``jwks``
    given, never). It is fetched again when a token names an unknown ``kid`` (accessdesk publishes the next key
    before it signs) or when older than ``jwks_max_age`` (so a withdrawn key stops being trusted), but never more
    often than every ``refetch_interval``, so that made-up ``kid``s cannot make the gateway hammer accessdesk.
    Durations are in seconds; ``leeway`` absorbs clock skew. A DPoP proof is fresh for ``dpop_max_age``; its
    ``jti`` is remembered in ``seen_proofs`` (this process's memory unless given). ``http`` is an ``httpx.Client``
    for :meth:`verify` or an ``httpx.AsyncClient`` for :meth:`averify`; without one each fetch opens its own.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_uri: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        algorithms: Iterable[str] = ("ES256", "EdDSA"),
        leeway: float = 30,
        http: httpx.Client | httpx.AsyncClient | None = None,
        refetch_interval: float = 30,
        jwks_max_age: float = 600,
        dpop_algorithms: Iterable[str] = ("ES256", "EdDSA", "PS256", "RS256"),
        dpop_max_age: float = 60,
        seen_proofs: SeenProofs | None = None,
        timeout: float = 5,
    ) -> None:
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self.jwks_uri = jwks_uri or (None if jwks is not None else issuer.rstrip("/") + "/oauth/jwks")
        self._registry = allowlist(algorithms)
        # A proof carries its public key in the header: an RSA key alone is far past joserfc's 512-byte default.
        self._proof_registry = allowlist(dpop_algorithms, max_header_length=4096)
        self._http, self._timeout = http, timeout
        self._refetch_interval, self._jwks_max_age = refetch_interval, jwks_max_age
        self._dpop_max_age = dpop_max_age
        self._seen_proofs = seen_proofs if seen_proofs is not None else InMemorySeenProofs()
        self._keys: dict[str, Key] = {}
        self._loaded_at: float | None = None
        self._tried_at: float | None = None
        if jwks is not None:
            self._install(jwks)
            self._loaded_at = time.monotonic()

    def verify(
        self,
        token: str,
        *,
        action: str | None = None,
        model_slug: str | None = None,
        dpop_proof: str | None = None,
        http_method: str | None = None,
        http_url: str | None = None,
        now: datetime | None = None,
    ) -> VerifiedToken:
        """The token's verified claims, or :class:`TokenRejected`. With ``action``, the token must carry
        ``model:<slug>:<action>``. A token bound by ``cnf.jkt`` needs ``dpop_proof`` for this ``http_method`` and
        ``http_url``; a proof given means the DPoP scheme, and an unbound token is then refused.
        :class:`KeysUnavailable` when no key could ever be loaded."""
        signed, claims = _open(token, self._registry, Reason.MALFORMED, "the access token")
        kid = self._kid(signed)
        if self._wants_fetch(kid):
            self._take(self._fetch())
        return self._check(token, signed, claims, self._key(kid), action=action, model_slug=model_slug,
                           dpop_proof=dpop_proof, http_method=http_method, http_url=http_url, now=now)  # fmt: skip

    async def averify(
        self,
        token: str,
        *,
        action: str | None = None,
        model_slug: str | None = None,
        dpop_proof: str | None = None,
        http_method: str | None = None,
        http_url: str | None = None,
        now: datetime | None = None,
    ) -> VerifiedToken:
        """:meth:`verify`, fetching the JWKS with an ``httpx.AsyncClient``."""
        signed, claims = _open(token, self._registry, Reason.MALFORMED, "the access token")
        kid = self._kid(signed)
        if self._wants_fetch(kid):
            self._take(await self._afetch())
        return self._check(token, signed, claims, self._key(kid), action=action, model_slug=model_slug,
                           dpop_proof=dpop_proof, http_method=http_method, http_url=http_url, now=now)  # fmt: skip

    def refresh(self) -> None:
        """Fetch the JWKS now (at start-up, say, to fail fast); :class:`KeysUnavailable` when that fails."""
        self._take(self._fetch(), strict=True)

    async def arefresh(self) -> None:
        """:meth:`refresh` with an ``httpx.AsyncClient``."""
        self._take(await self._afetch(), strict=True)

    def _kid(self, signed: CompactSignature) -> str:
        kid = signed.headers().get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected(Reason.UNKNOWN_KEY, "the access token names no key (kid)")
        return kid

    def _key(self, kid: str) -> Key:
        if kid not in self._keys:
            if not self._keys and self.jwks_uri is not None:
                raise KeysUnavailable(f"no usable keys from {self.jwks_uri}")
            raise TokenRejected(Reason.UNKNOWN_KEY, f"no key {kid[:64]} in accessdesk's JWKS")
        return self._keys[kid]

    def _wants_fetch(self, kid: str) -> bool:
        now = time.monotonic()
        if self.jwks_uri is None or (self._tried_at is not None and now - self._tried_at < self._refetch_interval):
            return False
        return self._loaded_at is None or kid not in self._keys or now - self._loaded_at >= self._jwks_max_age

    def _jwks_request(self) -> httpx.Request:
        # Noted before the fetch, so that neither requests arriving meanwhile nor a failing accessdesk cause more.
        self._tried_at = time.monotonic()
        return httpx.Request(
            "GET", str(self.jwks_uri), headers={"Accept": "application/jwk-set+json, application/json"}
        )

    def _fetch(self) -> httpx.Response | httpx.HTTPError:
        try:
            return _send(self._http, self._jwks_request(), timeout=self._timeout)
        except httpx.HTTPError as error:
            return error

    async def _afetch(self) -> httpx.Response | httpx.HTTPError:
        try:
            return await _asend(self._http, self._jwks_request(), timeout=self._timeout)
        except httpx.HTTPError as error:
            return error

    def _take(self, fetched: httpx.Response | httpx.HTTPError, *, strict: bool = False) -> None:
        try:
            if isinstance(fetched, httpx.HTTPError):
                raise fetched
            fetched.raise_for_status()
            self._install(fetched.json())
        except (httpx.HTTPError, ValueError) as error:
            # Keys already known keep working through an outage; only a gateway that never had any must say 503.
            if strict or not self._keys:
                raise KeysUnavailable(f"cannot load the JWKS from {self.jwks_uri}: {error}") from error
            return
        self._loaded_at = self._tried_at

    def _install(self, jwks: Mapping[str, Any]) -> None:
        entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError("a JWKS is an object with a list of keys")
        keys = {}
        for entry in entries:
            # Symmetric keys never verify here: a JWKS is public, so anyone could sign with one.
            if (
                not isinstance(entry, dict)
                or entry.get("kty") not in ("EC", "OKP", "RSA")
                or entry.get("use", "sig") != "sig"
            ):
                continue
            try:
                keys[entry["kid"]] = JWKRegistry.import_key(
                    {k: v for k, v in entry.items() if k not in PRIVATE_KEY_MEMBERS}
                )
            except (JoseError, ValueError, KeyError, TypeError):
                continue
        self._keys = keys

    def _check(
        self,
        token: str,
        signed: CompactSignature,
        claims: dict[str, Any],
        key: Key,
        *,
        action: str | None,
        model_slug: str | None,
        dpop_proof: str | None,
        http_method: str | None,
        http_url: str | None,
        now: datetime | None,
    ) -> VerifiedToken:
        if dpop_proof is not None and (http_method is None or http_url is None):
            raise TypeError("a DPoP proof is checked against the request's http_method and http_url")
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        scheme = "DPoP" if dpop_proof is not None else None
        try:
            typ = signed.headers().get("typ")
            if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
                raise TokenRejected(Reason.WRONG_TYPE, f"the token's typ is {str(typ)[:20]}, not at+jwt")
            if not _signed_by(signed, key, self._registry):
                raise TokenRejected(Reason.INVALID_SIGNATURE, "the access token's signature does not verify")
            at = (now or datetime.now(UTC)).timestamp()
            verified = self._claims(claims, at=at)
            jkt = claims["cnf"]["jkt"] if verified.dpop_bound else None
            if jkt is None and dpop_proof is not None:
                raise TokenRejected(Reason.DPOP_INVALID, "a DPoP proof came with a token not bound to a key")
            if jkt is not None:
                if dpop_proof is None:
                    raise TokenRejected(Reason.DPOP_REQUIRED, "this token is DPoP-bound: present it with a DPoP proof")
                self._check_proof(dpop_proof, token=token, jkt=jkt, http_method=http_method or "",
                                  http_url=http_url or "", at=at)  # fmt: skip
            if action is not None:
                needed = _model_scope(verified.scopes, action=action, model_slug=model_slug)
                if needed not in verified.scopes:
                    raise TokenRejected(Reason.INSUFFICIENT_SCOPE, f"the token lacks {needed[:100]}", scope=needed)
            return verified
        except TokenRejected as refusal:
            refusal.scheme = scheme or refusal.scheme
            raise

    def _claims(self, claims: dict[str, Any], *, at: float) -> VerifiedToken:
        # An empty scope is a token good for nothing, not a broken one.
        missing = [
            name for name in REQUIRED_CLAIMS if claims.get(name) is None or (claims[name] == "" and name != "scope")
        ]
        if missing:
            raise TokenRejected(Reason.MALFORMED, f"the token lacks the claims {', '.join(missing)}")
        if not all(isinstance(claims[name], str) for name in ("iss", "sub", "client_id", "scope", "jti", "grant_id")):
            raise TokenRejected(Reason.MALFORMED, "iss, sub, client_id, scope, jti and grant_id must be strings")
        if claims["iss"] != self.issuer:
            raise TokenRejected(Reason.WRONG_ISSUER, f"the token is from {claims['iss'][:100]}, not {self.issuer}")
        audiences = [claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"]
        if not isinstance(audiences, list) or self.audience not in audiences:
            raise TokenRejected(Reason.WRONG_AUDIENCE, f"the token is not for {self.audience}")
        exp, iat = (
            _number(claims["exp"], reason=Reason.MALFORMED, name="exp"),
            _number(claims["iat"], reason=Reason.MALFORMED, name="iat"),
        )
        nbf = _number(claims.get("nbf", iat), reason=Reason.MALFORMED, name="nbf")
        if at >= exp + self.leeway:
            raise TokenRejected(Reason.EXPIRED, "the token has expired")
        if iat > at + self.leeway or nbf > at + self.leeway:
            raise TokenRejected(Reason.NOT_YET_VALID, "the token is not valid yet")
        return VerifiedToken(
            claims=claims,
            client_id=claims["client_id"],
            grant_id=claims["grant_id"],
            scopes=frozenset(claims["scope"].split()),
            expires_at=datetime.fromtimestamp(exp, UTC),
            dpop_bound=self._binding(claims) is not None,
        )

    def _binding(self, claims: Mapping[str, Any]) -> str | None:
        cnf = claims.get("cnf")
        if cnf is None:
            return None
        # A token bound some other way (an mTLS certificate, say) would become a bearer token if that were ignored.
        if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str) or set(cnf) != {"jkt"}:
            raise TokenRejected(Reason.MALFORMED, "the token is bound (cnf) otherwise than by a DPoP key (jkt)")
        return cnf["jkt"]

    def _check_proof(self, proof: str, *, token: str, jkt: str, http_method: str, http_url: str, at: float) -> None:
        """RFC 9449 §4.3, for a proof that comes with an access token (§7.1)."""
        signed, claims = _open(proof, self._proof_registry, Reason.DPOP_INVALID, "the DPoP proof")
        header = signed.headers()
        if str(header.get("typ", "")).lower() != "dpop+jwt":
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof's typ is not dpop+jwt")
        public = header.get("jwk")
        if (
            not isinstance(public, dict)
            or public.get("kty") not in ("EC", "OKP", "RSA")
            or PRIVATE_KEY_MEMBERS & set(public)
        ):
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof's jwk is not an asymmetric public key")
        try:
            key = JWKRegistry.import_key(public)
        except (JoseError, ValueError, TypeError) as error:
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof's jwk is not a usable key") from error
        if not _signed_by(signed, key, self._proof_registry):
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof's signature does not verify with its jwk")
        if not all(isinstance(claims.get(name), str) and claims[name] for name in ("jti", "htm", "htu", "ath")):
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof lacks jti, htm, htu or ath")
        iat = _number(claims.get("iat"), reason=Reason.DPOP_INVALID, name="the DPoP proof's iat")
        if claims["htm"] != http_method:
            raise TokenRejected(Reason.DPOP_INVALID, f"the DPoP proof is for {claims['htm'][:10]}, not {http_method}")
        try:
            same_uri = _request_uri(claims["htu"]) == _request_uri(http_url)
        except ValueError:
            same_uri = False
        if not same_uri:
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof is for another URL (htu)")
        if not at - self._dpop_max_age - self.leeway <= iat <= at + self.leeway:
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof is stale or from the future (iat)")
        if claims["ath"] != base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode():
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof is for another access token (ath)")
        if key.thumbprint() != jkt:
            raise TokenRejected(Reason.DPOP_INVALID, "the DPoP proof is signed by another key than the token's (jkt)")
        # Remembered until the proof would be refused as stale anyway; keyed by the key too, so that one client
        # cannot spend another's jti.
        if not self._seen_proofs.first_sighting(f"{jkt}:{claims['jti']}", now=at,
                                                until=iat + self._dpop_max_age + 2 * self.leeway):  # fmt: skip
            raise TokenRejected(Reason.DPOP_REPLAYED, "this DPoP proof was already used")


class Introspector:
    """Asks accessdesk whether a token is active (RFC 7662), as the gateway credential issued for a model. Unlike
    local verification this sees revocations and suspensions at once, for a round trip per call. An active answer
    still has to be for this gateway: check its ``aud`` and ``scope``."""

    def __init__(
        self,
        *,
        introspection_uri: str,
        client_id: str,
        client_secret: str,
        http: httpx.Client | httpx.AsyncClient | None = None,
        timeout: float = 5,
    ) -> None:
        self.introspection_uri = introspection_uri
        # RFC 6749 §2.3.1: both are form-encoded before Basic encoding (accessdesk decodes them so).
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
        self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        self._http, self._timeout = http, timeout

    def introspect(self, token: str) -> dict[str, Any]:
        """accessdesk's answer: ``{"active": False}``, or ``{"active": True, ...}`` with the token's claims and
        ``token_type``; :class:`IntrospectionFailed` when there is no such answer."""
        try:
            response = _send(self._http, self._request(token), timeout=self._timeout)
        except httpx.HTTPError as error:
            raise IntrospectionFailed(f"cannot reach {self.introspection_uri}: {error}") from error
        return self._answer(response)

    async def aintrospect(self, token: str) -> dict[str, Any]:
        """:meth:`introspect` with an ``httpx.AsyncClient``."""
        try:
            response = await _asend(self._http, self._request(token), timeout=self._timeout)
        except httpx.HTTPError as error:
            raise IntrospectionFailed(f"cannot reach {self.introspection_uri}: {error}") from error
        return self._answer(response)

    def _request(self, token: str) -> httpx.Request:
        return httpx.Request("POST", self.introspection_uri,
                             headers={"Accept": "application/json", "Authorization": self._authorization},
                             data={"token": token, "token_type_hint": "access_token"})  # fmt: skip

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise IntrospectionFailed(
                f"introspection answered {response.status_code}", status_code=response.status_code
            )
        try:
            answer = response.json()
        except ValueError as error:
            raise IntrospectionFailed("introspection answered something other than JSON", status_code=200) from error
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            raise IntrospectionFailed("introspection's answer has no boolean active", status_code=200)
        return answer
