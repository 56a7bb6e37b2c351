"""Browser-facing security: response headers on every response, CSRF tokens for every state-changing form,
and local-only redirects."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from litestar.exceptions import PermissionDeniedException
from litestar.types import Message, Scope

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


# A response to a request that carries credentials (a console session, a bearer token, a client's Basic
# authentication) is someone's own view: no cache may keep it, the browser's back-forward cache included, or Back
# after sign-out shows it again. Static files stay cacheable whoever asks.
NO_STORE = (b"cache-control", b"no-store")
STATIC = "/static/"
SESSION_COOKIE = "accessdesk_session="  # the end of both names (``__Host-`` in production), see pages.cookie_name


def carries_credentials(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"authorization" or (name == b"cookie" and SESSION_COOKIE.encode() in value):
            return True
    return False


def security_headers(*, hsts: bool, sign_in_origins: tuple[str, ...] = ()) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers every HTTP response of this deployment carries (the CSP included: no page of ours, the
    API's schema among them, brings scripts or styles from elsewhere); ``add_security_headers`` adds them."""
    headers = [
        (b"content-security-policy", content_security_policy(sign_in_origins).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return tuple(headers)


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook adding the app's ``security_headers`` (``app.state``) to every HTTP response, and
    ``Cache-Control: no-store`` to every response to a request that carries credentials. A hook rather than a
    middleware: Litestar runs middleware only for a request that found its route, and a 404 or 405 needs the
    headers too."""
    if message["type"] != "http.response.start":
        return
    headers: tuple[tuple[bytes, bytes], ...] = scope["app"].state.security_headers
    private = carries_credentials(scope) and not scope["path"].startswith(STATIC)
    given = [(n, v) for n, v in message.get("headers", []) if not (private and n.lower() == NO_STORE[0])]
    present = {name.lower() for name, _ in given}
    message["headers"] = [*given, *[(n, v) for n, v in headers if n not in present], *([NO_STORE] if private else [])]


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
