"""A model's programme overview as JSON: the same read model as the console's page (domain.programme), the same
need-to-know (the whole programme for the staff who look after the model, a partner's own part for a partner, 404
for anyone else). Instants are ISO 8601 in UTC, days ISO dates (UTC days); counts by state list every state.
Findings are counted as the caller may read them (their audience); the consultation is given to those who read the
model's consultations (the developer's and the government's staff who act or audit), null to anyone else."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from litestar import Controller
from litestar.di import NamedDependency
from litestar.params import FromPath
from msgspec import Struct

from accessdesk.api.readiness import ReasonOut
from accessdesk.api.routes import get
from accessdesk.api.schemas import Reason
from accessdesk.domain.actor import Actor
from accessdesk.domain.findings import FindingCounts
from accessdesk.domain.gates import explain
from accessdesk.domain.programme import ConsultationSummary, GrantAnswer, Programme, ProgrammeOverview, RoundSummary
from accessdesk.domain.unit import Unit


class ProgrammeModelOut(Struct, kw_only=True):
    id: uuid.UUID
    slug: str
    name: str
    tier: str
    designation: str
    planned_release_at: datetime
    earliest_government_start: datetime  # the planned release − 30 days
    killed_at: datetime | None


class GrantAnswerOut(Struct, kw_only=True):
    grant_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_name: str
    grantee_kind: str
    starts_at: datetime
    ends_at: datetime
    state: str
    usable: bool
    reasons: list[Reason]

    @classmethod
    def of(cls, a: GrantAnswer) -> GrantAnswerOut:
        return cls(grant_id=a.grant_id, organisation_id=a.organisation_id, organisation_name=a.organisation_name,
                   grantee_kind=a.grantee_kind.value, starts_at=a.starts_at, ends_at=a.ends_at, state=a.state.value,
                   usable=a.usable, reasons=[Reason(code=c, message=explain(c)) for c in a.reasons])  # fmt: skip


class CohortOut(Struct, kw_only=True):
    id: uuid.UUID
    name: str
    starts_at: datetime
    ends_at: datetime
    size: int
    nominations: dict[str, int]


class NominationsOut(Struct, kw_only=True):
    total: int
    by_state: dict[str, int]
    in_cohorts: dict[str, int]
    outside_cohorts: dict[str, int]


class ReasonCount(Struct, kw_only=True):
    code: str
    message: str
    grants: int


class GrantsOut(Struct, kw_only=True):
    total: int
    by_state: dict[str, int]
    attention: list[GrantAnswerOut]  # the blocked and suspended grants, each with every reason
    reasons: list[ReasonCount]


class OwedItemOut(Struct, kw_only=True):
    requirement: str  # vetting, nda or attestation
    label: str
    standing: str  # the vetting state, or missing / expired / expiring
    area: str | None


class OwedByOut(Struct, kw_only=True):
    organisation_id: uuid.UUID
    organisation_name: str
    kind: str
    items: list[OwedItemOut]


class OwedOut(Struct, kw_only=True):
    organisations: int
    owing: int
    vetting: int
    nda: int
    attestations: int
    nda_title: str | None
    by_organisation: list[OwedByOut]


class CredentialsOut(Struct, kw_only=True):
    issued: int
    live: int
    revoked: int
    tokens_issued: int


class WindowOut(Struct, kw_only=True):
    """A bar of the timeline: one grant's window, or (``grant_id`` null, ``cohort_id`` set) the window a cohort's
    members' grants share, ``grants`` of them, counted ``by_state``; ``state`` is that of most of them."""

    grant_id: uuid.UUID | None
    organisation_id: uuid.UUID | None
    organisation_name: str | None
    grantee_kind: str
    cohort_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    state: str
    grants: int
    by_state: dict[str, int]


class TokenDayOut(Struct, kw_only=True):
    day: date
    count: int


class TokenSeriesOut(Struct, kw_only=True):
    grant_id: uuid.UUID
    organisation_name: str
    total: int
    days: list[TokenDayOut]  # only the days with issuances


class TokensOut(Struct, kw_only=True):
    first_day: date | None
    last_day: date | None
    total: int
    per_grant: list[TokenSeriesOut]


class StageOut(Struct, kw_only=True):
    """A grant's stage as its grantee sees it on "Is my access ready?" (``GET /api/v1/readiness``)."""

    grant_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_name: str
    stage: str
    reasons: list[ReasonOut]
    live_credentials: int
    last_token_at: datetime | None


class ReadinessOut(Struct, kw_only=True):
    by_stage: dict[str, int]  # every grant not ended the caller may see, counted by stage
    grants: list[StageOut]  # the blocked ones, with whose move each reason is (``GET /api/v1/readiness`` has them all)


class FindingCountsOut(Struct, kw_only=True):
    """The evaluation findings on the model the caller may read (``GET /api/v1/findings`` lists them): every state
    and severity, 0 included; ``open``: neither mitigated nor accepted risk."""

    total: int
    open: int
    by_state: dict[str, int]
    by_severity: dict[str, int]

    @classmethod
    def of(cls, c: FindingCounts) -> FindingCountsOut:
        return cls(total=c.total, open=c.open, by_state={s.value: n for s, n in c.by_state.items()},
                   by_severity={s.value: n for s, n in c.by_severity.items()})  # fmt: skip


