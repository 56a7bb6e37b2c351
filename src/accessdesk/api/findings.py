"""Evaluation findings: reported on a model, listed, read with their thread, answered (a note, a move, a wider
audience) and exported, each for the caller's audience alone (what they may not read is 404 and absent)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from accessdesk.api.finding_schemas import FindingIn, FindingOut, FindingPage, FindingUpdateIn
from accessdesk.api.routes import get, post
from accessdesk.api.schemas import Limit
from accessdesk.domain.actor import Actor
from accessdesk.domain.findings import Findings
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Audience, FindingSeverity, FindingState
from accessdesk.findings_export import download


def provide_findings(unit: NamedDependency[Unit]) -> Findings:
    return Findings(unit)


class FindingController(Controller):
    path = "/"
    tags = ["findings"]
    dependencies = {"findings": Provide(provide_findings, sync_to_thread=False)}

    @post("/models/{model_id:uuid}/findings")
    async def report(
        self, actor: NamedDependency[Actor], findings: NamedDependency[Findings], model_id: FromPath[uuid.UUID],
        data: JSONBody[FindingIn],
    ) -> FindingOut:  # fmt: skip
        finding = await findings.report(
            actor=actor, model_id=model_id, title=data.title, body=data.body, severity=data.severity.value,
            category=data.category.value, audience=data.audience.value,
            attachments=msgspec.to_builtins(data.attachments), recipients=data.recipients,
        )  # fmt: skip
        return FindingOut.of_view(await findings.finding(actor, finding.id))

    @get("/findings")
    async def list_findings(
        self, actor: NamedDependency[Actor], findings: NamedDependency[Findings], model: FromQuery[uuid.UUID | None] = None,
        status: Annotated[FindingState | None, QueryParameter(name="state")] = None,
        severity: FromQuery[FindingSeverity | None] = None, audience: FromQuery[Audience | None] = None,
        cursor: FromQuery[str | None] = None, limit: Limit = 50,
    ) -> FindingPage:  # fmt: skip
        found = await findings.findings(actor, model_id=model, state=status, severity=severity, audience=audience,
                                        cursor=cursor, limit=limit)  # fmt: skip
        return FindingPage(items=[FindingOut.of_row(r) for r in found.items], next_cursor=found.next_cursor)

    @get("/findings/export", description="The findings you may read (of one model), with their updates: "
                                         "format=csv (safe to open in a spreadsheet) or json.")  # fmt: skip
    async def export(
        self, actor: NamedDependency[Actor], findings: NamedDependency[Findings], unit: NamedDependency[Unit],
        format_: Annotated[str, QueryParameter(name="format", pattern="^(csv|json)$")] = "json",
        model: FromQuery[uuid.UUID | None] = None,
    ) -> Response[Any]:  # fmt: skip
        records = await findings.export(actor, model)
        slug = records[0]["model"] if model is not None and records else (str(model) if model else None)
        return download(records, format_=format_, exported_at=unit.now(), exported_by=actor.label, model=slug)

    @get("/findings/{finding_id:uuid}")
    async def get_finding(
        self, actor: NamedDependency[Actor], findings: NamedDependency[Findings], finding_id: FromPath[uuid.UUID]
    ) -> FindingOut:
        return FindingOut.of_view(await findings.finding(actor, finding_id))

    @post("/findings/{finding_id:uuid}/updates")
    async def update(
        self, actor: NamedDependency[Actor], findings: NamedDependency[Findings], finding_id: FromPath[uuid.UUID],
        data: JSONBody[FindingUpdateIn],
    ) -> FindingOut:  # fmt: skip
        await findings.update(actor=actor, finding_id=finding_id, note=data.note,
                              to_state=data.to_state.value if data.to_state else None,
                              from_state=data.from_state.value if data.from_state else None,
                              audience=data.audience.value if data.audience else None)  # fmt: skip
        return FindingOut.of_view(await findings.finding(actor, finding_id))
