"""Console pages for frontier models: the list, a model's page (its grants, what blocks them, its designation),
registration and edits by the developer, planned-release moves with a preview of what they block, the
government's designation, the kill switch (behind a recent sign-in), and the status of the developer's gateway
credentials."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from accessdesk.domain.credentials import Credentials
from accessdesk.domain.errors import DomainError
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.gates import explain
from accessdesk.domain.grants import stored_answer
from accessdesk.domain.queries import NominationFilter, Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.vocabulary import DESIGNATION_MOVES, Designation, NominationState, Tier
from accessdesk.request_scope import request_unit
from accessdesk.web.pages import (
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    Refusal,
    back_to,
    instant,
    notice_of,
    page,
    refused,
    require_fresh_sign_in,
)

# Pulling the kill switch revokes every grant of a model: it asks for a sign-in younger than this.
KILL_SWITCH_FRESHNESS = timedelta(minutes=10)
NOTICES = {
    "registered": "The model is registered.",
    "updated": "Your changes are saved.",
    "moved": "The planned release has moved; grants that no longer fit their window are blocked below.",
    "designated": "The designation is recorded.",
    "switched_off": "Access to this model is switched off: every grant is revoked and pending nominations closed.",
    "gateway_revoked": "The gateway credential is revoked: introspection refuses it from now on.",
}


def _model_values(form: Posted) -> dict[str, Any]:
    return {"name": form["name"], "codename": form["codename"], "tier": form["tier"], "resource": form["resource"],
            "slack_channels": form["slack_channels"].replace(",", " ").split(),
            "developer_quorum": form.integer("developer_quorum", "the developer quorum"),
            "government_quorum": form.integer("government_quorum", "the government quorum"),
            "max_window_days": form.integer("max_window_days", "the longest window")}  # fmt: skip


async def model_page(
    request: Request[Any, Any, Any], signed: Signed, model_id: uuid.UUID, *,
    refusal: Refusal | None = None, values: dict[str, Any] | None = None, form_name: str | None = None,
) -> Template:  # fmt: skip
    """A model's page, with a refused form shown again in its section (``form_name``) with what was typed."""
    unit = request_unit(request, request.app.state)
    queries, now = Queries(unit), unit.now()
    model = await queries.model(signed.actor, model_id)
    grants = (await queries.grants(signed.actor, model_id=model.id, limit=200)).items
    pending = (await queries.nominations(signed.actor, NominationFilter(state=NominationState.PENDING,
                                                                        model_id=model.id), limit=200)).items  # fmt: skip
    names = await queries.display_names([*grants, *pending])
    # Gateway credentials are the developer's business; government staff see their status too. Partners never.
    gateways = (await Credentials(unit, pepper=request.app.state.settings.pepper).gateways(signed.actor, model.id)
                if signed.actor.is_staff else [])  # fmt: skip
    names.update(await queries.people_names([u for u in (model.designated_by, model.killed_by,
                                                         *(c.created_by for c in gateways),
                                                         *(c.revoked_by for c in gateways)) if u]))  # fmt: skip
    preview = None
    if request.query_params.get("release"):
        try:
            when = instant(Posted(request.query_params, {}), "release")
            preview = (when, await FrontierModels(unit).blocked_by_release(actor=signed.actor, model_id=model.id,
                                                                            planned_release_at=when))  # fmt: skip
        except DomainError as exc:
            refusal, form_name = await refused(request, exc), "release"
    editable = {"name": model.name, "codename": model.codename, "tier": model.tier, "resource": model.resource,
                "slack_channels": " ".join(model.slack_channels), "developer_quorum": model.developer_quorum,
                "government_quorum": model.government_quorum, "max_window_days": model.max_window_days,
                "planned_release_at": model.planned_release_at.strftime("%Y-%m-%dT%H:%M"),
                "release": request.query_params.get("release", "")}  # fmt: skip
    return page(
        "console/model.html", signed, status_code=refusal.status if refusal else 200, model=model, names=names,
        grants=[(g, (a := stored_answer(g, now)).state.value, a.explanations) for g in grants],
        pending=pending, preview=[(g, [explain(p) for p in problems]) for g, problems in preview[1]] if preview else None,
        preview_at=preview[0] if preview else None, refusal=refusal, form_name=form_name,
        values={**editable, **(values or {})}, tiers=[t.value for t in Tier], explain=explain,
        designations=sorted(d.value for d in DESIGNATION_MOVES[Designation(model.designation)]),
        notice=notice_of(request, NOTICES), own=model.developer_id == signed.actor.organisation_id, gateways=gateways,
    )  # fmt: skip


