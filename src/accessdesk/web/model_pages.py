"""Console pages for frontier models: the list, a model's page (its grants, what blocks them, its designation),
registration and edits by the developer, planned-release moves with a preview of what they block, the
government's designation, the kill switch (behind a recent sign-in), and the status of the developer's gateway
credentials."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from accessdesk.db.tables import AccessGrant
from accessdesk.domain.actor import Actor
from accessdesk.domain.credentials import Credentials
from accessdesk.domain.errors import Invalid
from accessdesk.domain.frontier_models import ESCALATION_DAYS, NOMINATION_EXPIRY_DAYS, FrontierModels
from accessdesk.domain.gates import explain
from accessdesk.domain.queries import MODEL_SORTS, NominationFilter, Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.step_up import approval_step_up
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import DESIGNATION_MOVES, Designation, NominationState, Tier
from accessdesk.web.listing import Listing
from accessdesk.web.pages import (
    FIRST_OF_LIST,
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    back_to,
    instant,
    notice_of,
    page,
    require_fresh_sign_in,
)
from accessdesk.web.refusals import Refusal, on_refusal

# Models are tens, but the list is read a page at a time all the same (and pages the same way, whatever the order).
MODELS_PAGE = 100
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
    """The model's fields as typed. The nomination settings left empty are their defaults (for the step-up: the
    tier's, domain.step_up)."""

    def whole_or(name: str, what: str, default: int | None) -> int | None:
        return form.integer(name, what) if form[name] else default

    return {"name": form["name"], "codename": form["codename"], "tier": form["tier"], "resource": form["resource"],
            "slack_channels": form["slack_channels"].replace(",", " ").split(),
            "developer_quorum": form.integer("developer_quorum", "the developer quorum"),
            "government_quorum": form.integer("government_quorum", "the government quorum"),
            "max_window_days": form.integer("max_window_days", "the longest window"),
            "approval_step_up_minutes": whole_or("approval_step_up_minutes", "the sign-in before approving", None),
            "nomination_expiry_days": whole_or("nomination_expiry_days", "the days before a nomination expires",
                                               NOMINATION_EXPIRY_DAYS),
            "escalation_days": whole_or("escalation_days", "the days before a nomination is escalated",
                                        ESCALATION_DAYS)}  # fmt: skip


