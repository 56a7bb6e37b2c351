"""Frontier models: register, change, move the release, designate, switch off."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter

from accessdesk.api.routes import get, patch, post
from accessdesk.api.schemas import (
    NO_NUL,
    DesignationIn,
    GrantOut,
    Limit,
    ModelIn,
    ModelOut,
    ModelPage,
    ModelPatch,
    ReasonIn,
    ReleaseIn,
    ReleaseOut,
    SwitchOffOut,
)
from accessdesk.domain.actor import Actor
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.queries import Queries


class ModelController(Controller):
    path = "/models"
    tags = ["models"]

    @get("/")
    async def list_models(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], cursor: FromQuery[str | None] = None,
        limit: Limit = 50,
    ) -> ModelPage:  # fmt: skip
        found = await queries.models(actor, cursor=cursor, limit=limit)
        return ModelPage(items=[ModelOut.of(m, actor) for m in found.items], next_cursor=found.next_cursor)

    @post("/")
    async def register_model(
        self, actor: NamedDependency[Actor], models: NamedDependency[FrontierModels], data: JSONBody[ModelIn]
    ) -> ModelOut:
        model = await models.register(
            actor=actor, slug=data.slug, name=data.name, codename=data.codename, tier=data.tier,
            planned_release_at=data.planned_release_at, resource=data.resource, slack_channels=data.slack_channels,
            developer_quorum=data.developer_quorum, government_quorum=data.government_quorum,
            max_window_days=data.max_window_days, approval_step_up_minutes=data.approval_step_up_minutes,
            nomination_expiry_days=data.nomination_expiry_days, escalation_days=data.escalation_days,
        )  # fmt: skip
        return ModelOut.of(model, actor)

    @get("/{model_id:uuid}")
    async def get_model(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], model_id: FromPath[uuid.UUID]
    ) -> ModelOut:
        return ModelOut.of(await queries.model(actor, model_id), actor)

    @get("/by-slug/{slug:str}")
    async def get_model_by_slug(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries],
        slug: Annotated[str, PathParameter(pattern=NO_NUL)],
    ) -> ModelOut:  # fmt: skip
        return ModelOut.of(await queries.model_by_slug(actor, slug), actor)

    @patch("/{model_id:uuid}")
    async def update_model(
        self, actor: NamedDependency[Actor], models: NamedDependency[FrontierModels], model_id: FromPath[uuid.UUID],
        data: JSONBody[ModelPatch],
    ) -> ModelOut:  # fmt: skip
        return ModelOut.of(await models.update(actor=actor, model_id=model_id, changes=data.changes()), actor)

    @post("/{model_id:uuid}/release", status_code=200)
    async def move_release(
        self, actor: NamedDependency[Actor], models: NamedDependency[FrontierModels], queries: NamedDependency[Queries],
        model_id: FromPath[uuid.UUID], data: JSONBody[ReleaseIn],
    ) -> ReleaseOut:  # fmt: skip
        blocked = await models.move_release(
            actor=actor, model_id=model_id, planned_release_at=data.planned_release_at, reason=data.reason
        )
        return ReleaseOut(model=ModelOut.of(await queries.model(actor, model_id), actor),
                          blocked_grants=[GrantOut.of(row) for row in await queries.grant_rows(blocked)])  # fmt: skip

    @post("/{model_id:uuid}/designation", status_code=200)
    async def designate(
        self, actor: NamedDependency[Actor], models: NamedDependency[FrontierModels], model_id: FromPath[uuid.UUID],
        data: JSONBody[DesignationIn],
    ) -> ModelOut:  # fmt: skip
        model = await models.designate(
            actor=actor, model_id=model_id, designation=data.designation, reference=data.reference
        )
        return ModelOut.of(model, actor)

    @post("/{model_id:uuid}/switch-off", status_code=200)
    async def switch_off(
        self, actor: NamedDependency[Actor], models: NamedDependency[FrontierModels], queries: NamedDependency[Queries],
        model_id: FromPath[uuid.UUID], data: JSONBody[ReasonIn],
    ) -> SwitchOffOut:  # fmt: skip
        revoked = await models.switch_off(actor=actor, model_id=model_id, reason=data.reason)
        return SwitchOffOut(model=ModelOut.of(await queries.model(actor, model_id), actor), grants_revoked=revoked)
