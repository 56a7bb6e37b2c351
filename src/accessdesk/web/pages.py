"""What every console page shares: the signed-in person as a dependency, CSRF-checked forms, rendering with the
layout's context, step-up, and errors shown as pages in the domain's own words."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap
from markupsafe import Markup

from accessdesk.api.errors import status_for
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import DomainError, Invalid
from accessdesk.domain.sessions import Signed, WebSessions
from accessdesk.request_scope import note_actor, request_id_of, request_unit
from accessdesk.settings import Settings
from accessdesk.web.security import check_csrf, local_path


def cookie_name(settings: Settings) -> str:
    # __Host- cookies must be Secure, have Path=/ and no Domain: the browser then refuses any other site's or a
    # plain-http page's attempt to set them.
    return "__Host-accessdesk_session" if settings.is_production else "accessdesk_session"


async def signed_in(request: Request[Any, Any, Any], sessions: WebSessions) -> Signed | None:
    signed = await sessions.resume(request.cookies.get(cookie_name(request.app.state.settings)),
                                   request_id=request_id_of(request))  # fmt: skip
    if signed is not None:
        note_actor(request, f"user:{signed.actor.user_id}")
    return signed


class SignInRequired(Exception):
    """No live session: the page sends the browser to sign in and come back."""


class FreshSignInRequired(Exception):
    """The session is older than the page allows: the browser signs in again at its provider, then comes back to
    ``back`` (the page, not the form's POST address). Not the domain's ``errors.StepUpRequired`` (a refusal, which
    a console handler turns into this)."""

    def __init__(self, back: str) -> None:
        super().__init__(back)
        self.back = back


def _here(request: Request[Any, Any, Any]) -> str:
    return local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))


async def provide_signed(request: Request[Any, Any, Any], sessions: NamedDependency[WebSessions]) -> Signed:
    signed = await signed_in(request, sessions)
    if signed is None:
        raise SignInRequired()
    request.state[SIGNED] = signed  # an error page later in the request keeps the header and navigation
    return signed


SIGNED = "accessdesk_signed"


def provide_actor(signed: NamedDependency[Signed]) -> Actor:
    """The console's actor is the signed-in person, known to have signed in when the session says (the JSON API's
    is a token's, which proves no sign-in: see ``api.deps``)."""
    return signed.actor.signed_in_at(signed.authenticated_at)


class Posted:
    """A submitted console form whose CSRF token has been checked. Values are stripped strings; absent is ''."""

    def __init__(self, values: Mapping[str, Any], lists: dict[str, list[str]]) -> None:
        self._values = values
        self._lists = lists

    def __getitem__(self, name: str) -> str:
        return str(self._values.get(name, "")).strip()

    def raw(self, name: str) -> str:
        """The value exactly as sent (documents whose every character counts, such as an NDA's text)."""
        return str(self._values.get(name, ""))

    def get(self, name: str) -> str | None:
        value = self[name]
        return value or None

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self._lists.get(name, []) if v.strip()]

    def uuid(self, name: str, what: str) -> uuid.UUID:
        try:
            return uuid.UUID(self[name])
        except ValueError:
            raise Invalid(name, f"choose {what}") from None

    def integer(self, name: str, what: str) -> int:
        try:
            return int(self[name])
        except ValueError:
            raise Invalid(name, f"{what} must be a whole number") from None

    def as_dict(self) -> dict[str, str]:
        return {k: self[k] for k in self._values if k != "csrf"}


FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# What no field of ours holds, and PostgreSQL cannot store (NUL) or a log line or a terminal should never meet: the
# C0 controls but tab, newline and carriage return (a textarea's line breaks), and DEL.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


async def provide_form(request: Request[Any, Any, Any], signed: NamedDependency[Signed]) -> Posted:
    """The submitted form, refused as a whole (nothing is carried out) when it is not a web form (415), does not
    carry this session's CSRF token (403), or holds a control character in any name or value (400)."""
    media_type, _ = request.content_type
    # An empty POST with no Content-Type is an empty form (refused below for its missing CSRF token).
    if media_type.lower() not in FORM_MEDIA_TYPES and (media_type or await request.body()):
        raise HTTPException(status_code=415, detail="this form was not sent as a web form; reload the page and retry")
    form = await request.form()
    check_csrf(signed.csrf_token, str(form.get("csrf", "")))
    lists = {k: [str(v) for v in form.getall(k)] for k in form}
    for name, values in lists.items():
        if CONTROL.search(name) or any(CONTROL.search(v) for v in values):
            raise HTTPException(status_code=400, detail=f"the field {name!r} holds a control character (such as "
                                                        "NUL); remove it and send the form again")  # fmt: skip
    return Posted(form, lists)


PAGE_DEPENDENCIES = {"signed": Provide(provide_signed), "actor": Provide(provide_actor, sync_to_thread=False),
                     "form": Provide(provide_form)}  # fmt: skip


