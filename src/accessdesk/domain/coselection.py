"""Co-selection (DESIGN.md §3 rules 1, 2, 6): nominations, two-sided decisions, and the grant they create."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import (
    AccessGrant,
    Decision,
    Delegation,
    FrontierModel,
    Nomination,
    Organisation,
    User,
)
from accessdesk.domain import designation, gates, instants, visibility, windows
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import snapshot
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.errors import (
    AlreadyDecided,
    DomainError,
    Forbidden,
    Invalid,
    ModelSwitchedOff,
    NotFound,
    NotPending,
    Overlap,
    SelfDecision,
)
from accessdesk.domain.grants import Coverage, Grants, extension_refused, side_of
from accessdesk.domain.nominees import may_be_nominated, takes_nominations
from accessdesk.domain.notices import approvers, closed
from accessdesk.domain.permissions import Permission
from accessdesk.domain.step_up import step_up_refused
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import (
    Action,
    GrantState,
    NominationKind,
    NominationState,
    OrgKind,
    Side,
    Verdict,
    scope_for,
)

MAX_TEXT = 5000


@dataclass(frozen=True, slots=True)
class NominationActions:
    """What one person may do on one nomination now: what a surface offers, and nothing else."""

    decide: bool
    withdraw: bool


@dataclass(frozen=True, slots=True)
class DecisionEffect:
    """What one more decision by one person would do to a nomination now, for a surface to say before it is made
    (a decision cannot be taken back)."""

    side: Side
    approvals: int  # on the person's side, counting theirs if they approve
    quorum: int
    other_approvals: int  # on the other side
    other_quorum: int
    completes: bool  # an approval completes both quorums: the grant is made (or the extension carried out)


def approval_completes(nomination: Nomination, side: Side) -> bool:
    """Whether one more approval on ``side`` completes both sides' quorums: the nomination is then approved."""
    developer = nomination.developer_approvals + (side == Side.DEVELOPER)
    government = nomination.government_approvals + (side == Side.GOVERNMENT)
    return developer >= nomination.developer_quorum and government >= nomination.government_quorum


def approval_effect(nomination: Nomination, side: Side) -> DecisionEffect:
    """What one more approval on ``side`` would do to ``nomination``'s tally as it stands, whoever gives it: for
    a surface that shows the tally to both sides at once (a channel's approval card) or to someone whose side it
    knows. Whether a given person may decide is :meth:`CoSelection.decision_effect`'s question, not this one's."""
    tally = {Side.DEVELOPER: (nomination.developer_approvals, nomination.developer_quorum),
             Side.GOVERNMENT: (nomination.government_approvals, nomination.government_quorum)}  # fmt: skip
    other = Side.GOVERNMENT if side == Side.DEVELOPER else Side.DEVELOPER
    return DecisionEffect(side=side, approvals=tally[side][0] + 1, quorum=tally[side][1],
                          other_approvals=tally[other][0], other_quorum=tally[other][1],
                          completes=approval_completes(nomination, side))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    nomination: Nomination
    decision: Decision
    grant: AccessGrant | None


def lapses_at(nomination: Nomination) -> datetime:
    """When a pending nomination lapses: its proposed start, or its model's expiry after it was made if sooner."""
    return nomination.expires_at or nomination.starts_at


def lapses_at_sql() -> sa.ColumnElement[datetime]:
    """:func:`lapses_at` in SQL."""
    return sa.func.coalesce(col(Nomination.expires_at), col(Nomination.starts_at))


def effective_state(nomination: Nomination, at: datetime) -> NominationState:
    """A pending nomination whose time has passed (:func:`lapses_at`) has lapsed, whether or not the worker has
    said so."""
    if nomination.state == NominationState.PENDING and at >= lapses_at(nomination):
        return NominationState.LAPSED
    return NominationState(nomination.state)


def expiry_of(model: FrontierModel, *, starts_at: datetime, now: datetime) -> datetime:
    """When a nomination made now for ``model``, proposed to start at ``starts_at``, lapses if still pending."""
    return min(starts_at, now + timedelta(days=model.nomination_expiry_days))


def decider_refused(actor: Actor) -> Forbidden | None:
    """Why ``actor`` may decide on no nomination at all (None: they may decide on some)."""
    if actor.kind == OrgKind.PARTNER:
        return Forbidden("partners never decide on nominations")
    if not actor.can(Permission.NOMINATIONS_DECIDE):
        return Forbidden("only approvers and admins decide on nominations")
    return None


def decision_refused(
    actor: Actor, nomination: Nomination, *, model: FrontierModel, decided: bool, at: datetime
) -> DomainError | None:
    """Why ``actor`` may not decide on ``nomination`` of ``model`` at ``at`` (None: they may); ``decided``: they
    have already. The rule :meth:`CoSelection.decide` applies, and what a surface asks before offering it."""
    if (refused := decider_refused(actor)) is not None:
        return refused
    try:
        side_of(actor, model)
    except Forbidden as refused_side:
        return refused_side
    state = effective_state(nomination, at)
    if state != NominationState.PENDING:
        return NotPending(f"this nomination is {state.value}; it no longer takes decisions")
    if nomination.nominated_by == actor.user_id:
        return SelfDecision("you nominated this; someone else must decide on it")
    if decided:
        return AlreadyDecided("you have already decided on this nomination")
    if not takes_nominations(model):
        return ModelSwitchedOff(f"access to {model.slug} has been switched off")
    return None


