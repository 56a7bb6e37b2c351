"""Request and response bodies of the JSON API's cohorts (many partners nominated and decided as one)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from accessdesk.api.schemas import NO_NUL, ONE_LINE, Aware, Conflicting, DecisionOut, NominationOut, Text, in_utc_range
from accessdesk.domain.actor import Actor
from accessdesk.domain.cohorts import CohortMember, CohortSummary, MemberDecided, MemberNominated, Named
from accessdesk.domain.errors import DomainError, Overlap
from accessdesk.domain.vocabulary import Action, NominationState, Verdict

Entry = Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=320,
                            description="an organisation's id, slug or e-mail domain")]  # fmt: skip
# The domain refuses more than 500 distinct organisations in words (cohort_entries.MAX_MEMBERS); this bound only
# keeps a body from making it read an unbounded list first.
MAX_ENTRIES = 5000
Reason = Annotated[str, Meta(pattern=NO_NUL, max_length=5000)]


class CohortIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """``members`` rather than ``organisations``: Litestar takes a body field named like one of the app's
    dependencies (``organisations`` is a service) for that dependency, and answers its validation errors with a
    500."""

    model: Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=64, description="the model's slug or id")]
    name: Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=120)]
    members: Annotated[list[Entry], Meta(min_length=1, max_length=MAX_ENTRIES,
                                         description="the organisations: each by id, slug or e-mail domain")]
    starts_at: Aware
    ends_at: Aware
    actions: Annotated[list[Action], Meta(min_length=1, max_length=8)]
    justification: Text
    all_or_nothing: bool = False

    def __post_init__(self) -> None:
        in_utc_range(self, "starts_at", "ends_at")


class CohortDecisionIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """Approve every member but those in ``reject``: a member's nomination id or organisation id → the reason."""

    reject: Annotated[dict[uuid.UUID, Reason], Meta(max_length=MAX_ENTRIES)] = msgspec.field(default_factory=dict)


class OrganisationRef(Struct, kw_only=True):
    id: uuid.UUID
    name: str
    slug: str

    @classmethod
    def of(cls, organisation: Named | Any) -> OrganisationRef:
        return cls(id=organisation.id, name=organisation.name, slug=organisation.slug)


class Refusal(Struct, kw_only=True):
    """Why one member was not nominated or decided: the code and message a single request would have got."""

    code: str
    message: str
    conflicting: Conflicting | None = None

    @classmethod
    def of(cls, refusal: DomainError) -> Refusal:
        conflicting = (Conflicting(kind=refusal.kind, id=refusal.subject_id,
                                   href=f"/api/v1/{refusal.kind}s/{refusal.subject_id}")
                       if isinstance(refusal, Overlap) else None)  # fmt: skip
        return cls(code=refusal.code, message=refusal.message, conflicting=conflicting)


class MemberResultOut(Struct, kw_only=True):
    """One entry of a cohort: ``nominated`` (with its nomination) or ``refused`` (with why); ``organisation`` is null
    for an entry that names nobody."""

    entry: str
    organisation: OrganisationRef | None
    outcome: str
    nomination: NominationOut | None
    refusal: Refusal | None

    @classmethod
    def of(cls, member: MemberNominated) -> MemberResultOut:
        n = member.nomination
        return cls(entry=member.entry, outcome="nominated" if n is not None else "refused",
                   organisation=OrganisationRef.of(member.organisation) if member.organisation else None,
                   nomination=NominationOut.of(n, state=n.state) if n is not None else None,
                   refusal=Refusal.of(member.refusal) if member.refusal is not None else None)  # fmt: skip


class SideTallyOut(Struct, kw_only=True):
    approved: int
    awaiting: int


class CohortMemberOut(Struct, kw_only=True):
    organisation: OrganisationRef
    nomination: NominationOut
    may_decide: bool

    @classmethod
    def of(cls, member: CohortMember, actor: Actor | None = None) -> CohortMemberOut:
        """``actor``: who reads it (a partner reads only the reasons ``domain.reasons`` lets it)."""
        return cls(organisation=OrganisationRef.of(member.organisation), may_decide=member.may_decide,
                   nomination=NominationOut.of(member.nomination, state=member.state.value, actor=actor))  # fmt: skip


class CohortOut(Struct, kw_only=True):
    """A cohort, counted over the members the caller may see (a partner: itself): ``states`` by each state,
    ``sides`` per side (members whose quorum that side has met; pending members still short of it), and
    ``awaiting_my_side`` (pending members the caller's side has not decided yet; null for who has no side)."""

    id: uuid.UUID
    model_id: uuid.UUID
    model_slug: str
    name: str
    starts_at: datetime
    ends_at: datetime
    actions: list[str]
    justification: str
    nominated_by: uuid.UUID
    created_at: datetime
    size: int
    states: dict[str, int]
    sides: dict[str, SideTallyOut]
    awaiting_my_side: int | None
    members: list[CohortMemberOut] | None = None

    @classmethod
    def of(cls, summary: CohortSummary, members: list[CohortMember] | None = None,
           actor: Actor | None = None) -> CohortOut:  # fmt: skip
        c = summary.cohort
        return cls(id=c.id, model_id=c.model_id, model_slug=summary.model.slug, name=c.name, starts_at=c.starts_at,
                   ends_at=c.ends_at, actions=list(c.actions), justification=c.justification,
                   nominated_by=c.nominated_by, created_at=c.created_at, size=summary.size,
                   states={s.value: summary.states[s] for s in NominationState},
                   sides={side.value: SideTallyOut(approved=t.approved, awaiting=t.awaiting)
                          for side, t in summary.sides.items()},
                   awaiting_my_side=summary.awaiting_my_side,
                   members=[CohortMemberOut.of(m, actor) for m in members] if members is not None else None)  # fmt: skip


class CohortCreatedOut(Struct, kw_only=True):
    cohort: CohortOut
    members: list[MemberResultOut]
    duplicates: list[str]


class CohortPage(Struct, kw_only=True):
    items: list[CohortOut]
    next_cursor: str | None


class MemberDecisionOut(Struct, kw_only=True):
    """One member's decision: ``granted`` (both sides complete: ``grant_id``), ``approved``, ``rejected``, or
    ``refused`` (not recorded: ``refusal`` says why, as a single decision's 403 or 409 would)."""

    nomination_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_name: str
    verdict: Verdict
    result: str
    state: str
    decision: DecisionOut | None
    grant_id: uuid.UUID | None
    refusal: Refusal | None

    @classmethod
    def of(cls, member: MemberDecided) -> MemberDecisionOut:
        outcome = member.outcome
        return cls(nomination_id=member.nomination.id, organisation_id=member.nomination.organisation_id,
                   organisation_name=member.organisation_name, verdict=member.verdict, result=member.result,
                   state=member.nomination.state,
                   decision=DecisionOut.of(outcome.decision) if outcome is not None else None,
                   grant_id=outcome.grant.id if outcome is not None and outcome.grant is not None else None,
                   refusal=Refusal.of(member.refusal) if member.refusal is not None else None)  # fmt: skip


class CohortDecidedOut(Struct, kw_only=True):
    members: list[MemberDecisionOut]
    cohort: CohortOut
