"""The authorization server's endpoints, at their standard paths: metadata (RFC 8414), token (RFC 6749 §4.4 with
RFC 7523 client assertions and RFC 9449 DPoP), introspection (RFC 7662), revocation (RFC 7009), JWKS."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.util import urlsafe_b64decode
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from accessdesk.domain.actor import Actor
from accessdesk.domain.credentials import (
    SECRET_METHODS,
    ClientRecord,
    count_issuance,
    first_use,
    secret_digest,
)
from accessdesk.domain.credentials import revoke_token as remember_revoked
from accessdesk.domain.grants import Grants, usable_by_facts
from accessdesk.domain.unit import Unit
from accessdesk.oauth.answers import NO_STORE, Answer
from accessdesk.oauth.cache import OAuthCache, Verified
from accessdesk.oauth.dpop import ALGORITHMS as DPOP_ALGORITHMS
from accessdesk.oauth.dpop import DpopError, verify_proof
from accessdesk.oauth.keys import KeyCache
from accessdesk.oauth.presented import claimed_client_id, one_authentication, read_form, shown
from accessdesk.oauth.server import (
    ACCESS_TOKEN_TYPE,
    ASSERTION_ALGORITHMS,
    PRIVATE_KEY_JWT,
    InvalidDpopProofError,
    Server,
    TokenContext,
    refused,
)
from accessdesk.request_scope import note_actor, request_unit
from accessdesk.settings import Settings
from accessdesk.telemetry import count_token_answer
from accessdesk.unavailable import is_database_unavailable, temporarily_unavailable

# Authlib logs whole tokens at DEBUG ("Issue token {...}"). No secret or token may reach a log, whatever level the
# operator turns the rest up to: its loggers never go below INFO.
logging.getLogger("authlib").setLevel(logging.INFO)
log = logging.getLogger(__name__)
INACTIVE = Answer(200, {"active": False})
REVOKED_OR_NOT = Answer(200, b"")  # RFC 7009 §2.2: the same answer whether there was anything to revoke or not


def _error(error: OAuth2Error) -> Answer:
    status, body, headers = refused(error)
    return Answer(status, body, headers)


def _server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The OAuth endpoints' catch-all: 503 ``temporarily_unavailable`` while the database is away, else a 500 in the
    RFC 6749 shape (``server_error``), never stored, with the traceback in the log."""
    if is_database_unavailable(exc):
        return temporarily_unavailable(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {"error": "server_error", "error_description": "something went wrong on our side"}
    return Response(body, status_code=500, media_type="application/json", headers=NO_STORE)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """What Litestar refuses before a handler runs (a body too large, say), in the RFC 6749 shape and never
    stored."""
    if exc.status_code >= 500:
        return _server_error(request, exc)
    body = {"error": "invalid_request", "error_description": shown(str(exc.detail), longest=200)}
    return Response(body, status_code=exc.status_code, media_type="application/json",
                    headers={**(exc.headers or {}), **NO_STORE})  # fmt: skip


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The request's form parameters (RFC 6749 §3.2: form-encoded, each at most once) presenting at most one client
    authentication (§2.3); InvalidRequestError otherwise."""
    form = read_form(await request.body(), request.headers.get("content-type", ""))
    one_authentication(request.headers, form)
    return form


def _required(form: Mapping[str, str], name: str) -> str:
    """A parameter the request cannot be answered without (RFC 6749 §5.2, RFC 7662 §2.1, RFC 7009 §2.1)."""
    value = form.get(name)
    if not value:
        raise InvalidRequestError(description=f"the {name} parameter is required")
    return value


def _headers(request: Request[Any, Any, Any]) -> Mapping[str, str]:
    """The request's headers, looked up without regard to case (Authlib asks for ``Authorization``)."""
    return request.headers


def _state(request: Request[Any, Any, Any]) -> State:
    # Read from the request rather than declared as a handler argument: Litestar validates each declared argument
    # on every request (about 2 µs for ``state``, a tenth of an introspection's own work).
    return request.app.state


def _settings(state: State) -> Settings:
    return state.settings


def _keys(state: State) -> KeyCache:
    return state.oauth_keys


async def _end(unit: Any) -> None:
    """Commit what the request wrote; a request answered from memory has no transaction to end."""
    if unit.has_session and unit.session.in_transaction():
        await unit.session.commit()


def _cache(state: State) -> OAuthCache:
    """The process's OAuth cache, brought up to date with the database's last commit (SQLite; see oauth/cache.py)."""
    cache: OAuthCache = state.oauth_cache
    cache.refresh()
    return cache


AUTHORIZATION_SERVER = Server()


class OAuthController(Controller):
    include_in_schema = False
    exception_handlers = {HTTPException: _http_error, Exception: _server_error}  # noqa: RUF012 - Litestar's API

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
    async def token(self, request: Request[Any, Any, Any]) -> Answer:
        answer = await self._token(request)
        count_token_answer(answer.status, answer.body)
        return answer

    async def _token(self, request: Request[Any, Any, Any]) -> Answer:
        state = _state(request)
        settings, unit = _settings(state), request_unit(request, state)
        try:
            form = await _form(request)
            _required(form, "grant_type")
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
        status, body, response_headers = AUTHORIZATION_SERVER.token_response(context, headers, form)
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
            note_actor(request, f"client:{record.client.client_id}")
            if cache.enabled:
                state.oauth_issuances.count(record.client.id, now)
            else:
                await count_issuance(unit, record.client.id)
        await _end(unit)
        return Answer(status, body, response_headers)

    async def _authenticated(
        self, request: Request[Any, Any, Any], unit: Unit, form: dict[str, str], *, methods: Sequence[str],
        endpoint: str,
    ) -> ClientRecord:  # fmt: skip
        """The client calling introspection or revocation, authenticated by Authlib, or InvalidClientError."""
        state = _state(request)
        cache, headers = state.oauth_cache, _headers(request)  # brought up to date by the endpoint already
        # A gateway sends the same Basic header on every call: once Authlib has accepted it, the cache vouches for
        # it (while the secret lives and nothing about the client changes), whichever of the two endpoints asks.
        authorization = headers.get("authorization", "")
        record = None
        if authorization and "client_secret_basic" in methods:
            record = cache.authenticated(authorization, at=unit.now())
        if record is None:
            record = await self._authenticate(unit, _settings(state), cache, headers, form, methods=list(methods),
                                              endpoint=endpoint)  # fmt: skip
        if record.client.revoked_at is not None:
            raise InvalidClientError(description="this credential has been revoked", status_code=401)
        note_actor(request, f"client:{record.client.client_id}")
        return record

    async def _authenticate(
        self, unit: Unit, settings: Settings, cache: OAuthCache, headers: Mapping[str, str], form: dict[str, str], *,
        methods: list[str], endpoint: str,
    ) -> ClientRecord:  # fmt: skip
        """Authlib authenticates the client; a Basic header it accepts is remembered (see ``_authenticated``)."""
        record = await cache.client(unit, claimed_client_id(headers, form) or "")
        context = TokenContext(
            record=record, usability=None, dpop=None, dpop_problem=None, signer=None, now=unit.now(), ttl_seconds=settings.token_ttl_seconds, pepper=settings.pepper, issuer=settings.issuer,
            token_endpoint=f"{settings.issuer}/oauth/token",
        )  # fmt: skip
        client = AUTHORIZATION_SERVER.authenticate(context, headers, form, methods=methods, endpoint=endpoint)
        if context.assertion_jti is not None:
            jti, expires = context.assertion_jti
            if not await first_use(unit, f"assertion:{client.get_client_id()}:{jti}",
                                   expires_at=datetime.fromtimestamp(expires, UTC) + timedelta(seconds=60)):  # fmt: skip
                raise InvalidClientError(description="this client assertion was used before (jti)", status_code=401)
        assert record is not None
        if context.auth_method == "client_secret_basic":
            # as Authlib read it (it only get()s the header; types-authlib asks for a dict)
            _, secret = extract_basic_authorization(headers)  # type: ignore[arg-type]
            assert secret is not None  # the client authenticated with it
            cache.keep_authenticated(headers["authorization"], record, given=secret_digest(settings.pepper, secret))
        return record

    async def _decode(self, state: State, unit: Unit, token: str) -> Verified | None:
        """Our own access token if its signature, type, issuer and expiry hold; else None."""
        cache: OAuthCache = state.oauth_cache  # brought up to date by the endpoint already
        if not token or token.count(".") != 2 or len(token) > 8192:
            return None
        known = cache.verified(token)
        if known is not None:
            return known if known.claims["exp"] > unit.now().timestamp() else None
        try:
            header = json.loads(urlsafe_b64decode(token.split(".", 1)[0].encode()))
            keys = await _keys(state).keyset(unit, kid=header.get("kid") if isinstance(header, dict) else None)
            decoded = jwt.decode(token, keys, algorithms=["ES256"])
        except (JoseError, ValueError, UnicodeDecodeError, TypeError):
            return None
        if str(decoded.header.get("typ", "")).lower() not in (ACCESS_TOKEN_TYPE, f"application/{ACCESS_TOKEN_TYPE}"):
            return None
        claims = dict(decoded.claims)
        expires, now = claims.get("exp"), unit.now().timestamp()
        if claims.get("iss") != _settings(state).issuer or not isinstance(expires, int) or expires <= now:
            return None
        verified = Verified(claims, _introspection(claims))
        cache.keep_verified(token, verified)
        return verified

    @post("/oauth/introspect", status_code=200)
    async def introspect(self, request: Request[Any, Any, Any]) -> Answer:
        """For the developer's gateway: is this token active, for this gateway's model, now?"""
        state = _state(request)
        unit, cache = request_unit(request, state), _cache(state)
        try:
            form = await _form(request)
            token = _required(form, "token")
            caller = await self._authenticated(request, unit, form, methods=SECRET_METHODS, endpoint="introspection")
            if caller.client.kind != "gateway":
                raise InvalidClientError(description="introspection is for gateway credentials", status_code=401)
        except OAuth2Error as error:
            await unit.rollback()
            return _error(error)
        verified = await self._decode(state, unit, token)
        if verified is None or verified.claims.get("aud") != caller.model.resource:
            await _end(unit)
            return INACTIVE
        # Signed and unexpired is not enough: the credential, the token or the grant may have been cut since.
        claims = verified.claims
        owner = await cache.client(unit, str(claims.get("client_id", "")))
        if owner is None or owner.client.revoked_at is not None or owner.client.grant_id is None or (
            await cache.token_revoked(unit, str(claims.get("jti")))
        ):
            await _end(unit)
            return INACTIVE
        usable = usable_by_facts(await cache.grant(unit, owner.client.grant_id), unit.now())
        await _end(unit)
        return INACTIVE if usable is None else verified.introspection

    @post("/oauth/revoke", status_code=200)
    async def revoke(self, request: Request[Any, Any, Any]) -> Answer:
        """A client ends one of its own access tokens before its expiry. Unknown or foreign tokens: 200, nothing."""
        state = _state(request)
        unit = request_unit(request, state)
        _cache(state)  # up to date before anything kept is used
        try:
            form = await _form(request)
            token = _required(form, "token")
            caller = await self._authenticated(request, unit, form, methods=[*SECRET_METHODS, PRIVATE_KEY_JWT],
                                               endpoint="revocation")  # fmt: skip
        except OAuth2Error as error:
            await unit.rollback()
            return _error(error)
        verified = await self._decode(state, unit, token)
        claims = verified.claims if verified is not None else None
        if claims is not None and claims.get("client_id") == caller.client.client_id:
            await remember_revoked(unit, jti=str(claims["jti"]), client_pk=caller.client.id,
                                   expires_at=datetime.fromtimestamp(claims["exp"], UTC))  # fmt: skip
            unit.record(actor=_system(caller), action="credential.token_revoked", subject_type="oauth_clients",
                        subject_id=caller.client.id, after={"jti": claims["jti"]})  # fmt: skip
            await unit.commit()
        else:
            await _end(unit)
        return REVOKED_OR_NOT


def _introspection(claims: dict[str, Any]) -> Answer:
    """What introspection says of one of our tokens while it is active (RFC 7662 §2.2)."""
    answer: dict[str, Any] = {
        "active": True,
        **{k: claims[k] for k in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "grant_id")
           if k in claims},
        "token_type": "DPoP" if "cnf" in claims else "Bearer",
    }  # fmt: skip
    if "cnf" in claims:
        answer["cnf"] = claims["cnf"]
    return Answer(200, answer)


def _system(record: ClientRecord) -> Actor:
    return Actor.system(f"oauth client {record.client.client_id}")
