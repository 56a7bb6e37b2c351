"""Frontier models: registration by their developer, designation by the government, release moves, kill switch."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination
from accessdesk.domain import instants, visibility, windows
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import snapshot
from accessdesk.domain.coselection import nominating_refused
from accessdesk.domain.credentials import gateway_management_refused
from accessdesk.domain.errors import Conflict, Forbidden, Invalid, ModelSwitchedOff
from accessdesk.domain.grants import Grants
from accessdesk.domain.notices import approvers
from accessdesk.domain.permissions import Permission
from accessdesk.domain.step_up import STEP_UP_MINUTES
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import (
    SLUG,
    Designation,
    GrantState,
    NominationState,
    OrgKind,
    Tier,
)

CHANNEL = re.compile(r"[CG][A-Z0-9]{6,20}")
TEXT_LIMITS = {"name": 200, "codename": 100}
EDITABLE = ("name", "codename", "tier", "resource", "slack_channels", "developer_quorum", "government_quorum",
            "max_window_days", "approval_step_up_minutes", "nomination_expiry_days", "escalation_days")  # fmt: skip
# How long a pending nomination may wait for both sides (days), and how long before its undecided side is chased
# (its approvers then, its admins after as long again): the defaults, and what a model may ask for.
NOMINATION_EXPIRY_DAYS, EXPIRY_DAYS = 14, range(1, 91)
ESCALATION_DAYS, ESCALATION_AFTER_DAYS = 3, range(1, 31)


def _whole(value: object, allowed: range) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in allowed


def _check(field: str, value: object) -> None:
    """Field rules shared by create and update."""
    if field in TEXT_LIMITS and (not isinstance(value, str) or not value.strip() or len(value) > TEXT_LIMITS[field]):
        raise Invalid(field, f"a {field} of 1 to {TEXT_LIMITS[field]} characters is required")
    if field == "tier" and value not in {t.value for t in Tier}:
        raise Invalid("tier", "tier is standard or high")
    if field == "resource":
        parts = urlsplit(str(value))
        if parts.scheme != "https" or not parts.netloc or parts.fragment or len(str(value)) > 500:
            raise Invalid("resource", "the resource must be an absolute https:// URI without a fragment")
    if field in ("developer_quorum", "government_quorum") and not (isinstance(value, int) and 1 <= value <= 10):
        raise Invalid(field, "a quorum is between 1 and 10 approvals")
    if field == "max_window_days" and not (isinstance(value, int) and 1 <= value <= 366):
        raise Invalid(field, "the longest window is between 1 and 366 days")
    if field == "slack_channels":
        if not isinstance(value, list) or any(not CHANNEL.fullmatch(str(c)) for c in value):
            raise Invalid("slack_channels", "Slack channel ids look like C0123456789")
    if field == "approval_step_up_minutes" and value is not None and not _whole(value, STEP_UP_MINUTES):
        raise Invalid(field, f"a sign-in before approving is asked within {STEP_UP_MINUTES.start} to "
                             f"{STEP_UP_MINUTES.stop - 1} minutes, or left empty for the tier's default")  # fmt: skip
    if field == "nomination_expiry_days" and not _whole(value, EXPIRY_DAYS):
        raise Invalid(field, f"a pending nomination expires after {EXPIRY_DAYS.start} to {EXPIRY_DAYS.stop - 1} days")
    if field == "escalation_days" and not _whole(value, ESCALATION_AFTER_DAYS):
        raise Invalid(field, f"a pending nomination is escalated after {ESCALATION_AFTER_DAYS.start} to "
                             f"{ESCALATION_AFTER_DAYS.stop - 1} days")  # fmt: skip


def _check_timing(values: Mapping[str, object], *, changed: Iterable[str]) -> None:
    """Escalation comes before expiry, or nobody would be chased before a nomination expires: ``values`` holds both
    settings as they would be. Blamed on the field that was changed (the escalation when both were)."""
    expiry, escalation = values["nomination_expiry_days"], values["escalation_days"]
    if not isinstance(expiry, int) or not isinstance(escalation, int) or escalation < expiry:
        return
    field = "escalation_days" if "escalation_days" in set(changed) else "nomination_expiry_days"
    raise Invalid(field, f"a nomination must be escalated before it expires: {escalation} days to escalation must "
                         f"be fewer than the {expiry} days to expiry")  # fmt: skip


def change_refused(actor: Actor, model: FrontierModel, *, what: str = "change models") -> Forbidden | None:
    """Why ``actor`` may not edit ``model`` or move its planned release (None: they may): the developer's own
    admins only. The rule :meth:`FrontierModels.update` and :meth:`FrontierModels.move_release` apply."""
    if not actor.can(Permission.MODELS_UPDATE):
        return Forbidden(f"only a developer's admins {what}")
    if not actor.is_system and not visibility.develops(actor, model):
        return Forbidden("only the model's developer can change it")
    return None


def designation_refused(actor: Actor) -> Forbidden | None:
    """Why ``actor`` may not record a designation (None: they may): the government's admins and approvers."""
    if actor.kind != OrgKind.GOVERNMENT and not actor.is_system:
        return Forbidden("only the government records a designation")
    if not actor.can(Permission.MODELS_DESIGNATE):
        return Forbidden("only government admins and approvers record a designation")
    return None