def withdrawal_refused(
    actor: Actor, nomination: Nomination, *, nominator_organisation_id: uuid.UUID | None, at: datetime
) -> DomainError | None:
    """Why ``actor`` may not withdraw ``nomination`` at ``at`` (None: they may): only its nominator or an admin of
    the nominator's organisation, and only while it is pending. The rule :meth:`CoSelection.withdraw` applies."""
    own = nomination.nominated_by == actor.user_id
    admin_of_nominator = (
        actor.can(Permission.ORGANISATIONS_MANAGE)
        and nominator_organisation_id is not None
        and nominator_organisation_id == actor.organisation_id
    )
    if not (own or admin_of_nominator):
        return Forbidden("only the nominator or an admin of their organisation can withdraw a nomination")
    state = effective_state(nomination, at)
    if state != NominationState.PENDING:
        return NotPending(f"this nomination is {state.value}; only a pending nomination can be withdrawn")
    return None


def _text(field: str, value: str | None, *, required: bool, what: str) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise Invalid(field, f"{what} is required")
        return None
    if len(value) > MAX_TEXT:
        raise Invalid(field, f"{what} may be at most {MAX_TEXT} characters")
    return value


def decision_reason(verdict: Verdict, reason: str | None) -> str | None:
    """A decision's reason as it is recorded: required to reject, at most ``MAX_TEXT`` characters (Invalid)."""
    return _text("reason", reason, required=verdict == Verdict.REJECT, what="a reason for rejecting")


