"""The authorization server's endpoints, at their standard paths: metadata (RFC 8414), token (RFC 6749 §4.4 with
RFC 7523 client assertions and RFC 9449 DPoP), introspection (RFC 7662), revocation (RFC 7009), JWKS."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.util import urlsafe_b64decode
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State

from accessdesk.domain.actor import Actor
from accessdesk.domain.credentials import (
    SECRET_METHODS,
    ClientRecord,
    count_issuance,
    first_use,
)
from accessdesk.domain.credentials import revoke_token as remember_revoked
from accessdesk.domain.grants import Grants, usable_by_facts
from accessdesk.oauth.cache import OAuthCache
from accessdesk.oauth.dpop import ALGORITHMS as DPOP_ALGORITHMS
from accessdesk.oauth.dpop import DpopError, verify_proof
from accessdesk.oauth.keys import KeyCache
from accessdesk.oauth.server import (
    ACCESS_TOKEN_TYPE,
    ASSERTION_ALGORITHMS,
    PRIVATE_KEY_JWT,
    InvalidDpopProofError,
    Server,
    TokenContext,
)
from accessdesk.request_scope import request_unit
from accessdesk.settings import Settings

FORM = "application/x-www-form-urlencoded"
# Authlib logs whole tokens at DEBUG ("Issue token {...}"). No secret or token may reach a log, whatever level the
# operator turns the rest up to: its loggers never go below INFO.
logging.getLogger("authlib").setLevel(logging.INFO)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _response(status: int, body: Any, headers: list[tuple[str, str]] | dict[str, str]) -> Response[Any]:
    pairs = dict(headers) if not isinstance(headers, dict) else headers
    return Response(content=body, status_code=status, headers={**pairs, **NO_STORE}, media_type="application/json")


def _error(error: OAuth2Error) -> Response[Any]:
    status, body, headers = error()
    return _response(status, body, headers)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The request's form parameters; RFC 6749 §3.2: each at most once, and form-encoded."""
    body = await request.body()
    if body and request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise InvalidRequestError(description=f"the request body must be {FORM}")
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequestError(description=f"the parameter {name} is repeated")
        form[name] = value
    return form


def _headers(request: Request[Any, Any, Any]) -> Mapping[str, str]:
    """The request's headers, looked up without regard to case (Authlib asks for ``Authorization``)."""
    return request.headers


