"""Cohorts: many partners nominated as one (one model, window, set of actions and justification), and decided as
one — each member still a nomination of its own, made and decided by :class:`CoSelection` under every rule.

A cohort is written in one transaction, its members nominated by one :meth:`CoSelection.nominate_all` and decided by
one :meth:`CoSelection.decide_all` (the single path's own code, for many at once, in a fixed number of queries): a
member the rules refuse leaves no trace (no row, no audit event, no message) and the others proceed; a refusal of
what all members share (the window, the actions, the justification, a decision's reason) refuses the whole, and
nothing is written.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from accessdesk.db.tables import Cohort, Decision, FrontierModel, Nomination, Organisation
from accessdesk.domain import instants, visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import snapshot
from accessdesk.domain.cohort_entries import distinct, resolve
from accessdesk.domain.coselection import (
    CoSelection,
    DecisionEffect,
    Outcome,
    decider_refused,
    decision_reason,
    decision_refused,
    effective_state,
    lapses_at_sql,
    nominating_refused,
)
from accessdesk.domain.errors import DomainError, Forbidden, Invalid, ModelSwitchedOff, NotFound
from accessdesk.domain.grants import side_of
from accessdesk.domain.nominees import takes_nominations
from accessdesk.domain.notices import approvers
from accessdesk.domain.pagination import Page, keyset, page_of
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Nested, Unit
from accessdesk.domain.vocabulary import NominationState, OrgKind, Side, Verdict

MAX_NAME = 120  # the column's length
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CohortRefused(Invalid):
    """Not one member written: with ``all_or_nothing`` some member was refused, or no member could be nominated.
    ``members`` says, per entry, what became of it (each refused one with its own refusal)."""

    code = "cohort_refused"

    def __init__(self, message: str, members: list[MemberNominated]) -> None:
        super().__init__("members", message)
        self.members = members


@dataclass(frozen=True, slots=True)
class Named:
    """An organisation as a cohort's result names it: plain values, still readable once a refused cohort's
    transaction is rolled back (which expires every row the session holds)."""

    id: uuid.UUID
    name: str
    slug: str

    @classmethod
    def of(cls, organisation: Organisation) -> Named:
        return cls(id=organisation.id, name=organisation.name, slug=organisation.slug)


@dataclass(frozen=True, slots=True)
class MemberNominated:
    """What became of one entry of a cohort: its nomination, or why not (``refusal``); ``organisation`` is None for
    an entry that names nobody."""

    entry: str
    organisation: Named | None
    nomination: Nomination | None = None
    refusal: DomainError | None = None


@dataclass(frozen=True, slots=True)
class CohortNominated:
    cohort: Cohort
    members: list[MemberNominated]
    duplicates: list[str]  # entries that named an organisation named before them (collapsed into it)

    @property
    def nominated(self) -> list[MemberNominated]:
        return [m for m in self.members if m.nomination is not None]

    @property
    def refused(self) -> list[MemberNominated]:
        return [m for m in self.members if m.refusal is not None]


@dataclass(frozen=True, slots=True)
class MemberDecided:
    """One member's decision in a cohort decision: its ``outcome``, or why it was not recorded (``refusal``)."""

    nomination: Nomination
    organisation_name: str
    verdict: Verdict
    reason: str | None
    outcome: Outcome | None = None
    refusal: DomainError | None = None

    @property
    def result(self) -> str:
        """``granted`` (the approval completed both sides: the grant exists), ``approved`` (recorded, the other
        side or a quorum still to come), ``rejected``, or ``refused``."""
        if self.outcome is None:
            return "refused"
        if self.outcome.grant is not None:
            return "granted"
        return "rejected" if self.verdict == Verdict.REJECT else "approved"


@dataclass(frozen=True, slots=True)
class MemberEffect:
    """What a cohort decision would do to one member now: ``refusal`` (it would not be recorded, and why), or the
    decision's ``effect`` (an approval that completes both sides makes the grant)."""

    nomination: Nomination
    organisation_name: str
    verdict: Verdict
    reason: str | None
    effect: DecisionEffect | None = None
    refusal: DomainError | None = None


