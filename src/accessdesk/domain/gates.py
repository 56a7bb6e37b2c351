"""The gates a grantee must pass before a grant is usable (DESIGN.md §3 rule 4), evaluated at any instant.

A gate is *missing* when nothing valid was ever on file for it (not vetted, NDA of the current major version
never accepted, an area never attested) and *lapsed* when what is on file has expired. Missing gates block a
grant; a lapse suspends it inside its window. ``valid_until`` is when the first gate on file lapses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import (
    Attestation,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Organisation,
)
from accessdesk.db.types import aware
from accessdesk.domain.vocabulary import Area, OrgKind, Vetting

REASONS: dict[str, str] = {
    "partner_not_vetted": "the partner organisation has not been vetted",
    "nda_not_published": "the developer has not published an NDA for this model",
    "nda_missing": "the current major version of the NDA has not been accepted",
    "nda_expired": "the NDA acceptance has expired",
    "window_too_early": "government access may start at most 30 days before the planned release",
    "window_before_government": "partner access may not start before the government's access to the model",
    "designation_not_assessed": "the government has not yet assessed whether this model is a covered frontier model",
    "designation_not_covered": "the government has designated this model not covered",
    "designation_in_consultation": "partner access waits until the government designates the model covered",
    "government_not_begun": "partner access follows the government's, and the government's access to this model "
                            "has not begun",
    "government_access_ended": "partner access follows the government's, and the government's access to this "
                               "model is no longer in force",
    "reevaluation_due": "the grant waits to be evaluated again under changed rules",
    "window_not_started": "the access window has not started",
    "window_ended": "the access window has ended",
    "revoked": "the grant has been revoked",
}
for _area in Area:
    REASONS[f"attestation_missing:{_area.value}"] = f"no attestation on file for {_area.value.replace('_', ' ')}"
    REASONS[f"attestation_expired:{_area.value}"] = f"the {_area.value.replace('_', ' ')} attestation has expired"


def explain(code: str) -> str:
    return REASONS.get(code, code)


def series_key(developer_id: uuid.UUID, model_id: uuid.UUID | None) -> str:
    return f"{developer_id}:{model_id or '*'}"


@dataclass(slots=True)
class GateReport:
    missing: list[str] = field(default_factory=list)
    lapsed: list[str] = field(default_factory=list)
    valid_until: datetime | None = None
    nda_template: NdaTemplate | None = None
    # When each requirement on file lapses, by the reason code its lapse would give.
    lapses: dict[str, datetime] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        return self.missing + self.lapsed

    def _on_file_until(self, code: str, until: datetime) -> None:
        self.lapses[code] = until
        self.valid_until = until if self.valid_until is None else min(self.valid_until, until)


async def current_nda(session: AsyncSession, model: FrontierModel) -> NdaTemplate | None:
    """The NDA in force for a model: the latest version of the model's own series, else of the developer's
    series for all its models."""
    for series in (series_key(model.developer_id, model.id), series_key(model.developer_id, None)):
        template = (
            await session.exec(
                select(NdaTemplate)
                .where(NdaTemplate.series == series)
                .order_by(col(NdaTemplate.version_major).desc(), col(NdaTemplate.version_minor).desc())
                .limit(1)
            )
        ).first()
        if template is not None:
            return template
    return None


def counted_acceptance(
    acceptances: Iterable[NdaAcceptance], template: NdaTemplate, *, at: datetime
) -> NdaAcceptance | None:
    """Of ``acceptances``, the one the NDA gate counts for ``template`` (as :func:`evaluate` does in SQL): of its
    series and major version, accepted by ``at``, the one that runs longest; None when there is none. It is in force
    while it has not expired."""
    candidates = [a for a in acceptances if a.series == template.series and a.version_major == template.version_major
                  and a.accepted_at <= at]  # fmt: skip
    return max(candidates, key=lambda a: (a.expires_at, a.accepted_at), default=None)


def counted_attestations(attestations: Iterable[Attestation], *, at: datetime) -> dict[str, Attestation]:
    """Per requirement area, the attestation the gate counts (as :func:`evaluate` does in SQL): made by ``at``, the
    one valid longest. It is in force while it is valid."""
    best: dict[str, Attestation] = {}
    for a in attestations:
        if a.attested_at <= at and (a.area not in best or a.valid_until > best[a.area].valid_until):
            best[a.area] = a
    return best


async def evaluate(
    session: AsyncSession, *, organisation: Organisation, model: FrontierModel, at: datetime
) -> GateReport:
    return (await evaluate_all(session, organisations=[organisation], model=model, at=at))[organisation.id]


async def evaluate_all(
    session: AsyncSession, *, organisations: Sequence[Organisation], model: FrontierModel, at: datetime
) -> dict[uuid.UUID, GateReport]:
    """Each organisation's gates for ``model`` at ``at`` (:func:`evaluate`), in a fixed number of queries however
    many there are: the NDA in force once, then what each has on file, grouped."""
    reports = {organisation.id: GateReport() for organisation in organisations}
    if not reports:
        return reports
    ids = list(reports)
    template = await current_nda(session, model)
    nda_until: dict[uuid.UUID, datetime | None] = {}
    if template is not None:
        rows = await session.exec(
            select(NdaAcceptance.organisation_id, sa.func.max(NdaAcceptance.expires_at))
            .where(
                col(NdaAcceptance.organisation_id).in_(ids),
                NdaAcceptance.series == template.series,
                NdaAcceptance.version_major == template.version_major,
                NdaAcceptance.accepted_at <= at,
            )
            .group_by(col(NdaAcceptance.organisation_id))
        )
        nda_until = {organisation_id: until for organisation_id, until in rows.all()}
    rows_by_area = await session.exec(
        select(Attestation.organisation_id, Attestation.area, sa.func.max(Attestation.valid_until))
        .where(col(Attestation.organisation_id).in_(ids), Attestation.attested_at <= at)
        .group_by(col(Attestation.organisation_id), col(Attestation.area))
    )
    latest: dict[uuid.UUID, dict[str, datetime | None]] = {}
    for organisation_id, area, until in rows_by_area.all():
        latest.setdefault(organisation_id, {})[area] = aware(until)
    for organisation in organisations:
        report = reports[organisation.id]
        if organisation.kind == OrgKind.PARTNER and organisation.vetting_state != Vetting.VETTED:
            report.missing.append("partner_not_vetted")
        report.nda_template = template
        if template is None:
            report.missing.append("nda_not_published")
        else:
            _classify(report, "nda_missing", "nda_expired", nda_until.get(organisation.id), at)
        on_file = latest.get(organisation.id, {})
        for area in Area:
            _classify(report, f"attestation_missing:{area.value}", f"attestation_expired:{area.value}",
                      on_file.get(area.value), at)  # fmt: skip
    return reports


def _classify(report: GateReport, missing: str, lapsed: str, until: datetime | None, at: datetime) -> None:
    until = aware(until)
    if until is None:
        report.missing.append(missing)
        return
    report._on_file_until(lapsed, until)
    if until <= at:
        report.lapsed.append(lapsed)
