"""What a grantee still owes before access flows, as it stands at an instant: vetting (partners only), the newest
version of each NDA it can read, and an attestation for each of the six requirement areas, each with its standing
(valid, expiring soon, expired, missing).

This describes what is on file, so that a grantee can put it in order before a gate closes; whether access flows is
``gates.evaluate``'s to say (and a grant's row says why it does not). What is on file is counted as the gates count
it (``gates.counted_acceptance``, ``gates.counted_attestations``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from accessdesk.db.tables import Attestation, NdaAcceptance, NdaTemplate, Organisation
from accessdesk.domain.actor import Actor
from accessdesk.domain.gates import counted_acceptance, counted_attestations
from accessdesk.domain.queries import Queries
from accessdesk.domain.vocabulary import Area, Vetting

# Early enough to renew without a gap: an NDA or attestation ending within this is due for renewal, from the first
# renewal reminder on (domain.reminders). Not a home's "ending soon" (queries.ENDING_SOON: access).
RENEWAL_DUE = timedelta(days=30)
AREA_LABELS = {
    Area.CONFIDENTIALITY: "Confidentiality",
    Area.CYBERSECURITY: "Cybersecurity",
    Area.INSIDER_RISK: "Insider risk",
    Area.IP_PROTECTION: "IP protection",
    Area.USE: "Use",
    Area.NONDISCLOSURE: "Non-disclosure",
}
OK, EXPIRING, EXPIRED, MISSING = "ok", "expiring", "expired", "missing"
# Vetting states in which the partner has something to do (submit, or submit again).
VETTING_OWED = (Vetting.INVITED, Vetting.DECLINED)


def standing_of(until: datetime | None, now: datetime) -> str:
    """``ok``, ``expiring`` (within RENEWAL_DUE), ``expired`` or ``missing``: what is on file."""
    if until is None:
        return MISSING
    if until <= now:
        return EXPIRED
    return EXPIRING if until <= now + RENEWAL_DUE else OK


@dataclass(frozen=True, slots=True)
class AreaStanding:
    """One requirement area: the attestation the gate counts (None: nothing on file) and its standing."""

    area: str
    label: str
    standing: str
    latest: Attestation | None

    @property
    def owed(self) -> bool:
        """Missing, expired or due for renewal."""
        return self.standing != OK


@dataclass(frozen=True, slots=True)
class NdaStanding:
    """The newest version of one NDA series, and the organisation's acceptance of it that the NDA gate counts (an
    acceptance of an earlier major version does not count)."""

    template: NdaTemplate
    applies_to: str | None
    standing: str
    accepted: NdaAcceptance | None

    @property
    def owed(self) -> bool:
        return self.standing != OK


def area_standings(attestations: list[Attestation], now: datetime) -> list[AreaStanding]:
    """Every requirement area, in the order of :class:`Area`."""
    counted = counted_attestations(attestations, at=now)
    standings = []
    for area in Area:
        row = counted.get(area.value)
        until = row.valid_until if row else None
        standings.append(AreaStanding(area.value, AREA_LABELS[area], standing_of(until, now), row))
    return standings


def nda_standing(
    newest: NdaTemplate, acceptances: list[NdaAcceptance], now: datetime, applies_to: str | None = None
) -> NdaStanding:
    best = counted_acceptance(acceptances, newest, at=now)
    return NdaStanding(newest, applies_to, standing_of(best.expires_at if best else None, now), best)


def newest_of_each_series(templates: list[NdaTemplate]) -> list[NdaTemplate]:
    """``templates`` come newest first within each series (Queries.nda_templates)."""
    seen: dict[str, NdaTemplate] = {}
    for template in templates:
        seen.setdefault(template.series, template)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class Owed:
    """What one grantee has on file and still owes, as of ``at``."""

    at: datetime
    organisation: Organisation
    ndas: list[NdaStanding]
    areas: list[AreaStanding]

    @property
    def vetting(self) -> str | None:
        """The partner's vetting state; None for the government, which is not vetted."""
        return self.organisation.vetting_state

    @property
    def vetting_owed(self) -> bool:
        return self.vetting in VETTING_OWED

    @property
    def owed_ndas(self) -> list[NdaStanding]:
        return [n for n in self.ndas if n.owed]

    @property
    def owed_areas(self) -> list[AreaStanding]:
        return [a for a in self.areas if a.owed]

    @property
    def settled(self) -> bool:
        """Vetted (or not vetted at all), every NDA accepted and every area attested, none due for renewal."""
        return self.vetting in (Vetting.VETTED, None) and not self.owed_ndas and not self.owed_areas


async def owed_by(queries: Queries, actor: Actor, organisation_id: uuid.UUID) -> Owed:
    """What ``organisation_id`` (one ``actor`` can see) has on file and still owes, as of now. An NDA written for a
    model is named by the model; only the NDAs ``actor`` can read are counted (``Queries.nda_templates``)."""
    now = queries.unit.now()
    organisation = await queries.organisation(actor, organisation_id)
    model_names = {m.id: m.name for m in await queries.all_models(actor)}
    acceptances = await queries.nda_acceptances(actor, organisation_id)
    ndas = [nda_standing(t, acceptances, now, model_names.get(t.model_id) if t.model_id else None)
            for t in newest_of_each_series(await queries.nda_templates(actor))]  # fmt: skip
    areas = area_standings(await queries.attestations(actor, organisation_id), now)
    return Owed(at=now, organisation=organisation, ndas=ndas, areas=areas)
