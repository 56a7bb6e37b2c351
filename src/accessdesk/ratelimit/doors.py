"""The doors that are rate limited, what each counts, and how each refuses.

A pure ASGI middleware in front of the handlers: a refused request gets 429 with ``Retry-After`` in its door's
language and never reaches a handler. Keys:

- the client address (:func:`accessdesk.client_address.client_address`), on every door: the TCP peer, or behind
  one of ``ACCESSDESK_TRUSTED_PROXIES`` the address it forwarded;
- the OAuth endpoints count *failed* client authentications (``invalid_client``) per address and claimed
  ``client_id`` and per address, never per ``client_id`` alone: a client_id is no secret, and a limit on it alone
  would let anyone lock a real client out from anywhere. A client secret is 256 random bits, so there is no
  guessing to slow down; what the failure limits stop is a caller spending our work on failures;
- the JSON API counts per address, per personal token (its digest) and failed authentications (401) per address;
- starting a sign-in counts per e-mail address too (its keyed digest) when one is given; the provider buttons
  (no e-mail) stay open to whoever is refused for an address;
- Slack link pages count per address and per console session (the session cookie's digest).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from accessdesk.api.errors import PROBLEM
from accessdesk.client_address import client_address
from accessdesk.oauth.presented import claimed_client_id, form_pairs
from accessdesk.ratelimit.limiter import Limit, Limiter, Refused
from accessdesk.settings import Settings
from accessdesk.web.pages import cookie_name

OAUTH = {"/oauth/token": "token", "/oauth/introspect": "introspect", "/oauth/revoke": "revoke"}
SIGN_IN = {"/login", "/login/start", "/login/dev"}
CALLBACK = "/login/callback"
API = "/api/v1"
SLACK_LINK = "/console/slack/link/"
PAGE = "console/rate_limited.html"
# A claimed client_id is the caller's to choose: kept in clear (operators look for it) only when it looks like one.
PLAIN_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


@dataclass(frozen=True, slots=True)
class Limits:
    """Every limit, from the settings."""

    sign_in: Limit
    sign_in_email: Limit
    oidc_callback: Limit
    oauth: dict[str, Limit]
    oauth_failures: Limit
    oauth_failures_per_address: Limit
    api: Limit
    api_token: Limit
    api_failures: Limit
    slack_link: Limit
    slack_link_session: Limit

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            sign_in=Limit("sign-in", settings.rate_limit_sign_in, "client address"),
            sign_in_email=Limit("sign-in-email", settings.rate_limit_sign_in_email, "e-mail address"),
            oidc_callback=Limit("oidc-callback", settings.rate_limit_oidc_callback, "client address"),
            oauth={door: Limit(door, rate, "client address") for door, rate in (
                ("token", settings.rate_limit_token), ("introspect", settings.rate_limit_introspect),
                ("revoke", settings.rate_limit_revoke))},
            oauth_failures=Limit("oauth-failures", settings.rate_limit_oauth_failures,
                                 "client address and claimed client_id"),
            oauth_failures_per_address=Limit("oauth-failures-address", settings.rate_limit_oauth_failures_per_address,
                                             "client address"),
            api=Limit("api", settings.rate_limit_api, "client address"),
            api_token=Limit("api-token", settings.rate_limit_api_token, "personal token"),
            api_failures=Limit("api-failures", settings.rate_limit_api_failures, "client address"),
            slack_link=Limit("slack-link", settings.rate_limit_slack_link, "client address"),
            slack_link_session=Limit("slack-link-session", settings.rate_limit_slack_link, "console session"),
        )  # fmt: skip


class Doors:
    def __init__(self, settings: Settings, limiter: Limiter) -> None:
        self.limits = Limits.of(settings)
        self.limiter = limiter
        self._oauth_limits = {path: self.limits.oauth[door] for path, door in OAUTH.items()}
        self._cookie = cookie_name(settings).encode()
        # Keys made from secrets or personal data (tokens, cookies, e-mail addresses) are stored as keyed digests.
        self._digest_key = hashlib.sha256(b"accessdesk rate-limit keys:" + settings.secret_key.encode()).digest()

    async def handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request at its door and refuse it there, or pass it on to ``app``."""
        path = scope["path"]
        oauth = self._oauth_limits.get(path)
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
        elif oauth is not None:
            await self._oauth(oauth, app, scope, receive, send)
        elif path.startswith(API):
            await self._api(app, scope, receive, send)
        elif path in SIGN_IN:
            await self._sign_in(app, scope, receive, send)
        elif path == CALLBACK:
            await self._page([(self.limits.oidc_callback, _address(scope))], "sign-in answers", "/login",
                             app, scope, receive, send)  # fmt: skip
        elif path.startswith(SLACK_LINK):
            asked = [(self.limits.slack_link, _address(scope))]
            session = _cookie(scope, self._cookie)
            if session:
                asked.append((self.limits.slack_link_session, self._digest(session)))
            await self._page(asked, "requests to link a Slack account", "/console/slack", app, scope, receive,
                             send)  # fmt: skip
        else:
            await app(scope, receive, send)

    async def _oauth(self, limit: Limit, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        # On the hot path (a gateway may introspect on every call to its model): kept to a few dictionary lookups.
        limiter, limits = self.limiter, self.limits
        address = client_address(scope) or "unknown"
        now = limiter.now()
        refused, what = limiter.count_one(limit, address, now), "requests"
        if refused is None and limiter.any_reached(limits.oauth_failures_per_address):
            refused, what = limiter.refused(limits.oauth_failures_per_address, address, now=now), "failed authentications"
        if refused is None and limiter.any_reached(limits.oauth_failures):
            key = await self._client_key(scope, receive, address)
            refused, what = limiter.refused(limits.oauth_failures, key, now=now), "failed authentications"
        if refused is not None:
            await _send(send, 429, _oauth_refusal(refused, what), [(b"content-type", b"application/json"),
                                                                   (b"cache-control", b"no-store"),
                                                                   (b"pragma", b"no-cache")], refused)  # fmt: skip
            return
        status, body = 0, b""  # the body of a 400 says whether it is invalid_client

        async def watch(message: Message) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status == 400 and message["type"] == "http.response.body":
                body += message.get("body", b"")
            await send(message)

        await app(scope, receive, watch)
        if status == 401 or (status == 400 and b'"invalid_client"' in body):
            failed = [(limits.oauth_failures_per_address, address),
                      (limits.oauth_failures, await self._client_key(scope, receive, address))]
            await limiter.failed(failed, now=now)

    async def _api(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        limiter, limits, address = self.limiter, self.limits, _address(scope)
        now = limiter.now()
        asked = [(limits.api, address)]
        scheme, _, token = _header(scope, b"authorization").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            asked.append((limits.api_token, self._digest(token.strip())))
        refused = limiter.refused(limits.api_failures, address, now=now) or limiter.count(asked, now=now)
        if refused is not None:
            body = {"type": "about:blank#rate_limited", "title": "Too many requests", "status": 429,
                    "detail": f"too many requests; try again in {refused.retry_after} s", "code": "rate_limited"}
            await _send(send, 429, json.dumps(body).encode(), [(b"content-type", PROBLEM.encode())], refused)
            return
        answer = _Answer(send)
        await app(scope, receive, answer.send)
        if answer.status == 401:
            await limiter.failed([(limits.api_failures, address)], now=now)

    async def _sign_in(self, app: ASGIApp, scope: HTTPScope, receive: Receive, send: Send) -> None:
        asked = [(self.limits.sign_in, _address(scope))]
        if scope["path"] == "/login/start" and scope["method"] == "POST":
            body = await Request(scope, receive).body()  # kept in the scope: the handler reads it from there
            email = dict(parse_qsl(body.decode("utf-8", "replace"))).get("email", "").strip().lower()
            if email:
                asked.append((self.limits.sign_in_email, self._digest(email)))
        await self._page(asked, "sign-in attempts", "/login", app, scope, receive, send)

    async def _page(
        self, asked: Sequence[tuple[Limit, str]], what: str, back: str, app: ASGIApp, scope: Scope, receive: Receive,
        send: Send,
    ) -> None:  # fmt: skip
        refused = await self.limiter.take(asked, now=self.limiter.now())
        if refused is None:
            await app(scope, receive, send)
            return
        engine = scope["app"].template_engine
        assert engine is not None  # the app renders the console's templates
        html = engine.get_template(PAGE).render(what=what, back=back, retry_after=refused.retry_after)
        await _send(send, 429, html.encode(), [(b"content-type", b"text/html; charset=utf-8"),
                                               (b"cache-control", b"no-store")], refused)  # fmt: skip

    async def _client_key(self, scope: Scope, receive: Receive, address: str) -> str:
        """The address and the client_id the request claims (before anything is verified), as one key."""
        authorization = _header(scope, b"authorization")
        form: dict[str, str] = {}
        if authorization[:6].lower() != "basic ":
            body = await Request(scope, receive).body()  # read once: kept in the scope for the handler
            form = {name: value for name, value in form_pairs(body.decode("utf-8", "replace"))}
        claimed = claimed_client_id({"authorization": authorization}, form) or "-"
        return f"{address}|{claimed if PLAIN_CLIENT_ID.fullmatch(claimed) else self._digest(claimed)}"

    def _digest(self, value: str) -> str:
        return hashlib.blake2b(value.encode(), key=self._digest_key, digest_size=16).hexdigest()


class _Answer:
    """Passes the response on, noting its status."""

    __slots__ = ("_send", "status")

    def __init__(self, send: Send) -> None:
        self._send, self.status = send, 0

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


def _address(scope: Scope) -> str:
    return client_address(scope) or "unknown"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _cookie(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == b"cookie":
            for part in value.split(b";"):
                cookie, _, content = part.strip().partition(b"=")
                if cookie == name:
                    return content.decode("latin-1")
    return ""


def _oauth_refusal(refused: Refused, what: str) -> bytes:
    # RFC 8628 registered slow_down for token endpoint answers: "you ask too often", the caller's to fix by waiting;
    # temporarily_unavailable (RFC 6749 §4.1.2.1) would say the server is unwell, which invites retrying at once.
    return json.dumps({"error": "slow_down", "error_description": f"too many {what} from this address; try again "
                       f"in {refused.retry_after} s"}).encode()  # fmt: skip


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], refused: Refused) -> None:
    headers = [*headers, (b"retry-after", str(refused.retry_after).encode()),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
