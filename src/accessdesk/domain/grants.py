"""Grants after they exist: keeping their state true, answering "usable at t?", revocation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination, Organisation
from accessdesk.db.types import aware
from accessdesk.domain import designation, gates, instants, visibility, windows
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import AlreadyRevoked, Conflict, DomainError, Forbidden, Invalid, ModelSwitchedOff
from accessdesk.domain.grant_state import (
    GrantFacts,
    derive_state,
    next_transition,
    ordered_lapses,
    parse_instant,
    reasons,
)
from accessdesk.domain.nominees import takes_nominations
from accessdesk.domain.notices import closed
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import GrantState, NominationState, OrgKind


@dataclass(frozen=True, slots=True)
class Usability:
    """The answer to "may this grant be used at ``at``, and if not, why" (reason codes, see gates.REASONS)."""

    grant_id: uuid.UUID
    at: datetime
    usable: bool
    state: GrantState
    reasons: tuple[str, ...]
    scopes: tuple[str, ...]
    ends_at: datetime

    @property
    def explanation(self) -> str:
        return "; ".join(self.explanations) or "usable"

    @property
    def explanations(self) -> list[str]:
        return [gates.explain(r) for r in self.reasons]

    @classmethod
    def of(cls, grant: AccessGrant, facts: GrantFacts, at: datetime) -> Usability:
        """The answer the facts give at ``at``: the one rule (grant_state) every surface applies."""
        state = derive_state(facts, at)
        return cls(grant_id=grant.id, at=at, usable=state == GrantState.ACTIVE, state=state,
                   reasons=reasons(facts, at), scopes=tuple(grant.scopes), ends_at=grant.ends_at)  # fmt: skip


def usable_by_facts(grant: AccessGrant, at: datetime) -> Usability | None:
    """The grant's answer at ``at`` read from its materialised facts alone (no query), when it is *usable*; None
    otherwise. It agrees with :meth:`Grants.usability` because every service that changes an input of the rules
    refreshes the grants it affects in the same transaction, and time is applied here by ``derive_state``. Callers
    on a hot path use it first and ask ``Grants.usability`` for the reasons of a refusal."""
    if derive_state(GrantFacts.of(grant, with_reasons=False), at) != GrantState.ACTIVE:
        return None
    return Usability(grant_id=grant.id, at=at, usable=True, state=GrantState.ACTIVE, reasons=(),
                     scopes=tuple(grant.scopes), ends_at=grant.ends_at)  # fmt: skip


def stored_answer(grant: AccessGrant, at: datetime) -> Usability:
    """The answer read from the grant's stored facts (no query): what lists and pages show for many grants at once.
    It equals :meth:`Grants.usability` at any instant the worker has caught up with (see ``refresh``)."""
    return Usability.of(grant, GrantFacts.of(grant), at)


@dataclass(slots=True)
class Findings:
    """What the rules find about one grant at one instant: the inputs of :class:`GrantFacts`, as stored on it."""

    window_problems: list[str]
    rule_problems: list[str]
    missing_gates: list[str]
    lapses: dict[str, datetime]
    government_from: datetime | None

    def facts(self, grant: AccessGrant) -> GrantFacts:
        problems = (*self.window_problems, *self.rule_problems, *self.missing_gates)
        return GrantFacts(
            starts_at=grant.starts_at,
            ends_at=grant.ends_at,
            revoked=grant.revoked_at is not None,
            has_problems=bool(problems),
            gates_valid_until=min(self.lapses.values()) if self.lapses else None,
            government_from=self.government_from,
            problems=problems,
            lapses=ordered_lapses(self.lapses),
        )

    def store(self, grant: AccessGrant) -> None:
        facts = self.facts(grant)
        grant.window_problems = list(self.window_problems)
        grant.rule_problems = list(self.rule_problems)
        grant.missing_gates = list(self.missing_gates)
        grant.has_problems = facts.has_problems
        grant.gate_lapses = {code: until.isoformat() for code, until in sorted(self.lapses.items())}
        grant.gates_valid_until = facts.gates_valid_until
        grant.government_from = self.government_from


Coverage = tuple[datetime, datetime] | None


def pick_coverage(intervals: list[tuple[datetime, datetime]], at: datetime) -> Coverage:
    """Of the instants at which some government grant is usable, the stretch that matters at ``at``: the one in
    force or next to come, else the last one that ended (whose end is then a lapse)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    for start, end in merged:
        if end > at:
            return (start, end)
    return merged[-1] if merged else None


