"""NDAs (publish, read, accept) and attestations."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from accessdesk.api.routes import get, post
from accessdesk.api.schemas import (
    AcceptanceIn,
    AcceptanceOut,
    AttestationIn,
    AttestationOut,
    NdaIn,
    NdaOut,
)
from accessdesk.client_address import client_address
from accessdesk.domain.actor import Actor
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.queries import Queries


class NdaController(Controller):
    path = "/ndas"
    tags = ["ndas"]

    @get("/")
    async def list_ndas(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries],
        model_id: FromQuery[uuid.UUID | None] = None,
    ) -> list[NdaOut]:  # fmt: skip
        return [NdaOut.of(t) for t in await queries.nda_templates(actor, model_id=model_id)]

    @post("/")
    async def publish_nda(
        self, actor: NamedDependency[Actor], compliance: NamedDependency[Compliance], data: JSONBody[NdaIn]
    ) -> NdaOut:
        template = await compliance.publish_nda(
            actor=actor, title=data.title, body=data.body, version=data.version, model_id=data.model_id,
            term_days=data.term_days,
        )  # fmt: skip
        return NdaOut.of(template, with_body=True)

    @get("/{template_id:uuid}")
    async def get_nda(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], template_id: FromPath[uuid.UUID]
    ) -> NdaOut:
        return NdaOut.of(await queries.nda_template(actor, template_id), with_body=True)

    @post("/{template_id:uuid}/acceptances")
    async def accept_nda(
        self, request: Request[Any, Any, Any], actor: NamedDependency[Actor], compliance: NamedDependency[Compliance],
        template_id: FromPath[uuid.UUID], data: JSONBody[AcceptanceIn],
    ) -> AcceptanceOut:  # fmt: skip
        acceptance = await compliance.accept_nda(
            actor=actor, template_id=template_id, sha256=data.sha256,
            ip=client_address(request.scope), user_agent=request.headers.get("user-agent"),
        )  # fmt: skip
        return AcceptanceOut.of(acceptance)


class OrganisationComplianceController(Controller):
    path = "/organisations/{organisation_id:uuid}"
    tags = ["ndas", "attestations"]

    @get("/nda-acceptances")
    async def list_acceptances(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], organisation_id: FromPath[uuid.UUID]
    ) -> list[AcceptanceOut]:
        return [AcceptanceOut.of(a) for a in await queries.nda_acceptances(actor, organisation_id)]

    @get("/attestations")
    async def list_attestations(
        self, actor: NamedDependency[Actor], queries: NamedDependency[Queries], organisation_id: FromPath[uuid.UUID]
    ) -> list[AttestationOut]:
        return [AttestationOut.of(a) for a in await queries.attestations(actor, organisation_id)]

    @post("/attestations")
    async def attest(
        self, actor: NamedDependency[Actor], compliance: NamedDependency[Compliance],
        organisation_id: FromPath[uuid.UUID], data: JSONBody[AttestationIn],
    ) -> AttestationOut:  # fmt: skip
        attestation = await compliance.attest(
            actor=actor, organisation_id=organisation_id, area=data.area, statement=data.statement, valid_until=data.valid_until,
            evidence_ref=data.evidence_ref,
        )  # fmt: skip
        return AttestationOut.of(attestation)