@dataclass(frozen=True, slots=True)
class SideTally:
    approved: int  # members whose quorum on this side is met
    awaiting: int  # pending members still short of quorum on this side


@dataclass(frozen=True, slots=True)
class CohortSummary:
    """A cohort as one reader may know it: counted over the members they may see (a partner: its own)."""

    cohort: Cohort
    model: FrontierModel
    size: int
    states: dict[NominationState, int]
    sides: dict[Side, SideTally]
    my_side: Side | None

    @property
    def pending(self) -> int:
        return self.states[NominationState.PENDING]

    @property
    def awaiting_my_side(self) -> int | None:
        """Pending members not yet decided by the reader's side (short of its quorum); None: the reader has none."""
        return self.sides[self.my_side].awaiting if self.my_side is not None else None


@dataclass(frozen=True, slots=True)
class CohortMember:
    nomination: Nomination
    organisation: Organisation
    state: NominationState
    may_decide: bool  # the reader may decide on it now (CoSelection's own rule)


@dataclass(frozen=True, slots=True)
class CohortDecided:
    members: list[MemberDecided]
    summary: CohortSummary


def _name(name: str | None) -> str:
    text = (name or "").strip()
    if not text:
        raise Invalid("name", "give the cohort a name")
    if len(text) > MAX_NAME:
        raise Invalid("name", f"a cohort's name may be at most {MAX_NAME} characters")
    if _CONTROL.search(text):
        raise Invalid("name", "a cohort's name is one line of text")
    return text


def _reader_side(actor: Actor, model: FrontierModel) -> Side | None:
    try:
        return Side(side_of(actor, model))
    except Forbidden:
        return None