class ModelPagesController(Controller):
    path = "/console/models"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def models(self, request: Request[Any, Any, Any], signed: Signed) -> Template:
        queries = Queries(request_unit(request, request.app.state))
        found = (await queries.models(signed.actor, limit=200)).items
        return page("console/models.html", signed, models=found, notice=notice_of(request, NOTICES))

    @get("/new")
    async def new_model(self, signed: Signed) -> Template:
        return self._new_page(signed, values={"tier": "standard", "developer_quorum": "1", "government_quorum": "1",
                                              "max_window_days": "90"})  # fmt: skip

    def _new_page(self, signed: Signed, *, values: dict[str, Any], refusal: Refusal | None = None) -> Template:
        return page("console/model_new.html", signed, values=values, refusal=refusal, tiers=[t.value for t in Tier],
                    status_code=refusal.status if refusal else 200)  # fmt: skip

    @post("/new")
    async def register(self, request: Request[Any, Any, Any], signed: Signed, form: Posted) -> Template | Redirect:
        try:
            model = await FrontierModels(request_unit(request, request.app.state)).register(
                actor=signed.actor, slug=form["slug"], planned_release_at=instant(form, "planned_release_at"),
                **_model_values(form),
            )  # fmt: skip
        except DomainError as exc:
            return self._new_page(signed, values=form.as_dict(), refusal=await refused(request, exc))
        return back_to(f"/console/models/{model.id}", "registered")

    @get("/{model_id:uuid}")
    async def model(self, request: Request[Any, Any, Any], signed: Signed, model_id: uuid.UUID) -> Template:
        return await model_page(request, signed, model_id)

    async def _refused(
        self, request: Request[Any, Any, Any], signed: Signed, model_id: uuid.UUID, exc: DomainError, form: Posted,
        form_name: str,
    ) -> Template:  # fmt: skip
        refusal = await refused(request, exc)
        return await model_page(request, signed, model_id, refusal=refusal, values=form.as_dict(),
                                      form_name=form_name)  # fmt: skip

    @post("/{model_id:uuid}/edit")
    async def update(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                     model_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await FrontierModels(request_unit(request, request.app.state)).update(
                actor=signed.actor, model_id=model_id, changes=_model_values(form))
        except DomainError as exc:
            return await self._refused(request, signed, model_id, exc, form, "edit")
        return back_to(f"/console/models/{model_id}", "updated")

    @post("/{model_id:uuid}/release")
    async def move_release(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                           model_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await FrontierModels(request_unit(request, request.app.state)).move_release(
                actor=signed.actor, model_id=model_id, planned_release_at=instant(form, "planned_release_at"),
                reason=form.get("move_reason"),
            )  # fmt: skip
        except DomainError as exc:
            return await self._refused(request, signed, model_id, exc, form, "release")
        return back_to(f"/console/models/{model_id}", "moved")

    @post("/{model_id:uuid}/designation")
    async def designate(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                        model_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        try:
            await FrontierModels(request_unit(request, request.app.state)).designate(
                actor=signed.actor, model_id=model_id, designation=form["designation"],  # type: ignore[arg-type]
                reference=form.get("reference"))
        except DomainError as exc:
            return await self._refused(request, signed, model_id, exc, form, "designation")
        return back_to(f"/console/models/{model_id}", "designated")

    @post("/{model_id:uuid}/switch-off")
    async def switch_off(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                         model_id: uuid.UUID) -> Template | Redirect:  # fmt: skip
        require_fresh_sign_in(request, signed, within=KILL_SWITCH_FRESHNESS, back=f"/console/models/{model_id}")
        try:
            await FrontierModels(request_unit(request, request.app.state)).switch_off(
                actor=signed.actor, model_id=model_id, reason=form["reason"])
        except DomainError as exc:
            return await self._refused(request, signed, model_id, exc, form, "switch_off")
        return back_to(f"/console/models/{model_id}", "switched_off")