def claimed_client_id(headers: Mapping[str, str], form: dict[str, str]) -> str | None:
    """Which client the request says it comes from, before anything is verified: the Basic user name, the form's
    client_id, or a client assertion's ``sub``. Only used to read that client; Authlib then authenticates it."""
    authorization = headers.get("authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            user = base64.b64decode(authorization[6:].strip(), validate=True).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(user)  # RFC 6749 §2.3.1: form-url-encoded before Basic encoding
    if form.get("client_id"):
        return form["client_id"]
    assertion = form.get("client_assertion", "")
    if form.get("client_assertion_type") == ASSERTION_TYPE and assertion.count(".") == 2:
        try:
            claims = json.loads(urlsafe_b64decode(assertion.split(".")[1].encode()))
        except (ValueError, UnicodeDecodeError):
            return None
        return claims.get("sub") if isinstance(claims, dict) and isinstance(claims.get("sub"), str) else None
    return None


def _settings(state: State) -> Settings:
    return state.settings  # type: ignore[no-any-return]


def _keys(state: State) -> KeyCache:
    return state.oauth_keys  # type: ignore[no-any-return]


async def _end(unit: Any) -> None:
    """Commit what the request wrote; a request answered from memory has no transaction to end."""
    if unit.has_session and unit.session.in_transaction():
        await unit.session.commit()


def _cache(state: State) -> OAuthCache:
    return state.oauth_cache  # type: ignore[no-any-return]


class OAuthController(Controller):
    include_in_schema = False

    @get("/.well-known/oauth-authorization-server")
    async def metadata(self, state: State) -> Response[dict[str, Any]]:
        issuer = _settings(state).issuer
        document = {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "introspection_endpoint": f"{issuer}/oauth/introspect",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "jwks_uri": f"{issuer}/oauth/jwks",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": [*SECRET_METHODS, PRIVATE_KEY_JWT],
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "introspection_endpoint_auth_methods_supported": list(SECRET_METHODS),
            "revocation_endpoint_auth_methods_supported": [*SECRET_METHODS, PRIVATE_KEY_JWT],
            "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
            "access_token_signing_alg_values_supported": ["ES256"],
            "scopes_supported": [],
        }
        return Response(document, headers={"Cache-Control": "public, max-age=3600"})

    @get("/oauth/jwks")
    async def jwks(self, request: Request[Any, Any, Any], state: State) -> Response[dict[str, Any]]:
        keys = await _keys(state).published(request_unit(request, state))
        # Short enough for a gateway to learn a rotation well before the next key signs.
        return Response({"keys": keys}, headers={"Cache-Control": "public, max-age=300"},
                        media_type="application/jwk-set+json")  # fmt: skip

    @post("/oauth/token", status_code=200)
    async def token(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        settings, unit = _settings(state), request_unit(request, state)
        try:
            form = await _form(request)
        except OAuth2Error as error:
            return _error(error)
        headers, cache = _headers(request), _cache(state)
        record = await cache.client(unit, claimed_client_id(headers, form) or "")
        now = unit.now()
        usability = None
        if record is not None and record.client.grant_id is not None:
            # The grant's facts answer a usable grant without a query; a refusal asks the domain for its reasons.
            grant = await cache.grant(unit, record.client.grant_id)
            usability = usable_by_facts(grant, now) or await Grants(unit).usability(grant.id, at=now)
        dpop, dpop_problem = None, None
        if "dpop" in headers:
            try:
                dpop = verify_proof(headers["dpop"], method="POST", url=f"{settings.issuer}/oauth/token", now=now)
            except DpopError as exc:
                dpop_problem = str(exc)
        context = TokenContext(
            record=record, usability=usability, dpop=dpop, dpop_problem=dpop_problem,
            signer=await _keys(state).signer(unit), now=now, ttl_seconds=settings.token_ttl_seconds,
            pepper=settings.pepper, issuer=settings.issuer, token_endpoint=f"{settings.issuer}/oauth/token",
        )  # fmt: skip
        status, body, response_headers = Server(context).create_token_response(("POST", headers, form))
        if context.assertion_jti is not None and record is not None:
            jti, expires = context.assertion_jti
            if not await first_use(unit, f"assertion:{record.client.client_id}:{jti}",
                                   expires_at=datetime.fromtimestamp(expires, UTC) + timedelta(seconds=60)):  # fmt: skip
                await unit.rollback()
                return _error(InvalidClientError(description="this client assertion was used before (jti)",
                                                 status_code=401))  # fmt: skip
        if status == 200 and dpop is not None:
            if not await first_use(unit, f"dpop:{dpop.jkt}:{dpop.jti}", expires_at=dpop.expires_at):
                await unit.rollback()
                return _error(InvalidDpopProofError(description="this DPoP proof was used before (jti)"))
        if status == 200 and record is not None:
            if cache.enabled:
                state.oauth_issuances.count(record.client.id, now)
            else:
                await count_issuance(unit, record.client.id)
        await _end(unit)
        return _response(status, body, response_headers)

    async def _authenticated(
        self, request: Request[Any, Any, Any], state: State, form: dict[str, str], *, methods: list[str]
    ) -> ClientRecord:
        """The client calling introspection or revocation, authenticated by Authlib, or InvalidClientError."""
        settings, unit = _settings(state), request_unit(request, state)
        headers = _headers(request)
        record = await _cache(state).client(unit, claimed_client_id(headers, form) or "")
        context = TokenContext(
            record=record, usability=None, dpop=None, dpop_problem=None, signer=None, now=unit.now(), ttl_seconds=settings.token_ttl_seconds, pepper=settings.pepper, issuer=settings.issuer,
            token_endpoint=f"{settings.issuer}/oauth/token",
        )  # fmt: skip
        server = Server(context)
        client = server.authenticate_client(server.create_oauth2_request(("POST", headers, form)), methods,
                                            endpoint="introspection" if "introspect" in request.url.path else "revocation")  # fmt: skip
        if context.assertion_jti is not None:
            jti, expires = context.assertion_jti
            if not await first_use(unit, f"assertion:{client.get_client_id()}:{jti}",
                                   expires_at=datetime.fromtimestamp(expires, UTC) + timedelta(seconds=60)):  # fmt: skip
                raise InvalidClientError(description="this client assertion was used before (jti)", status_code=401)
        assert record is not None
        if record.client.revoked_at is not None:
            raise InvalidClientError(description="this credential has been revoked", status_code=401)
        return record

    async def _decode(self, request: Request[Any, Any, Any], state: State, token: str) -> dict[str, Any] | None:
        """Our own access token's claims if its signature, type, issuer and expiry hold; else None."""
        settings, unit, cache = _settings(state), request_unit(request, state), _cache(state)
        if not token or token.count(".") != 2 or len(token) > 8192:
            return None
        claims = cache.verified(token)
        if claims is not None:
            return claims if claims["exp"] > unit.now().timestamp() else None
        try:
            header = json.loads(urlsafe_b64decode(token.split(".", 1)[0].encode()))
            keys = await _keys(state).keyset(unit, kid=header.get("kid") if isinstance(header, dict) else None)
            decoded = jwt.decode(token, keys, algorithms=["ES256"])
        except (JoseError, ValueError, UnicodeDecodeError, TypeError):
            return None
        if str(decoded.header.get("typ", "")).lower() not in (ACCESS_TOKEN_TYPE, f"application/{ACCESS_TOKEN_TYPE}"):
            return None
        claims = dict(decoded.claims)
        now = unit.now().timestamp()
        if claims.get("iss") != settings.issuer or not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            return None
        cache.keep_verified(token, claims)
        return claims

    @post("/oauth/introspect", status_code=200)
    async def introspect(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        """For the developer's gateway: is this token active, for this gateway's model, now?"""
        unit = request_unit(request, state)
        try:
            form = await _form(request)
            caller = await self._authenticated(request, state, form, methods=list(SECRET_METHODS))
            if caller.client.kind != "gateway":
                raise InvalidClientError(description="introspection is for gateway credentials", status_code=401)
        except OAuth2Error as error:
            await unit.rollback()
            return _error(error)
        inactive = _response(200, {"active": False}, {})
        claims = await self._decode(request, state, form.get("token", ""))
        if claims is None or claims.get("aud") != caller.model.resource:
            await _end(unit)
            return inactive
        # Signed and unexpired is not enough: the credential, the token or the grant may have been cut since.
        cache = _cache(state)
        owner = await cache.client(unit, str(claims.get("client_id", "")))
        if owner is None or owner.client.revoked_at is not None or owner.client.grant_id is None or (
            await cache.token_revoked(unit, str(claims.get("jti")))
        ):
            await _end(unit)
            return inactive
        usable = usable_by_facts(await cache.grant(unit, owner.client.grant_id), unit.now())
        await _end(unit)
        if usable is None:
            return inactive
        answer = {"active": True, **{k: claims[k] for k in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat",
                                                             "jti", "grant_id") if k in claims},
                  "token_type": "DPoP" if "cnf" in claims else "Bearer"}  # fmt: skip
        if "cnf" in claims:
            answer["cnf"] = claims["cnf"]
        return _response(200, answer, {})

    @post("/oauth/revoke", status_code=200)
    async def revoke(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        """A client ends one of its own access tokens before its expiry. Unknown or foreign tokens: 200, nothing."""
        unit = request_unit(request, state)
        try:
            form = await _form(request)
            caller = await self._authenticated(request, state, form, methods=[*SECRET_METHODS, PRIVATE_KEY_JWT])
        except OAuth2Error as error:
            await unit.rollback()
            return _error(error)
        claims = await self._decode(request, state, form.get("token", ""))
        if claims is not None and claims.get("client_id") == caller.client.client_id:
            await remember_revoked(unit, jti=str(claims["jti"]), client_pk=caller.client.id,
                                   expires_at=datetime.fromtimestamp(claims["exp"], UTC))  # fmt: skip
            unit.record(actor=_system(caller), action="credential.token_revoked", subject=caller.client,
                        after={"jti": claims["jti"]})  # fmt: skip
            await unit.commit()
        else:
            await _end(unit)
        return Response(content=b"", status_code=200, headers=NO_STORE)


def _system(record: ClientRecord) -> Actor:
    return Actor.system(f"oauth client {record.client.client_id}")
