"""Per-request dependencies: the unit of work, the authenticated actor, and the domain services."""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.types import ASGIApp, Receive, Scope, Send

from accessdesk.domain.actor import Actor
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.queries import Queries
from accessdesk.domain.tokens import Tokens
from accessdesk.domain.unit import Unit

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_of(request: Request[Any, Any, Any]) -> str:
    """The caller's X-Request-ID when it is sane, else a new one; remembered for the response header."""
    existing = request.scope.get("state", {}).get("request_id")
    if existing:
        return existing
    given = request.headers.get("x-request-id", "")
    rid = given if REQUEST_ID.match(given) else uuid.uuid4().hex
    request.scope.setdefault("state", {})["request_id"] = rid
    return rid


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
        unit = scope_state[_SESSION] = Unit(state.sessionmaker(), state.clock)
    return unit


def close_request_session(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: close the request's session (rolling back anything uncommitted) when the request ends."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            unit = scope.get("state", {}).pop(_SESSION, None)
            if unit is not None:
                await unit.session.close()

    return middleware


async def provide_unit(request: Request[Any, Any, Any], state: State) -> Unit:
    return request_unit(request, state)


async def provide_actor(request: Request[Any, Any, Any], state: State) -> Actor:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("send a personal API token as 'Authorization: Bearer <token>'")
    unit = request_unit(request, state)
    actor = await Tokens(unit).authenticate(token.strip(), request_id=request_id_of(request))
    if actor is None:
        raise NotAuthorizedException("the token is unknown, expired or revoked, or its user is disabled")
    return actor


def _service(cls: type[Any]) -> Provide:
    def provide(unit: Unit) -> Any:
        return cls(unit)

    provide.__annotations__ = {"unit": Unit, "return": cls}
    return Provide(provide, sync_to_thread=False)


DEPENDENCIES = {
    "unit": Provide(provide_unit),
    "actor": Provide(provide_actor),
    "queries": _service(Queries),
    "coselection": _service(CoSelection),
    "grants": _service(Grants),
    "organisations": _service(Organisations),
    "models": _service(FrontierModels),
    "compliance": _service(Compliance),
}