def switch_off_refused(actor: Actor, model: FrontierModel) -> Forbidden | ModelSwitchedOff | None:
    """Why ``actor`` may not pull ``model``'s kill switch (None: they may): either side's admins, the developer's
    only for its own models, once. The rule :meth:`FrontierModels.switch_off` applies."""
    if not actor.can(Permission.MODELS_KILL):
        return Forbidden("only developer or government admins can switch a model off")
    if actor.kind == OrgKind.DEVELOPER and not visibility.develops(actor, model):
        return Forbidden("only the model's developer can change it")
    if model.killed_at is not None:
        return ModelSwitchedOff(f"access to {model.slug} is already switched off")
    return None


@dataclass(frozen=True, slots=True)
class ModelActions:
    """What one person may do to one model now: what a surface offers, and nothing else."""

    change: bool  # edit it, move its planned release
    designate: bool
    switch_off: bool
    nominate: bool  # someone for it (whether a given organisation may be is asked of that organisation)
    see_gateways: bool  # the status of its gateway credentials
    manage_gateways: bool  # create, rotate and revoke them


@dataclass(frozen=True, slots=True)
class SwitchOffReach:
    """What pulling a model's kill switch would do now: each of these is revoked or closed."""

    grants: int  # not revoked yet (in force, scheduled, blocked, suspended or ended)
    in_force: int  # of which active now
    nominations: int  # pending


