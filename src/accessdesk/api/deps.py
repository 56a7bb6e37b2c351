"""Per-request dependencies: the unit of work, the authenticated actor, and the domain services."""

from __future__ import annotations

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
from accessdesk.request_scope import request_id_of, request_unit


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
