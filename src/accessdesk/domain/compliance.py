"""What a grantee owes before access flows: NDAs (versioned, hashed, re-accepted on a new major version) and
attestations for the six requirement areas."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from accessdesk.db.tables import (
    Attestation,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Organisation,
)
from accessdesk.domain import instants, visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import snapshot
from accessdesk.domain.errors import Conflict, Forbidden, Invalid
from accessdesk.domain.gates import series_key
from accessdesk.domain.grants import Grants
from accessdesk.domain.nominees import is_grantee
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Area

VERSION = re.compile(r"(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,3})")
LONGEST_ATTESTATION = timedelta(days=730)


def text_hash(body: str) -> str:
    """SHA-256 of the exact text (UTF-8), as shown to the signer."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AreaStatement:
    """What a grantee attests to in one requirement area: its statement and, optionally, a reference to evidence."""

    area: Area | str
    statement: str
    evidence_ref: str | None = None


def checked_statement(given: AreaStatement) -> tuple[Area, str, str | None]:
    """The area, statement and evidence reference as recorded; :class:`Invalid` (naming ``area``, ``statement`` or
    ``evidence_ref``) when one breaks a rule."""
    try:
        area = Area(given.area)
    except ValueError as exc:
        raise Invalid("area", f"the areas are {', '.join(a.value for a in Area)}") from exc
    statement = (given.statement or "").strip()
    if not statement or len(statement) > 10000:
        raise Invalid("statement", "a statement of 1 to 10000 characters is required")
    evidence_ref = (given.evidence_ref or "").strip() or None
    if evidence_ref is not None and len(evidence_ref) > 500:
        raise Invalid("evidence_ref", "the evidence reference may be at most 500 characters")
    return area, statement, evidence_ref


def checked_validity(valid_until: datetime, now: datetime) -> datetime:
    """``valid_until`` in UTC, when an attestation may be valid until then (after ``now``, at most two years on)."""
    valid_until = instants.utc("valid_until", valid_until)
    if valid_until <= now:
        raise Invalid("valid_until", "an attestation must be valid until a future date")
    if valid_until > now + LONGEST_ATTESTATION:
        raise Invalid("valid_until", "an attestation may be valid for at most two years")
    return valid_until


