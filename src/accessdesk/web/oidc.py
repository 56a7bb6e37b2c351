"""accessdesk as an OpenID Connect relying party (Authlib for the protocol, joserfc for the ID token).

Authorization code flow with PKCE (S256), ``state`` and ``nonce``. The ID token's signature is checked against the
provider's JWKS, and its issuer, audience, expiry and nonce against what we sent. The e-mail must be verified,
in the ID token or at userinfo. What a pending sign-in must remember (state, nonce, verifier, provider, where to
go next) travels in a short-lived cookie signed with the server secret, so any app instance can finish it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2  # what Authlib's clients are built on: the errors they raise are httpx2's
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from accessdesk.gateway import allowlist
from accessdesk.settings import OidcProvider

PENDING_COOKIE = "accessdesk_login"
PENDING_LIFETIME = timedelta(minutes=10)
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"]  # Ed25519: RFC 9864
_REGISTRY = allowlist(ALGORITHMS, max_header_length=1024)


class SignInRefused(Exception):
    """The provider's answer cannot be trusted or does not identify a verified e-mail."""


class ProviderUnavailable(Exception):
    """The provider did not answer (unreachable, timed out, or an error page where its documents should be): the
    sign-in cannot go on now, and may later. Answered 503 with ``Retry-After``, never as a server error."""

    RETRY_AFTER = 30  # seconds

    def __init__(self, provider: OidcProvider, what: str) -> None:
        super().__init__(f"{provider.label} did not answer ({what}); try again in a minute")


def shown(text: str, limit: int = 200) -> str:
    """Text a browser or a provider sent, fit to be shown back: one line, at most ``limit`` characters (it is
    escaped by the template; this keeps a page from echoing a megabyte or a forged line)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def provider_for(email: str, providers: tuple[OidcProvider, ...]) -> OidcProvider | None:
    """Home-realm discovery: the provider that vouches for the e-mail's domain."""
    domain = email.strip().lower().rsplit("@", 1)[-1]
    return next((p for p in providers if domain in p.domains), None)


@dataclass(frozen=True, slots=True)
class Pending:
    provider: str
    state: str
    nonce: str
    verifier: str
    next: str
    started: float
    # Step-up: the provider must authenticate the person again now, not vouch for an older sign-in.
    fresh: bool = False

    @classmethod
    def new(cls, provider: str, next_: str, now: datetime, *, fresh: bool = False) -> Pending:
        return cls(provider=provider, state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                   verifier=secrets.token_urlsafe(48), next=next_, started=now.timestamp(), fresh=fresh)  # fmt: skip

    def seal(self, secret: str) -> str:
        # Unpadded: a cookie value with "=" gets quoted by some clients.
        body = base64.urlsafe_b64encode(json.dumps(asdict(self)).encode()).decode().rstrip("=")
        return f"{body}.{_mac(secret, body)}"

    @classmethod
    def open(cls, sealed: str | None, secret: str, now: datetime) -> Pending:
        if not sealed or "." not in sealed:
            raise SignInRefused("the sign-in was not started here, or this browser refused our cookie; start again")
        body, mac = sealed.rsplit(".", 1)
        if not hmac.compare_digest(mac.encode(), _mac(secret, body).encode()):  # bytes: any str may come
            raise SignInRefused("the sign-in state was tampered with; start again")
        pending = cls(**json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
        if now.timestamp() - pending.started > PENDING_LIFETIME.total_seconds():
            raise SignInRefused("the sign-in took too long; start again")
        return pending


def _authenticated_since(claims: dict[str, Any], started: float, *, leeway: int = 60) -> bool:
    auth_time = claims.get("auth_time")
    return isinstance(auth_time, int | float) and not isinstance(auth_time, bool) and auth_time >= started - leeway


def _mac(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), b"oidc-pending:" + body.encode(), hashlib.sha256).hexdigest()