class RoundOut(Struct, kw_only=True):
    """A round of the designation consultation (``GET /api/v1/consultations/{id}`` has its thread)."""

    id: uuid.UUID
    round: int
    requested_side: str  # developer (requested) | government (opened or reopened)
    opened_at: datetime
    waited_days: int  # open: until now; decided: until its decision (whole days)
    waited_seconds: int
    outcome: str | None  # covered | not_covered, once decided
    assessment_ref: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, r: RoundSummary | None) -> RoundOut | None:
        if r is None:
            return None
        return cls(id=r.id, round=r.round, requested_side=r.requested_side, opened_at=r.opened_at,
                   waited_days=r.waited_days, waited_seconds=int(r.waited.total_seconds()), outcome=r.outcome,
                   assessment_ref=r.assessment_ref, decided_at=r.decided_at)  # fmt: skip


class ConsultationOut(Struct, kw_only=True):
    """Where the model's designation consultation stands: its rounds so far, the open one, the last decided one."""

    rounds: int
    open: RoundOut | None
    last_decided: RoundOut | None

    @classmethod
    def of(cls, c: ConsultationSummary | None) -> ConsultationOut | None:
        if c is None:
            return None
        return cls(rounds=c.rounds, open=RoundOut.of(c.open), last_decided=RoundOut.of(c.last_decided))


class ProgrammeOut(Struct, kw_only=True):
    """``scope``: ``programme`` (the whole of it) or ``own`` (the caller's organisation's part only)."""

    at: datetime
    scope: str
    model: ProgrammeModelOut
    government: list[GrantAnswerOut]
    cohorts: list[CohortOut]
    nominations: NominationsOut
    grants: GrantsOut
    owed: OwedOut
    credentials: CredentialsOut
    windows: list[WindowOut]
    tokens: TokensOut
    readiness: ReadinessOut
    findings: FindingCountsOut
    consultation: ConsultationOut | None  # null: the caller does not read the model's consultations

    @classmethod
    def of(cls, o: ProgrammeOverview) -> ProgrammeOut:
        def named(counts: dict[Any, int]) -> dict[str, int]:  # keyed by a state (of a grant or a nomination)
            return {state.value: n for state, n in counts.items()}

        m, n, g, owed, c, t = o.model, o.nominations, o.grants, o.owed, o.credentials, o.tokens
        return cls(
            at=o.at,
            scope=o.scope,
            model=ProgrammeModelOut(id=m.id, slug=m.slug, name=m.name, tier=m.tier, designation=m.designation,
                                    planned_release_at=m.planned_release_at,
                                    earliest_government_start=m.earliest_government_start, killed_at=m.killed_at),  # fmt: skip
            government=[GrantAnswerOut.of(a) for a in o.government],
            cohorts=[CohortOut(id=k.id, name=k.name, starts_at=k.starts_at, ends_at=k.ends_at, size=k.size,
                               nominations=named(k.by_state)) for k in o.cohorts],  # fmt: skip
            nominations=NominationsOut(total=n.total, by_state=named(n.by_state), in_cohorts=named(n.in_cohorts),
                                       outside_cohorts=named(n.outside_cohorts)),  # fmt: skip
            grants=GrantsOut(total=g.total, by_state=named(g.by_state), attention=[GrantAnswerOut.of(a) for a in g.attention],
                             reasons=[ReasonCount(code=code, message=explain(code), grants=k) for code, k in g.reasons]),  # fmt: skip
            owed=OwedOut(organisations=owed.organisations, owing=owed.owing, vetting=owed.vetting, nda=owed.nda,
                         attestations=owed.attestations, nda_title=owed.nda_title,
                         by_organisation=[OwedByOut(organisation_id=b.organisation_id, organisation_name=b.organisation_name,
                                                    kind=b.kind.value,
                                                    items=[OwedItemOut(requirement=i.requirement, label=i.label,
                                                                       standing=i.standing, area=i.area) for i in b.items])
                                          for b in owed.by_organisation]),  # fmt: skip
            credentials=CredentialsOut(issued=c.issued, live=c.live, revoked=c.revoked, tokens_issued=c.tokens_issued),
            windows=[WindowOut(grant_id=w.grant_id, organisation_id=w.organisation_id, organisation_name=w.organisation_name,
                               grantee_kind=w.grantee_kind.value, cohort_id=w.cohort_id, starts_at=w.starts_at,
                               ends_at=w.ends_at, state=w.state.value, grants=w.grants, by_state=named(w.by_state))
                     for w in o.windows],  # fmt: skip
            tokens=TokensOut(first_day=t.first_day, last_day=t.last_day, total=t.total,
                             per_grant=[TokenSeriesOut(grant_id=s.grant_id, organisation_name=s.organisation_name,
                                                       total=s.total, days=[TokenDayOut(day=d, count=k) for d, k in s.days.items()])
                                        for s in t.series]),  # fmt: skip
            readiness=ReadinessOut(
                by_stage={stage.value: k for stage, k in o.stages.items()},
                grants=[StageOut(grant_id=r.grant.id, organisation_id=r.grant.organisation_id,
                                 organisation_name=r.organisation_name, stage=r.stage.value,
                                 reasons=[ReasonOut.of(x) for x in r.reasons], live_credentials=r.live_credentials,
                                 last_token_at=r.last_token_at) for r in o.readiness],
            ),  # fmt: skip
            findings=FindingCountsOut.of(o.findings),
            consultation=ConsultationOut.of(o.consultation),
        )


class ProgrammeController(Controller):
    path = "/models"
    tags = ["models"]

    @get("/{model_id:uuid}/programme")
    async def programme(
        self, actor: NamedDependency[Actor], unit: NamedDependency[Unit], model_id: FromPath[uuid.UUID]
    ) -> ProgrammeOut:
        """The model's programme overview (see ``ProgrammeOut``); 404 for a model the caller may not see."""
        return ProgrammeOut.of(await Programme(unit).overview(actor, model_id))
