"""What an OAuth request presents before anything is verified: its form, which client it says it comes from, how it
means to authenticate, and how any of that may be shown back in an error.

Everything here reads untrusted input and must never fail on it other than with an ``OAuth2Error`` the endpoint
answers: the rate limiter reads the claimed client of every request (``claimed_client_id`` never raises), and a
refusal that echoes a value the client sent (a scope, a parameter's name) goes through :func:`shown`, because
RFC 6749 §5.2 limits ``error_description`` to printable ASCII without ``"`` and ``\\`` (Authlib raises
``ValueError`` otherwise) and an echo must not be as long as what was sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from urllib.parse import unquote, unquote_plus

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from joserfc.util import urlsafe_b64decode

FORM = "application/x-www-form-urlencoded"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LONGEST_ECHO = 80  # characters of one value a refusal repeats back
_UNSHOWABLE = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')


def shown(value: str, *, longest: int = LONGEST_ECHO) -> str:
    """``value`` as a refusal may repeat it: characters RFC 6749 forbids in ``error_description`` become ``?``, and
    a long value is cut (with ``...``)."""
    cut = value[:longest]
    cut = _UNSHOWABLE.sub("?", cut)
    return cut if len(value) <= longest else f"{cut}..."


def form_pairs(text: str) -> list[tuple[str, str]]:
    """The name/value pairs of a form-encoded body, exactly as ``parse_qsl(text, keep_blank_values=True)`` reads
    them; quicker for what OAuth clients send (a few fields, rarely escaped), which is on every request's path."""
    pairs = []
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "%" in piece or "+" in piece:
            name, value = unquote_plus(name), unquote_plus(value)
        pairs.append((name, value))
    return pairs


def read_form(body: bytes, content_type: str) -> dict[str, str]:
    """The request's form parameters; RFC 6749 §3.2: form-encoded, each at most once. InvalidRequestError
    otherwise."""
    if body and content_type.split(";")[0].strip().lower() != FORM:
        raise InvalidRequestError(description=f"the request body must be {FORM}")
    form: dict[str, str] = {}
    for name, value in form_pairs(body.decode("utf-8", "replace")):
        if name in form:
            raise InvalidRequestError(description=f"the parameter {shown(name)} is repeated")
        form[name] = value
    return form


def basic_user(authorization: str) -> str | None:
    """The user name of an ``Authorization: Basic`` header, form-url-decoded (RFC 6749 §2.3.1); None when the header
    is not Basic or cannot be read."""
    if authorization[:6].lower() != "basic ":
        return None
    try:
        user = base64.b64decode(authorization[6:].strip(), validate=True).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(user)


def assertion_subject(form: Mapping[str, str]) -> str | None:
    """The ``sub`` a ``private_key_jwt`` client assertion claims, unverified; None without a readable one."""
    assertion = form.get("client_assertion", "")
    if form.get("client_assertion_type") != ASSERTION_TYPE or assertion.count(".") != 2:
        return None
    try:
        claims = json.loads(urlsafe_b64decode(assertion.split(".")[1].encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims.get("sub") if isinstance(claims, dict) and isinstance(claims.get("sub"), str) else None


def claimed_client_id(headers: Mapping[str, str], form: Mapping[str, str]) -> str | None:
    """Which client the request says it comes from, before anything is verified: the Basic user name, the form's
    client_id, or a client assertion's ``sub``. Only used to read that client (Authlib then authenticates it) and
    to count the request against that client's rate limit. Never raises."""
    authorization = headers.get("authorization", "")
    if authorization[:6].lower() == "basic ":
        return basic_user(authorization)
    if form.get("client_id"):
        return form["client_id"]
    return assertion_subject(form)


def one_authentication(headers: Mapping[str, str], form: Mapping[str, str]) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request, and a ``client_id``
    in the body must name the client that authenticates. InvalidRequestError otherwise: accepting both would let
    a request say one client and be answered as another. HTTP Basic credentials that cannot be read (not base64,
    not UTF-8) are InvalidClientError here, before Authlib, which does not expect them."""
    basic = headers.get("authorization", "")[:6].lower() == "basic "
    if basic and basic_user(headers["authorization"]) is None:
        raise InvalidClientError(description="the Authorization header does not hold Basic credentials (RFC 7617)")
    methods = [name for name, used in (
        ("HTTP Basic", basic), ("client_secret in the body", "client_secret" in form),
        ("client_assertion", "client_assertion" in form or "client_assertion_type" in form),
    ) if used]  # fmt: skip
    if len(methods) > 1:
        raise InvalidRequestError(description=f"use one client authentication method, not {' and '.join(methods)}")
    named = form.get("client_id")
    if named is None:
        return
    authenticating = basic_user(headers.get("authorization", "")) if basic else assertion_subject(form)
    if (basic or "client_assertion" in form) and authenticating != named:
        raise InvalidRequestError(description="the client_id in the body is not the client that authenticates")