def side_of(actor: Actor, model: FrontierModel) -> str:
    """The side a staff member acts for on this model, or Forbidden."""
    if actor.kind == OrgKind.GOVERNMENT:
        return "government"
    if actor.kind == OrgKind.DEVELOPER and model.developer_id == actor.organisation_id:
        return "developer"
    if actor.kind == OrgKind.DEVELOPER:
        raise Forbidden("only the model's own developer acts for the developer side")
    raise Forbidden("partners never decide on or revoke access")


def revocation_refused(actor: Actor, grant: AccessGrant, *, model: FrontierModel) -> DomainError | None:
    """Why ``actor`` may not revoke ``grant`` of ``model`` (None: they may): either side's admins and approvers
    (the model's own developer, or the government), and only once. The rule :meth:`Grants.revoke` applies."""
    if not actor.can(Permission.GRANTS_REVOKE):
        return Forbidden("only admins and approvers of either side can revoke access")
    try:
        side_of(actor, model)
    except Forbidden as refused:
        return refused
    if grant.revoked_at is not None:
        return AlreadyRevoked(f"grant {grant.id} was already revoked")
    return None


def extension_refused(actor: Actor, grant: AccessGrant, *, model: FrontierModel, at: datetime,
                      pending: bool) -> DomainError | None:  # fmt: skip
    """Why ``actor`` may not ask to extend ``grant`` of ``model`` at ``at`` (None: they may ask; the new end and
    the justification are judged when they do). ``pending``: an extension of it already awaits decisions. The rule
    :meth:`CoSelection.request_extension` applies, and what a surface asks before offering it."""
    if not actor.can(Permission.NOMINATIONS_CREATE):
        return Forbidden("only nominators, approvers and admins can request extensions")
    if grant.revoked_at is not None:
        return Conflict("a revoked grant cannot be extended")
    if aware(grant.ends_at) <= at:
        return Conflict("this grant has ended; nominate the organisation again instead")
    if not takes_nominations(model):
        return ModelSwitchedOff(f"access to {model.slug} has been switched off")
    if pending:
        return Conflict("an extension of this grant is already awaiting decisions")
    return None


@dataclass(frozen=True, slots=True)
class GrantActions:
    """What one person may do to one grant now: what a surface offers, and nothing else."""

    revoke: bool
    extend: bool