class RelyingParty:
    """Talks to the configured providers. One per app: caches each provider's metadata and keys."""

    def __init__(self, providers: tuple[OidcProvider, ...], *, timeout: float = 10.0) -> None:
        self.providers = {p.name: p for p in providers}
        self.timeout = timeout
        self._metadata: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, KeySet] = {}

    async def _document(self, provider: OidcProvider, url: str, what: str) -> Any:
        """One of the provider's published JSON documents, or ProviderUnavailable."""
        try:
            async with httpx2.AsyncClient(timeout=self.timeout) as http:
                response = await http.get(url)
                response.raise_for_status()
                return response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(provider, f"{what}: {type(exc).__name__}") from exc

    async def metadata(self, provider: OidcProvider) -> dict[str, Any]:
        if provider.name not in self._metadata:
            document = await self._document(provider, f"{provider.issuer}/.well-known/openid-configuration",
                                            "its discovery document")  # fmt: skip
            if not isinstance(document, dict) or not isinstance(document.get("issuer"), str):
                raise ProviderUnavailable(provider, "its discovery document names no issuer")
            if document.get("issuer", "").rstrip("/") != provider.issuer:
                raise SignInRefused(f"{provider.label} announces a different issuer than configured")
            self._metadata[provider.name] = document
        return self._metadata[provider.name]

    def _client(self, provider: OidcProvider, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(client_id=provider.client_id, client_secret=provider.client_secret,
                                 scope=provider.scope, redirect_uri=redirect_uri, code_challenge_method="S256",
                                 token_endpoint_auth_method="client_secret_basic", timeout=self.timeout)  # fmt: skip

    async def authorization_url(
        self, provider: OidcProvider, pending: Pending, redirect_uri: str, *, login_hint: str | None = None,
    ) -> str:  # fmt: skip
        metadata = await self.metadata(provider)
        extra: dict[str, Any] = {"nonce": pending.nonce}
        if pending.fresh:  # step-up: ask for a new authentication, and for auth_time to prove it happened
            extra.update(max_age=0, prompt="login")
        if login_hint:
            extra["login_hint"] = login_hint
        async with self._client(provider, redirect_uri) as client:
            url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=pending.state,
                                                     code_verifier=pending.verifier, **extra)  # fmt: skip
        return url

    async def verified_email(
        self, provider: OidcProvider, pending: Pending, *, code: str, redirect_uri: str, now: Callable[[], int]
    ) -> str:
        """Exchange the code and return the verified e-mail it proves, or raise SignInRefused."""
        metadata = await self.metadata(provider)
        async with self._client(provider, redirect_uri) as client:
            try:
                token = await client.fetch_token(metadata["token_endpoint"], code=code,
                                                 code_verifier=pending.verifier)  # fmt: skip
            except httpx2.TransportError as exc:
                raise ProviderUnavailable(provider, f"its token endpoint: {type(exc).__name__}") from exc
            except Exception as exc:  # noqa: BLE001 - any failure of the exchange refuses the sign-in
                raise SignInRefused(f"{provider.label} did not accept the sign-in code ({type(exc).__name__})") from exc
            claims = await self._id_token_claims(provider, token.get("id_token"), pending.nonce, now)
            if pending.fresh and not _authenticated_since(claims, pending.started):
                raise SignInRefused(f"{provider.label} did not sign you in again; the page needs a fresh sign-in")
            email, verified = claims.get("email"), claims.get("email_verified")
            if not email and "userinfo_endpoint" in metadata:
                try:
                    response = await client.get(metadata["userinfo_endpoint"])
                    info = response.json() if response.status_code == 200 else {}
                except (httpx2.HTTPError, ValueError) as exc:
                    raise ProviderUnavailable(provider, f"its userinfo endpoint: {type(exc).__name__}") from exc
                info = info if isinstance(info, dict) else {}
                if info.get("sub") != claims.get("sub"):
                    raise SignInRefused("userinfo describes someone else than the ID token")
                email, verified = info.get("email"), info.get("email_verified")
        if not email or verified is not True:
            raise SignInRefused("your identity provider did not confirm a verified e-mail address")
        return str(email)

    async def _id_token_claims(
        self, provider: OidcProvider, id_token: str | None, nonce: str, now: Callable[[], int]
    ) -> dict[str, Any]:
        if not id_token:
            raise SignInRefused("the provider sent no ID token")
        try:
            decoded = jwt.decode(id_token, await self._keyset(provider), registry=_REGISTRY)
        except (JoseError, ValueError):
            self._keys.pop(provider.name, None)  # the provider may have rotated its keys: fetch them once more
            try:
                decoded = jwt.decode(id_token, await self._keyset(provider), registry=_REGISTRY)
            except (JoseError, ValueError) as exc:
                raise SignInRefused(f"the ID token's signature does not verify ({type(exc).__name__})") from exc
        registry = jwt.JWTClaimsRegistry(
            now=now, leeway=60,
            iss={"essential": True, "value": provider.issuer}, aud={"essential": True, "value": provider.client_id},
            exp={"essential": True}, sub={"essential": True}, nonce={"essential": True, "value": nonce},
        )  # fmt: skip
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise SignInRefused(f"the ID token is not valid for this sign-in ({exc.error}: {exc.description})") from exc
        return dict(decoded.claims)

    async def _keyset(self, provider: OidcProvider) -> KeySet:
        if provider.name not in self._keys:
            metadata = await self.metadata(provider)
            document = await self._document(provider, metadata["jwks_uri"], "its keys")
            try:
                self._keys[provider.name] = KeySet.import_key_set(document)
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise ProviderUnavailable(provider, "its keys could not be read") from exc
        return self._keys[provider.name]
