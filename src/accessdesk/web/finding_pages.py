"""Console pages for evaluation findings: the list (by model, state and severity) with CSV and JSON downloads, a
finding's page (its body, attachments, audience with its TLP label and who reads it, its thread, and the forms to
add a note, move it or widen its audience, offered only as the domain allows), and the report form of a model
(which partner grantees reach from their home as well). Every read is the domain's, for the reader's audience."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.domain.errors import Invalid
from accessdesk.domain.finding_audience import LABELS, ORDER
from accessdesk.domain.findings import Findings, state_words
from accessdesk.domain.queries import Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Audience, FindingCategory, FindingSeverity, FindingState
from accessdesk.findings_export import FORMATS, download
from accessdesk.web.pages import FIRST_OF_LIST, PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, back_to, notice_of, page
from accessdesk.web.refusals import Refusal, on_refusal

BADGE = {"red": "bad", "amber": "warn", "green": "ok"}  # a TLP colour as the console's badges show it
NOTICES = {"reported": "The finding is reported: its audience reads it now.", "updated": "Your update is recorded."}


def provide_findings(unit: NamedDependency[Unit]) -> Findings:
    return Findings(unit)


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def attachments_typed(text: str) -> list[dict[str, str]]:
    """The attachments typed one per line, ``name | sha256 | location``; the domain judges each."""
    found = []
    for n, line in enumerate((line for line in text.splitlines() if line.strip()), start=1):
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3:
            raise Invalid("attachments", f"attachment {n}: write each attachment on a line of its own as "
                                         "name | sha256 | location")  # fmt: skip
        found.append(dict(zip(("name", "sha256", "location"), parts, strict=True)))
    return found


def _shown(audience: Audience) -> dict[str, str]:
    label = LABELS[audience]
    return {"value": audience.value, "label": label.label, "readers": label.readers, "badge": BADGE[label.colour]}


AUDIENCES = [_shown(a) for a in ORDER]
CHOICES: dict[str, Any] = {"severities": [s.value for s in FindingSeverity], "categories": [c.value for c in FindingCategory],
           "audiences": AUDIENCES, "states": [s.value for s in FindingState]}  # fmt: skip


async def finding_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], findings: NamedDependency[Findings],
    finding_id: FromPath[uuid.UUID], *, refusal: Refusal | None = None, values: dict[str, Any] | None = None,
) -> Template:  # fmt: skip
    view = await findings.finding(signed.actor, finding_id)
    return page("console/finding.html", signed, status_code=refusal.status if refusal else 200, view=view,
                f=view.finding, audience=_shown(view.audience), widen=[_shown(a) for a in view.actions.widen],
                state_words=state_words, refusal=refusal, values=values or {},
                notice=notice_of(request, NOTICES))  # fmt: skip


async def new_finding_page(
    signed: NamedDependency[Signed], findings: NamedDependency[Findings], model_id: FromPath[uuid.UUID], *,
    values: dict[str, Any] | None = None, refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    form = await findings.report_form(signed.actor, model_id)
    return page("console/finding_new.html", signed, status_code=refusal.status if refusal else 200, model=form.model,
                candidates=form.candidates, values=values or {"audience": Audience.AMBER_STRICT.value, "recipients": []},
                refusal=refusal, **CHOICES)  # fmt: skip


class FindingPagesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = {**PAGE_DEPENDENCIES, "findings": Provide(provide_findings, sync_to_thread=False)}

    @get("/findings")
    async def findings_list(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], findings: NamedDependency[Findings],
        queries: NamedDependency[Queries],
    ) -> Template:  # fmt: skip
        params = request.query_params
        model_id, state, severity = (_uuid_or_none(params.get("model_id")), params.get("state") or None,
                                     params.get("severity") or None)  # fmt: skip
        chosen: dict[str, Any] = {"model_id": model_id, "state": state, "severity": severity}
        found = await findings.findings(signed.actor, model_id=model_id, state=state, severity=severity,
                                        cursor=params.get("cursor") or None, limit=FIRST_OF_LIST)  # fmt: skip
        given = {k: str(v) for k, v in chosen.items() if v}
        more = f"/console/findings?{urlencode({**given, 'cursor': found.next_cursor})}" if found.next_cursor else None
        model_query = urlencode({"model_id": given["model_id"]}) if "model_id" in given else ""
        return page("console/findings.html", signed, rows=found.items, more=more, chosen=chosen,
                    models=await queries.all_models(signed.actor, by_name=True), model_query=model_query,
                    reportable=await findings.reportable_models(signed.actor), badges={a["value"]: a for a in AUDIENCES},
                    state_words=state_words, **CHOICES)  # fmt: skip

    @get("/findings/export")
    async def export(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], findings: NamedDependency[Findings],
        unit: NamedDependency[Unit],
    ) -> Response[Any]:  # fmt: skip
        format_ = request.query_params.get("format", "csv")
        if format_ not in FORMATS:
            raise Invalid("format", "download the findings as csv or json")
        model_id = _uuid_or_none(request.query_params.get("model_id"))
        records = await findings.export(signed.actor, model_id)
        slug = records[0]["model"] if model_id is not None and records else None
        return download(records, format_=format_, exported_at=unit.now(), exported_by=signed.actor.label, model=slug)

    @get("/findings/{finding_id:uuid}")
    async def finding(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], findings: NamedDependency[Findings],
        finding_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await finding_page(request, signed, findings, finding_id)

    @post("/findings/{finding_id:uuid}/updates")
    @on_refusal(finding_page)
    async def update(
        self, signed: NamedDependency[Signed], form: NamedDependency[Posted], findings: NamedDependency[Findings],
        finding_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await findings.update(actor=signed.actor, finding_id=finding_id, note=form.raw("note"),
                              to_state=form.get("to_state"), from_state=form.get("from_state"),
                              audience=form.get("audience"))  # fmt: skip
        return back_to(f"/console/findings/{finding_id}", "updated")

    @get("/models/{model_id:uuid}/findings/new")
    async def new_finding(
        self, signed: NamedDependency[Signed], findings: NamedDependency[Findings], model_id: FromPath[uuid.UUID]
    ) -> Template:
        return await new_finding_page(signed, findings, model_id)

    @post("/models/{model_id:uuid}/findings/new")
    @on_refusal(new_finding_page, lists=["recipients"])
    async def report(
        self, signed: NamedDependency[Signed], form: NamedDependency[Posted], findings: NamedDependency[Findings],
        model_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        finding = await findings.report(
            actor=signed.actor, model_id=model_id, title=form["title"], body=form.raw("body"),
            severity=form["severity"], category=form["category"], audience=form["audience"],
            attachments=attachments_typed(form.raw("attachments")), recipients=form.all("recipients"),
        )  # fmt: skip
        return back_to(f"/console/findings/{finding.id}", "reported")