class Cohorts:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def nominate_cohort(
        self,
        *,
        actor: Actor,
        model_id: uuid.UUID,
        name: str,
        organisation_ids: Sequence[uuid.UUID] = (),
        entries: Sequence[str] = (),
        starts_at: datetime,
        ends_at: datetime,
        actions: list[str],
        justification: str,
        all_or_nothing: bool = False,
    ) -> CohortNominated:
        """Nominate every organisation named (``organisation_ids``, and ``entries``: ids, slugs or e-mail domains,
        duplicates collapsed) for ``model`` in one window, as the cohort ``name``; each member is a nomination of
        its own, made by :meth:`CoSelection.nominate`. A member the rules refuse (not a partner, an overlapping
        window) and an entry that names nobody are reported with why, and the others are nominated, unless
        ``all_or_nothing``: then any of them refuses the whole (:class:`CohortRefused`) and nothing is written."""
        actor.require(Permission.NOMINATIONS_CREATE, "only nominators, approvers and admins can nominate")
        model = await self.unit.get(FrontierModel, model_id, what="model")
        visibility.require(visibility.can_see_model(actor, model), "model", model_id)
        if (refused := nominating_refused(actor, model)) is not None:
            raise refused
        name = _name(name)
        named, repeated = distinct([*organisation_ids, *entries])
        starts_at, ends_at = instants.utc("starts_at", starts_at), instants.utc("ends_at", ends_at)
        if await self._named(model.id, name):
            raise Invalid("name", f"{model.slug} already has a cohort named {name!r}; choose another name")
        found = await resolve(self.unit, actor, named)
        now = self.unit.now()
        cohort = Cohort(model_id=model.id, name=name, starts_at=starts_at, ends_at=ends_at, actions=sorted(set(actions)),
                        justification=(justification or "").strip(), nominated_by=actor.person_id, created_at=now)  # fmt: skip
        try:
            async with self.unit.session.begin_nested():
                self.unit.session.add(cohort)
        except IntegrityError:  # the same name, given at the same moment by someone else
            raise Invalid("name", f"{model.slug} already has a cohort named {name!r}; choose another name") from None
        outcomes: dict[str, MemberNominated] = {}
        partners: list[tuple[str, Organisation]] = []
        for entry, organisation in found.found:
            if organisation.kind != OrgKind.PARTNER.value:
                outcomes[entry.text] = MemberNominated(entry.text, Named.of(organisation), refusal=Invalid(
                    "organisation_id", f"{organisation.name} is a {organisation.kind} organisation: a cohort is of "
                                       "partners (nominate government access on its own)"))  # fmt: skip
                continue
            partners.append((entry.text, organisation))
        members = Nested(self.unit)
        try:  # the members are announced once, as the cohort (below), not one by one
            made = await CoSelection(members).nominate_all(
                actor=actor, model_id=model.id, organisation_ids=[o.id for _, o in partners], starts_at=starts_at,
                ends_at=ends_at, actions=actions, justification=justification, cohort_id=cohort.id, notices=False)
        except DomainError:
            await self.unit.rollback()
            raise
        for (text, organisation), one in zip(partners, made, strict=True):
            outcomes[text] = (MemberNominated(text, Named.of(organisation), refusal=one) if isinstance(one, DomainError)
                              else MemberNominated(text, Named.of(organisation), nomination=one))  # fmt: skip
        for entry, unknown in found.unknown:
            outcomes[entry.text] = MemberNominated(entry.text, None, refusal=unknown)
        result = CohortNominated(cohort=cohort, members=[outcomes[e.text] for e in named if e.text in outcomes],
                                 duplicates=[e.text for e in [*repeated, *found.duplicates]])  # fmt: skip
        if not result.nominated or (all_or_nothing and result.refused):
            await self.unit.rollback()
            raise CohortRefused(self._refusal(result, all_or_nothing=all_or_nothing), result.members)
        first = result.nominated[0].nomination
        assert first is not None
        cohort.actions, cohort.justification = list(first.actions), first.justification  # as CoSelection made them
        self.unit.session.add(cohort)
        self.unit.record(actor=actor, action="cohort.created", subject=cohort,
                         after={**snapshot(cohort), "members": len(result.nominated), "refused": len(result.refused)})  # fmt: skip
        members.hand_over(self.unit)
        self.unit.notify(topic="cohort.created", recipient=approvers(model.id),
                         payload={"cohort_id": cohort.id, "model_id": model.id, "members": len(result.nominated)},
                         dedupe_key=f"cohort.created:{cohort.id}")  # fmt: skip
        await self.unit.commit()
        return result

    @staticmethod
    def _refusal(result: CohortNominated, *, all_or_nothing: bool) -> str:
        refused = result.refused
        listed = "; ".join(f"{m.entry}: {m.refusal.message}" for m in refused[:3] if m.refusal is not None)
        more = f"; and {len(refused) - 3} more" if len(refused) > 3 else ""
        if all_or_nothing and len(refused) < len(result.members):
            return (f"nothing was nominated: {len(refused)} of the {len(result.members)} organisations cannot be "
                    f"nominated ({listed}{more})")  # fmt: skip
        return f"no organisation could be nominated ({listed}{more})"

    async def _named(self, model_id: uuid.UUID, name: str) -> bool:
        found = await self.unit.session.exec(select(Cohort.id).where(Cohort.model_id == model_id, Cohort.name == name))
        return found.first() is not None

    async def decide_cohort(
        self, *, actor: Actor, cohort_id: uuid.UUID, reject: Mapping[uuid.UUID, str] | None = None
    ) -> CohortDecided:
        """Approve every member, but those in ``reject`` (by nomination or organisation id: the reason), which are
        rejected: all decided by one :meth:`CoSelection.decide_all`, each recorded and audited as one decision alone would
        be. A member whose decision the rules refuse (no longer pending, already decided by ``actor``, nominated by
        ``actor``) is reported with why and the others are decided. A reason missing refuses the whole.

        Locks as :meth:`CoSelection.decide_all` does, members in the order of their ids (as the kill switch does), so
        that a cohort decided on both sides at once, or beside single decisions, cannot deadlock."""
        if (refused := decider_refused(actor)) is not None:
            raise refused
        cohort, seen = await self._visible(actor, cohort_id)
        side_of(actor, seen)
        model = await self.unit.lock(FrontierModel, seen.id, shared=True)
        if not takes_nominations(model):
            raise ModelSwitchedOff(f"access to {model.slug} has been switched off")
        try:
            wanted = await self._wanted(cohort, reject)
        except Invalid:
            await self.unit.rollback()
            raise
        members = Nested(self.unit)
        outcomes = await CoSelection(members).decide_all(
            actor=actor, asked=[(nomination.id, verdict, reason) for nomination, _, verdict, reason in wanted],
            notices=False)  # the channels and the nominator hear of the cohort's decision once, below
        decided = [MemberDecided(nomination, name, verdict, reason, refusal=outcome) if isinstance(outcome, DomainError)
                   else MemberDecided(outcome.nomination, name, verdict, reason, outcome=outcome)
                   for (nomination, name, verdict, reason), outcome in zip(wanted, outcomes, strict=True)]  # fmt: skip
        if any(d.outcome is not None for d in decided):
            counts = {r: sum(1 for d in decided if d.result == r) for r in ("approved", "granted", "rejected", "refused")}
            self.unit.record(actor=actor, action="cohort.decided", subject=cohort, after=counts)
            members.hand_over(self.unit)
            self.unit.notify(topic="cohort.decided", recipient=approvers(model.id),
                             payload={"cohort_id": cohort.id, "by": actor.user_id, **counts},
                             dedupe_key=f"cohort.decided:{cohort.id}:{uuid.uuid4()}")  # fmt: skip
            if counts["granted"] or counts["rejected"]:  # members decided for good: their nominator is told, once
                self.unit.notify(topic="cohort.outcome", recipient=f"user:{cohort.nominated_by}",
                                 payload={"cohort_id": cohort.id, "by": actor.user_id, "granted": counts["granted"],
                                          "rejected": counts["rejected"]},
                                 dedupe_key=f"cohort.outcome:{cohort.id}:{uuid.uuid4()}")  # fmt: skip
        await self.unit.commit()
        decided.sort(key=lambda d: d.organisation_name.lower())
        return CohortDecided(members=decided, summary=await self.summary(actor, cohort.id))

    async def decision_effect(
        self, *, actor: Actor, cohort_id: uuid.UUID, reject: Mapping[uuid.UUID, str] | None = None
    ) -> list[MemberEffect]:
        """What :meth:`decide_cohort` would do to each member now, changing nothing: for a surface to say before
        it is done (a decision cannot be taken back). Refused as a whole as it would be."""
        if (refused := decider_refused(actor)) is not None:
            raise refused
        cohort, model = await self._visible(actor, cohort_id)
        side_of(actor, model)
        if not takes_nominations(model):
            raise ModelSwitchedOff(f"access to {model.slug} has been switched off")
        wanted = await self._wanted(cohort, reject)
        found = await CoSelection(self.unit).decision_effects(
            actor=actor, asked=[(nomination.id, verdict, reason) for nomination, _, verdict, reason in wanted])
        effects = [MemberEffect(nomination, name, verdict, reason, refusal=effect) if isinstance(effect, DomainError)
                   else MemberEffect(nomination, name, verdict, reason, effect=effect)
                   for (nomination, name, verdict, reason), effect in zip(wanted, found, strict=True)]  # fmt: skip
        effects.sort(key=lambda e: e.organisation_name.lower())
        return effects

    async def _wanted(
        self, cohort: Cohort, reject: Mapping[uuid.UUID, str] | None
    ) -> list[tuple[Nomination, str, Verdict, str | None]]:
        """Each member (its nomination, its organisation's name) in the order of ids, with the verdict asked of it
        and its reason as recorded: approved, or rejected with the reason ``reject`` gives. A reason missing or too
        long refuses the whole, naming the member: the request is wrong, not the member."""
        asked = await self._asked(cohort, reject)
        wanted: list[tuple[Nomination, str, Verdict, str | None]] = []
        for nomination, organisation_name in await self._members_by_id(cohort.id):
            verdict = Verdict.REJECT if nomination.id in asked else Verdict.APPROVE
            try:
                reason = decision_reason(verdict, asked.get(nomination.id))
            except Invalid as invalid:
                raise Invalid("reject", f"{organisation_name}: {invalid.message}") from invalid
            wanted.append((nomination, organisation_name, verdict, reason))
        return wanted

    async def _asked(self, cohort: Cohort, reject: Mapping[uuid.UUID, str] | None) -> dict[uuid.UUID, str]:
        """``reject``'s keys (a member's nomination id or organisation id) as nomination ids; a key that names no
        member refuses the whole."""
        if not reject:
            return {}
        rows = (await self.unit.session.exec(select(Nomination.id, Nomination.organisation_id)
                                             .where(Nomination.cohort_id == cohort.id))).all()  # fmt: skip
        by_key = {**{org: n for n, org in rows}, **{n: n for n, _ in rows}}
        asked: dict[uuid.UUID, str] = {}
        for key, reason in reject.items():
            if key not in by_key:
                raise Invalid("reject", f"{key} is no member of the cohort {cohort.name!r}")
            asked[by_key[key]] = reason
        return asked

    async def _members_by_id(self, cohort_id: uuid.UUID) -> list[tuple[Nomination, str]]:
        rows = await self.unit.session.exec(
            select(Nomination, Organisation.name).join(Organisation, col(Organisation.id) == Nomination.organisation_id)
            .where(Nomination.cohort_id == cohort_id).order_by(col(Nomination.id))
        )  # fmt: skip
        return [(n, name) for n, name in rows.all()]

    async def _visible(self, actor: Actor, cohort_id: uuid.UUID) -> tuple[Cohort, FrontierModel]:
        """The cohort and its model, if ``actor`` may see it: staff who may see the model; a partner that is one
        of its members. Anyone else is told it does not exist."""
        cohort = await self.unit.session.get(Cohort, cohort_id)
        model = await self.unit.session.get(FrontierModel, cohort.model_id) if cohort is not None else None
        if cohort is None or model is None or not await self._sees(actor, cohort, model):
            raise NotFound(f"cohort {cohort_id} not found")
        return cohort, model

    async def _sees(self, actor: Actor, cohort: Cohort, model: FrontierModel) -> bool:
        if actor.is_staff or actor.is_system:
            return visibility.can_see_model(actor, model)
        member = await self.unit.session.exec(select(Nomination.id).where(
            Nomination.cohort_id == cohort.id, Nomination.organisation_id == actor.organisation_id))  # fmt: skip
        return member.first() is not None

    # ---- the read model -------------------------------------------------------------------------------------

    async def summary(self, actor: Actor, cohort_id: uuid.UUID) -> CohortSummary:
        """A cohort's size and its members' states and tallies, counted over those ``actor`` may see."""
        cohort, model = await self._visible(actor, cohort_id)
        return (await self._summaries(actor, [(cohort, model)]))[0]

    async def members(self, actor: Actor, cohort_id: uuid.UUID) -> list[CohortMember]:
        """The members ``actor`` may see (a partner: itself), by organisation name, with what ``actor`` may do."""
        cohort, model = await self._visible(actor, cohort_id)
        stmt = (select(Nomination, Organisation).join(Organisation, col(Organisation.id) == Nomination.organisation_id)
                .where(Nomination.cohort_id == cohort.id, self._members_filter(actor))
                .order_by(sa.func.lower(Organisation.name), col(Organisation.slug)))  # fmt: skip
        rows = (await self.unit.session.exec(stmt)).all()
        mine = set((await self.unit.session.exec(select(Decision.nomination_id).where(
            Decision.approver_id == actor.user_id,
            col(Decision.nomination_id).in_(select(Nomination.id).where(Nomination.cohort_id == cohort.id)),
        ))).all()) if actor.user_id is not None else set()  # fmt: skip
        now = self.unit.now()
        return [CohortMember(nomination=n, organisation=o, state=effective_state(n, now),
                             may_decide=decision_refused(actor, n, model=model, decided=n.id in mine, at=now) is None)
                for n, o in rows]  # fmt: skip

    async def cohorts(
        self, actor: Actor, *, model_id: uuid.UUID | None = None, cursor: str | None = None, limit: int = 50
    ) -> Page[CohortSummary]:
        """The cohorts ``actor`` may see (of ``model_id``), newest first: staff those of every model they may see;
        a partner those it is a member of, each counted over its own membership alone."""
        stmt = select(Cohort).join(FrontierModel, col(FrontierModel.id) == Cohort.model_id)
        if actor.is_staff or actor.is_system:
            stmt = stmt.where(visibility.models_filter(actor))
        else:
            stmt = stmt.where(col(Cohort.id).in_(select(Nomination.cohort_id).where(
                Nomination.organisation_id == actor.organisation_id)))  # fmt: skip
        if model_id is not None:
            stmt = stmt.where(Cohort.model_id == model_id)
        found = page_of(list((await self.unit.session.exec(keyset(stmt, Cohort, cursor, limit))).all()), limit)
        models = await self._models({c.model_id for c in found.items})
        summaries = await self._summaries(actor, [(c, models[c.model_id]) for c in found.items])
        return Page(items=summaries, next_cursor=found.next_cursor)

    async def _models(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, FrontierModel]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.unit.session.exec(select(FrontierModel).where(col(FrontierModel.id).in_(wanted)))
        return {m.id: m for m in rows.all()}

    def _members_filter(self, actor: Actor) -> sa.ColumnElement[bool]:
        """Need-to-know among a cohort's members: staff who may see the cohort see all; a partner, itself."""
        if actor.is_staff or actor.is_system:
            return sa.true()
        return col(Nomination.organisation_id) == actor.organisation_id

    async def _summaries(self, actor: Actor, cohorts: list[tuple[Cohort, FrontierModel]]) -> list[CohortSummary]:
        """Each cohort's counts, in one query for them all. Grouped by columns only (no parameter): PostgreSQL
        cannot match a grouped expression holding a parameter with the same one in the select list."""
        if not cohorts:
            return []
        now = self.unit.now()
        developer_met = col(Nomination.developer_approvals) >= col(Nomination.developer_quorum)
        government_met = col(Nomination.government_approvals) >= col(Nomination.government_quorum)
        started = sa.func.sum(sa.case((lapses_at_sql() <= now, 1), else_=0))
        stmt = (sa.select(col(Nomination.cohort_id), col(Nomination.state), developer_met, government_met,
                          sa.func.count(), started)
                .where(col(Nomination.cohort_id).in_([c.id for c, _ in cohorts]), self._members_filter(actor))
                .group_by(col(Nomination.cohort_id), col(Nomination.state), developer_met, government_met))  # fmt: skip
        # Six columns: past what SQLModel's typed ``exec`` takes; the session's own connection runs it in its
        # transaction, after what the session holds is flushed.
        await self.unit.session.flush()
        connection = await self.unit.session.connection()
        counted: dict[uuid.UUID, list[tuple[str, bool, bool, int, int]]] = {}
        for cohort_id, state, dev, gov, count, begun in (await connection.execute(stmt)).all():
            counted.setdefault(cohort_id, []).append((state, bool(dev), bool(gov), int(count), int(begun or 0)))
        summaries = []
        for cohort, model in cohorts:
            states = dict.fromkeys(NominationState, 0)
            approved = dict.fromkeys(Side, 0)
            awaiting = dict.fromkeys(Side, 0)
            for state, dev, gov, count, begun in counted.get(cohort.id, []):
                if state == NominationState.PENDING.value:  # a pending member whose start has passed has lapsed
                    states[NominationState.PENDING] += count - begun
                    states[NominationState.LAPSED] += begun
                    awaiting[Side.DEVELOPER] += 0 if dev else count - begun
                    awaiting[Side.GOVERNMENT] += 0 if gov else count - begun
                else:
                    states[NominationState(state)] += count
                approved[Side.DEVELOPER] += count if dev else 0
                approved[Side.GOVERNMENT] += count if gov else 0
            summaries.append(CohortSummary(
                cohort=cohort, model=model, size=sum(states.values()), states=states,
                sides={side: SideTally(approved=approved[side], awaiting=awaiting[side]) for side in Side},
                my_side=_reader_side(actor, model) if actor.can(Permission.NOMINATIONS_DECIDE) else None,
            ))  # fmt: skip
        return summaries
