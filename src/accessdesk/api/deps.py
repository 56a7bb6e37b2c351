"""Per-request dependencies: the unit of work, the authenticated actor, and the domain services."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException

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


async def provide_unit(state: State) -> AsyncGenerator[Unit, None]:
    async with state.sessionmaker() as session:
        yield Unit(session, state.clock)


async def provide_actor(request: Request[Any, Any, Any], state: State) -> Actor:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("send a personal API token as 'Authorization: Bearer <token>'")
    # Authenticate in a session of its own, closed here, not in the request's unit: when a dependency raises,
    # Litestar never runs the clean-up of the generator dependencies resolved before it, so a refused token
    # would leave the unit's connection checked out (and, on SQLite, the write lock held) until garbage collection.
    async with state.sessionmaker() as session:
        actor = await Tokens(Unit(session, state.clock)).authenticate(token.strip(), request_id=request_id_of(request))
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
