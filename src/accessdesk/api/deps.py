"""The JSON API's actor: the person a personal API token names. The unit of work and the domain services come from
:mod:`accessdesk.providers`, as for every surface."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException

from accessdesk.domain.actor import Actor
from accessdesk.domain.tokens import Tokens
from accessdesk.request_scope import note_actor, request_id_of, request_unit


async def provide_actor(request: Request[Any, Any, Any], state: State) -> Actor:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("send a personal API token as 'Authorization: Bearer <token>'")
    unit = request_unit(request, state)
    actor = await Tokens(unit).authenticate(token.strip(), request_id=request_id_of(request))
    if actor is None:
        raise NotAuthorizedException("the token is unknown, expired or revoked, or its user is disabled")
    note_actor(request, f"user:{actor.user_id}")
    return actor


API_DEPENDENCIES = {"actor": Provide(provide_actor)}