class FrontierModels:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.grants = Grants(unit)

    async def _visible(self, actor: Actor, model_id: uuid.UUID, *, lock: bool = False) -> FrontierModel:
        model = await (self.unit.lock if lock else self.unit.get)(FrontierModel, model_id, what="model")
        visibility.require(await visibility.sees_model(self.unit.session, actor, model), "model", model_id)
        return model

    @staticmethod
    def allowed(actor: Actor, model: FrontierModel) -> ModelActions:
        """What ``actor`` (who can see ``model``) may do to it now, each answered by the rule its use case applies."""
        return ModelActions(
            change=change_refused(actor, model) is None, designate=designation_refused(actor) is None,
            switch_off=switch_off_refused(actor, model) is None,
            nominate=nominating_refused(actor, model) is None,
            see_gateways=visibility.sees_gateway_credentials(actor),
            manage_gateways=gateway_management_refused(actor, model) is None,
        )  # fmt: skip

    async def register(
        self,
        *,
        actor: Actor,
        slug: str,
        name: str,
        codename: str,
        tier: Tier,
        planned_release_at: datetime,
        resource: str,
        slack_channels: list[str] | None = None,
        developer_quorum: int = 1,
        government_quorum: int = 1,
        max_window_days: int = 90,
        approval_step_up_minutes: int | None = None,
        nomination_expiry_days: int = NOMINATION_EXPIRY_DAYS,
        escalation_days: int = ESCALATION_DAYS,
        developer_id: uuid.UUID | None = None,
    ) -> FrontierModel:
        """Register a model of the actor's organisation. ``approval_step_up_minutes``: how recent a sign-in an
        approval needs (None: the tier's default, domain.step_up); ``nomination_expiry_days``: how long a pending
        nomination waits for both sides (and never past its proposed start); ``escalation_days``: how long before
        its undecided side's approvers are reminded, and twice that before its admins are."""
        actor.require(Permission.MODELS_CREATE, "only a developer's admins register models")
        owner = developer_id if actor.is_system else actor.organisation_id
        if owner is None:
            raise Invalid("developer_id", "the developer organisation is required")
        if not SLUG.fullmatch(slug or ""):
            raise Invalid("slug", "lower-case letters, digits and dashes, 1 to 64 characters")
        values: dict[str, Any] = {"name": name, "codename": codename, "tier": str(tier), "resource": resource,
                  "slack_channels": list(slack_channels or []), "developer_quorum": developer_quorum,
                  "government_quorum": government_quorum, "max_window_days": max_window_days,
                  "approval_step_up_minutes": approval_step_up_minutes,
                  "nomination_expiry_days": nomination_expiry_days, "escalation_days": escalation_days}  # fmt: skip
        for field, value in values.items():
            _check(field, value)
        _check_timing(values, changed=values)
        planned_release_at = instants.utc("planned_release_at", planned_release_at)
        if planned_release_at <= self.unit.now():
            raise Invalid("planned_release_at", "the planned release must be in the future")
        if (await self.unit.session.exec(select(FrontierModel.id).where(FrontierModel.slug == slug))).first():
            raise Conflict(f"a model with slug {slug!r} already exists")
        now = self.unit.now()
        model = FrontierModel(
            slug=slug,
            developer_id=owner,
            planned_release_at=planned_release_at,
            designation=Designation.NOT_ASSESSED.value,
            created_at=now,
            updated_at=now,
            **values,
        )
        self.unit.session.add(model)
        self.unit.record(actor=actor, action="model.registered", subject=model, after=snapshot(model))
        await self.unit.commit()
        return model

    async def update(self, *, actor: Actor, model_id: uuid.UUID, changes: dict[str, object]) -> FrontierModel:
        actor.require(Permission.MODELS_UPDATE, "only a developer's admins change models")
        model = await self._visible(actor, model_id, lock=True)
        if (refused := change_refused(actor, model)) is not None:
            raise refused
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise Invalid(sorted(unknown)[0], "this field cannot be changed here")
        for field, value in changes.items():
            _check(field, value)
        _check_timing({"nomination_expiry_days": model.nomination_expiry_days,
                       "escalation_days": model.escalation_days, **changes},
                      changed={f for f, value in changes.items() if getattr(model, f) != value})  # fmt: skip
        before = {f: getattr(model, f) for f in changes}
        if before == changes:
            return model
        for field, value in changes.items():
            setattr(model, field, value)
        model.updated_at = self.unit.now()
        self.unit.session.add(model)
        self.unit.record(actor=actor, action="model.updated", subject=model, before=before, after=changes)
        await self.unit.commit()
        return model

    async def move_release(
        self, *, actor: Actor, model_id: uuid.UUID, planned_release_at: datetime, reason: str | None = None
    ) -> list[AccessGrant]:
        """Move the planned release; grants not yet started are re-checked against the window rules. Returns the
        grants that the move blocks; their approvers are told."""
        actor.require(Permission.MODELS_UPDATE, "only a developer's admins move the planned release")
        model = await self._visible(actor, model_id, lock=True)
        if (refused := change_refused(actor, model, what="move the planned release")) is not None:
            raise refused
        planned_release_at = instants.utc("planned_release_at", planned_release_at)
        if planned_release_at <= self.unit.now():
            raise Invalid("planned_release_at", "the planned release must be in the future")
        if planned_release_at == model.planned_release_at:
            return []
        before = model.planned_release_at
        model.planned_release_at, model.updated_at = planned_release_at, self.unit.now()
        self.unit.session.add(model)
        self.unit.record(actor=actor, action="model.release_moved", subject=model,
                         before={"planned_release_at": before}, after={"planned_release_at": planned_release_at},
                         reason=reason)  # fmt: skip
        await self.unit.session.flush()
        usable_before = await self._usable_grants(model)
        # Government grants first: partner grants are checked against when the government's access starts, and
        # follow it (Grants.refresh_where refreshes them after any government grant it refreshes).
        await self.grants.refresh_where(actor=actor, model_ids=[model.id], unstarted_only=True,
                                        recheck_window=True, kinds=[OrgKind.GOVERNMENT], reason=reason)  # fmt: skip
        await self.unit.session.flush()
        await self.grants.refresh_where(actor=actor, model_ids=[model.id], unstarted_only=True,
                                        recheck_window=True, kinds=[OrgKind.PARTNER], reason=reason)  # fmt: skip
        blocked = await self._newly_blocked(model, usable_before)
        if blocked:
            self.unit.notify(
                topic="model.release_moved",
                recipient=approvers(model.id),
                payload={"model_id": model.id, "planned_release_at": planned_release_at,
                         "blocked_grants": [g.id for g in blocked]},  # fmt: skip
                dedupe_key=f"model.release_moved:{model.id}:{planned_release_at.isoformat()}",
            )
        await self.unit.commit()
        return blocked

    async def _usable_grants(self, model: FrontierModel) -> set[uuid.UUID]:
        """The model's grants that are not blocked now, as stored (scheduled, active)."""
        rows = await self.unit.session.exec(
            select(AccessGrant.id).where(
                AccessGrant.model_id == model.id,
                col(AccessGrant.state).in_([GrantState.SCHEDULED.value, GrantState.ACTIVE.value]),
            )
        )
        return set(rows.all())

    async def _newly_blocked(self, model: FrontierModel, usable_before: set[uuid.UUID]) -> list[AccessGrant]:
        """Which of ``usable_before`` a change to the model's rules has just blocked or suspended."""
        if not usable_before:
            return []
        await self.unit.session.flush()
        rows = await self.unit.session.exec(
            select(AccessGrant)
            .where(
                col(AccessGrant.id).in_(usable_before),
                col(AccessGrant.state).in_([GrantState.BLOCKED.value, GrantState.SUSPENDED.value]),
            )
            .order_by(col(AccessGrant.starts_at), col(AccessGrant.id))
        )
        return list(rows.all())

    async def blocked_by_release(
        self, *, actor: Actor, model_id: uuid.UUID, planned_release_at: datetime
    ) -> list[tuple[AccessGrant, list[str]]]:
        """What moving the planned release to ``planned_release_at`` would block, and why; nothing changes. Only
        grants not yet started are re-checked by a move (see ``move_release``)."""
        model = await self._visible(actor, model_id)
        planned_release_at = instants.utc("planned_release_at", planned_release_at)
        now = self.unit.now()
        unstarted = (
            await self.unit.session.exec(
                select(AccessGrant).where(
                    AccessGrant.model_id == model.id,
                    col(AccessGrant.revoked_at).is_(None),
                    AccessGrant.starts_at > now,
                ).order_by(col(AccessGrant.starts_at), col(AccessGrant.id))
            )
        ).all()
        would_block = []
        for grant in unstarted:
            government_start = await windows.earliest_government_start(self.unit.session, model.id, excluding=grant.id)
            problems = windows.problems_for(grant, model, government_start, planned_release_at=planned_release_at)
            if problems:
                would_block.append((grant, problems))
        # Partner grants follow the government's access (rule 3): if the move blocks the government grants that
        # give it, the partners relying on them stop too, started or not.
        blocked_government = {g.id for g, _ in would_block if g.grantee_kind == OrgKind.GOVERNMENT.value}
        if blocked_government:
            now_covered = await self.grants.government_coverage(model, at=now)
            then_covered = await self.grants.government_coverage(model, at=now, excluding=blocked_government)
            if now_covered is not None and then_covered is None:
                listed = {g.id for g, _ in would_block}
                partners = (
                    await self.unit.session.exec(
                        select(AccessGrant).where(
                            AccessGrant.model_id == model.id,
                            AccessGrant.grantee_kind == OrgKind.PARTNER.value,
                            col(AccessGrant.revoked_at).is_(None),
                            AccessGrant.ends_at > now,
                        ).order_by(col(AccessGrant.starts_at), col(AccessGrant.id))
                    )
                ).all()
                for grant in partners:
                    if grant.id in listed:
                        next(p for g, p in would_block if g.id == grant.id).append("government_not_begun")
                    else:
                        would_block.append((grant, ["government_not_begun"]))
        return would_block

    async def designate(
        self, *, actor: Actor, model_id: uuid.UUID, designation: Designation | str, reference: str | None = None
    ) -> FrontierModel:
        """Record the government's designation; the assessment itself stays elsewhere, only its reference here.

        A designation moves only through the consultation rules (:class:`Consultations`): ``in_consultation`` opens
        a round, ``covered`` and ``not_covered`` decide the open one, so that "in consultation" and "an open round"
        stay one fact."""
        # Imported here: the consultation rules build on this module (the designation's effect, below).
        from accessdesk.domain.consultations import Consultations

        return await Consultations(self.unit).designate(actor=actor, model_id=model_id, designation=designation,
                                                        reference=reference)  # fmt: skip

    async def apply_designation(
        self, *, actor: Actor, model: FrontierModel, designation: Designation, reference: str | None
    ) -> None:
        """The designation's effect, the one implementation every path that moves it uses: the model records it,
        every live grant is re-evaluated (DESIGN.md §3 rule 4), and the approvers hear of the grants it blocks.
        ``model`` is locked by the caller, who has checked the move and commits."""
        current = Designation(model.designation)
        usable_before = await self._usable_grants(model)
        model.designation, model.designation_ref = designation.value, reference
        model.designated_by, model.designated_at = actor.user_id, self.unit.now()
        self.unit.session.add(model)
        self.unit.record(actor=actor, action="model.designated", subject=model,
                         before={"designation": current.value},
                         after={"designation": designation.value, "designation_ref": reference})  # fmt: skip
        await self.unit.session.flush()
        # The designation decides which grants may be used at all (rule 4): every live grant is re-evaluated.
        await self.grants.refresh_where(actor=actor, model_ids=[model.id], reason=f"designated {designation.value}")
        blocked = await self._newly_blocked(model, usable_before)
        if blocked:
            self.unit.notify(
                topic="model.designated",
                recipient=approvers(model.id),
                payload={"model_id": model.id, "designation": designation.value,
                         "blocked_grants": [g.id for g in blocked]},  # fmt: skip
                dedupe_key=f"model.designated:{model.id}:{uuid.uuid4()}",  # each designation is news of its own
            )

    async def switch_off_reach(self, actor: Actor, model_id: uuid.UUID) -> SwitchOffReach:
        """What :meth:`switch_off` would revoke and close now, counted over the same rows, for a surface to say
        before anyone pulls it."""
        model = await self._visible(actor, model_id)
        active = sa.case((col(AccessGrant.state) == GrantState.ACTIVE.value, 1), else_=0)
        grants, in_force = (await self.unit.session.exec(
            select(sa.func.count(), sa.func.coalesce(sa.func.sum(active), 0))
            .where(AccessGrant.model_id == model.id, col(AccessGrant.revoked_at).is_(None))
        )).one()  # fmt: skip
        pending = (await self.unit.session.exec(
            select(sa.func.count()).select_from(Nomination)
            .where(Nomination.model_id == model.id, Nomination.state == NominationState.PENDING.value)
        )).one()  # fmt: skip
        return SwitchOffReach(grants=int(grants), in_force=int(in_force), nominations=int(pending))

    async def switch_off(self, *, actor: Actor, model_id: uuid.UUID, reason: str) -> int:
        """Kill switch: revoke every grant of the model and close its pending nominations. Returns how many grants
        were revoked. Either side's admins can pull it."""
        actor.require(Permission.MODELS_KILL, "only developer or government admins can switch a model off")
        model = await self._visible(actor, model_id, lock=True)
        if isinstance(refused := switch_off_refused(actor, model), Forbidden):
            raise refused
        reason = (reason or "").strip()
        if not reason:
            raise Invalid("reason", "a reason is required to switch a model off")
        if refused is not None:  # already switched off
            raise refused
        now = self.unit.now()
        model.killed_at, model.killed_by, model.kill_reason = now, actor.user_id, reason
        self.unit.session.add(model)
        self.unit.record(actor=actor, action="model.switched_off", subject=model, after={"killed_at": now},
                         reason=reason)  # fmt: skip
        revoked = await self.grants.revoke_all_of_model(model=model, actor=actor, reason=reason)
        pending = (
            await self.unit.session.exec(
                select(Nomination)
                .where(Nomination.model_id == model.id, Nomination.state == NominationState.PENDING.value)
                .order_by(col(Nomination.id))
                .with_for_update()
            )
        ).all()
        for nomination in pending:
            nomination.state, nomination.decided_at = NominationState.WITHDRAWN.value, now
            nomination.outcome_reason = f"model switched off: {reason}"
            self.unit.session.add(nomination)
            self.unit.record(actor=actor, action="nomination.withdrawn", subject=nomination,
                             after={"state": nomination.state}, reason=nomination.outcome_reason)  # fmt: skip
        await self.unit.commit()
        return revoked
