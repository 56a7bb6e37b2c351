"""Evaluation findings: what the government, the model's developer or a grantee evaluating the model found, shared
with an audience in Traffic Light Protocol terms (:mod:`accessdesk.domain.finding_audience`, which every read here
goes through), and the developer's response to it.

Who reports a finding on a model: the government's admins and approvers; the model's developer's admins and
approvers; and the people of an organisation holding a grant on the model that includes ``evaluate`` and is usable
now (``Grants.usability``: the one answer; a blocked, suspended, revoked or expired grant does not count). A finding
reported by a grantee is read by the developer and the government at once: nothing moderates it first.

The lifecycle (:data:`FINDING_MOVES`)::

    reported      → acknowledged | disputed                 the developer responds
    acknowledged  → mitigated | accepted_risk | disputed    the developer
    disputed      → acknowledged                            the developer, after discussion
    mitigated     → acknowledged                            reopened: the reporter, the government or the developer
    accepted_risk → acknowledged                            reopened, likewise

"The developer" is the model's developer's admins and approvers; "the government", the government's. Moving to
mitigated, accepted_risk or disputed, and reopening, need a note saying why. Anyone in the audience may add a note
without moving the finding. The reporter and the developer may widen the audience (TLP:RED → ... → TLP:GREEN),
never narrow it: what was shared cannot be unshared, and widening never takes a reader away.

Every step is a :class:`FindingUpdate` and an audit event whose before/after carry only the state, severity,
audience and category (never the title, the body, a note or an attachment's name), so that the audit trail and its
exports leak nothing of what was found. A move locks the finding's row; one from a state it is no longer in is a
conflict (409), never a second outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import (
    AccessGrant,
    Finding,
    FindingRecipient,
    FindingUpdate,
    FrontierModel,
    Organisation,
    User,
)
from accessdesk.db.types import aware
from accessdesk.domain import finding_fields, visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import jsonable
from accessdesk.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from accessdesk.domain.finding_audience import LABELS, ORDER, can_read, current_grant_sql, readable_sql, wider
from accessdesk.domain.finding_fields import Attachment
from accessdesk.domain.grants import Grants
from accessdesk.domain.notices import approvers
from accessdesk.domain.organisations import actor_for
from accessdesk.domain.pagination import Page, keyset, page_of
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import (
    Action,
    Audience,
    FindingCategory,
    FindingSeverity,
    FindingState,
    OrgKind,
    Role,
)

S = FindingState
MAX_RECIPIENTS = 50
# Who speaks for an organisation on a finding: its admins and approvers (as for decisions and revocations).
STAFF_ROLES = frozenset({Role.ADMIN, Role.APPROVER})
# What an audit event says about a finding: enough to follow its course, nothing of what was found.
AUDITED = ("state", "severity", "audience", "category")


class Mover(StrEnum):
    DEVELOPER = "developer"  # the model's developer's admins and approvers
    REOPENER = "reopener"  # the reporter, the government's or the developer's admins and approvers


FINDING_MOVES: dict[FindingState, dict[FindingState, Mover]] = {
    S.REPORTED: {S.ACKNOWLEDGED: Mover.DEVELOPER, S.DISPUTED: Mover.DEVELOPER},
    S.ACKNOWLEDGED: {S.MITIGATED: Mover.DEVELOPER, S.ACCEPTED_RISK: Mover.DEVELOPER, S.DISPUTED: Mover.DEVELOPER},
    S.DISPUTED: {S.ACKNOWLEDGED: Mover.DEVELOPER},
    S.MITIGATED: {S.ACKNOWLEDGED: Mover.REOPENER},
    S.ACCEPTED_RISK: {S.ACKNOWLEDGED: Mover.REOPENER},
}
# The moves that say why, in a note.
EXPLAINED = frozenset({S.MITIGATED, S.ACCEPTED_RISK, S.DISPUTED})
CLOSED = frozenset({S.MITIGATED, S.ACCEPTED_RISK})


def state_words(state: FindingState | str) -> str:
    return str(state).replace("_", " ")


def audited(finding: Finding) -> dict[str, Any]:
    return {name: getattr(finding, name) for name in AUDITED}


def speaks_for(actor: Actor) -> bool:
    return actor.user_id is not None and bool(actor.roles & STAFF_ROLES)


def responds(actor: Actor, model: FrontierModel) -> bool:
    """The model's developer's admins and approvers: who responds to a finding on it."""
    return speaks_for(actor) and actor.kind == OrgKind.DEVELOPER and visibility.develops(actor, model)


def move_refused(actor: Actor, finding: Finding, model: FrontierModel, to: FindingState) -> DomainError | None:
    """Why ``actor`` may not move ``finding`` (of ``model``) to ``to`` now (None: they may); the rule
    :meth:`Findings.update` applies, and what a surface asks before offering the move."""
    current = FindingState(finding.state)
    moves = FINDING_MOVES[current]
    if to not in moves:
        onward = ", ".join(state_words(s) for s in moves)
        return Conflict(f"a finding that is {state_words(current)} cannot move to {state_words(to)}; it can move to "
                        f"{onward}")  # fmt: skip
    if moves[to] == Mover.DEVELOPER and not responds(actor, model):
        return Forbidden("only the model's developer (its admins and approvers) responds to a finding")
    reopens = (responds(actor, model) or actor.user_id == finding.reported_by
               or (speaks_for(actor) and actor.kind == OrgKind.GOVERNMENT))  # fmt: skip
    if moves[to] == Mover.REOPENER and not reopens:
        return Forbidden("only the reporter, the government's or the developer's admins and approvers reopen a finding")
    return None


def widening_refused(actor: Actor, finding: Finding, model: FrontierModel, to: Audience) -> DomainError | None:
    """Why ``actor`` may not share ``finding`` with the audience ``to`` (None: they may): the reporter and the
    model's developer's admins and approvers widen it, never narrow it."""
    current = Audience(finding.audience)
    if not wider(to, current):
        return Invalid("audience", f"a finding's audience can only be widened once it is shared: it is "
                                   f"{LABELS[current].label}, and {LABELS[to].label} is not wider")  # fmt: skip
    if actor.user_id != finding.reported_by and not responds(actor, model):
        return Forbidden("only the reporter and the model's developer (its admins and approvers) widen a finding's "
                         "audience")  # fmt: skip
    return None


@dataclass(frozen=True, slots=True)
class FindingActions:
    """What one reader may do to one finding now: what a surface offers, and nothing else."""

    moves: tuple[FindingState, ...] = ()
    note: bool = False
    widen: tuple[Audience, ...] = ()

    @classmethod
    def of(cls, actor: Actor, finding: Finding, model: FrontierModel) -> FindingActions:
        if actor.user_id is None:
            return cls()
        return cls(moves=tuple(s for s in FINDING_MOVES[FindingState(finding.state)]
                               if move_refused(actor, finding, model, s) is None),
                   note=True,
                   widen=tuple(a for a in ORDER if widening_refused(actor, finding, model, a) is None))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a finding names (its reporter, a recipient, a note's author), as the reader may know them: by name
    where the reader may see their organisation, else by the kind of organisation alone."""

    id: uuid.UUID | None  # None: someone the reader may not know
    shown: str
    kind: OrgKind


