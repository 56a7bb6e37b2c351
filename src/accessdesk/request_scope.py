"""What one HTTP request holds, for every surface that serves requests (JSON API, console): its request id and
its one unit of work, closed when the request ends."""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.types import ASGIApp, Receive, Scope, Send

from accessdesk.domain.unit import Unit

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_of(request: Request[Any, Any, Any]) -> str:
    """The caller's X-Request-ID when it is sane, else a new one; remembered for the response header."""
    existing = request.scope.get("state", {}).get("request_id")
    if existing:
        return existing
    given = request.headers.get("x-request-id", "")
    rid = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    request.scope.setdefault("state", {})["request_id"] = rid
    return rid


def note_actor(request: Request[Any, Any, Any], who: str) -> None:
    """Who the request acts as (``user:<id>``, ``client:<client_id>``), for its access line
    (:mod:`accessdesk.telemetry`). Ids only: no e-mail address reaches the log."""
    request.scope.setdefault("state", {})["actor"] = who


_SESSION = "accessdesk.session"


def request_unit(request: Request[Any, Any, Any], state: State) -> Unit:
    """The request's one unit of work, created on first use and closed by :func:`close_request_session`.

    Not a generator dependency: when a dependency raises (a refused token), Litestar does not run the clean-up of
    generator dependencies resolved before it, which would leave a connection checked out (and, on SQLite, the
    write lock held). Closing at the ASGI level runs whatever happened.
    """
    scope_state = request.scope.setdefault("state", {})
    unit = scope_state.get(_SESSION)
    if unit is None:
        unit = scope_state[_SESSION] = Unit(state.sessionmaker, state.clock)
    return unit


def close_request_session(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: close the request's session (rolling back anything uncommitted) when the request ends."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            unit = scope.get("state", {}).pop(_SESSION, None)
            # A session holds a connection only inside a transaction; one that is not in a transaction (never used,
            # or committed) has nothing to give back, and closing it would still cost a trip through the greenlet.
            if unit is not None and unit.has_session and unit.session.in_transaction():
                await unit.session.close()
            # What the request wrote to the outbox (a decision's card edits, say) leaves now, not at the next sweep.
            prompt = scope["app"].state.get("prompt_delivery") if unit is not None and unit.queued else None
            if prompt is not None:
                prompt.soon(unit.queued)

    return middleware