def _actions(actions: list[str]) -> list[str]:
    if not actions:
        raise Invalid("actions", "ask for at least one action")
    known = {a.value for a in Action}
    unknown = sorted(set(actions) - known)
    if unknown:
        raise Invalid("actions", f"unknown action(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return sorted(set(actions))


def nominating_refused(actor: Actor, model: FrontierModel) -> Forbidden | ModelSwitchedOff | None:
    """Why ``actor`` may not nominate anyone for ``model`` at all (None: they may, subject to who they nominate and
    when). Two of the rules :meth:`CoSelection.nominate` applies."""
    if not actor.can(Permission.NOMINATIONS_CREATE):
        return Forbidden("only nominators, approvers and admins can nominate")
    if not takes_nominations(model):
        return ModelSwitchedOff(f"access to {model.slug} has been switched off")
    return None


def _overlap(kind: str, what: str, other_id: uuid.UUID, other_start: datetime, other_end: datetime) -> Overlap:
    return Overlap(f"this organisation already has {what} for this model overlapping that window "
                   f"({other_start:%Y-%m-%d %H:%M} → {other_end:%Y-%m-%d %H:%M} UTC)", kind=kind, subject_id=other_id)  # fmt: skip


def _counted(earlier: Sequence[tuple[uuid.UUID, uuid.UUID | None]], principal: Actor, actor: Actor) -> str | None:
    """Why a decision by ``actor`` in ``principal``'s name (the same person when no one delegated) would count
    someone twice on a nomination with the ``earlier`` decisions (approver, decided by) that count ``principal`` or
    were made by ``actor``, in words (None: it would not). An approver is counted once, whoever decides for them; a
    person decides once, for themselves or for anyone."""
    if not earlier:
        return None
    if principal.user_id == actor.user_id:
        return "you have already decided on this nomination"
    if any(approver == principal.user_id for approver, _ in earlier):
        return "the person you decide for has already been counted on this nomination"
    return "you have already decided on this nomination; a delegation cannot make one person count twice"


Answer = TypeVar("Answer")


def _answered(answers: list[Answer | None]) -> list[Answer]:
    """Answers given in place, one per question: every place must have been answered."""
    given = [answer for answer in answers if answer is not None]
    if len(given) != len(answers):
        raise AssertionError(f"{len(answers) - len(given)} of {len(answers)} questions were left unanswered")
    return given


@dataclass(slots=True)
class _Prepared:
    """What carrying out many approvals at once reads once (see :meth:`CoSelection._prepare`)."""

    organisations: dict[uuid.UUID, Organisation]
    reports: dict[uuid.UUID, gates.GateReport] = field(default_factory=dict)
    shared: bool = False  # government_start and coverage hold for every grant being made
    government_start: dict[uuid.UUID, datetime | None] = field(default_factory=dict)
    coverage: dict[uuid.UUID, Coverage] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Judged:
    """What :meth:`CoSelection._judge_all` found: per place asked, its refusal (None: it may be decided), and for
    those not refused before the nominations were read, the side deciding."""

    wanted: list[tuple[uuid.UUID, Verdict, str | None]]  # the nomination, the verdict, the reason as recorded
    refusals: list[DomainError | None]
    sides: dict[int, Side]
    nominations: dict[uuid.UUID, Nomination]  # locked when judged for a decision
    models: dict[uuid.UUID, FrontierModel]
    grants: dict[uuid.UUID, AccessGrant]  # the grants being extended, locked (for a decision only)
    principal: Actor
    delegation: Delegation | None
    now: datetime


Locked = TypeVar("Locked", AccessGrant, Nomination)


class CoSelection:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.grants = Grants(unit)

    async def nominate(
        self,
        *,
        actor: Actor,
        model_id: uuid.UUID,
        organisation_id: uuid.UUID,
        starts_at: datetime,
        ends_at: datetime,
        actions: list[str],
        justification: str,
        cohort_id: uuid.UUID | None = None,
        reconsiders_id: uuid.UUID | None = None,
    ) -> Nomination:
        """Propose an organisation for access to a model in a window; both sides then decide. ``cohort_id``: the
        cohort this nomination is a member of (domain.cohorts), written with it; ``reconsiders_id``: the refused
        nomination whose reconsideration this round is (domain.reconsiderations)."""
        (made,) = await self.nominate_all(actor=actor, model_id=model_id, organisation_ids=[organisation_id],
                                          starts_at=starts_at, ends_at=ends_at, actions=actions,
                                          justification=justification, cohort_id=cohort_id,
                                          reconsiders_id=reconsiders_id)  # fmt: skip
        if isinstance(made, DomainError):
            raise made
        return made

    async def nominate_all(
        self,
        *,
        actor: Actor,
        model_id: uuid.UUID,
        organisation_ids: Sequence[uuid.UUID],
        starts_at: datetime,
        ends_at: datetime,
        actions: list[str],
        justification: str,
        cohort_id: uuid.UUID | None = None,
        reconsiders_id: uuid.UUID | None = None,
        notices: bool = True,
    ) -> list[Nomination | DomainError]:
        """:meth:`nominate` for each organisation, in order, as if one after the other, in one transaction and a
        fixed number of queries however many there are. What is about one organisation alone is answered in its
        place and writes nothing for it: it does not exist, may not be nominated, or already has a nomination or a
        grant overlapping the window (one made earlier in the list included). What they all share (who nominates,
        the model, the window, the actions, the justification) refuses them all: raised, nothing written.
        ``notices``: each nomination is announced to the model's approvers (False: the caller announces them all at
        once, as a cohort does)."""
        actor.require(Permission.NOMINATIONS_CREATE, "only nominators, approvers and admins can nominate")
        model = await self.unit.get(FrontierModel, model_id, what="model")
        visibility.require(visibility.can_see_model(actor, model), "model", model_id)
        found = await self._organisations(organisation_ids)
        made: list[Nomination | DomainError | None] = [None] * len(organisation_ids)
        candidates: list[tuple[int, Organisation]] = []
        for place, organisation_id in enumerate(organisation_ids):
            organisation = found.get(organisation_id)
            if organisation is None:
                made[place] = NotFound(f"organisation {organisation_id} not found")
            elif not may_be_nominated(organisation):
                made[place] = Invalid("organisation_id", "access is granted to partner or government organisations only")
            else:
                candidates.append((place, organisation))
        if not candidates:
            return _answered(made)
        text = _text("justification", justification, required=True, what="a justification")
        chosen = _actions(actions)
        if not takes_nominations(model):
            raise ModelSwitchedOff(f"access to {model.slug} has been switched off")
        now = self.unit.now()
        government_start = await windows.earliest_government_start(self.unit.session, model.id)
        for kind in dict.fromkeys(OrgKind(organisation.kind) for _, organisation in candidates):
            designation.require_allows(model, kind)
            windows.check_proposal(model=model, grantee_kind=kind, starts_at=starts_at, ends_at=ends_at, now=now,
                                   government_start=government_start)  # fmt: skip
        overlapping = await self._overlapping(model.id, [o.id for _, o in candidates], starts_at, ends_at)
        for place, organisation in candidates:
            if (refusal := overlapping.get(organisation.id)) is not None:
                made[place] = refusal
                continue
            nomination = Nomination(
                kind=NominationKind.GRANT.value,
                model_id=model.id,
                organisation_id=organisation.id,
                starts_at=starts_at,
                ends_at=ends_at,
                actions=chosen,
                justification=text or "",
                nominated_by=actor.person_id,
                cohort_id=cohort_id,
                reconsiders_id=reconsiders_id,
                state=NominationState.PENDING.value,
                expires_at=expiry_of(model, starts_at=starts_at, now=now),
                developer_quorum=model.developer_quorum,
                government_quorum=model.government_quorum,
                created_at=now,
            )
            # The same organisation again further down the list overlaps this one.
            overlapping[organisation.id] = _overlap("nomination", "a pending nomination", nomination.id, starts_at,
                                                    ends_at)  # fmt: skip
            self._opened(nomination, actor=actor, model=model, notice=notices)
            made[place] = nomination
        await self.unit.commit()
        return _answered(made)

    async def _organisations(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Organisation]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.unit.session.exec(select(Organisation).where(col(Organisation.id).in_(wanted)))
        return {organisation.id: organisation for organisation in rows.all()}

    async def request_extension(
        self, *, actor: Actor, grant_id: uuid.UUID, ends_at: datetime, justification: str
    ) -> Nomination:
        """Extending a window is a new decision round by both sides, as a nomination of kind ``extension``."""
        grant = await self.unit.get(AccessGrant, grant_id, what="grant")
        model = await self.unit.get(FrontierModel, grant.model_id)
        pending = await Grants(self.unit).extension_pending(grant.id)
        # Asked first for who asks (nothing is said of a grant to someone who may not extend any), then for the grant.
        if isinstance(refused := extension_refused(actor, grant, model=model, at=self.unit.now(), pending=pending),
                      Forbidden):  # fmt: skip
            raise refused
        visibility.require(visibility.can_see_case(actor, model, grant.organisation_id), "grant", grant_id)
        text = _text("justification", justification, required=True, what="a justification")
        if refused is not None:
            raise refused
        ends_at = instants.utc("ends_at", ends_at)
        if ends_at <= grant.ends_at:
            raise Invalid("ends_at", "an extension must end after the current window ends")
        windows.check_proposal(
            model=model,
            grantee_kind=OrgKind(grant.grantee_kind),
            starts_at=grant.starts_at,
            ends_at=ends_at,
            now=self.unit.now(),
            government_start=None,
            new_window=False,
        )
        nomination = Nomination(
            kind=NominationKind.EXTENSION.value,
            model_id=model.id,
            organisation_id=grant.organisation_id,
            grant_id=grant.id,
            # An extension is decided before the current window ends; that is when it lapses.
            starts_at=grant.ends_at,
            ends_at=ends_at,
            actions=list(grant.actions),
            justification=text or "",
            nominated_by=actor.person_id,
            state=NominationState.PENDING.value,
            expires_at=expiry_of(model, starts_at=grant.ends_at, now=self.unit.now()),
            developer_quorum=model.developer_quorum,
            government_quorum=model.government_quorum,
            created_at=self.unit.now(),
        )
        self._opened(nomination, actor=actor, model=model)
        await self.unit.commit()
        return nomination

    def _opened(self, nomination: Nomination, *, actor: Actor, model: FrontierModel, notice: bool = True) -> None:
        self.unit.session.add(nomination)
        self.unit.record(actor=actor, action="nomination.created", subject=nomination, after=snapshot(nomination))
        if not notice:
            return
        self.unit.notify(
            topic="nomination.created",
            recipient=approvers(model.id),
            # A cohort's member says so: the cohort's one card stands for its members (domain.cohorts).
            payload={"nomination_id": nomination.id, "model_id": model.id, "kind": nomination.kind,
                     **({"cohort_id": nomination.cohort_id} if nomination.cohort_id else {})},
            dedupe_key=f"nomination.created:{nomination.id}",
        )

    async def _overlapping(
        self, model_id: uuid.UUID, organisation_ids: Sequence[uuid.UUID], starts_at: datetime, ends_at: datetime
    ) -> dict[uuid.UUID, Overlap]:
        """Of ``organisation_ids``, those that already have a pending nomination (else a grant) for the model
        overlapping the window, each with its refusal naming the first of them."""
        now = self.unit.now()
        ids = list(organisation_ids)
        overlapping = [
            select(Nomination.organisation_id, Nomination.id, Nomination.starts_at, Nomination.ends_at).where(
                Nomination.model_id == model_id,
                col(Nomination.organisation_id).in_(ids),
                Nomination.kind == NominationKind.GRANT.value,
                Nomination.state == NominationState.PENDING.value,
                lapses_at_sql() > now,
                Nomination.starts_at < ends_at,
                Nomination.ends_at > starts_at,
            ).order_by(col(Nomination.id)),
            select(AccessGrant.organisation_id, AccessGrant.id, AccessGrant.starts_at, AccessGrant.ends_at).where(
                AccessGrant.model_id == model_id,
                col(AccessGrant.organisation_id).in_(ids),
                col(AccessGrant.revoked_at).is_(None),
                AccessGrant.starts_at < ends_at,
                AccessGrant.ends_at > starts_at,
            ).order_by(col(AccessGrant.id)),
        ]
        found: dict[uuid.UUID, Overlap] = {}
        for kind, what, stmt in zip(("nomination", "grant"), ("a pending nomination", "a grant"), overlapping,
                                    strict=True):  # fmt: skip
            for organisation_id, other_id, other_start, other_end in (await self.unit.session.exec(stmt)).all():
                found.setdefault(organisation_id, _overlap(kind, what, other_id, other_start, other_end))
        return found

    async def decide(
        self, *, actor: Actor, nomination_id: uuid.UUID, verdict: Verdict, reason: str | None = None,
        reason_shared: bool = False, on_behalf_of: uuid.UUID | None = None,
    ) -> Outcome:  # fmt: skip
        """Record one approver's decision; approve once both sides reach quorum, reject on any veto.

        ``reason_shared``: a rejection's reason is shown to the partner too (else to the nominator and staff).
        ``on_behalf_of``: the approver in whose name ``actor`` decides under a delegation in force
        (domain.delegations); the decision is judged by that approver's rights and records both.
        """
        (outcome,) = await self.decide_all(actor=actor, asked=[(nomination_id, Verdict(verdict), reason)],
                                           reason_shared=reason_shared, on_behalf_of=on_behalf_of)  # fmt: skip
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    async def decide_all(
        self, *, actor: Actor, asked: Sequence[tuple[uuid.UUID, Verdict, str | None]], reason_shared: bool = False,
        on_behalf_of: uuid.UUID | None = None, notices: bool = True,
    ) -> list[Outcome | DomainError]:  # fmt: skip
        """:meth:`decide` on each nomination ``asked`` (its id, the verdict, the reason), in order, as if one after
        the other, in one transaction and a fixed number of queries however many there are: what refuses one
        decision (the nomination is not found or no longer pending, ``actor`` nominated it or has decided on it) is
        answered in its place and writes nothing for it; what refuses them all (who decides, a reason missing, a
        nomination asked about twice) is raised. When every one is refused nothing is written and the transaction
        is left to the caller, as a single refusal leaves it. ``notices``: each decision is announced to the model's
        approvers, and each nominator told of their nomination's outcome (False: the caller tells them of all these
        decisions at once, as a cohort does). Partner grants made by the same call share one evaluation of the government's access to the model
        (they cannot change it); a government grant or an extension is carried out on its own, in its place.

        Locks, in this order everywhere: the models (shared, so a kill switch waits for us), the grants being
        extended, then the nominations, each kind in the order of ids. A decision on a nomination that has left
        ``pending`` is a conflict.
        """
        judged = await self._judge_all(actor=actor, asked=asked, on_behalf_of=on_behalf_of, lock=True)
        wanted, sides, locked, models, now = judged.wanted, judged.sides, judged.nominations, judged.models, judged.now
        results: list[Outcome | DomainError | None] = list(judged.refusals)
        deciding = [place for place in sides if results[place] is None]
        prepared = await self._prepare([locked[wanted[p][0]] for p in deciding
                                        if wanted[p][1] == Verdict.APPROVE
                                        and approval_completes(locked[wanted[p][0]], sides[p])], models, now)  # fmt: skip
        for place in deciding:
            nomination_id, verdict, reason = wanted[place]
            nomination = locked[nomination_id]
            results[place] = await self._record(
                nomination, model=models[nomination.model_id], side=sides[place], verdict=verdict, reason=reason,
                reason_shared=reason_shared, actor=actor, principal=judged.principal, delegation=judged.delegation,
                grant=judged.grants.get(nomination.grant_id) if nomination.grant_id else None, prepared=prepared,
                now=now, notices=notices,
            )  # fmt: skip
        if deciding:
            await self.unit.commit()
        return _answered(results)

    async def _judge_all(
        self, *, actor: Actor, asked: Sequence[tuple[uuid.UUID, Verdict, str | None]], on_behalf_of: uuid.UUID | None,
        lock: bool,
    ) -> _Judged:  # fmt: skip
        """Every rule a decision by ``actor`` (in ``on_behalf_of``'s name) on each nomination ``asked`` must pass,
        in :meth:`decide`'s order, in a fixed number of queries: what refuses them all raised, each one's own
        refusal in its place. ``lock``: hold the models (shared), the grants being extended and the nominations, in
        that order and each in the order of ids, for a decision to follow; else only read them (a preview)."""
        if (refused := decider_refused(actor)) is not None:
            raise refused
        wanted = [(nomination_id, Verdict(verdict), decision_reason(Verdict(verdict), reason))
                  for nomination_id, verdict, reason in asked]  # fmt: skip
        if len({nomination_id for nomination_id, _, _ in wanted}) != len(wanted):
            raise Invalid("nominations", "a nomination is asked about more than once; a person decides on it once")
        delegation, principal = None, actor
        if on_behalf_of is not None and on_behalf_of != actor.user_id:
            delegation, principal = await Delegations(self.unit).acting_for(actor, on_behalf_of)
            principal = principal.with_request_id(actor.request_id)
        refusals: list[DomainError | None] = [None] * len(wanted)
        seen = await self._nominations([nomination_id for nomination_id, _, _ in wanted])
        models: dict[uuid.UUID, FrontierModel] = {}
        for model_id in sorted({n.model_id for n in seen.values()}):
            models[model_id] = await (self.unit.lock(FrontierModel, model_id, shared=True) if lock
                                      else self.unit.get(FrontierModel, model_id))  # fmt: skip
        sides: dict[int, Side] = {}
        for place, (nomination_id, _, _) in enumerate(wanted):
            if (found := seen.get(nomination_id)) is None:
                refusals[place] = NotFound(f"nomination {nomination_id} not found")
                continue
            model = models[found.model_id]
            try:
                visibility.require(visibility.can_see_case(actor, model, found.organisation_id), "nomination",
                                   nomination_id)  # fmt: skip
                sides[place] = Side(side_of(principal, model))
            except DomainError as unseen:
                refusals[place] = unseen
        grants: dict[uuid.UUID, AccessGrant] = {}
        nominations = {wanted[p][0]: seen[wanted[p][0]] for p in sides}
        if lock:
            extended = sorted({grant_id for p in sides if (grant_id := seen[wanted[p][0]].grant_id) is not None})
            grants = {grant.id: grant for grant in await self._lock_ids(AccessGrant, extended)}
            nominations = {n.id: n for n in await self._lock_ids(Nomination, sorted(nominations))}
        now = self.unit.now()
        earlier = await self._decided_by(list(nominations), principal, actor)
        for place in sides:
            nomination_id, verdict, _ = wanted[place]
            nomination = nominations[nomination_id]
            counted = _counted(earlier.get(nomination_id, []), principal, actor)
            model = models[nomination.model_id]
            refusal = decision_refused(principal, nomination, model=model, decided=counted is not None, at=now)
            if refusal is None and delegation is not None:
                if nomination.nominated_by == actor.user_id:
                    refusal = SelfDecision("you nominated this; someone else must decide on it, in anyone's name")
                elif counted is not None:
                    refusal = AlreadyDecided(counted)
            refusals[place] = refusal or step_up_refused(actor, model, nomination, verdict, now)
        return _Judged(wanted=wanted, refusals=refusals, sides=sides, nominations=nominations, models=models,
                       grants=grants, principal=principal, delegation=delegation, now=now)  # fmt: skip

    async def _record(
        self, nomination: Nomination, *, model: FrontierModel, side: Side, verdict: Verdict, reason: str | None,
        reason_shared: bool, actor: Actor, principal: Actor, delegation: Delegation | None,
        grant: AccessGrant | None, prepared: _Prepared, now: datetime, notices: bool,
    ) -> Outcome:  # fmt: skip
        """One decision on a locked nomination the rules let ``actor`` decide, and what it makes happen."""
        decision = Decision(
            nomination_id=nomination.id,
            approver_id=principal.person_id,
            side=side.value,
            verdict=verdict.value,
            reason=reason,
            reason_shared=bool(reason_shared) and verdict == Verdict.REJECT,
            decided_by=actor.person_id if delegation is not None else None,
            delegation_id=delegation.id if delegation is not None else None,
            created_at=now,
        )
        self.unit.session.add(decision)
        self.unit.record(actor=actor, action="decision.recorded", subject=decision,
                         after=snapshot(decision), reason=reason)  # fmt: skip
        before = {"state": nomination.state, "developer_approvals": nomination.developer_approvals,
                  "government_approvals": nomination.government_approvals}  # fmt: skip
        created: AccessGrant | None = None
        if verdict == Verdict.REJECT:
            nomination.state, nomination.decided_at = NominationState.REJECTED.value, now
            nomination.outcome_reason = reason
        else:
            completes = approval_completes(nomination, side)
            if side == Side.DEVELOPER:
                nomination.developer_approvals += 1
            else:
                nomination.government_approvals += 1
            if completes:
                nomination.state, nomination.decided_at = NominationState.APPROVED.value, now
                created = await self._carry_out(nomination, model=model, grant=grant, actor=actor, prepared=prepared)
        self.unit.session.add(nomination)
        after = {"state": nomination.state, "developer_approvals": nomination.developer_approvals,
                 "government_approvals": nomination.government_approvals}  # fmt: skip
        final = nomination.state != NominationState.PENDING
        self.unit.record(actor=actor, action=f"nomination.{nomination.state}" if final else "nomination.tallied",
                         subject=nomination, before=before, after=after, reason=reason)  # fmt: skip
        if not notices:
            return Outcome(nomination=nomination, decision=decision, grant=created)
        self.unit.notify(
            topic="nomination.decision",
            recipient=approvers(model.id),
            payload={"nomination_id": nomination.id, "decision_id": decision.id, "state": nomination.state},
            dedupe_key=f"nomination.decision:{decision.id}",
        )
        if final:
            self.unit.notify(
                topic=f"nomination.{nomination.state}",
                recipient=f"user:{nomination.nominated_by}",
                payload={"nomination_id": nomination.id, "state": nomination.state, "reason": reason},
                dedupe_key=f"nomination.outcome:{nomination.id}",
            )
        return Outcome(nomination=nomination, decision=decision, grant=created)

    async def _nominations(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Nomination]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.unit.session.exec(select(Nomination).where(col(Nomination.id).in_(wanted)))
        return {nomination.id: nomination for nomination in rows.all()}

    async def _lock_ids(self, table: type[Locked], ids: Sequence[uuid.UUID]) -> list[Locked]:
        """Rows of ``table`` by id, held for the rest of the transaction (as :meth:`Unit.lock`), in the order of ids."""
        if not ids:
            return []
        pk = sa.inspect(table).local_table.primary_key.columns.values()[0]
        stmt = (select(table).where(pk.in_(ids)).order_by(pk).with_for_update()
                .execution_options(populate_existing=True))  # fmt: skip
        return list((await self.unit.session.exec(stmt)).all())

    async def _decided_by(
        self, nomination_ids: Sequence[uuid.UUID], principal: Actor, actor: Actor
    ) -> dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID | None]]]:
        """Per nomination, the decisions already counting ``principal`` or made by ``actor`` (approver, decided by)."""
        if not nomination_ids:
            return {}
        people = {principal.user_id, actor.user_id}
        rows = (await self.unit.session.exec(
            select(Decision.nomination_id, Decision.approver_id, Decision.decided_by).where(
                col(Decision.nomination_id).in_(nomination_ids),
                sa.or_(col(Decision.approver_id).in_(people), col(Decision.decided_by) == actor.user_id))
        )).all()  # fmt: skip
        earlier: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID | None]]] = {}
        for nomination_id, approver_id, decided_by in rows:
            earlier.setdefault(nomination_id, []).append((approver_id, decided_by))
        return earlier

    async def _counted_on(self, nomination_id: uuid.UUID, principal: Actor, actor: Actor) -> str | None:
        earlier = await self._decided_by([nomination_id], principal, actor)
        return _counted(earlier.get(nomination_id, []), principal, actor)

    async def _prepare(
        self, completing: Sequence[Nomination], models: Mapping[uuid.UUID, FrontierModel], at: datetime
    ) -> _Prepared:
        """What carrying out ``completing`` (nominations an approval completes) reads, read once for them all: their
        organisations and gates, and, while none of them is the government's own access (which would change it),
        when the government's access to each model starts and is in force."""
        prepared = _Prepared(organisations=await self._organisations([n.organisation_id for n in completing]))
        prepared.shared = not any(prepared.organisations[n.organisation_id].kind == OrgKind.GOVERNMENT.value
                                  for n in completing)  # fmt: skip
        for model_id in sorted({n.model_id for n in completing}):
            model = models[model_id]
            organisations = [prepared.organisations[o] for o in dict.fromkeys(
                n.organisation_id for n in completing if n.model_id == model_id)]  # fmt: skip
            prepared.reports.update(await gates.evaluate_all(self.unit.session, organisations=organisations,
                                                             model=model, at=at))  # fmt: skip
            if prepared.shared:
                prepared.government_start[model_id] = await windows.earliest_government_start(self.unit.session,
                                                                                              model_id)  # fmt: skip
                # Read before anything is written: a query between the grants would flush half-made rows.
                prepared.coverage[model_id] = await self.grants.government_coverage(model, at=at)
        return prepared

    async def _carry_out(
        self, nomination: Nomination, *, model: FrontierModel, grant: AccessGrant | None, actor: Actor,
        prepared: _Prepared,
    ) -> AccessGrant:  # fmt: skip
        organisation = prepared.organisations.get(nomination.organisation_id) or await self.unit.get(
            Organisation, nomination.organisation_id)  # fmt: skip
        now = self.unit.now()
        if grant is not None:  # an extension
            before = {"ends_at": grant.ends_at}
            grant.ends_at = nomination.ends_at
            self.unit.record(actor=actor, action="grant.extended", subject=grant, before=before,
                             after={"ends_at": grant.ends_at, "nomination_id": nomination.id})  # fmt: skip
            await self.grants.refresh(grant, actor=actor, model=model, organisation=organisation,
                                      reports=prepared.reports)  # fmt: skip
            if grant.grantee_kind == OrgKind.GOVERNMENT.value:
                await self.unit.session.flush()
                await self.grants.after_government_change(model=model, actor=actor)
            return grant
        grant = AccessGrant(
            nomination_id=nomination.id,
            model_id=model.id,
            organisation_id=organisation.id,
            grantee_kind=organisation.kind,
            starts_at=nomination.starts_at,
            ends_at=nomination.ends_at,
            actions=list(nomination.actions),
            scopes=[scope_for(model.slug, a) for a in nomination.actions],
            state=GrantState.SCHEDULED.value,
            state_changed_at=now,
            created_at=now,
        )
        government_start = (prepared.government_start[model.id] if prepared.shared
                            else await windows.earliest_government_start(self.unit.session, model.id))  # fmt: skip
        grant.window_problems = windows.problems_for(grant, model, government_start)
        self.unit.session.add(grant)
        await self.grants.refresh(grant, actor=actor, model=model, organisation=organisation, quiet=True,
                                  reports=prepared.reports, coverage=prepared.coverage if prepared.shared else None)  # fmt: skip
        nomination.grant_id = grant.id  # the nomination carries the grant it made
        self.unit.record(actor=actor, action="grant.created", subject=grant, after=snapshot(grant))
        if grant.grantee_kind == OrgKind.GOVERNMENT.value:
            await self.unit.session.flush()
            await self.grants.after_government_change(model=model, actor=actor)
        return grant

    async def decision_effect(
        self, *, actor: Actor, nomination_id: uuid.UUID, verdict: Verdict, reason: str | None = None,
        on_behalf_of: uuid.UUID | None = None,
    ) -> DecisionEffect:  # fmt: skip
        """What ``actor``'s decision on the nomination (in ``on_behalf_of``'s name) would do now; refused as
        :meth:`decide` would refuse it (a stale sign-in included), changing nothing."""
        (effect,) = await self.decision_effects(actor=actor, asked=[(nomination_id, Verdict(verdict), reason)],
                                                on_behalf_of=on_behalf_of)  # fmt: skip
        if isinstance(effect, DomainError):
            raise effect
        return effect

    async def decision_effects(
        self, *, actor: Actor, asked: Sequence[tuple[uuid.UUID, Verdict, str | None]],
        on_behalf_of: uuid.UUID | None = None,
    ) -> list[DecisionEffect | DomainError]:  # fmt: skip
        """:meth:`decision_effect` for each of ``asked``, as :meth:`decide_all` would judge them (the same rules,
        the same refusals in place or raised), in a fixed number of queries, locking and changing nothing."""
        judged = await self._judge_all(actor=actor, asked=asked, on_behalf_of=on_behalf_of, lock=False)
        return _answered([refusal or approval_effect(judged.nominations[judged.wanted[place][0]], judged.sides[place])
                          for place, refusal in enumerate(judged.refusals)])  # fmt: skip

    async def allowed(self, actor: Actor, nomination: Nomination, decisions: list[Decision]) -> NominationActions:
        """What ``actor`` may do on ``nomination`` (one they can see, with its ``decisions``) now."""
        model = await self.unit.get(FrontierModel, nomination.model_id)
        nominator = await self.unit.session.get(User, nomination.nominated_by)
        now = self.unit.now()
        decided = any(actor.user_id in (d.approver_id, d.decided_by) for d in decisions)  # a person decides once
        return NominationActions(
            decide=decision_refused(actor, nomination, model=model, decided=decided, at=now) is None,
            withdraw=withdrawal_refused(actor, nomination, at=now,
                                        nominator_organisation_id=nominator.organisation_id if nominator else None)
            is None,
        )  # fmt: skip

    async def withdraw(self, *, actor: Actor, nomination_id: uuid.UUID, reason: str | None = None) -> Nomination:
        """The nominator (or an admin of their organisation) takes a pending nomination back."""
        seen = await self.unit.get(Nomination, nomination_id, what="nomination")
        model = await self.unit.lock(FrontierModel, seen.model_id, shared=True)
        visibility.require(visibility.can_see_case(actor, model, seen.organisation_id), "nomination", nomination_id)
        nominator = await self.unit.session.get(User, seen.nominated_by)
        nominator_organisation_id = nominator.organisation_id if nominator is not None else None
        # Asked on what was read, so that someone who may not withdraw takes no lock; asked again once locked, as
        # the nomination may have been decided in the meantime.
        refused = withdrawal_refused(actor, seen, nominator_organisation_id=nominator_organisation_id,
                                     at=self.unit.now())  # fmt: skip
        if isinstance(refused, Forbidden):
            raise refused
        text = _text("reason", reason, required=False, what="a reason")
        nomination = await self.unit.lock(Nomination, nomination_id)
        refused = withdrawal_refused(actor, nomination, nominator_organisation_id=nominator_organisation_id,
                                     at=self.unit.now())  # fmt: skip
        if refused is not None:
            raise refused
        nomination.state, nomination.decided_at = NominationState.WITHDRAWN.value, self.unit.now()
        nomination.outcome_reason = text
        self.unit.session.add(nomination)
        self.unit.record(actor=actor, action="nomination.withdrawn", subject=nomination,
                         before={"state": "pending"}, after={"state": nomination.state}, reason=text)  # fmt: skip
        closed(self.unit, nomination, by=actor)
        await self.unit.commit()
        return nomination


async def tally(unit: Unit, nomination_id: uuid.UUID) -> list[Decision]:
    rows = await unit.session.exec(
        select(Decision).where(Decision.nomination_id == nomination_id).order_by(col(Decision.created_at))
    )
    return list(rows.all())


def awaiting(side: Side) -> sa.ColumnElement[bool]:
    """Pending nominations still short of quorum on ``side`` (the approval queue of that side)."""
    if side == Side.DEVELOPER:
        return col(Nomination.developer_approvals) < Nomination.developer_quorum
    return col(Nomination.government_approvals) < Nomination.government_quorum
