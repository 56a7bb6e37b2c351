"""Domain errors and framework errors → RFC 9457 problem details, in one place for the JSON API."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from sqlalchemy.exc import IntegrityError

from accessdesk.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    Overlap,
    StepUpRequired,
)

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
STATUS: list[tuple[type[DomainError], int, str]] = [
    (NotFound, 404, "Not found"),
    (Forbidden, 403, "Forbidden"),
    (Conflict, 409, "Conflict"),
    (Malformed, 400, "Invalid request"),
    (Invalid, 422, "Invalid input"),
]
# Codes for the refusals Litestar raises itself, where ``http_<status>`` would say less.
HTTP_CODES = {413: "body_too_large", 415: "unsupported_media_type"}


class BodyRefused(ClientException):
    """A request body refused before any handler sees it (its media type, its encoding, its shape), with the
    problem ``code`` that says which."""

    def __init__(self, *, status_code: int, code: str, detail: str) -> None:
        super().__init__(detail=detail, status_code=status_code)
        self.code = code


def problem(
    status: int, title: str, detail: str, code: str, *, errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:  # fmt: skip
    body: dict[str, Any] = {"type": f"about:blank#{code}", "title": title, "status": status, "detail": detail,
                            "code": code, **(extra or {})}  # fmt: skip
    if errors:
        body["errors"] = errors
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_for(exc: DomainError) -> int:
    """The HTTP status of a domain error, for every surface that speaks HTTP."""
    return next((status for kind, status, _ in STATUS if isinstance(exc, kind)), 400)


def _conflicting(exc: DomainError) -> dict[str, Any] | None:
    """What a conflict is with, where the refusal names it: its kind, id and address in this API."""
    if isinstance(exc, Overlap):
        return {"conflicting": {"kind": exc.kind, "id": str(exc.subject_id),
                                "href": f"/api/v1/{exc.kind}s/{exc.subject_id}"}}  # fmt: skip
    return None


def _stepping_up(request: Request[Any, Any, Any], exc: StepUpRequired) -> tuple[str, dict[str, Any]]:
    """A decision refused for want of a recent sign-in (a token proves none): the refusal's words with the console
    page where the person signs in again and approves, and that page's address and the sign-in's age apart."""
    url = f"{request.app.state.settings.issuer}/console/nominations/{exc.nomination_id}/approve"
    return f"{exc.message}: {url}", {"approve_url": url, "within_minutes": exc.within_minutes}


def on_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    if isinstance(exc, StepUpRequired):
        detail, extra = _stepping_up(request, exc)
        return problem(status_for(exc), "Forbidden", detail, exc.code, extra=extra)
    for kind, status, title in STATUS:
        if isinstance(exc, kind):
            errors = [{"field": exc.field, "reason": exc.message}] if isinstance(exc, Invalid) else None
            return problem(status, title, exc.message, exc.code, errors=errors, extra=_conflicting(exc))
    return problem(400, "Bad request", exc.message, exc.code)


def _field_name(request: Request[Any, Any, Any], key: str, message: str) -> str:
    """The name the client used. Litestar reports a parameter by its Python name (``status`` for the query
    parameter ``state``, which Litestar reserves), and a whole body (``data``) when a field is missing from it or
    a body-wide check failed; name the field the client sent or left out instead."""
    if key == "data":
        named = _NAMED_FIELD.search(message)
        return named[1] if named else "body"
    fields = getattr(getattr(request.route_handler, "signature_model", None), "_fields", {})
    definition = getattr(fields.get(key), "kwarg_definition", None)
    return getattr(definition, "name", None) or key  # QueryParameter(name=...), HeaderParameter(name=...)


_NAMED_FIELD = re.compile(r"(?:missing required field |^)`(\w+)`")


def on_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            message = str(item.get("message", ""))
            key = str(item.get("key") or item.get("source") or "body")
            errors.append({"field": _field_name(request, key, message), "reason": message})
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or str(exc.detail)
    return problem(400, "Invalid request", detail, "validation_error", errors=errors or None)


def on_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="accessdesk"')
    code = exc.code if isinstance(exc, BodyRefused) else HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return problem(exc.status_code, _phrase(exc.status_code), str(exc.detail), code, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def on_integrity_error(_: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    # Reached only when a concurrent request won a race the service's own checks could not see (a unique key).
    log.info("integrity error turned into 409: %s", exc.orig)
    return problem(409, "Conflict", "a concurrent change conflicts with this one; reload and try again",
                   "concurrent_change")  # fmt: skip


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal server error", "something went wrong on our side", "internal_error")


HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: on_domain_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    IntegrityError: on_integrity_error,
    Exception: on_unexpected,
}
