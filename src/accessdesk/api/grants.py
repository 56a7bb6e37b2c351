"""Grants: list and read with their state and problems, "usable at t?", revoke, request an extension."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from accessdesk.api.routes import get, post
from accessdesk.api.schemas import (
    ExtensionIn,
    GrantOut,
    GrantPage,
    Limit,
    NominationOut,
    ReasonIn,
    UsabilityOut,
)
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.grants import Grants
from accessdesk.domain.queries import Queries
from accessdesk.domain.vocabulary import GrantState


class GrantController(Controller):
    path = "/grants"
    tags = ["grants"]

    @get("/")
    async def list_grants(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries],
        status: Annotated[GrantState | None, QueryParameter(name="state")] = None,
        model_id: FromQuery[uuid.UUID | None] = None, organisation_id: FromQuery[uuid.UUID | None] = None,
        cursor: FromQuery[str | None] = None, limit: Limit = 50,
    ) -> GrantPage:  # fmt: skip
        found = await queries.grants(actor, state=status, model_id=model_id, organisation_id=organisation_id,
                                     cursor=cursor, limit=limit)  # fmt: skip
        return GrantPage(items=[GrantOut.of(row) for row in await queries.grant_rows(found.items)],
                         next_cursor=found.next_cursor)  # fmt: skip

    @get("/{grant_id:uuid}")
    async def get_grant(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], grant_id: FromPath[uuid.UUID]
    ) -> GrantOut:
        return GrantOut.of(await queries.grant_row(actor, grant_id))

    @get("/{grant_id:uuid}/usability")
    async def usability(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], grants: NamedDependency[Grants],
        grant_id: FromPath[uuid.UUID],
        at: Annotated[datetime | None, QueryParameter(description="ISO 8601 instant with offset; default now")] = None,
    ) -> UsabilityOut:  # fmt: skip
        await queries.grant(actor, grant_id)
        return UsabilityOut.of(await grants.usability(grant_id, at=at))

    @post("/{grant_id:uuid}/revocation", status_code=200)
    async def revoke(
        self, actor: NamedDependency[Actor], grants: NamedDependency[Grants], queries: NamedDependency[Queries],
        grant_id: FromPath[uuid.UUID], data: JSONBody[ReasonIn],
    ) -> GrantOut:  # fmt: skip
        grant = await grants.revoke(actor=actor, grant_id=grant_id, reason=data.reason)
        return GrantOut.of((await queries.grant_rows([grant]))[0])

    @post("/{grant_id:uuid}/extensions")
    async def request_extension(
        self, actor: NamedDependency[Actor], coselection: NamedDependency[CoSelection], grant_id: FromPath[uuid.UUID],
        data: JSONBody[ExtensionIn],
    ) -> NominationOut:  # fmt: skip
        nomination = await coselection.request_extension(
            actor=actor, grant_id=grant_id, ends_at=data.ends_at, justification=data.justification
        )
        return NominationOut.of(nomination, state=nomination.state, decisions=[])
