"""Grants after they exist: keeping their state true, answering "usable at t?", revocation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination, Organisation
from accessdesk.domain import gates, instants, visibility, windows
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import AlreadyRevoked, Forbidden, Invalid
from accessdesk.domain.grant_state import GrantFacts, derive_state, next_transition, problems_of
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
        return "; ".join(gates.explain(r) for r in self.reasons) or "usable"


def usable_by_facts(grant: AccessGrant, at: datetime) -> Usability | None:
    """The grant's answer at ``at`` read from its materialised facts alone (no query), when it is *usable*; None
    otherwise. It agrees with :meth:`Grants.usability` because every service that changes an input of the gates
    refreshes the grants it affects in the same transaction, and time is applied here by ``derive_state``. Callers
    on a hot path use it first and ask ``Grants.usability`` for the reasons of a refusal."""
    if derive_state(GrantFacts.of(grant), at) != GrantState.ACTIVE:
        return None
    return Usability(grant_id=grant.id, at=at, usable=True, state=GrantState.ACTIVE, reasons=(),
                     scopes=tuple(grant.scopes), ends_at=grant.ends_at)  # fmt: skip


def side_of(actor: Actor, model: FrontierModel) -> str:
    """The side a staff member acts for on this model, or Forbidden."""
    if actor.kind == OrgKind.GOVERNMENT:
        return "government"
    if actor.kind == OrgKind.DEVELOPER and model.developer_id == actor.organisation_id:
        return "developer"
    if actor.kind == OrgKind.DEVELOPER:
        raise Forbidden("only the model's own developer acts for the developer side")
    raise Forbidden("partners never decide on or revoke access")


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
        report = await gates.evaluate(self.unit.session, organisation=organisation, model=model, at=at)
        facts = GrantFacts(
            starts_at=grant.starts_at,
            ends_at=grant.ends_at,
            revoked=grant.revoked_at is not None,
            has_problems=bool(grant.window_problems or report.missing),
            gates_valid_until=report.valid_until,
        )
        state = derive_state(facts, at)
        if state == GrantState.REVOKED:
            reasons: list[str] = ["revoked"]
        elif state == GrantState.EXPIRED:
            reasons = ["window_ended"]
        else:
            reasons = [*grant.window_problems, *report.problems]
            if at < grant.starts_at:
                reasons.append("window_not_started")
        return Usability(
            grant_id=grant.id,
            at=at,
            usable=state == GrantState.ACTIVE,
            state=state,
            reasons=tuple(reasons),
            scopes=tuple(grant.scopes),
            ends_at=grant.ends_at,
        )

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
    ) -> None:
        """Re-evaluate a (locked) grant's gates, and its window rules when asked, then store its state.

        ``quiet`` stores the state without auditing it as a change (for a grant being created, whose creation
        event carries its first state)."""
        now = self.unit.now()
        if recheck_window:
            government_start = await windows.earliest_government_start(
                self.unit.session, model.id, excluding=grant.id
            )
            grant.window_problems = windows.problems_for(grant, model, government_start)
        report = await gates.evaluate(self.unit.session, organisation=organisation, model=model, at=now)
        grant.missing_gates = report.missing
        grant.has_problems = bool(grant.window_problems or report.missing)
        grant.gates_valid_until = report.valid_until
        if quiet:
            facts = GrantFacts.of(grant)
            grant.state, grant.next_transition_at = derive_state(facts, now).value, next_transition(facts, now)
            return
        self.materialise(grant, actor=actor, at=now, reason=reason)

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
            after={"state": state.value, "problems": problems_of(grant)},
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
        """Refresh every live grant matching the filters (after a change to their inputs); returns them."""
        now = self.unit.now()
        stmt = select(AccessGrant).where(
            AccessGrant.revoked_at.is_(None),  # type: ignore[union-attr]
            AccessGrant.ends_at > now,  # type: ignore[arg-type]
        )
        if organisation_id is not None:
            stmt = stmt.where(AccessGrant.organisation_id == organisation_id)
        if model_ids is not None:
            stmt = stmt.where(AccessGrant.model_id.in_(model_ids))  # type: ignore[attr-defined]
        if unstarted_only:
            stmt = stmt.where(AccessGrant.starts_at > now)  # type: ignore[arg-type]
        if kinds is not None:
            stmt = stmt.where(AccessGrant.grantee_kind.in_([k.value for k in kinds]))  # type: ignore[attr-defined]
        # Ordered so that concurrent refreshers lock rows in the same order and cannot deadlock.
        stmt = stmt.order_by(AccessGrant.id).with_for_update().execution_options(populate_existing=True)
        found = list((await self.unit.session.exec(stmt)).all())
        models: dict[uuid.UUID, FrontierModel] = {}
        orgs: dict[uuid.UUID, Organisation] = {}
        for grant in found:
            model = models.get(grant.model_id) or await self.unit.get(FrontierModel, grant.model_id)
            org = orgs.get(grant.organisation_id) or await self.unit.get(Organisation, grant.organisation_id)
            models[model.id], orgs[org.id] = model, org
            await self.refresh(
                grant, actor=actor, model=model, organisation=org, recheck_window=recheck_window, reason=reason
            )
        return found

    async def revoke(self, *, actor: Actor, grant_id: uuid.UUID, reason: str) -> AccessGrant:
        """Cut access at once. Either side's admin or approver suffices."""
        grant = await self.unit.get(AccessGrant, grant_id, what="grant")
        model = await self.unit.lock(FrontierModel, grant.model_id, shared=True)
        visibility.require(visibility.can_see_case(actor, model, grant.organisation_id), "grant", grant_id)
        actor.require(Permission.GRANTS_REVOKE, "only admins and approvers of either side can revoke access")
        side_of(actor, model)
        if not reason or not reason.strip():
            raise Invalid("reason", "a reason is required to revoke access")
        grant = await self.unit.lock(AccessGrant, grant_id)
        if grant.revoked_at is not None:
            raise AlreadyRevoked(f"grant {grant_id} was already revoked")
        await self._revoke_locked(grant, model=model, actor=actor, reason=reason.strip())
        if grant.grantee_kind == OrgKind.GOVERNMENT.value:
            await self.after_government_change(model=model, actor=actor)
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
        live = (
            await self.unit.session.exec(
                select(AccessGrant)
                .where(AccessGrant.model_id == model.id, AccessGrant.revoked_at.is_(None))  # type: ignore[union-attr]
                .order_by(AccessGrant.id)
                .with_for_update()
            )
        ).all()
        for grant in live:
            await self._revoke_locked(grant, model=model, actor=actor, reason=reason)
        return len(live)

    async def after_government_change(self, *, model: FrontierModel, actor: Actor) -> None:
        """Partner grants that have not started depend on when the government's access starts."""
        await self.refresh_where(
            actor=actor, model_ids=[model.id], unstarted_only=True, recheck_window=True, kinds=[OrgKind.PARTNER]
        )