async def model_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
    queries: NamedDependency[Queries], credentials: NamedDependency[Credentials], model_id: FromPath[uuid.UUID], *,
    preview: FromQuery[tuple[datetime, list[tuple[AccessGrant, list[str]]]] | None] = None,
    refusal: Refusal | None = None, values: dict[str, Any] | None = None, section: str | None = None,
) -> Template:  # fmt: skip
    """A model's page, with a refused form shown again in its ``section`` with what was typed, and ``preview``:
    the grants a planned release on that date would block."""
    model = await queries.model(signed.actor, model_id)
    # The first page of each; the page links to the whole list when there is more.
    grants = await queries.grants(signed.actor, model_id=model.id, limit=FIRST_OF_LIST)
    pending = await queries.nominations(signed.actor, NominationFilter(state=NominationState.PENDING,
                                                                       model_id=model.id), limit=FIRST_OF_LIST)  # fmt: skip
    names = await queries.display_names([*pending.items, *(g for g, _ in preview[1])] if preview else pending.items)
    gateways = await credentials.gateways(signed.actor, model.id)
    names.update(await queries.people_names([u for u in (model.designated_by, model.killed_by,
                                                         *(c.created_by for c in gateways),
                                                         *(c.revoked_by for c in gateways)) if u]))  # fmt: skip
    allowed = FrontierModels.allowed(signed.actor, model)
    reach = await FrontierModels(unit).switch_off_reach(signed.actor, model.id) if allowed.switch_off else None
    editable = {"name": model.name, "codename": model.codename, "tier": model.tier, "resource": model.resource,
                "slack_channels": " ".join(model.slack_channels), "developer_quorum": model.developer_quorum,
                "government_quorum": model.government_quorum, "max_window_days": model.max_window_days,
                "approval_step_up_minutes": model.approval_step_up_minutes or "",
                "nomination_expiry_days": model.nomination_expiry_days, "escalation_days": model.escalation_days,
                "planned_release_at": model.planned_release_at.strftime("%Y-%m-%d %H:%M"),
                "release": request.query_params.get("release", "")}  # fmt: skip
    return page(
        "console/model.html", signed, status_code=refusal.status if refusal else 200, model=model, names=names,
        grants=await queries.grant_rows(grants.items), more_grants=grants.next_cursor is not None,
        pending=pending.items, more_pending=pending.next_cursor is not None, preview=[(g, [explain(p) for p in problems]) for g, problems in preview[1]] if preview else None,
        preview_at=preview[0] if preview else None, refusal=refusal, form_name=section,
        values={**editable, **(values or {})}, tiers=[t.value for t in Tier], explain=explain,
        designations=sorted(d.value for d in DESIGNATION_MOVES[Designation(model.designation)]),
        notice=notice_of(request, NOTICES), allowed=allowed, gateways=gateways, reach=reach,
        step_up_minutes=int(step_up.total_seconds() // 60) if (step_up := approval_step_up(model)) else None,
        # The kill switch asks for a recent sign-in: ask for it before the reason is typed, not after.
        kill_needs_sign_in=unit.now() - signed.authenticated_at > KILL_SWITCH_FRESHNESS,
    )  # fmt: skip


def new_model_page(
    signed: NamedDependency[Signed], *, values: dict[str, Any], refusal: Refusal | None = None
) -> Template:
    return page("console/model_new.html", signed, values=values, refusal=refusal, tiers=[t.value for t in Tier],
                status_code=refusal.status if refusal else 200)  # fmt: skip


class ModelPagesController(Controller):
    path = "/console/models"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def models(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries]
    ) -> Template:
        listing = Listing.of("/console/models", request.query_params, MODEL_SORTS)
        found = await queries.models(signed.actor, cursor=listing.cursor, limit=MODELS_PAGE, search=listing.search,
                                     sort=listing.sort)  # fmt: skip
        return page("console/models.html", signed, models=found.items, next_cursor=found.next_cursor, listing=listing,
                    notice=notice_of(request, NOTICES))  # fmt: skip

    @get("/new")
    async def new_model(self, signed: NamedDependency[Signed]) -> Template:
        return new_model_page(signed, values={"tier": "standard", "developer_quorum": "1", "government_quorum": "1",
                                               "max_window_days": "90", "nomination_expiry_days": NOMINATION_EXPIRY_DAYS,
                                               "escalation_days": ESCALATION_DAYS})  # fmt: skip

    @post("/new")
    @on_refusal(new_model_page)
    async def register(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], models: NamedDependency[FrontierModels]
    ) -> Redirect:
        model = await models.register(actor=actor, slug=form["slug"],
                                      planned_release_at=instant(form, "planned_release_at"), **_model_values(form))  # fmt: skip
        return back_to(f"/console/models/{model.id}", "registered")

    @get("/{model_id:uuid}")
    @on_refusal(model_page, section="release")
    async def model(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries], credentials: NamedDependency[Credentials],
        models: NamedDependency[FrontierModels], model_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        """The model's page; with ``?release=``, a preview of the grants a planned release then would block."""
        preview = None
        if request.query_params.get("release"):
            when = instant(Posted(request.query_params, {}), "release")
            preview = (when, await models.blocked_by_release(actor=signed.actor, model_id=model_id,
                                                             planned_release_at=when))  # fmt: skip
        return await model_page(request, signed, unit, queries, credentials, model_id, preview=preview)

    @post("/{model_id:uuid}/edit")
    @on_refusal(model_page, section="edit")
    async def update(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], models: NamedDependency[FrontierModels],
        model_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await models.update(actor=actor, model_id=model_id, changes=_model_values(form))
        return back_to(f"/console/models/{model_id}", "updated")

    @post("/{model_id:uuid}/release")
    @on_refusal(model_page, section="release")
    async def move_release(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], models: NamedDependency[FrontierModels],
        model_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await models.move_release(actor=actor, model_id=model_id, planned_release_at=instant(form, "planned_release_at"),
                                  reason=form.get("move_reason"))  # fmt: skip
        return back_to(f"/console/models/{model_id}", "moved")

    @post("/{model_id:uuid}/designation")
    @on_refusal(model_page, section="designation")
    async def designate(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], models: NamedDependency[FrontierModels],
        model_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await models.designate(actor=actor, model_id=model_id, designation=form["designation"],
                               reference=form.get("reference"))  # fmt: skip
        return back_to(f"/console/models/{model_id}", "designated")

    @post("/{model_id:uuid}/switch-off")
    @on_refusal(model_page, section="switch_off")
    async def switch_off(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], actor: NamedDependency[Actor],
        form: NamedDependency[Posted], models: NamedDependency[FrontierModels], queries: NamedDependency[Queries],
        model_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        require_fresh_sign_in(request, signed, within=KILL_SWITCH_FRESHNESS, back=f"/console/models/{model_id}")
        model = await queries.model(actor, model_id)
        if form["confirm_slug"] != model.slug:
            raise Invalid("confirm_slug", f"type the model's slug, {model.slug}, to confirm")
        await models.switch_off(actor=actor, model_id=model_id, reason=form["reason"])
        return back_to(f"/console/models/{model_id}", "switched_off")
