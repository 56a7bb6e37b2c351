"""A model's early-access programme at a glance: the government's access and its windows, the cohorts and
nominations, the grants by state and why those that need attention are not usable, what the grantees still owe,
the credentials issued and the tokens issued per day per grant; the evaluation findings on the model the reader may
read, by state and severity; and, for the staff who read the model's designation consultation, where it stands.

Everything is counted by the database (GROUP BY) in a fixed number of queries, however many partners the programme
has; only the rows a picture draws one by one (a bar per grant window, a bar per day) and the few grants that need
attention come back as rows. Nothing here decides anything: a grant's state and reasons are ``grant_state``'s (the
one answer, as every list shows it: ``grants.stored_answer``), what is owed is ``obligations``' standing of what the
gates count (``gates``), who sees what is ``visibility``'s. Staff who look after the model (its developer, the
government) see the whole programme; a partner involved with it sees its own part only: no other organisation is
named or counted, totals included. Findings are counted as ``finding_audience`` lets the reader read them (a partner
counts only those shared with it, and a TLP:RED finding counts only for its named readers); the consultation is
``consultations``' need-to-know (the developer's and the government's business: None for anyone else).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import (
    AccessGrant,
    Attestation,
    Cohort,
    Consultation,
    FrontierModel,
    NdaAcceptance,
    Nomination,
    OAuthClient,
    Organisation,
    TokenIssuanceDay,
)
from accessdesk.db.types import aware
from accessdesk.domain import consultations, gates, instants, visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import lapses_at_sql
from accessdesk.domain.findings import FindingCounts, Findings
from accessdesk.domain.grant_state import state_is_sql, state_sql
from accessdesk.domain.grants import stored_answer
from accessdesk.domain.obligations import AREA_LABELS, OK, RENEWAL_DUE, VETTING_OWED, standing_of
from accessdesk.domain.queries import Queries
from accessdesk.domain.readiness import GrantReadiness, Stage, live_credentials_sql, stage_sql, stages_of
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import (
    Area,
    ConsultationState,
    GrantState,
    NominationKind,
    NominationState,
    OrgKind,
)
from accessdesk.domain.windows import earliest_start

# The grants whose reasons the overview names: those that should give access and do not.
ATTENTION = (GrantState.BLOCKED, GrantState.SUSPENDED)
# The token picture covers at most this many days (the most recent of the programme's span).
TOKEN_DAYS = 180
PROGRAMME, OWN = "programme", "own"


@dataclass(frozen=True, slots=True)
class ModelSummary:
    id: uuid.UUID
    slug: str
    name: str
    tier: str
    designation: str
    planned_release_at: datetime
    # The earliest a government window may start (windows.earliest_start: the planned release − 30 days).
    earliest_government_start: datetime
    killed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Window:
    """One bar of the timeline: one grant's window with its state now, or the window a cohort's members' grants
    share, with how many of them are in each state (``grant_id`` and the organisation then None). A cohort of 200
    is one bar, not 200 identical ones: the overview stays as long however many partners a cohort brings."""

    grant_id: uuid.UUID | None
    organisation_id: uuid.UUID | None
    organisation_name: str | None
    grantee_kind: OrgKind
    cohort_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    by_state: dict[GrantState, int]  # only the states some grant is in

    @property
    def grants(self) -> int:
        return sum(self.by_state.values())

    @property
    def state(self) -> GrantState:
        """The state of most of its grants (of the one grant, for a grant's bar)."""
        return max(self.by_state.items(), key=lambda item: (item[1], -list(GrantState).index(item[0])))[0]

    @property
    def is_cohort(self) -> bool:
        return self.grant_id is None

    @property
    def label(self) -> str:
        return self.organisation_name or f"{self.grants} grant{'s' if self.grants != 1 else ''}"

    @property
    def states_in_words(self) -> str:
        """``active``, or for a cohort's bar ``150 active, 50 scheduled``."""
        if not self.is_cohort:
            return self.state.value
        return ", ".join(f"{n} {state.value}" for state, n in self.by_state.items())


@dataclass(frozen=True, slots=True)
class GrantAnswer:
    """A grant with the domain's one answer about it now: its state, and every reason it is not usable."""

    grant_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_name: str
    grantee_kind: OrgKind
    starts_at: datetime
    ends_at: datetime
    state: GrantState
    usable: bool
    reasons: tuple[str, ...]

    @property
    def explanations(self) -> list[str]:
        return [gates.explain(code) for code in self.reasons]


@dataclass(frozen=True, slots=True)
class CohortSummary:
    """A cohort and its members' nominations by state (``size``: the members the reader may see)."""

    id: uuid.UUID
    name: str
    starts_at: datetime
    ends_at: datetime
    size: int
    by_state: dict[NominationState, int]


@dataclass(frozen=True, slots=True)
class NominationCounts:
    """Nominations for access (not extensions) by their state now, all of them, those of cohorts and the rest."""

    by_state: dict[NominationState, int]
    in_cohorts: dict[NominationState, int]
    outside_cohorts: dict[NominationState, int]

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


@dataclass(frozen=True, slots=True)
class GrantCounts:
    by_state: dict[GrantState, int]
    attention: list[GrantAnswer]  # the blocked and suspended grants, each with its reasons

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def reasons(self) -> list[tuple[str, int]]:
        """Each reason the grants needing attention give, with how many give it, most frequent first."""
        counted = Counter(code for answer in self.attention for code in answer.reasons)
        return sorted(counted.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True, slots=True)
class OwedItem:
    """One requirement an organisation has not met in full: ``vetting``, ``nda`` or ``attestation`` (with its
    ``area``); ``standing`` is the vetting state, or obligations' missing / expired / expiring."""

    requirement: str
    label: str
    standing: str
    area: str | None = None


@dataclass(frozen=True, slots=True)
class OwedBy:
    organisation_id: uuid.UUID
    organisation_name: str
    kind: OrgKind
    items: list[OwedItem]


@dataclass(frozen=True, slots=True)
class Owed:
    """What the organisations in the programme (with live access or a pending nomination) still owe."""

    organisations: int
    nda_title: str | None  # the NDA in force for the model; None: the developer has published none
    by_organisation: list[OwedBy]  # only those that owe something

    def _count(self, requirement: str) -> int:
        return sum(1 for o in self.by_organisation if any(i.requirement == requirement for i in o.items))

    @property
    def owing(self) -> int:
        return len(self.by_organisation)

    @property
    def vetting(self) -> int:
        return self._count("vetting")

    @property
    def nda(self) -> int:
        return self._count("nda")

    @property
    def attestations(self) -> int:
        return self._count("attestation")


@dataclass(frozen=True, slots=True)
class CredentialCounts:
    issued: int
    live: int
    revoked: int
    tokens_issued: int


@dataclass(frozen=True, slots=True)
class TokenSeries:
    grant_id: uuid.UUID
    organisation_name: str
    days: dict[date, int]  # only the days with issuances

    @property
    def total(self) -> int:
        return sum(self.days.values())


@dataclass(frozen=True, slots=True)
class TokenIssuance:
    """Tokens issued per UTC day per grant from ``first_day`` to ``last_day`` (None: no window has begun)."""

    first_day: date | None
    last_day: date | None
    series: list[TokenSeries]  # the grants with at least one token in the span, most tokens first

    @property
    def total(self) -> int:
        return sum(s.total for s in self.series)

    @property
    def days(self) -> list[date]:
        if self.first_day is None or self.last_day is None:
            return []
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


@dataclass(frozen=True, slots=True)
class RoundSummary:
    """One round of the model's designation consultation: who asked (``requested_side``: the developer requested it,
    the government opened or reopened it), when, and how long it waited (open: until the overview's instant;
    decided: until its decision), with the outcome and the reference of the government's assessment once decided."""

    id: uuid.UUID
    round: int
    requested_side: str
    opened_at: datetime
    waited: timedelta
    outcome: str | None
    assessment_ref: str | None
    decided_at: datetime | None

    @property
    def waited_days(self) -> int:
        return self.waited.days


@dataclass(frozen=True, slots=True)
class ConsultationSummary:
    """Where the model's designation consultation stands: how many rounds it has had, the open one (None: none is
    open) and the last decided one (None: none has been decided yet)."""

    rounds: int
    open: RoundSummary | None
    last_decided: RoundSummary | None


@dataclass(frozen=True, slots=True)
class ProgrammeOverview:
    """``scope``: ``programme`` (the whole of it) or ``own`` (a partner's own part)."""

    at: datetime
    scope: str
    model: ModelSummary
    government: list[GrantAnswer]
    cohorts: list[CohortSummary]
    nominations: NominationCounts
    grants: GrantCounts
    owed: Owed
    credentials: CredentialCounts
    windows: list[Window]
    tokens: TokenIssuance
    stages: dict[Stage, int]  # how many grants are in each stage a grant not ended can be in (zeros included)
    readiness: list[GrantReadiness]  # the blocked ones, in their stage (domain.readiness), by organisation
    findings: FindingCounts  # the findings on the model the reader may read (domain.finding_audience)
    consultation: ConsultationSummary | None  # None: the reader does not read the model's consultations

    def cohort_name(self, cohort_id: uuid.UUID | None) -> str | None:
        return next((c.name for c in self.cohorts if c.id == cohort_id), None)


def _nomination_state_sql(at: datetime) -> sa.ColumnElement[Any]:
    """``coselection.effective_state`` in SQL: a pending nomination whose time has passed has lapsed."""
    lapsed = sa.and_(col(Nomination.state) == NominationState.PENDING.value, lapses_at_sql() <= at)
    return sa.case((lapsed, NominationState.LAPSED.value), else_=col(Nomination.state))


def _zeros(states: type[GrantState] | type[NominationState]) -> dict[Any, int]:
    return {state: 0 for state in states}


class Programme:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def overview(self, actor: Actor, model_id: uuid.UUID, at: datetime | None = None) -> ProgrammeOverview:
        """The programme of a model ``actor`` may see, as it stands at ``at`` (default now); NotFound otherwise."""
        at = instants.utc("at", at) if at is not None else self.unit.now()
        model = await Queries(self.unit).model(actor, model_id)
        whole = visibility.sees_everything(actor) or visibility.develops(actor, model)
        grants = select(AccessGrant.id).where(AccessGrant.model_id == model.id,
                                              visibility.cases_filter(actor, AccessGrant))  # fmt: skip
        nominations = await self._nominations(actor, model, at)
        cohorts = await self._cohorts(actor, model, nominations[1])
        windows = await self._windows(actor, model, at, cohorts)
        attention = await self._answers(actor, model, at)
        return ProgrammeOverview(
            at=at,
            scope=PROGRAMME if whole else OWN,
            model=ModelSummary(id=model.id, slug=model.slug, name=model.name, tier=model.tier,
                             designation=model.designation, planned_release_at=model.planned_release_at,
                             earliest_government_start=earliest_start(model), killed_at=model.killed_at),  # fmt: skip
            government=[a for a in attention if a.grantee_kind == OrgKind.GOVERNMENT],
            cohorts=cohorts,
            nominations=nominations[0],
            grants=GrantCounts(by_state=await self._grant_states(actor, model, at),
                               attention=[a for a in attention if a.state in ATTENTION]),  # fmt: skip
            owed=await self._owed(actor, model, at),
            credentials=await self._credentials(grants),
            windows=windows,
            tokens=await self._tokens(actor, model, windows, at),
            stages=await self._stages(actor, model, at),
            readiness=await self._readiness(actor, model, at),
            findings=await Findings(self.unit).counts(actor, model.id),
            consultation=await self._consultation(actor, model, at),
        )

    async def _consultation(self, actor: Actor, model: FrontierModel, at: datetime) -> ConsultationSummary | None:
        """The model's consultation, for those who read it (``consultations.reads``), in one query: the latest two
        rounds (at most one is open, and it is the latest: a round opens after the one before it is decided)."""
        if not consultations.reads(actor, model):
            return None
        latest = list((await self.unit.session.exec(
            select(Consultation).where(Consultation.model_id == model.id)
            .order_by(col(Consultation.round).desc()).limit(2)
        )).all())  # fmt: skip

        def summary(c: Consultation) -> RoundSummary:
            ended = c.decided_at if c.decided_at is not None else at
            return RoundSummary(id=c.id, round=c.round, requested_side=c.requested_side, opened_at=c.created_at,
                                waited=max(ended - c.created_at, timedelta(0)), outcome=c.outcome,
                                assessment_ref=c.assessment_ref, decided_at=c.decided_at)  # fmt: skip

        is_open = [c for c in latest if c.state == ConsultationState.OPEN.value]
        decided = [c for c in latest if c.state != ConsultationState.OPEN.value]
        return ConsultationSummary(rounds=latest[0].round if latest else 0,
                                   open=summary(is_open[0]) if is_open else None,
                                   last_decided=summary(decided[0]) if decided else None)  # fmt: skip

    def _stage_of_grant(self, at: datetime) -> tuple[sa.ColumnElement[str], sa.Subquery]:
        credentials = live_credentials_sql()
        stage = stage_sql(at, live_credentials=sa.func.coalesce(credentials.c.live, 0),
                          last_token_at=credentials.c.last_used_at)  # fmt: skip
        return stage, credentials

    async def _stages(self, actor: Actor, model: FrontierModel, at: datetime) -> dict[Stage, int]:
        """How many of the model's grants the reader may see are in each stage a grant not ended can be in (zeros
        included), counted in the database (``readiness.stage_sql``)."""
        stage, credentials = self._stage_of_grant(at)
        staged = (select(stage.label("stage")).select_from(AccessGrant)
                  .outerjoin(credentials, credentials.c.grant_id == AccessGrant.id)
                  .where(AccessGrant.model_id == model.id, visibility.cases_filter(actor, AccessGrant)).subquery())  # fmt: skip
        counts: dict[Stage, int] = {s: 0 for s in Stage if s not in (Stage.NOMINATED, Stage.ENDED)}
        rows = await self.unit.session.exec(select(staged.c.stage, sa.func.count()).group_by(staged.c.stage))
        for value, n in rows.all():
            if Stage(value) in counts:
                counts[Stage(value)] = int(n)
        return counts

    async def _readiness(self, actor: Actor, model: FrontierModel, at: datetime) -> list[GrantReadiness]:
        """The grants of the model the reader may see that are blocked, in their stage as their grantees see it on
        "Is my access ready?", with whose move each reason is, by organisation: the list behind the count (the
        others are on their grantee's page, and the overview does not grow with them)."""
        stage, credentials = self._stage_of_grant(at)
        found = (await self.unit.session.exec(
            select(AccessGrant, Organisation).join(Organisation, col(Organisation.id) == AccessGrant.organisation_id)
            .outerjoin(credentials, credentials.c.grant_id == AccessGrant.id)
            .where(AccessGrant.model_id == model.id, visibility.cases_filter(actor, AccessGrant),
                   stage == Stage.BLOCKED.value)
        )).all()  # fmt: skip
        rows = await stages_of(self.unit, [grant for grant, _ in found], at=at, model_names={model.id: model.name},
                               organisations={o.id: o for _, o in found})  # fmt: skip
        return sorted(rows, key=lambda r: (r.organisation_name.lower(), r.grant.starts_at))

    async def _grant_states(self, actor: Actor, model: FrontierModel, at: datetime) -> dict[GrantState, int]:
        state = state_sql(at)
        stmt = (select(state, sa.func.count())
                .where(AccessGrant.model_id == model.id, visibility.cases_filter(actor, AccessGrant))
                .group_by(state))  # fmt: skip
        counts = _zeros(GrantState)
        for value, n in (await self.unit.session.exec(stmt)).all():
            counts[GrantState(value)] = int(n)
        return counts

    async def _nominations(
        self, actor: Actor, model: FrontierModel, at: datetime
    ) -> tuple[NominationCounts, dict[uuid.UUID, dict[NominationState, int]]]:
        """The counts, and each cohort's members by state."""
        state = _nomination_state_sql(at)
        stmt = (select(Nomination.cohort_id, state, sa.func.count())
                .where(Nomination.model_id == model.id, Nomination.kind == NominationKind.GRANT.value,
                       visibility.cases_filter(actor, Nomination))
                .group_by(col(Nomination.cohort_id), state))  # fmt: skip
        every, inside, outside = _zeros(NominationState), _zeros(NominationState), _zeros(NominationState)
        per_cohort: dict[uuid.UUID, dict[NominationState, int]] = {}
        for cohort_id, value, n in (await self.unit.session.exec(stmt)).all():
            found = NominationState(value)
            every[found] += n
            if cohort_id is None:
                outside[found] += n
            else:
                inside[found] += n
                per_cohort.setdefault(cohort_id, _zeros(NominationState))[found] += n
        return NominationCounts(by_state=every, in_cohorts=inside, outside_cohorts=outside), per_cohort

    async def _cohorts(
        self, actor: Actor, model: FrontierModel, members: dict[uuid.UUID, dict[NominationState, int]]
    ) -> list[CohortSummary]:
        stmt = select(Cohort).where(Cohort.model_id == model.id)
        if not (visibility.sees_everything(actor) or visibility.develops(actor, model)):
            # A partner knows of the cohorts it is a member of, and of nothing else about them.
            stmt = stmt.where(col(Cohort.id).in_(select(Nomination.cohort_id).where(
                Nomination.model_id == model.id, visibility.cases_filter(actor, Nomination))))  # fmt: skip
        rows = (await self.unit.session.exec(stmt.order_by(col(Cohort.created_at), col(Cohort.id)))).all()
        summaries = []
        for cohort in rows:
            by_state = members.get(cohort.id, _zeros(NominationState))
            summaries.append(CohortSummary(id=cohort.id, name=cohort.name, starts_at=cohort.starts_at,
                                           ends_at=cohort.ends_at, size=sum(by_state.values()), by_state=by_state))  # fmt: skip
        return summaries

    async def _windows(self, actor: Actor, model: FrontierModel, at: datetime, cohorts: list[CohortSummary]) -> list[Window]:
        """The timeline's bars: the government's grants first, then a bar per cohort window (its members' grants
        counted by state, in the database), then the partners' grants of no cohort."""
        state = state_sql(at)
        visible = sa.and_(col(AccessGrant.model_id) == model.id, visibility.cases_filter(actor, AccessGrant))
        singles = (
            sa.select(col(AccessGrant.id), col(AccessGrant.organisation_id), col(Organisation.name),
                      col(AccessGrant.grantee_kind), col(AccessGrant.starts_at), col(AccessGrant.ends_at), state)
            .join(Organisation, col(Organisation.id) == AccessGrant.organisation_id)
            .join(Nomination, col(Nomination.id) == AccessGrant.nomination_id)
            .where(visible, col(Nomination.cohort_id).is_(None))
            .order_by(col(AccessGrant.grantee_kind) != OrgKind.GOVERNMENT.value, col(AccessGrant.starts_at),
                      col(Organisation.name), col(AccessGrant.id))
        )  # fmt: skip
        grouped = (
            sa.select(col(Nomination.cohort_id), col(AccessGrant.starts_at), col(AccessGrant.ends_at), state,
                      sa.func.count())
            .join(Nomination, col(Nomination.id) == AccessGrant.nomination_id)
            .where(visible, col(Nomination.cohort_id).is_not(None))
            .group_by(col(Nomination.cohort_id), col(AccessGrant.starts_at), col(AccessGrant.ends_at), state)
        )  # fmt: skip
        # More columns than SQLModel's typed ``exec`` takes; the session's own connection runs them in its
        # transaction, after what the session holds is flushed.
        await self.unit.session.flush()
        connection = await self.unit.session.connection()
        government: list[Window] = []
        partners: list[Window] = []
        for gid, oid, name, kind, starts, ends, value in (await connection.execute(singles)).all():
            window = Window(grant_id=gid, organisation_id=oid, organisation_name=name, grantee_kind=OrgKind(kind),
                            cohort_id=None, starts_at=aware(starts), ends_at=aware(ends),
                            by_state={GrantState(value): 1})  # fmt: skip
            (government if window.grantee_kind == OrgKind.GOVERNMENT else partners).append(window)
        bars: dict[tuple[uuid.UUID, datetime, datetime], dict[GrantState, int]] = {}
        for cohort_id, starts, ends, value, n in (await connection.execute(grouped)).all():
            counts = bars.setdefault((cohort_id, aware(starts), aware(ends)), {})
            counts[GrantState(value)] = counts.get(GrantState(value), 0) + int(n)
        order = {c.id: n for n, c in enumerate(cohorts)}
        in_cohorts = [
            Window(grant_id=None, organisation_id=None, organisation_name=None, grantee_kind=OrgKind.PARTNER,
                   cohort_id=cohort_id, starts_at=starts, ends_at=ends,
                   by_state={s: counts[s] for s in GrantState if s in counts})
            for (cohort_id, starts, ends), counts in sorted(
                bars.items(), key=lambda item: (order.get(item[0][0], len(order)), item[0][1], item[0][2]))
        ]  # fmt: skip
        return [*government, *in_cohorts, *partners]

    async def _answers(self, actor: Actor, model: FrontierModel, at: datetime) -> list[GrantAnswer]:
        """The government's grants and every grant that needs attention, each with the one answer about it."""
        attention = sa.or_(*(state_is_sql(s, at) for s in ATTENTION))
        stmt = (
            select(AccessGrant, Organisation.name)
            .join(Organisation, col(Organisation.id) == AccessGrant.organisation_id)
            .where(AccessGrant.model_id == model.id, visibility.cases_filter(actor, AccessGrant),
                   sa.or_(col(AccessGrant.grantee_kind) == OrgKind.GOVERNMENT.value, attention))
            .order_by(col(AccessGrant.grantee_kind) != OrgKind.GOVERNMENT.value, col(AccessGrant.starts_at),
                      col(Organisation.name), col(AccessGrant.id))
        )  # fmt: skip
        answers = []
        for grant, name in (await self.unit.session.exec(stmt)).all():
            answer = stored_answer(grant, at)
            answers.append(GrantAnswer(grant_id=grant.id, organisation_id=grant.organisation_id, organisation_name=name,
                                       grantee_kind=OrgKind(grant.grantee_kind), starts_at=grant.starts_at,
                                       ends_at=grant.ends_at, state=answer.state, usable=answer.usable,
                                       reasons=answer.reasons))  # fmt: skip
        return answers

    async def _owed(self, actor: Actor, model: FrontierModel, at: datetime) -> Owed:
        """What each organisation in the programme still owes, by obligations' standing of what the gates count
        for this model at ``at`` (its NDA in force, the six areas) and, for partners, its vetting."""
        session = self.unit.session
        live = select(AccessGrant.organisation_id).where(
            AccessGrant.model_id == model.id, visibility.cases_filter(actor, AccessGrant),
            col(AccessGrant.revoked_at).is_(None), AccessGrant.ends_at > at)  # fmt: skip
        waiting = select(Nomination.organisation_id).where(
            Nomination.model_id == model.id, visibility.cases_filter(actor, Nomination),
            Nomination.state == NominationState.PENDING.value, lapses_at_sql() > at)  # fmt: skip
        members = sa.union(live, waiting).subquery()
        in_programme = col(Organisation.id).in_(select(members.c.organisation_id))
        counted = (await session.exec(select(sa.func.count()).select_from(Organisation).where(in_programme))).one()
        nda = await gates.current_nda(session, model)
        # Who may owe something, found by the database so that the many who owe nothing are never read: a superset
        # of what ``standing_of`` then judges (anything on file that is not ``ok``: ok means valid beyond
        # RENEWAL_DUE from now), so no one who owes is left out.
        due = at + RENEWAL_DUE
        all_areas_ok = (select(Attestation.organisation_id)
                        .where(Attestation.attested_at <= at, Attestation.valid_until > due)
                        .group_by(col(Attestation.organisation_id))
                        .having(sa.func.count(sa.distinct(col(Attestation.area))) == len(Area)))  # fmt: skip
        may_owe = [col(Organisation.vetting_state).in_([v.value for v in VETTING_OWED]),
                   col(Organisation.id).not_in(all_areas_ok)]  # fmt: skip
        if nda is not None:
            may_owe.append(col(Organisation.id).not_in(
                select(NdaAcceptance.organisation_id).where(
                    NdaAcceptance.series == nda.series, NdaAcceptance.version_major == nda.version_major,
                    NdaAcceptance.accepted_at <= at, NdaAcceptance.expires_at > due)))  # fmt: skip
        orgs = (await session.exec(
            select(Organisation.id, Organisation.name, Organisation.kind, Organisation.vetting_state)
            .where(in_programme, sa.or_(*may_owe))
            .order_by(col(Organisation.kind) != OrgKind.GOVERNMENT.value, col(Organisation.name), col(Organisation.id))
        )).all()  # fmt: skip
        candidates = [org_id for org_id, *_ in orgs]
        accepted: dict[uuid.UUID, datetime] = {}
        if nda is not None and candidates:
            accepted = {org: aware(until) for org, until in (await session.exec(
                select(NdaAcceptance.organisation_id, sa.func.max(NdaAcceptance.expires_at))
                .where(col(NdaAcceptance.organisation_id).in_(candidates),
                       NdaAcceptance.series == nda.series, NdaAcceptance.version_major == nda.version_major,
                       NdaAcceptance.accepted_at <= at)
                .group_by(col(NdaAcceptance.organisation_id))
            )).all()}  # fmt: skip
        attested: dict[tuple[uuid.UUID, str], datetime] = {}
        if candidates:
            attested = {
                (org, area): aware(until) for org, area, until in (await session.exec(
                    select(Attestation.organisation_id, Attestation.area, sa.func.max(Attestation.valid_until))
                    .where(col(Attestation.organisation_id).in_(candidates), Attestation.attested_at <= at)
                    .group_by(col(Attestation.organisation_id), col(Attestation.area))
                )).all()
            }  # fmt: skip
        owing = []
        for org_id, name, kind, vetting in orgs:
            items = []
            if vetting in VETTING_OWED:
                items.append(OwedItem("vetting", "Vetting", vetting))
            if nda is not None and (standing := standing_of(accepted.get(org_id), at)) != OK:
                items.append(OwedItem("nda", f"{nda.title} {nda.version_major}.{nda.version_minor}", standing))
            for area in Area:
                if (standing := standing_of(attested.get((org_id, area.value)), at)) != OK:
                    items.append(OwedItem("attestation", AREA_LABELS[area], standing, area=area.value))
            if items:
                owing.append(OwedBy(organisation_id=org_id, organisation_name=name, kind=OrgKind(kind), items=items))
        return Owed(organisations=int(counted), nda_title=nda.title if nda else None, by_organisation=owing)

    async def _credentials(self, grants: Any) -> CredentialCounts:
        stmt = select(sa.func.count(), sa.func.count(col(OAuthClient.revoked_at)),
                      sa.func.coalesce(sa.func.sum(OAuthClient.token_count), 0)).where(
            OAuthClient.kind == "grant", col(OAuthClient.grant_id).in_(grants))  # fmt: skip
        issued, revoked, tokens = (await self.unit.session.exec(stmt)).one()
        return CredentialCounts(issued=int(issued), live=int(issued) - int(revoked), revoked=int(revoked),
                                tokens_issued=int(tokens))  # fmt: skip

    async def _tokens(self, actor: Actor, model: FrontierModel, windows: list[Window], at: datetime) -> TokenIssuance:
        """Tokens per UTC day per grant, from the first window's start to today or the last window's end, whichever
        is first (at most :data:`TOKEN_DAYS` days, the latest)."""
        if not windows:
            return TokenIssuance(first_day=None, last_day=None, series=[])
        today = at.astimezone(UTC).date()
        first = min(w.starts_at for w in windows).astimezone(UTC).date()
        last = min(today, max(w.ends_at for w in windows).astimezone(UTC).date())
        if first > last:
            return TokenIssuance(first_day=None, last_day=None, series=[])
        first = max(first, last - timedelta(days=TOKEN_DAYS - 1))
        day = col(TokenIssuanceDay.day)
        stmt = (select(AccessGrant.id, Organisation.name, day, sa.func.sum(TokenIssuanceDay.count))
                .join(OAuthClient, col(OAuthClient.id) == TokenIssuanceDay.client_pk)
                .join(AccessGrant, col(AccessGrant.id) == OAuthClient.grant_id)
                .join(Organisation, col(Organisation.id) == AccessGrant.organisation_id)
                .where(AccessGrant.model_id == model.id, visibility.cases_filter(actor, AccessGrant), day >= first,
                       day <= last)
                .group_by(col(AccessGrant.id), col(Organisation.name), day))  # fmt: skip
        per_grant: dict[uuid.UUID, dict[date, int]] = {}
        names: dict[uuid.UUID, str] = {}
        for grant_id, name, on, n in (await self.unit.session.exec(stmt)).all():
            if n:
                per_grant.setdefault(grant_id, {})[on] = int(n)
                names[grant_id] = name
        series = [TokenSeries(grant_id=g, organisation_name=names[g], days=dict(sorted(days.items())))
                  for g, days in per_grant.items()]  # fmt: skip
        series.sort(key=lambda s: (-s.total, s.organisation_name, str(s.grant_id)))
        return TokenIssuance(first_day=first, last_day=last, series=series)
