"""Cohorts: many partners nominated as one, read as one, and decided as one (each member still a nomination)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from accessdesk.api.cohort_schemas import (
    CohortCreatedOut,
    CohortDecidedOut,
    CohortDecisionIn,
    CohortIn,
    CohortOut,
    CohortPage,
    MemberDecisionOut,
    MemberResultOut,
)
from accessdesk.api.errors import problem
from accessdesk.api.routes import get, post
from accessdesk.api.schemas import Limit
from accessdesk.db.tables import FrontierModel
from accessdesk.domain.actor import Actor
from accessdesk.domain.cohorts import CohortRefused, Cohorts
from accessdesk.domain.queries import Queries
from accessdesk.domain.unit import Unit


def provide_cohorts(unit: NamedDependency[Unit]) -> Cohorts:
    return Cohorts(unit)


def on_cohort_refused(_: Request[Any, Any, Any], exc: CohortRefused) -> Response[dict[str, Any]]:
    """A cohort of which nothing was written: 422, with what became of every entry (``members``) and each refused
    one in ``errors``."""
    members = [MemberResultOut.of(m) for m in exc.members]
    errors = [{"field": "members", "entry": m.entry, "code": m.refusal.code, "reason": m.refusal.message}
              for m in exc.members if m.refusal is not None]  # fmt: skip
    return problem(422, "Invalid input", exc.message, exc.code, errors=errors,
                   extra={"members": msgspec.to_builtins(members)})  # fmt: skip


async def model_named(queries: Queries, actor: Actor, given: str) -> FrontierModel:
    """A model the caller may see, by id or by slug."""
    try:
        return await queries.model(actor, uuid.UUID(given))
    except ValueError:
        return await queries.model_by_slug(actor, given)


class CohortController(Controller):
    path = "/cohorts"
    tags = ["cohorts"]
    dependencies = {"cohorts": Provide(provide_cohorts, sync_to_thread=False)}
    exception_handlers = {CohortRefused: on_cohort_refused}

    @get("/")
    async def list_cohorts(
        self, actor: NamedDependency[Actor], cohorts: NamedDependency[Cohorts], queries: NamedDependency[Queries],
        model: FromQuery[str | None] = None, cursor: FromQuery[str | None] = None, limit: Limit = 50,
    ) -> CohortPage:  # fmt: skip
        model_id = (await model_named(queries, actor, model)).id if model else None
        found = await cohorts.cohorts(actor, model_id=model_id, cursor=cursor, limit=limit)
        return CohortPage(items=[CohortOut.of(s) for s in found.items], next_cursor=found.next_cursor)

    @post("/")
    async def nominate_cohort(
        self, actor: NamedDependency[Actor], cohorts: NamedDependency[Cohorts], queries: NamedDependency[Queries],
        data: JSONBody[CohortIn],
    ) -> CohortCreatedOut:  # fmt: skip
        model = await model_named(queries, actor, data.model)
        created = await cohorts.nominate_cohort(
            actor=actor, model_id=model.id, name=data.name, entries=data.members, starts_at=data.starts_at,
            ends_at=data.ends_at, actions=[a.value for a in data.actions], justification=data.justification,
            all_or_nothing=data.all_or_nothing,
        )  # fmt: skip
        summary = await cohorts.summary(actor, created.cohort.id)
        return CohortCreatedOut(cohort=CohortOut.of(summary), members=[MemberResultOut.of(m) for m in created.members],
                                duplicates=created.duplicates)  # fmt: skip

    @get("/{cohort_id:uuid}")
    async def get_cohort(
        self, actor: NamedDependency[Actor], cohorts: NamedDependency[Cohorts], cohort_id: FromPath[uuid.UUID]
    ) -> CohortOut:
        return CohortOut.of(await cohorts.summary(actor, cohort_id), await cohorts.members(actor, cohort_id), actor)

    @post("/{cohort_id:uuid}/decisions", status_code=200)
    async def decide_cohort(
        self, actor: NamedDependency[Actor], cohorts: NamedDependency[Cohorts], cohort_id: FromPath[uuid.UUID],
        data: JSONBody[CohortDecisionIn],
    ) -> CohortDecidedOut:  # fmt: skip
        decided = await cohorts.decide_cohort(actor=actor, cohort_id=cohort_id, reject=data.reject)
        return CohortDecidedOut(members=[MemberDecisionOut.of(m) for m in decided.members],
                                cohort=CohortOut.of(decided.summary))  # fmt: skip