class Compliance:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.grants = Grants(unit)

    async def publish_nda(
        self,
        *,
        actor: Actor,
        title: str,
        body: str,
        version: str,
        model_id: uuid.UUID | None = None,
        term_days: int = 365,
        developer_id: uuid.UUID | None = None,
    ) -> NdaTemplate:
        """Publish a version of the developer's NDA, for one model or (``model_id=None``) all of its models.
        Versions only go up; a new major version requires every grantee to accept again."""
        actor.require(Permission.NDAS_PUBLISH, "only a developer's admins publish NDAs")
        developer = developer_id if actor.is_system else actor.organisation_id
        model = None
        if model_id is not None:
            model = await self.unit.get(FrontierModel, model_id, what="model")
            visibility.require(visibility.can_see_model(actor, model), "model", model_id)
            developer = model.developer_id
        if developer is None:
            raise Invalid("developer_id", "the developer organisation is required")
        title, body = (title or "").strip(), body or ""
        if not title or len(title) > 200:
            raise Invalid("title", "a title of 1 to 200 characters is required")
        if not body.strip() or len(body) > 200_000:
            raise Invalid("body", "the NDA text must be 1 to 200000 characters")
        match = VERSION.fullmatch(version or "")
        if not match:
            raise Invalid("version", "a version looks like major.minor, e.g. 2.0")
        major, minor = int(match[1]), int(match[2])
        if not 1 <= term_days <= 1825:
            raise Invalid("term_days", "an acceptance lasts between 1 and 1825 days")
        series = series_key(developer, model_id)
        latest = (
            await self.unit.session.exec(
                select(NdaTemplate)
                .where(NdaTemplate.series == series)
                .order_by(col(NdaTemplate.version_major).desc(), col(NdaTemplate.version_minor).desc())
                .limit(1)
            )
        ).first()
        if latest is not None and (major, minor) <= (latest.version_major, latest.version_minor):
            raise Conflict(
                f"version {version} is not newer than {latest.version_major}.{latest.version_minor}, the latest"
            )
        template = NdaTemplate(
            series=series, developer_id=developer, model_id=model_id, title=title, body=body,
            version_major=major, version_minor=minor, sha256=text_hash(body), term_days=term_days,
            created_by=actor.user_id, created_at=self.unit.now(),
        )  # fmt: skip
        self.unit.session.add(template)
        self.unit.record(actor=actor, action="nda.published", subject=template,
                         after=snapshot(template, [f for f in NdaTemplate.model_fields if f != "body"]))  # fmt: skip
        await self.unit.session.flush()
        if latest is None or major > latest.version_major:
            models = [model.id] if model is not None else await self._models_of(developer)
            await self.grants.refresh_where(actor=actor, model_ids=models, reason=f"NDA version {version} published")
        await self.unit.commit()
        return template

    async def _models_of(self, developer_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.unit.session.exec(select(FrontierModel.id).where(FrontierModel.developer_id == developer_id))
        return list(rows.all())

    async def accept_nda(
        self,
        *,
        actor: Actor,
        template_id: uuid.UUID,
        sha256: str,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> NdaAcceptance:
        """Clickwrap acceptance by a grantee's admin, of the exact text they were shown (its hash must match)."""
        if not is_grantee(actor):
            raise Forbidden("NDAs are accepted by partner or government organisations")
        actor.require(Permission.NDAS_ACCEPT, "only your organisation's admins can accept an NDA")
        template = await self.unit.get(NdaTemplate, template_id, what="NDA")
        if template.model_id is not None:  # a model's own NDA reveals the model: only those who see it may sign
            model = await self.unit.get(FrontierModel, template.model_id)
            visibility.require(await visibility.sees_model(self.unit.session, actor, model), "NDA", template_id)
        if (sha256 or "").lower() != template.sha256:
            raise Invalid("sha256", "the text you accepted is not this version's text; reload and read it again")
        newest = (
            await self.unit.session.exec(
                select(NdaTemplate.id)
                .where(NdaTemplate.series == template.series)
                .order_by(col(NdaTemplate.version_major).desc(), col(NdaTemplate.version_minor).desc())
                .limit(1)
            )
        ).first()
        if newest != template.id:
            raise Conflict("a newer version of this NDA has been published; accept that one")
        organisation = await self.unit.lock(Organisation, actor.organisation_id)
        now = self.unit.now()
        acceptance = NdaAcceptance(
            organisation_id=organisation.id,
            template_id=template.id,
            series=template.series,
            version_major=template.version_major,
            version=f"{template.version_major}.{template.version_minor}",
            sha256=template.sha256,
            signer_id=actor.person_id,
            accepted_at=now,
            expires_at=now + timedelta(days=template.term_days),
            signer_ip=(ip or None) and ip[:45],
            signer_user_agent=(user_agent or None) and user_agent[:500],
        )
        self.unit.session.add(acceptance)
        self.unit.record(actor=actor, action="nda.accepted", subject=acceptance, after=snapshot(acceptance))
        await self.unit.session.flush()
        await self.grants.refresh_where(actor=actor, organisation_id=organisation.id, reason="NDA accepted")
        await self.unit.commit()
        return acceptance

    async def attest(
        self,
        *,
        actor: Actor,
        area: Area | str,
        statement: str,
        valid_until: datetime,
        evidence_ref: str | None = None,
        organisation_id: uuid.UUID | None = None,
    ) -> Attestation:
        """A grantee's admin attests, for their own organisation, to one requirement area until a date (at most
        two years ahead). ``organisation_id``, when given, must be theirs."""
        await self._require_attester(actor, organisation_id)
        now = self.unit.now()
        checked = checked_statement(AreaStatement(area, statement, evidence_ref))
        [attestation] = await self._record(actor, [checked], checked_validity(valid_until, now), now)
        return attestation

    async def attest_all(
        self,
        *,
        actor: Actor,
        statements: Sequence[AreaStatement],
        valid_until: datetime | None,
        organisation_id: uuid.UUID | None = None,
    ) -> list[Attestation]:
        """Several requirement areas attested at once, all until ``valid_until``: every one is recorded (and
        audited, each as :meth:`attest` would), or none is. A refusal names the field at fault as
        ``{area}.statement`` or ``{area}.evidence_ref`` for one area's, ``valid_until`` for the date they share, and
        ``statements`` for the set as a whole (nothing given, an area given twice)."""
        await self._require_attester(actor, organisation_id)
        if not statements:
            raise Invalid("statements", "write the statement of at least one requirement area")
        now = self.unit.now()
        checked: list[tuple[Area, str, str | None]] = []
        for given in statements:
            try:
                checked.append(checked_statement(given))
            except Invalid as exc:
                raise Invalid(f"{given.area}.{exc.field}", exc.message) from exc
        areas = [area for area, _, _ in checked]
        if len(set(areas)) != len(areas):
            raise Invalid("statements", "each requirement area may be attested once in one go")
        if valid_until is None:
            raise Invalid("valid_until", "enter the date the attestations are valid until")
        return await self._record(actor, checked, checked_validity(valid_until, now), now)

    async def _require_attester(self, actor: Actor, organisation_id: uuid.UUID | None) -> None:
        """Refuses anyone but a grantee's admin, attesting for their own organisation (``organisation_id``, when
        given, must be theirs)."""
        if organisation_id is not None:
            organisation = await self.unit.get(Organisation, organisation_id, what="organisation")
            visibility.require(visibility.can_see_org(actor, organisation), "organisation", organisation_id)
            if organisation.id != actor.organisation_id:
                raise Forbidden("you can attest for your own organisation only")
        if not is_grantee(actor):
            raise Forbidden("attestations are made by partner or government organisations")
        actor.require(Permission.ATTESTATIONS_CREATE, "only your organisation's admins can attest")

    async def _record(
        self, actor: Actor, checked: Sequence[tuple[Area, str, str | None]], valid_until: datetime, now: datetime
    ) -> list[Attestation]:
        """Write checked attestations, one audit event each, and refresh the organisation's grants: one commit."""
        organisation = await self.unit.lock(Organisation, actor.organisation_id)
        made = []
        for area, statement, evidence_ref in checked:
            attestation = Attestation(
                organisation_id=organisation.id, area=area.value, statement=statement, evidence_ref=evidence_ref,
                attested_by=actor.person_id, attested_at=now, valid_until=valid_until,
            )  # fmt: skip
            self.unit.session.add(attestation)
            self.unit.record(actor=actor, action="attestation.made", subject=attestation, after=snapshot(attestation))
            made.append(attestation)
        await self.unit.session.flush()
        await self.grants.refresh_where(actor=actor, organisation_id=organisation.id,
                                        reason=f"{', '.join(area.value for area, _, _ in checked)} attested")  # fmt: skip
        await self.unit.commit()
        return made