def instant(form: Posted, name: str, *, end_of_day: bool = False) -> datetime:
    """A date (``YYYY-MM-DD``) or date and time (``YYYY-MM-DDTHH:MM``) typed in a form, as UTC. A bare date is the
    start of that day, or its last instant with ``end_of_day``."""
    raw = form[name]
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time.max if end_of_day else time.min)
        else:
            moment = datetime.fromisoformat(raw)  # "YYYY-MM-DD HH:MM" as well as "YYYY-MM-DDTHH:MM"
    except ValueError:
        raise Invalid(name, "enter a date as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM (UTC)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def shown_utc(moment: datetime | None, *, day: bool = False) -> Markup:
    """An instant as every console page shows it: in UTC, said so ("2026-12-03 16:30 UTC"), in a ``<time>`` that
    ``static/local-time.js`` completes with the viewer's own time where the browser runs scripts. ``day``: the
    date alone, for what is counted in days (an attestation valid until...)."""
    if moment is None:
        return Markup("")
    moment = moment.astimezone(UTC)
    text = f"{moment:%Y-%m-%d}" if day else f"{moment:%Y-%m-%d %H:%M} UTC"
    local = "" if day else " data-local"
    return Markup(f'<time datetime="{moment:%Y-%m-%dT%H:%M:%SZ}"{local}>{text}</time>')


def shown_window(start: datetime, end: datetime) -> Markup:
    """A window, ``2026-12-03 16:30 → 2027-01-02 16:30 UTC`` (times included: a window starts at a time)."""
    return Markup(f"{shown_utc(start)} → {shown_utc(end)}")


# A page that shows the first part of a list (a model's grants, an organisation's nominations) shows this many and
# links to the whole list, filtered, when there are more: never a list cut short in silence.
FIRST_OF_LIST = 50


def page(name: str, signed: Signed, *, status_code: int = 200, **context: Any) -> Template:
    """Render ``name`` with what the layout needs (who is signed in, the CSRF token for its forms)."""
    return Template(name, status_code=status_code, context={"actor": signed.actor, "csrf": signed.csrf_token, **context})


def confirmed(form: Posted) -> bool:
    """Whether a weighty form comes from its confirmation page (see :func:`confirmation`)."""
    return form["confirmed"] == "yes"


def confirmation(
    signed: Signed, form: Posted, *, title: str, consequences: list[str], action: str, confirm: str, back: str,
    danger: bool = False, shown: list[tuple[str, str]] | None = None,
) -> Template:  # fmt: skip
    """Before a decision that cannot be taken back: a page that says what will happen, in words, and carries the
    form as typed to ``action`` once more, confirmed. Nothing has changed yet; "No, go back" changes nothing."""
    fields = [(name, value) for name in form.as_dict() if name != "confirmed" for value in form.all(name) or [""]]
    return page("console/confirm.html", signed, title=title, consequences=consequences, action=action,
                confirm=confirm, back=back, danger=danger, shown=shown or [], fields=fields)  # fmt: skip


def back_to(path: str, notice: str) -> Redirect:
    """After a change, show the page again with a short notice (POST → redirect → GET)."""
    separator = "&" if "?" in path else "?"
    return Redirect(f"{path}{separator}done={notice}", status_code=303)


def notice_of(request: Request[Any, Any, Any], allowed: Mapping[str, str]) -> str | None:
    """The notice a redirect asked for, if it is one of the page's own (never text from the URL)."""
    return allowed.get(request.query_params.get("done") or "")


def require_fresh_sign_in(
    request: Request[Any, Any, Any], signed: Signed, *, within: timedelta, back: str | None = None
) -> None:
    """For pages that reveal secrets and drastic actions: the person must have signed in within ``within``;
    otherwise they are sent through their identity provider again (``max_age``/``prompt=login``) and then back to
    ``back`` (default: this page)."""
    if request_unit(request, request.app.state).now() - signed.authenticated_at > within:
        raise FreshSignInRequired(local_path(back) if back else _here(request))


def _to_sign_in(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, FreshSignInRequired):
        return Redirect(f"/login/again?next={quote(exc.back, safe='/')}", status_code=303)
    return Redirect(f"/login?next={quote(_here(request), safe='/')}", status_code=303)


def html_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Console errors as a page, with the domain's own words."""
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, exc.detail
    elif isinstance(exc, DomainError):
        status, message = status_for(exc), exc.message
    else:
        status, message = 400, str(exc)
    signed: Signed | None = request.state.get(SIGNED)
    context: dict[str, Any] = {"status": status, "message": message}
    if signed is not None:
        context.update(actor=signed.actor, csrf=signed.csrf_token)
    return Template("console/error.html", context=context, status_code=status)


PAGE_PREFIXES = ("/console/", "/portal/")


def pages_answer_in_html(handlers: Mapping[Any, Any]) -> dict[Any, Any]:
    """The app's error handlers, but a console address that matches no page (``/console/nominations/not-a-uuid``)
    or is refused before any page's handler runs answers as a page, not as the JSON API's problem details."""

    def in_html(handler: Any) -> Any:
        def answer(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
            path = request.url.path
            if (path == "/console" or path.startswith(PAGE_PREFIXES)) and isinstance(exc, HTTPException | DomainError):
                return html_error(request, exc)
            return handler(request, exc)

        return answer

    return {kind: in_html(handler) if isinstance(kind, type) and issubclass(kind, HTTPException | DomainError)
            else handler for kind, handler in handlers.items()}  # fmt: skip


PAGE_ERRORS: ExceptionHandlersMap = {SignInRequired: _to_sign_in, FreshSignInRequired: _to_sign_in,
                                     HTTPException: html_error, DomainError: html_error}  # fmt: skip