@dataclass(frozen=True, slots=True)
class Step:
    update: FindingUpdate
    author: Person


@dataclass(frozen=True, slots=True)
class FindingRow:
    finding: Finding
    model_name: str
    model_slug: str
    reporter: Person

    @property
    def audience(self) -> Audience:
        return Audience(self.finding.audience)


@dataclass(frozen=True, slots=True)
class FindingView:
    finding: Finding
    model: FrontierModel
    reporter: Person
    recipients: list[Person]
    steps: list[Step]
    actions: FindingActions
    attachments: list[Attachment]

    @property
    def audience(self) -> Audience:
        return Audience(self.finding.audience)


@dataclass(frozen=True, slots=True)
class FindingCounts:
    """How many findings a reader may read, by state and by severity (every state and severity, 0 included)."""

    by_state: dict[FindingState, int]
    by_severity: dict[FindingSeverity, int]

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def open(self) -> int:
        """Not mitigated, nor its risk accepted: still to be dealt with."""
        return self.total - sum(self.by_state[s] for s in CLOSED)


@dataclass(frozen=True, slots=True)
class ReportForm:
    """What reporting a finding on ``model`` offers: the people a TLP:RED finding may be named to."""

    model: FrontierModel
    candidates: list[Person] = field(default_factory=list)


