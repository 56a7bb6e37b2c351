"""Console pages for NDA templates: every version with its text and SHA-256, publishing a new version, and who
accepted which version."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.domain.actor import Actor
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.queries import Queries
from accessdesk.domain.sessions import Signed
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, back_to, notice_of, page
from accessdesk.web.refusals import Refusal, on_refusal

NOTICES = {"published": "The NDA version is published. A new major version must be accepted again by every grantee."}


async def new_version_page(
    signed: NamedDependency[Signed], queries: NamedDependency[Queries], *, values: dict[str, Any],
    refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    return page("console/nda_new.html", signed, values=values, refusal=refusal,
                models=await queries.own_models(signed.actor),
                status_code=refusal.status if refusal else 200)  # fmt: skip


class NdaPagesController(Controller):
    path = "/console/ndas"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def ndas(self, signed: NamedDependency[Signed], queries: NamedDependency[Queries]) -> Template:
        templates = await queries.nda_templates(signed.actor)
        models = {m.id: m.name for m in await queries.all_models(signed.actor)}
        return page("console/ndas.html", signed, templates=templates, models=models)

    @get("/new")
    async def new_version(self, signed: NamedDependency[Signed], queries: NamedDependency[Queries]) -> Template:
        return await new_version_page(signed, queries, values={"term_days": "365"})

    @post("/new")
    @on_refusal(new_version_page)
    async def publish(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], compliance: NamedDependency[Compliance]
    ) -> Redirect:
        template = await compliance.publish_nda(
            actor=actor, title=form["title"], body=form.raw("body"), version=form["version"],
            model_id=form.uuid("model_id", "a model") if form["model_id"] else None,
            term_days=form.integer("term_days", "the term"),
        )  # fmt: skip
        return back_to(f"/console/ndas/{template.id}", "published")

    @get("/{template_id:uuid}")
    async def nda(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries],
        template_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        template = await queries.nda_template(signed.actor, template_id)
        acceptances = await queries.acceptances_of(signed.actor, template_id)
        names = await queries.people_names([a.signer_id for a in acceptances])
        organisations = await queries.organisation_names(signed.actor, {a.organisation_id for a in acceptances})
        model = await queries.model(signed.actor, template.model_id) if template.model_id else None
        return page("console/nda.html", signed, t=template, acceptances=acceptances, names=names, model=model,
                    organisations=organisations, notice=notice_of(request, NOTICES))  # fmt: skip