class Grants:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def usability(self, grant_id: uuid.UUID, *, at: datetime | None = None) -> Usability:
        """Is grant ``grant_id`` usable at ``at`` (default: now)? Evaluated from the inputs themselves, so the
        answer never depends on the worker having materialised anything."""
        at = instants.utc("at", at) if at is not None else self.unit.now()
        grant = await self.unit.get(AccessGrant, grant_id, what="grant", fresh=True)
        model = await self.unit.get(FrontierModel, grant.model_id, fresh=True)
        organisation = await self.unit.get(Organisation, grant.organisation_id, fresh=True)
        findings = await self.find(grant, model=model, organisation=organisation, at=at)
        return Usability.of(grant, findings.facts(grant), at)

    async def find(
        self,
        grant: AccessGrant,
        *,
        model: FrontierModel,
        organisation: Organisation,
        at: datetime,
        recheck_window: bool = False,
        coverage: dict[uuid.UUID, Coverage] | None = None,
        reports: Mapping[uuid.UUID, gates.GateReport] | None = None,
    ) -> Findings:
        """Apply every rule of DESIGN.md §3 that does not depend on time alone to ``grant`` as things stand at
        ``at``: its window rules (re-checked only when asked, and only before the window starts: a started window
        is not taken back by a later move), the designation (rule 4), government first (rule 3) and the gates
        (rule 5). ``coverage`` caches the government's access per model within one refresh; ``reports``: the gates of
        ``organisation`` for ``model`` at ``at`` already evaluated (:func:`gates.evaluate_all`, for many at once)."""
        window_problems = list(grant.window_problems)
        if recheck_window and grant.starts_at > at:
            government_start = await windows.earliest_government_start(
                self.unit.session, model.id, excluding=grant.id
            )
            window_problems = windows.problems_for(grant, model, government_start)
        rule_problems = designation.problems_for(model, OrgKind(grant.grantee_kind))
        report = (reports[organisation.id] if reports is not None and organisation.id in reports
                  else await gates.evaluate(self.unit.session, organisation=organisation, model=model, at=at))  # fmt: skip
        lapses = dict(report.lapses)
        government_from = None
        if grant.grantee_kind == OrgKind.PARTNER.value:
            if coverage is None or model.id not in coverage:
                found = await self.government_coverage(model, at=at)
                if coverage is not None:
                    coverage[model.id] = found
            else:
                found = coverage[model.id]
            if found is None:
                rule_problems.append("government_not_begun")
            else:
                government_from, lapses["government_access_ended"] = found
        return Findings(window_problems=window_problems, rule_problems=rule_problems,
                        missing_gates=list(report.missing), lapses=lapses, government_from=government_from)  # fmt: skip

    async def government_coverage(
        self, model: FrontierModel, *, at: datetime, excluding: set[uuid.UUID] | frozenset[uuid.UUID] = frozenset()
    ) -> Coverage:
        """When the government's own access to ``model`` is in force, as things stand at ``at`` (rule 3: a partner
        may use its grant only while it is). A government grant counts from its start for as long as the rules
        let it be used: never if it is blocked, until it ends, lapses or is revoked. ``excluding``: as if these
        government grants gave no access (a preview)."""
        rows = (
            await self.unit.session.exec(
                select(AccessGrant).where(
                    AccessGrant.model_id == model.id, AccessGrant.grantee_kind == OrgKind.GOVERNMENT.value
                )
            )
        ).all()
        intervals = []
        for grant in rows:
            if grant.id in excluding:
                continue
            end = grant.ends_at if grant.revoked_at is None else min(grant.ends_at, grant.revoked_at)
            if end <= grant.starts_at:
                continue
            organisation = await self.unit.get(Organisation, grant.organisation_id)
            facts = (await self.find(grant, model=model, organisation=organisation, at=at)).facts(grant)
            if facts.has_problems or facts.gates_valid_until is None:
                continue
            end = min(end, facts.gates_valid_until)
            if end > grant.starts_at:
                intervals.append((grant.starts_at, end))
        return pick_coverage(intervals, at)

    async def refresh(
        self,
        grant: AccessGrant,
        *,
        actor: Actor,
        model: FrontierModel,
        organisation: Organisation,
        recheck_window: bool = False,
        reason: str | None = None,
        quiet: bool = False,
        coverage: dict[uuid.UUID, Coverage] | None = None,
        reports: Mapping[uuid.UUID, gates.GateReport] | None = None,
    ) -> bool:
        """Re-evaluate a (locked) grant's rules as of now, then store its facts and state.

        ``quiet`` stores the state without auditing it as a change (for a grant being created, whose creation
        event carries its first state)."""
        now = self.unit.now()
        findings = await self.find(grant, model=model, organisation=organisation, at=now,
                                   recheck_window=recheck_window, coverage=coverage, reports=reports)  # fmt: skip
        findings.store(grant)
        if quiet:
            facts = GrantFacts.of(grant)
            grant.state, grant.next_transition_at = derive_state(facts, now).value, next_transition(facts, now)
            self.unit.session.add(grant)
            return False
        return self.materialise(grant, actor=actor, at=now, reason=reason)

    async def catch_up(self, grant: AccessGrant, *, actor: Actor, at: datetime) -> bool:
        """Store the state a due grant has at ``at`` (the worker's sweep). Time alone moves a grant along its
        facts, except for a partner whose government access has ended: the government's next access, if any, is
        found by evaluating the rules again (and so is a grant marked for re-evaluation by a migration). Returns
        whether the state changed."""
        lapses = grant.gate_lapses or {}
        if any(parse_instant(lapses[code]) <= at for code in REEVALUATE if code in lapses):
            model = await self.unit.get(FrontierModel, grant.model_id)
            organisation = await self.unit.get(Organisation, grant.organisation_id)
            return await self.refresh(grant, actor=actor, model=model, organisation=organisation)
        return self.materialise(grant, actor=actor, at=at)

    def materialise(self, grant: AccessGrant, *, actor: Actor, at: datetime, reason: str | None = None) -> bool:
        """Store the state the facts give at ``at``; audit it when it changed. Returns whether it changed."""
        facts = GrantFacts.of(grant)
        state = derive_state(facts, at)
        grant.next_transition_at = next_transition(facts, at)
        self.unit.session.add(grant)
        if state == grant.state:
            return False
        before = grant.state
        grant.state = state.value
        grant.state_changed_at = at
        self.unit.record(
            actor=actor,
            action="grant.state_changed",
            subject=grant,
            before={"state": before},
            after={"state": state.value, "problems": list(reasons(facts, at))},
            reason=reason,
        )
        return True

    async def refresh_where(
        self,
        *,
        actor: Actor,
        organisation_id: uuid.UUID | None = None,
        model_ids: Sequence[uuid.UUID] | None = None,
        unstarted_only: bool = False,
        recheck_window: bool = False,
        kinds: Sequence[OrgKind] | None = None,
        reason: str | None = None,
    ) -> list[AccessGrant]:
        """Refresh every live grant matching the filters (after a change to their inputs); returns them. When a
        government grant is among them, the model's partner grants follow (they rely on it: rule 3)."""
        now = self.unit.now()
        stmt = select(AccessGrant).where(
            col(AccessGrant.revoked_at).is_(None),
            AccessGrant.ends_at > now,
        )
        if organisation_id is not None:
            stmt = stmt.where(AccessGrant.organisation_id == organisation_id)
        if model_ids is not None:
            stmt = stmt.where(col(AccessGrant.model_id).in_(model_ids))
        if unstarted_only:
            stmt = stmt.where(AccessGrant.starts_at > now)
        if kinds is not None:
            stmt = stmt.where(col(AccessGrant.grantee_kind).in_([k.value for k in kinds]))
        found = await self._lock_all(stmt)
        coverage: dict[uuid.UUID, Coverage] = {}
        await self._refresh_all(found, actor=actor, recheck_window=recheck_window, reason=reason, coverage=coverage)
        followed = sorted({g.model_id for g in found if g.grantee_kind == OrgKind.GOVERNMENT.value})
        if followed:
            await self.unit.session.flush()
            done = {g.id for g in found}
            partners = await self._lock_all(
                select(AccessGrant).where(
                    col(AccessGrant.model_id).in_(followed),
                    AccessGrant.grantee_kind == OrgKind.PARTNER.value,
                    col(AccessGrant.revoked_at).is_(None),
                    AccessGrant.ends_at > now,
                )
            )
            await self._refresh_all([g for g in partners if g.id not in done], actor=actor, recheck_window=True,
                                    reason=reason, coverage={})  # fmt: skip
        return found

    async def _lock_all(self, stmt: Any) -> list[AccessGrant]:
        # One order everywhere (government grants, then partner grants, each by id), so that concurrent
        # refreshers, whichever grants they start from, lock rows in the same order and cannot deadlock.
        stmt = stmt.order_by(*LOCK_ORDER).with_for_update().execution_options(populate_existing=True)
        return list((await self.unit.session.exec(stmt)).all())

    async def _refresh_all(self, found: list[AccessGrant], *, actor: Actor, recheck_window: bool, reason: str | None,
                           coverage: dict[uuid.UUID, Coverage]) -> None:  # fmt: skip
        models: dict[uuid.UUID, FrontierModel] = {}
        orgs: dict[uuid.UUID, Organisation] = {}
        for grant in found:
            model = models.get(grant.model_id) or await self.unit.get(FrontierModel, grant.model_id)
            org = orgs.get(grant.organisation_id) or await self.unit.get(Organisation, grant.organisation_id)
            models[model.id], orgs[org.id] = model, org
            await self.refresh(grant, actor=actor, model=model, organisation=org, recheck_window=recheck_window,
                               reason=reason, coverage=coverage)  # fmt: skip

    async def allowed(self, actor: Actor, grant: AccessGrant) -> GrantActions:
        """What ``actor`` may do to ``grant`` (one they can see) now."""
        model = await self.unit.get(FrontierModel, grant.model_id)
        extending = extension_refused(actor, grant, model=model, at=self.unit.now(),
                                      pending=await self.extension_pending(grant.id))  # fmt: skip
        return GrantActions(revoke=revocation_refused(actor, grant, model=model) is None, extend=extending is None)

    async def extension_pending(self, grant_id: uuid.UUID) -> bool:
        """Whether an extension of the grant awaits decisions (there is at most one at a time)."""
        found = await self.unit.session.exec(select(Nomination.id).where(
            Nomination.grant_id == grant_id, Nomination.state == NominationState.PENDING.value))  # fmt: skip
        return found.first() is not None

    async def check_revocation(self, *, actor: Actor, grant_id: uuid.UUID, reason: str) -> AccessGrant:
        """Refuse as :meth:`revoke` would now, changing nothing: for a surface that asks "are you sure?" first."""
        grant, model = await self._revocable(actor, grant_id, reason, lock_model=False)
        if (refused := revocation_refused(actor, grant, model=model)) is not None:
            raise refused
        return grant

    async def _revocable(
        self, actor: Actor, grant_id: uuid.UUID, reason: str, *, lock_model: bool
    ) -> tuple[AccessGrant, FrontierModel]:
        grant = await self.unit.get(AccessGrant, grant_id, what="grant")
        model = await (self.unit.lock(FrontierModel, grant.model_id, shared=True) if lock_model
                       else self.unit.get(FrontierModel, grant.model_id))  # fmt: skip
        visibility.require(visibility.can_see_case(actor, model, grant.organisation_id), "grant", grant_id)
        # Asked on what was read, so that someone who may not revoke takes no lock; asked again once locked.
        if isinstance(refused := revocation_refused(actor, grant, model=model), Forbidden):
            raise refused
        if not reason or not reason.strip():
            raise Invalid("reason", "a reason is required to revoke access")
        return grant, model

    async def revoke(self, *, actor: Actor, grant_id: uuid.UUID, reason: str) -> AccessGrant:
        """Cut access at once. Either side's admin or approver suffices."""
        grant, model = await self._revocable(actor, grant_id, reason, lock_model=True)
        grant = await self.unit.lock(AccessGrant, grant_id)
        if (refused := revocation_refused(actor, grant, model=model)) is not None:
            raise refused
        await self._revoke_locked(grant, model=model, actor=actor, reason=reason.strip())
        if grant.grantee_kind == OrgKind.GOVERNMENT.value:
            await self.after_government_change(model=model, actor=actor, reason=reason.strip())
        await self.unit.commit()
        return grant

    async def _revoke_locked(self, grant: AccessGrant, *, model: FrontierModel, actor: Actor, reason: str) -> None:
        now = self.unit.now()
        grant.revoked_at, grant.revoked_by, grant.revoke_reason = now, actor.user_id, reason
        self.unit.record(actor=actor, action="grant.revoked", subject=grant, after={"revoked_at": now}, reason=reason)
        self.materialise(grant, actor=actor, at=now, reason=reason)
        # A pending extension of a revoked grant has nothing left to extend.
        pending = (
            await self.unit.session.exec(
                select(Nomination)
                .where(Nomination.grant_id == grant.id, Nomination.state == NominationState.PENDING.value)
                .with_for_update()
            )
        ).all()
        for nomination in pending:
            nomination.state, nomination.decided_at = NominationState.WITHDRAWN.value, now
            nomination.outcome_reason = "the grant it would extend was revoked"
            self.unit.session.add(nomination)
            self.unit.record(actor=actor, action="nomination.withdrawn", subject=nomination,
                             after={"state": nomination.state}, reason=nomination.outcome_reason)  # fmt: skip
            closed(self.unit, nomination, by=actor)
        self.unit.notify(
            topic="grant.revoked",
            recipient=f"organisation:{grant.organisation_id}",
            payload={"grant_id": grant.id, "model_id": model.id, "reason": reason},
            dedupe_key=f"grant.revoked:{grant.id}",
        )

    async def revoke_all_of_model(self, *, model: FrontierModel, actor: Actor, reason: str) -> int:
        """Kill switch: revoke every grant of a (locked) model that is not revoked yet."""
        live = await self._lock_all(
            select(AccessGrant).where(AccessGrant.model_id == model.id, col(AccessGrant.revoked_at).is_(None))
        )
        for grant in live:
            await self._revoke_locked(grant, model=model, actor=actor, reason=reason)
        return len(live)

    async def after_government_change(self, *, model: FrontierModel, actor: Actor, reason: str | None = None) -> None:
        """Partner grants rely on the government's access to the model (rule 3): when it changes, they follow;
        those not started yet are also re-checked against when it starts."""
        await self.refresh_where(actor=actor, model_ids=[model.id], recheck_window=True, kinds=[OrgKind.PARTNER],
                                 reason=reason)  # fmt: skip


# Lapses after which time alone cannot tell the next state: the worker evaluates the rules again.
REEVALUATE = ("government_access_ended", "reevaluation_due")

# Government grants first, then partner grants (see Grants._lock_all).
LOCK_ORDER = (AccessGrant.grantee_kind != OrgKind.GOVERNMENT.value, AccessGrant.id)