def organisation_words(actor: Actor, organisation: Organisation, model: FrontierModel | None) -> str | None:
    """How ``actor`` may know ``organisation`` on a finding of ``model``: by name where they may see it
    (``visibility.can_see_org``), else as the government or the model's developer; None: not at all (a partner
    does not learn which other partners evaluate a model)."""
    if visibility.can_see_org(actor, organisation):
        return organisation.name
    if organisation.kind == OrgKind.GOVERNMENT.value:
        return "the government"
    if model is not None and organisation.id == model.developer_id:
        return "the model's developer"
    return None


def person_of(actor: Actor, user: User, organisation: Organisation, model: FrontierModel | None) -> Person:
    words = organisation_words(actor, organisation, model)
    if words is None:
        return Person(None, "someone at another organisation", OrgKind(organisation.kind))
    return Person(user.id, f"{user.name} ({words})", OrgKind(organisation.kind))


class Findings:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    # ---- reporting ------------------------------------------------------------------------------------------

    async def evaluates(self, actor: Actor, model: FrontierModel) -> bool:
        """Whether ``actor``'s organisation holds a grant on ``model`` that includes ``evaluate`` and is usable now
        (asked of ``Grants.usability``, the one answer)."""
        if actor.organisation_id is None:
            return False
        now = self.unit.now()
        rows = (await self.unit.session.exec(select(AccessGrant).where(
            AccessGrant.model_id == model.id, AccessGrant.organisation_id == actor.organisation_id,
            current_grant_sql(now), col(AccessGrant.starts_at) <= now))).all()  # fmt: skip
        grants = Grants(self.unit)
        for grant in rows:
            if Action.EVALUATE.value in grant.actions and (await grants.usability(grant.id, at=now)).usable:
                return True
        return False

    async def report_refused(self, actor: Actor, model: FrontierModel) -> DomainError | None:
        """Why ``actor`` may not report a finding on ``model`` (None: they may). Whoever may not see the model is
        told it does not exist."""
        if actor.user_id is None:
            return Forbidden("a finding is reported by a person")
        if not await visibility.sees_model(self.unit.session, actor, model):
            return NotFound(f"model {model.id} not found")
        if speaks_for(actor) and (actor.kind == OrgKind.GOVERNMENT or responds(actor, model)):
            return None
        if await self.evaluates(actor, model):
            return None
        if actor.kind in (OrgKind.DEVELOPER, OrgKind.GOVERNMENT):
            return Forbidden(f"only admins and approvers report findings on {model.name} for the {actor.kind.value}")
        return Forbidden(f"your organisation holds no grant on {model.name} with the evaluate action in force now: a "
                         "partner reports findings on a model it is evaluating")  # fmt: skip

    async def report_form(self, actor: Actor, model_id: uuid.UUID) -> ReportForm:
        """The model and whom a TLP:RED finding may be named to, if ``actor`` may report on it (else the refusal):
        the active people of the model's developer, of the government and of the actor's own organisation."""
        model = await self.unit.get(FrontierModel, model_id, what="model")
        if (refused := await self.report_refused(actor, model)) is not None:
            raise refused
        stmt = (select(User, Organisation).join(Organisation, col(Organisation.id) == User.organisation_id)
                .where(col(User.disabled_at).is_(None), col(Organisation.disabled_at).is_(None),
                       sa.or_(col(Organisation.id).in_([model.developer_id, actor.organisation_id]),
                              col(Organisation.kind) == OrgKind.GOVERNMENT.value))
                .order_by(col(Organisation.kind), sa.func.lower(Organisation.name), col(User.name), col(User.email)))  # fmt: skip
        rows = (await self.unit.session.exec(stmt)).all()
        return ReportForm(model=model, candidates=[
            Person(u.id, f"{u.name} ({u.email}), {organisation_words(actor, o, model)}", OrgKind(o.kind))
            for u, o in rows])  # fmt: skip

    async def reportable_models(self, actor: Actor) -> list[FrontierModel]:
        """The models ``actor`` may report findings on now, by name."""
        if actor.user_id is None:
            return []
        models = list((await self.unit.session.exec(select(FrontierModel).where(visibility.models_filter(actor))
                                                    .order_by(sa.func.lower(FrontierModel.name)))).all())  # fmt: skip
        return [m for m in models if await self.report_refused(actor, m) is None]

    async def report(
        self, *, actor: Actor, model_id: uuid.UUID, title: str, body: str, severity: str, category: str,
        audience: str, attachments: Sequence[Any] = (), recipients: Sequence[uuid.UUID | str] = (),
    ) -> Finding:  # fmt: skip
        """Report a finding on ``model_id`` for ``audience``; a TLP:RED finding names its ``recipients`` (1 to 50
        active people who can see the model, at least one of the model's developer and one of the government), and
        no other audience takes any. Audited (without the words) and told to the model's channels."""
        model = await self.unit.get(FrontierModel, model_id, what="model")
        if (refused := await self.report_refused(actor, model)) is not None:
            raise refused
        title = finding_fields.line("title", title, what="a title", longest=finding_fields.MAX_TITLE)
        body = finding_fields.text("body", body, what="what was found", longest=finding_fields.MAX_BODY)
        severity_ = finding_fields.choice("severity", severity, FindingSeverity)
        category_ = finding_fields.choice("category", category, FindingCategory)
        audience_ = finding_fields.choice("audience", audience, Audience)
        references = finding_fields.attachments(attachments)
        named = await self._recipients(model, audience_, recipients)
        now = self.unit.now()
        assert actor.organisation_id is not None, "a person belongs to an organisation"
        finding = Finding(model_id=model.id, reported_by=actor.person_id, reporter_org_id=actor.organisation_id,
                          reporter_kind=str(actor.kind), title=title, body=body, severity=severity_.value,
                          category=category_.value, audience=audience_.value, state=S.REPORTED.value,
                          attachments=[a.stored() for a in references], created_at=now, updated_at=now)  # fmt: skip
        self.unit.session.add(finding)
        await self.unit.session.flush()
        for user_id in named:
            self.unit.session.add(FindingRecipient(finding_id=finding.id, user_id=user_id))
        self.unit.record(actor=actor, action="finding.reported", subject=finding,
                         after={**audited(finding), "attachments": len(references), "recipients": len(named)})  # fmt: skip
        self.unit.notify(topic="finding.reported", recipient=approvers(model.id),
                         payload={"finding_id": finding.id, "model_id": model.id, "audience": finding.audience},
                         dedupe_key=f"finding.reported:{finding.id}")  # fmt: skip
        await self.unit.commit()
        return finding

    async def _recipients(
        self, model: FrontierModel, audience: Audience, given: Sequence[uuid.UUID | str]
    ) -> list[uuid.UUID]:
        ids: list[uuid.UUID] = []
        for value in given or ():
            try:
                id_ = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
            except ValueError:
                raise Invalid("recipients", f"{str(value)[:60]!r} is not a person's id") from None
            if id_ not in ids:
                ids.append(id_)
        if audience != Audience.RED:
            if ids:
                raise Invalid("recipients", f"only a TLP:RED finding names its recipients; a {LABELS[audience].label} "
                                            f"finding is read by {LABELS[audience].readers}")  # fmt: skip
            return []
        if not ids:
            raise Invalid("recipients", "a TLP:RED finding is read only by the people it names: name at least one "
                                        "person of the model's developer and one of the government")  # fmt: skip
        if len(ids) > MAX_RECIPIENTS:
            raise Invalid("recipients", f"a TLP:RED finding names at most {MAX_RECIPIENTS} people")
        rows = {u.id: (u, o) for u, o in (await self.unit.session.exec(
            select(User, Organisation).join(Organisation, col(Organisation.id) == User.organisation_id)
            .where(col(User.id).in_(ids)))).all()}  # fmt: skip
        for id_ in ids:
            found = rows.get(id_)
            ok = (found is not None and found[0].disabled_at is None and found[1].disabled_at is None
                  and await visibility.sees_model(self.unit.session, await actor_for(self.unit, found[0]), model))  # fmt: skip
            if not ok:
                raise Invalid("recipients", f"{id_} is not an active person who can see {model.name}")
        kinds = [(o.id, o.kind) for _, o in rows.values()]
        if not any(org == model.developer_id for org, _ in kinds) or not any(
                kind == OrgKind.GOVERNMENT.value for _, kind in kinds):  # fmt: skip
            raise Invalid("recipients", "name at least one person of the model's developer and one of the government: "
                                        "both parties of the framework always know of a finding")  # fmt: skip
        return ids

    # ---- the response ---------------------------------------------------------------------------------------

    async def update(
        self, *, actor: Actor, finding_id: uuid.UUID, note: str | None = None, to_state: str | None = None,
        from_state: str | None = None, audience: str | None = None,
    ) -> FindingUpdate | None:  # fmt: skip
        """Add a note to a finding, move it to ``to_state`` (from ``from_state``, when given: the state the mover
        saw), and/or widen its ``audience``, in one step. Locks the finding: a move from a state it is no longer in
        is a :class:`Conflict`. Returns the thread's new entry (None: only the audience was widened)."""
        finding, model = await self._readable(actor, finding_id)
        if actor.user_id is None:
            raise Forbidden("a finding's thread is written by people")
        target = finding_fields.choice("to_state", to_state, FindingState) if to_state else None
        seen = finding_fields.choice("from_state", from_state, FindingState) if from_state else None
        widened = finding_fields.choice("audience", audience, Audience) if audience else None
        words = (note or "").strip()
        if target is None and widened is None and not words:
            raise Invalid("note", "write a note, or choose the state the finding moves to")
        if words:
            words = finding_fields.text("note", words, what="the note", longest=finding_fields.MAX_NOTE)
        finding = await self.unit.lock(Finding, finding.id, what="finding")
        now = await self._next_instant(finding.id)
        shared = widened is not None and widened != Audience(finding.audience)
        if widened is not None and not shared and target is None and not words:
            raise Invalid("audience", f"the finding is {LABELS[widened].label} already")
        if shared:
            assert widened is not None
            if (refused := widening_refused(actor, finding, model, widened)) is not None:
                raise refused
            before = audited(finding)
            finding.audience, finding.updated_at = widened.value, now
            self.unit.record(actor=actor, action="finding.widened", subject=finding, before=before,
                             after=audited(finding))  # fmt: skip
        step: FindingUpdate | None = None
        if target is not None:
            current = FindingState(finding.state)
            if seen is not None and seen != current:
                raise Conflict(f"the finding is {state_words(current)} now, no longer {state_words(seen)}: reload it "
                               "and decide again")  # fmt: skip
            if (refused := move_refused(actor, finding, model, target)) is not None:
                raise refused
            if not words and (target in EXPLAINED or current in CLOSED):
                why = "reopened" if current in CLOSED else state_words(target)
                raise Invalid("note", f"say in a note why the finding is {why}")
            before = audited(finding)
            step = FindingUpdate(finding_id=finding.id, author_id=actor.person_id, from_state=current.value,
                                 to_state=target.value, note=words, created_at=now)  # fmt: skip
            finding.state, finding.updated_at = target.value, now
            self.unit.record(actor=actor, action="finding.moved", subject=finding, before=before, after=audited(finding))
        elif words:
            step = FindingUpdate(finding_id=finding.id, author_id=actor.person_id, note=words, created_at=now)
            self.unit.record(actor=actor, action="finding.noted", subject=finding, after=audited(finding))
        if step is not None:
            self.unit.session.add(step)
        self.unit.session.add(finding)
        if step is not None and step.to_state is not None or shared:
            # Moves and widening are told to the model's channels; a note is the thread's alone.
            self.unit.notify(topic="finding.updated", recipient=approvers(model.id),
                             payload={"finding_id": finding.id, "model_id": model.id, "audience": finding.audience,
                                      "from_state": step.from_state if step else None,
                                      "to_state": step.to_state if step else None},
                             dedupe_key=f"finding.updated:{finding.id}:{uuid.uuid4()}")  # fmt: skip
        await self.unit.commit()
        return step

    async def _next_instant(self, finding_id: uuid.UUID) -> datetime:
        """Now, or just after the thread's last step if that is as late (two steps at one instant of a frozen
        clock): under the finding's lock, so that its thread has one order, the order it was written in."""
        now = self.unit.now()
        last = (await self.unit.session.exec(select(sa.func.max(FindingUpdate.created_at)).where(
            FindingUpdate.finding_id == finding_id))).one()  # fmt: skip
        return max(now, aware(last) + timedelta(microseconds=1)) if last is not None else now

    # ---- reading ----------------------------------------------------------------------------------------------

    async def _readable(self, actor: Actor, finding_id: uuid.UUID) -> tuple[Finding, FrontierModel]:
        """The finding and its model, if ``actor`` may read it; else it does not exist for them."""
        finding = await self.unit.session.get(Finding, finding_id, populate_existing=True)
        model = await self.unit.session.get(FrontierModel, finding.model_id) if finding is not None else None
        if finding is None or model is None or not can_read(
            actor, finding, developer_id=model.developer_id, recipients=await self._named(finding.id),
            grantee=await self._grantee(actor, model.id),
        ):  # fmt: skip
            raise NotFound(f"finding {finding_id} not found")
        return finding, model

    async def _named(self, finding_id: uuid.UUID) -> set[uuid.UUID]:
        rows = await self.unit.session.exec(select(FindingRecipient.user_id).where(FindingRecipient.finding_id == finding_id))
        return set(rows.all())

    async def _grantee(self, actor: Actor, model_id: uuid.UUID) -> bool:
        if actor.organisation_id is None:
            return False
        found = await self.unit.session.exec(select(AccessGrant.id).where(
            AccessGrant.model_id == model_id, AccessGrant.organisation_id == actor.organisation_id,
            current_grant_sql(self.unit.now())).limit(1))  # fmt: skip
        return found.first() is not None

    async def _people(self, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[User, Organisation]]:
        if not user_ids:
            return {}
        rows = (await self.unit.session.exec(select(User, Organisation).join(
            Organisation, col(Organisation.id) == User.organisation_id).where(col(User.id).in_(user_ids)))).all()  # fmt: skip
        return {u.id: (u, o) for u, o in rows}

    async def finding(self, actor: Actor, finding_id: uuid.UUID) -> FindingView:
        """One finding as ``actor`` may read it: its thread, its recipients, and what they may do to it now."""
        finding, model = await self._readable(actor, finding_id)
        steps = list((await self.unit.session.exec(select(FindingUpdate).where(FindingUpdate.finding_id == finding.id)
                                                   .order_by(col(FindingUpdate.created_at), col(FindingUpdate.id)))).all())  # fmt: skip
        named = await self._named(finding.id)
        people = await self._people({finding.reported_by, *named, *(s.author_id for s in steps)})

        def person(user_id: uuid.UUID) -> Person:
            return person_of(actor, *people[user_id], model)

        # The named recipients are the whole audience of a TLP:RED finding: each of its readers knows the others.
        recipients = sorted((people[u] for u in named), key=lambda found: (found[0].name.lower(), found[0].email))
        return FindingView(
            finding=finding, model=model, reporter=person(finding.reported_by),
            recipients=[Person(u.id, f"{u.name} ({u.email}), {o.name}", OrgKind(o.kind)) for u, o in recipients],
            steps=[Step(s, person(s.author_id)) for s in steps], actions=FindingActions.of(actor, finding, model),
            attachments=[Attachment(**a) for a in finding.attachments],
        )  # fmt: skip

    def _where(self, actor: Actor, model_id: uuid.UUID | None, state: str | None, severity: str | None,
               audience: str | None) -> list[sa.ColumnElement[bool]]:  # fmt: skip
        where = [readable_sql(actor, self.unit.now())]
        if model_id is not None:
            where.append(col(Finding.model_id) == model_id)
        if state:
            where.append(col(Finding.state) == finding_fields.choice("state", state, FindingState).value)
        if severity:
            where.append(col(Finding.severity) == finding_fields.choice("severity", severity, FindingSeverity).value)
        if audience:
            where.append(col(Finding.audience) == finding_fields.choice("audience", audience, Audience).value)
        return where

    async def findings(
        self, actor: Actor, *, model_id: uuid.UUID | None = None, state: str | None = None,
        severity: str | None = None, audience: str | None = None, cursor: str | None = None, limit: int = 50,
    ) -> Page[FindingRow]:  # fmt: skip
        """The findings ``actor`` may read (of ``model_id``, in ``state``, of ``severity``, for ``audience``),
        newest first."""
        stmt = select(Finding).where(*self._where(actor, model_id, state, severity, audience))
        found = page_of(list((await self.unit.session.exec(keyset(stmt, Finding, cursor, limit))).all()), limit)
        return Page(items=await self._rows(actor, found.items), next_cursor=found.next_cursor)

    async def _rows(self, actor: Actor, findings: Sequence[Finding]) -> list[FindingRow]:
        models = {m.id: m for m in (await self.unit.session.exec(select(FrontierModel).where(
            col(FrontierModel.id).in_({f.model_id for f in findings})))).all()} if findings else {}  # fmt: skip
        people = await self._people({f.reported_by for f in findings})
        return [FindingRow(finding=f, model_name=models[f.model_id].name, model_slug=models[f.model_id].slug,
                           reporter=person_of(actor, *people[f.reported_by], models[f.model_id])) for f in findings]

    async def counts(self, actor: Actor, model_id: uuid.UUID | None = None) -> FindingCounts:
        """How many findings (of ``model_id``, or of every model) ``actor`` may read, by state and by severity:
        for the programme overview and the evidence bundle. The system counts every finding."""
        stmt = (select(Finding.state, Finding.severity, sa.func.count(col(Finding.id)))
                .where(*self._where(actor, model_id, None, None, None))
                .group_by(col(Finding.state), col(Finding.severity)))  # fmt: skip
        by_state = dict.fromkeys(FindingState, 0)
        by_severity = dict.fromkeys(FindingSeverity, 0)
        for state, severity, count in (await self.unit.session.exec(stmt)).all():
            by_state[FindingState(state)] += count
            by_severity[FindingSeverity(severity)] += count
        return FindingCounts(by_state=by_state, by_severity=by_severity)

    async def export(self, actor: Actor, model_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        """Every finding ``actor`` may read (of ``model_id``), oldest first, each with its thread: plain JSON
        values, for a CSV or JSON download."""
        stmt = (select(Finding).where(*self._where(actor, model_id, None, None, None))
                .order_by(col(Finding.created_at), col(Finding.id)))  # fmt: skip
        findings = list((await self.unit.session.exec(stmt)).all())
        rows = {r.finding.id: r for r in await self._rows(actor, findings)}
        ids = [f.id for f in findings]
        steps: dict[uuid.UUID, list[FindingUpdate]] = {}
        recipients: dict[uuid.UUID, list[str]] = {}
        if ids:
            for step in (await self.unit.session.exec(select(FindingUpdate).where(col(FindingUpdate.finding_id).in_(ids))
                                                      .order_by(col(FindingUpdate.created_at), col(FindingUpdate.id)))).all():  # fmt: skip
                steps.setdefault(step.finding_id, []).append(step)
            for finding_id, email in (await self.unit.session.exec(
                    select(FindingRecipient.finding_id, User.email).join(User, col(User.id) == FindingRecipient.user_id)
                    .where(col(FindingRecipient.finding_id).in_(ids)).order_by(User.email))).all():  # fmt: skip
                recipients.setdefault(finding_id, []).append(email)
        authors = await self._people({s.author_id for found in steps.values() for s in found})
        models = {f.id: await self.unit.get(FrontierModel, f.model_id) for f in findings}
        return [jsonable({
            "id": f.id, "model": rows[f.id].model_slug, "model_name": rows[f.id].model_name, "title": f.title,
            "body": f.body, "severity": f.severity, "category": f.category, "audience": LABELS[Audience(f.audience)].label,
            "state": f.state, "reporter": rows[f.id].reporter.shown, "reporter_kind": f.reporter_kind,
            "recipients": recipients.get(f.id, []), "attachments": list(f.attachments), "created_at": f.created_at,
            "updated_at": f.updated_at,
            "updates": [{"at": s.created_at, "author": person_of(actor, *authors[s.author_id], models[f.id]).shown, "from_state": s.from_state,
                         "to_state": s.to_state, "note": s.note} for s in steps.get(f.id, [])],
        }) for f in findings]  # fmt: skip
