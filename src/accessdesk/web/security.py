"""Browser-facing security: response headers on every response, CSRF tokens for every state-changing form,
and local-only redirects."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

# No inline script at all; styles come from our own stylesheet.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
ANONYMOUS_CSRF_COOKIE = "accessdesk_csrf"


def content_security_policy(sign_in_origins: tuple[str, ...] = ()) -> str:
    """The CSP, with the identity providers' origins as allowed form targets: browsers apply ``form-action`` to
    the redirects a form submission follows, and the sign-in form's answer is a redirect to the provider."""
    if not sign_in_origins:
        return CSP
    return CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(sorted(set(sign_in_origins))))


def security_headers(*, hsts: bool, sign_in_origins: tuple[str, ...] = ()) -> Any:
    """ASGI middleware factory adding the security headers to every HTTP response."""
    headers = [
        (b"content-security-policy", content_security_policy(sign_in_origins).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            # The API documentation pages bring their own scripts and styles; everything else gets the full CSP.
            own = [h for h in headers if h[0] != b"content-security-policy"] if scope["path"].startswith("/schema") else headers

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    message["headers"] = [*message.get("headers", []),
                                          *[(n, v) for n, v in own if n not in present]]  # fmt: skip
                await send(message)

            await app(scope, receive, send_with_headers)

        return middleware

    return factory


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(expected: str | None, given: str | None) -> None:
    """Refuse a form whose CSRF token is missing or wrong (403), comparing in constant time."""
    if not expected or not given or not secrets.compare_digest(expected.encode(), given.encode()):
        raise PermissionDeniedException("this form has expired or did not come from accessdesk; reload and retry")


def local_path(target: str | None, default: str = "/console") -> str:
    """``target`` if it is a path on this site, else ``default``: ``?next=`` never sends anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\t"):
        return default
    return target
