"""Reminders: access about to end, NDAs and attestations about to expire, nominations and consultations waiting too
long, a planned release getting close while its consultation is still open.

Each reminder is a :class:`Reminder` row, unique per (kind, subject, deadline), and one outbox message per
recipient written in the same transaction. Any number of workers may sweep at once: each inserts the row with
``ON CONFLICT DO NOTHING``, and only the one whose insert took writes the messages (on PostgreSQL a second insert
waits for the first to commit, then does nothing). A moved deadline (a grant extended, an NDA re-signed) is a new
subject of reminders; a superseded NDA or attestation, or a revoked grant, is reminded of no more.

Schedules count back from the deadline (a grant's ``ends_at``, an NDA's ``expires_at``, an attestation's
``valid_until``, a nomination's ``created_at`` + 48 h): the reminder at an offset is due from ``deadline −
offset`` until the next, shorter offset is due. It is skipped when its subject did not exist yet at ``deadline −
offset`` (a five-day window gets no "ends in 7 days"), so that nobody is told twice in a row the same day.

A pending nomination that waits too long is escalated (once each, counted from when it was made): after its
model's ``escalation_days`` the approvers of each side still short of its quorum who have not decided are reminded,
and after twice that the admins of each side still short are. A side that has reached its quorum hears nothing;
a nomination decided, withdrawn or lapsed (domain.coselection.lapses_at) is escalated no more. A cohort's members
are left to the cohort's own reminder, as at 48 h.

A consultation round (:class:`ConsultationSchedule`) is reminded of once when it has waited ``remind_after`` (its
deadline: when it was opened + that), and once when its model's planned release is within ``release_warning`` while
it is still open (its deadline: the planned release; a moved release is a new one).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from accessdesk.db.tables import (
    AccessGrant,
    Attestation,
    Cohort,
    Consultation,
    Decision,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
    Organisation,
    OutboxMessage,
    Reminder,
    User,
    UserRole,
)
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import lapses_at, lapses_at_sql
from accessdesk.domain.errors import Forbidden
from accessdesk.domain.notices import contacts
from accessdesk.domain.pagination import Page, keyset, page_of
from accessdesk.domain.permissions import ROLE_PERMISSIONS, Permission
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import ConsultationState, NominationState, OrgKind, Role, Side


class ReminderKind(StrEnum):
    GRANT_ENDS_7D = "grant.ends.7d"
    GRANT_ENDS_1D = "grant.ends.1d"
    NDA_EXPIRES_30D = "nda.expires.30d"
    NDA_EXPIRES_7D = "nda.expires.7d"
    ATTESTATION_EXPIRES_30D = "attestation.expires.30d"
    ATTESTATION_EXPIRES_7D = "attestation.expires.7d"
    NOMINATION_PENDING_48H = "nomination.pending.48h"
    NOMINATION_ESCALATED_APPROVERS = "nomination.escalated.approvers"
    NOMINATION_ESCALATED_ADMINS = "nomination.escalated.admins"
    COHORT_PENDING_48H = "cohort.pending.48h"
    CONSULTATION_WAITING = "consultation.waiting"
    CONSULTATION_RELEASE_NEAR = "consultation.release_near"


K = ReminderKind
# Per subject, longest offset first: (kind, how long before the deadline it is due).
GRANT_SCHEDULE = ((K.GRANT_ENDS_7D, timedelta(days=7)), (K.GRANT_ENDS_1D, timedelta(days=1)))
NDA_SCHEDULE = ((K.NDA_EXPIRES_30D, timedelta(days=30)), (K.NDA_EXPIRES_7D, timedelta(days=7)))
ATTESTATION_SCHEDULE = ((K.ATTESTATION_EXPIRES_30D, timedelta(days=30)),
                        (K.ATTESTATION_EXPIRES_7D, timedelta(days=7)))  # fmt: skip
PENDING_FOR = timedelta(hours=48)
TOPIC = {
    **{kind: "reminder.grant_ending" for kind, _ in GRANT_SCHEDULE},
    **{kind: "reminder.nda_expiring" for kind, _ in NDA_SCHEDULE},
    **{kind: "reminder.attestation_expiring" for kind, _ in ATTESTATION_SCHEDULE},
    K.NOMINATION_PENDING_48H: "reminder.nomination_pending",
    K.NOMINATION_ESCALATED_APPROVERS: "reminder.nomination_escalated",
    K.NOMINATION_ESCALATED_ADMINS: "reminder.nomination_escalated",
    K.COHORT_PENDING_48H: "reminder.cohort_pending",
    K.CONSULTATION_WAITING: "reminder.consultation_waiting",
    K.CONSULTATION_RELEASE_NEAR: "reminder.consultation_release_near",
}
# A nomination's escalation: (kind, after how many of its model's ``escalation_days``, whom of each side short of
# quorum it reminds). The approvers who have not decided first; then, as long again, the side's admins.
ESCALATION = ((K.NOMINATION_ESCALATED_APPROVERS, 1, Role.APPROVER), (K.NOMINATION_ESCALATED_ADMINS, 2, Role.ADMIN))
# Who decides nominations, by kind of organisation: the roles holding the permission.
DECIDERS = {kind: sorted(role.value for (k, role), held in ROLE_PERMISSIONS.items()
                         if k == kind and Permission.NOMINATIONS_DECIDE in held)
            for kind in (OrgKind.DEVELOPER, OrgKind.GOVERNMENT)}  # fmt: skip
# Who decides consultations (the government's side) and who asks for them (the developer's): the roles holding it.
CONSULTATION_DECIDERS = sorted(role.value for (k, role), held in ROLE_PERMISSIONS.items()
                               if k == OrgKind.GOVERNMENT and Permission.MODELS_DESIGNATE in held)  # fmt: skip
CONSULTATION_REQUESTERS = sorted(role.value for (k, role), held in ROLE_PERMISSIONS.items()
                                 if k == OrgKind.DEVELOPER and Permission.MODELS_UPDATE in held)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConsultationSchedule:
    """When consultations are reminded of (``ACCESSDESK_CONSULTATION_REMIND_DAYS``,
    ``ACCESSDESK_CONSULTATION_RELEASE_WARN_DAYS``)."""

    remind_after: timedelta = timedelta(days=14)  # a round open this long reminds the government's deciders
    release_warning: timedelta = timedelta(days=30)  # a planned release this close, round still open: both sides


@dataclass(slots=True)
class Due:
    """A reminder to send, if no worker has sent it yet."""

    kind: ReminderKind
    subject_id: uuid.UUID
    deadline: datetime
    due_at: datetime
    recipients: list[str]
    payload: dict[str, Any]
    organisation_id: uuid.UUID | None = None
    model_id: uuid.UUID | None = None
    per_recipient: dict[str, dict[str, Any]] = field(default_factory=dict)  # added to the payload of each one's


@dataclass(slots=True)
class ReminderReport:
    sent: int = 0
    messages: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def _window(schedule: Sequence[tuple[ReminderKind, timedelta]], index: int, now: datetime) -> tuple[datetime, datetime]:
    """Deadlines for which the reminder at ``schedule[index]`` is due at ``now``: (lower, upper]."""
    offset = schedule[index][1]
    shorter = schedule[index + 1][1] if index + 1 < len(schedule) else timedelta(0)
    return now + shorter, now + offset


def short_sides(nomination: Nomination) -> list[Side]:
    """The sides of ``nomination`` that have not reached their quorum yet."""
    return [side for side, approvals, quorum in (
        (Side.DEVELOPER, nomination.developer_approvals, nomination.developer_quorum),
        (Side.GOVERNMENT, nomination.government_approvals, nomination.government_quorum),
    ) if approvals < quorum]  # fmt: skip


def has_decided(nomination_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """Whether the user of the row has decided on the nomination: counted as the approver (themselves, or through
    a delegate), or as the delegate who decided in someone's name (a person decides once: domain.delegations)."""
    return sa.exists().where(col(Decision.nomination_id) == nomination_id,
                             sa.or_(col(Decision.approver_id) == User.id, col(Decision.decided_by) == User.id))


def _not_reminded(kind: ReminderKind, subject: Any, deadline: Any) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(col(Reminder.kind) == kind.value, col(Reminder.subject_id) == subject,
                              col(Reminder.deadline) == deadline)  # fmt: skip


class Reminders:
    def __init__(self, unit: Unit, consultations: ConsultationSchedule | None = None) -> None:
        self.unit = unit
        self.consultations = consultations or ConsultationSchedule()

    async def sweep(self, *, batch: int = 500) -> ReminderReport:
        """Send every reminder due now that no one has sent, committing each batch."""
        report = ReminderReport()
        for finder in (self._grants_ending, self._ndas_expiring, self._attestations_expiring, self._pending,
                       self._escalations, self._cohorts_pending, self._consultations_waiting,
                       self._releases_near):  # fmt: skip
            while True:
                found = 0
                async for due in finder(self.unit.now(), batch):
                    found += 1
                    if await self._send(due):
                        report.sent += 1
                        report.messages += len(due.recipients)
                        report.by_kind[due.kind.value] = report.by_kind.get(due.kind.value, 0) + 1
                await self.unit.commit()
                if found < batch:
                    break
        return report

    async def _send(self, due: Due) -> bool:
        reminder_id = uuid.uuid4()
        keys = [f"reminder:{reminder_id}:{recipient}" for recipient in due.recipients]
        insert = postgresql_insert if self.unit.dialect == "postgresql" else sqlite_insert
        row = Reminder(id=reminder_id, kind=due.kind.value, subject_id=due.subject_id, deadline=due.deadline,
                       due_at=due.due_at, created_at=self.unit.now(), organisation_id=due.organisation_id,
                       model_id=due.model_id, messages=keys)  # fmt: skip
        values = {column.key: getattr(row, column.key) for column in sa.inspect(Reminder).local_table.columns}
        stmt = insert(Reminder).values(**values).on_conflict_do_nothing(
            index_elements=["kind", "subject_id", "deadline"])  # fmt: skip
        result = await self.unit.session.exec(stmt)
        if result.rowcount != 1:
            return False  # another worker sent it
        for recipient, key in zip(due.recipients, keys, strict=True):
            self.unit.notify(topic=TOPIC[due.kind], recipient=recipient, dedupe_key=key,
                             payload={**due.payload, **due.per_recipient.get(recipient, {}), "kind": due.kind.value,
                                      "deadline": due.deadline})  # fmt: skip
        return True

    # --- what is due -------------------------------------------------------------------------------------------

    async def _grants_ending(self, now: datetime, batch: int) -> AsyncIterator[Due]:
        for index, (kind, offset) in enumerate(GRANT_SCHEDULE):
            lower, upper = _window(GRANT_SCHEDULE, index, now)
            stmt = (
                select(AccessGrant, FrontierModel.name, FrontierModel.slack_channels, Organisation.name)
                .join(FrontierModel, col(FrontierModel.id) == AccessGrant.model_id)
                .join(Organisation, col(Organisation.id) == AccessGrant.organisation_id)
                .where(
                    AccessGrant.ends_at > lower,
                    AccessGrant.ends_at <= upper,
                    AccessGrant.starts_at <= now,
                    col(AccessGrant.revoked_at).is_(None),
                    _not_reminded(kind, AccessGrant.id, AccessGrant.ends_at),
                )
                .order_by(col(AccessGrant.ends_at), col(AccessGrant.id))
                .limit(batch)
            )
            rows = (await self.unit.session.exec(stmt)).all()
            told = await contacts(self.unit, {grant.organisation_id for grant, *_ in rows})
            for grant, model_name, channels, organisation in rows:
                due_at = grant.ends_at - offset
                if grant.starts_at > due_at:
                    continue  # the window is shorter than the offset: the next reminder's job
                recipients = [*told.get(grant.organisation_id, []), *(f"slack:{c}" for c in channels)]
                yield Due(kind, grant.id, grant.ends_at, due_at, recipients, organisation_id=grant.organisation_id,
                          model_id=grant.model_id, payload={"grant_id": grant.id, "model": model_name,
                                                            "organisation": organisation, "ends_at": grant.ends_at})  # fmt: skip

    async def _ndas_expiring(self, now: datetime, batch: int) -> AsyncIterator[Due]:
        later = sa.orm.aliased(NdaAcceptance)
        for index, (kind, offset) in enumerate(NDA_SCHEDULE):
            lower, upper = _window(NDA_SCHEDULE, index, now)
            stmt = (
                select(NdaAcceptance, NdaTemplate.title, Organisation.name)
                .join(NdaTemplate, col(NdaTemplate.id) == NdaAcceptance.template_id)
                .join(Organisation, col(Organisation.id) == NdaAcceptance.organisation_id)
                .where(
                    NdaAcceptance.expires_at > lower,
                    NdaAcceptance.expires_at <= upper,
                    _not_reminded(kind, NdaAcceptance.id, NdaAcceptance.expires_at),
                    # superseded: the organisation signed this series again, lasting longer
                    ~sa.exists().where(col(later.organisation_id) == NdaAcceptance.organisation_id,
                                       col(later.series) == NdaAcceptance.series,
                                       col(later.expires_at) > NdaAcceptance.expires_at),  # fmt: skip
                )
                .order_by(col(NdaAcceptance.expires_at), col(NdaAcceptance.id))
                .limit(batch)
            )
            rows = (await self.unit.session.exec(stmt)).all()
            told = await contacts(self.unit, {acceptance.organisation_id for acceptance, *_ in rows})
            for acceptance, title, organisation in rows:
                due_at = acceptance.expires_at - offset
                if acceptance.accepted_at > due_at:
                    continue
                yield Due(kind, acceptance.id, acceptance.expires_at, due_at,
                          told.get(acceptance.organisation_id, []), organisation_id=acceptance.organisation_id,
                          payload={"acceptance_id": acceptance.id, "title": title, "version": acceptance.version,
                                   "organisation": organisation, "expires_at": acceptance.expires_at})  # fmt: skip

    async def _attestations_expiring(self, now: datetime, batch: int) -> AsyncIterator[Due]:
        later = sa.orm.aliased(Attestation)
        for index, (kind, offset) in enumerate(ATTESTATION_SCHEDULE):
            lower, upper = _window(ATTESTATION_SCHEDULE, index, now)
            stmt = (
                select(Attestation, Organisation.name)
                .join(Organisation, col(Organisation.id) == Attestation.organisation_id)
                .where(
                    Attestation.valid_until > lower,
                    Attestation.valid_until <= upper,
                    _not_reminded(kind, Attestation.id, Attestation.valid_until),
                    ~sa.exists().where(col(later.organisation_id) == Attestation.organisation_id,
                                       col(later.area) == Attestation.area,
                                       col(later.valid_until) > Attestation.valid_until),  # fmt: skip
                )
                .order_by(col(Attestation.valid_until), col(Attestation.id))
                .limit(batch)
            )
            rows = (await self.unit.session.exec(stmt)).all()
            told = await contacts(self.unit, {attestation.organisation_id for attestation, _ in rows})
            for attestation, organisation in rows:
                due_at = attestation.valid_until - offset
                if attestation.attested_at > due_at:
                    continue
                yield Due(kind, attestation.id, attestation.valid_until, due_at,
                          told.get(attestation.organisation_id, []), organisation_id=attestation.organisation_id,
                          payload={"attestation_id": attestation.id, "area": attestation.area,
                                   "organisation": organisation, "valid_until": attestation.valid_until})  # fmt: skip

    async def _pending(self, now: datetime, batch: int) -> AsyncIterator[Due]:
        kind = K.NOMINATION_PENDING_48H
        # The deadline is ``created_at``: reminded once per nomination, 48 h after it was made.
        stmt = (
            select(Nomination, FrontierModel, Organisation.name)
            .join(FrontierModel, col(FrontierModel.id) == Nomination.model_id)
            .join(Organisation, col(Organisation.id) == Nomination.organisation_id)
            .where(
                Nomination.state == NominationState.PENDING.value,
                Nomination.created_at <= now - PENDING_FOR,
                lapses_at_sql() > now,
                col(Nomination.cohort_id).is_(None),  # a cohort's members are reminded of as one (below)
                _not_reminded(kind, Nomination.id, Nomination.created_at),
            )
            .order_by(col(Nomination.created_at), col(Nomination.id))
            .limit(batch)
        )
        for nomination, model, organisation in (await self.unit.session.exec(stmt)).all():
            recipients = [f"user:{user_id}" for user_id in await self.undecided(nomination, model)]
            yield Due(kind, nomination.id, nomination.created_at, nomination.created_at + PENDING_FOR, recipients,
                      organisation_id=nomination.organisation_id, model_id=model.id,
                      payload={"nomination_id": nomination.id, "model": model.name, "organisation": organisation,
                               "created_at": nomination.created_at, "starts_at": nomination.starts_at,
                               "lapses_at": lapses_at(nomination)})  # fmt: skip

    async def _escalations(self, now: datetime, batch: int) -> AsyncIterator[Due]:
        """Pending nominations waiting longer than their model's ``escalation_days`` (once), then twice that
        (once): each side short of its quorum hears of it, its approvers who have not decided first, its admins
        next. The deadline is ``created_at``, as for the 48 h reminder; once per nomination and kind all the same,
        whatever the setting becomes later."""
        # One query per period models ask for (at most 30): the comparison stays an indexable one on both databases.
        periods = sorted((await self.unit.session.exec(select(FrontierModel.escalation_days).distinct())).all())
        for kind, times, role in ESCALATION:
            for days in periods:
                after = timedelta(days=days * times)
                stmt = (
                    select(Nomination, FrontierModel, Organisation.name)
                    .join(FrontierModel, col(FrontierModel.id) == Nomination.model_id)
                    .join(Organisation, col(Organisation.id) == Nomination.organisation_id)
                    .where(
                        FrontierModel.escalation_days == days,
                        Nomination.state == NominationState.PENDING.value,
                        Nomination.created_at <= now - after,
                        lapses_at_sql() > now,
                        col(Nomination.cohort_id).is_(None),  # a cohort is reminded of as one
                        ~sa.exists().where(col(Reminder.kind) == kind.value, col(Reminder.subject_id) == Nomination.id),
                    )
                    .order_by(col(Nomination.created_at), col(Nomination.id))
                    .limit(batch)
                )
                for nomination, model, organisation in (await self.unit.session.exec(stmt)).all():
                    sides = {side: await self.side_people(nomination, model, side, role)
                             for side in short_sides(nomination)}  # fmt: skip
                    yield Due(kind, nomination.id, nomination.created_at, nomination.created_at + after,
                              [person for people in sides.values() for person in people],
                              organisation_id=nomination.organisation_id, model_id=model.id,
                              payload={"nomination_id": nomination.id, "nomination_kind": nomination.kind,
                                       "model": model.name, "organisation": organisation,
                                       "created_at": nomination.created_at, "lapses_at": lapses_at(nomination),
                                       "days": after.days, "escalation_days": days},
                              per_recipient={person: {"side": side.value} for side, people in sides.items()
                                             for person in people})  # fmt: skip

    async def _cohorts_pending(self, now: datetime, batch: int) -> AsyncIterator[Due]:
        """A cohort whose members still wait 48 h after it was made is one reminder: one message per approver
        who could still decide some of them, saying how many (``awaiting``)."""
        kind = K.COHORT_PENDING_48H
        waiting = sa.and_(col(Nomination.state) == NominationState.PENDING.value, lapses_at_sql() > now)
        stmt = (
            select(Cohort, FrontierModel)
            .join(FrontierModel, col(FrontierModel.id) == Cohort.model_id)
            .where(Cohort.created_at <= now - PENDING_FOR, sa.exists().where(col(Nomination.cohort_id) == Cohort.id, waiting),
                   _not_reminded(kind, Cohort.id, Cohort.created_at))  # fmt: skip
            .order_by(col(Cohort.created_at), col(Cohort.id))
            .limit(batch)
        )
        for cohort, model in (await self.unit.session.exec(stmt)).all():
            members = (await self.unit.session.exec(select(Nomination).where(waiting, Nomination.cohort_id == cohort.id))).all()
            awaiting: dict[uuid.UUID, int] = {}
            for nomination in members:
                for user_id in await self.undecided(nomination, model):
                    awaiting[user_id] = awaiting.get(user_id, 0) + 1
            recipients = [f"user:{user_id}" for user_id in sorted(awaiting)]
            yield Due(kind, cohort.id, cohort.created_at, cohort.created_at + PENDING_FOR, recipients, model_id=model.id,
                      payload={"cohort_id": cohort.id, "cohort": cohort.name, "model": model.name,
                               "created_at": cohort.created_at, "starts_at": cohort.starts_at,
                               "lapses_at": min(lapses_at(member) for member in members)},
                      per_recipient={f"user:{u}": {"awaiting": n} for u, n in awaiting.items()})  # fmt: skip

    async def _consultations_waiting(self, now: datetime, batch: int) -> AsyncIterator[Due]:
        """A round open longer than the schedule's ``remind_after``: once per round, to the government's deciders."""
        kind, after = K.CONSULTATION_WAITING, self.consultations.remind_after
        stmt = (
            select(Consultation, FrontierModel)
            .join(FrontierModel, col(FrontierModel.id) == Consultation.model_id)
            .where(Consultation.state == ConsultationState.OPEN.value, Consultation.created_at <= now - after,
                   # Once per round: its deadline moves only with the setting, which is not news to anyone.
                   ~sa.exists().where(col(Reminder.kind) == kind.value, col(Reminder.subject_id) == Consultation.id))  # fmt: skip
            .order_by(col(Consultation.created_at), col(Consultation.id))
            .limit(batch)
        )
        rows = (await self.unit.session.exec(stmt)).all()
        deciders = await self._people(OrgKind.GOVERNMENT, CONSULTATION_DECIDERS) if rows else []
        for consultation, model in rows:
            yield Due(kind, consultation.id, consultation.created_at + after, consultation.created_at + after,
                      deciders, model_id=model.id,
                      payload={"consultation_id": consultation.id, "model": model.name, "round": consultation.round,
                               "opened_at": consultation.created_at, "days": after.days})  # fmt: skip

    async def _releases_near(self, now: datetime, batch: int) -> AsyncIterator[Due]:
        """A model whose planned release is within the schedule's ``release_warning`` while its round is still open:
        once per round and planned release, to the developer's admins and the government's deciders."""
        kind, warning = K.CONSULTATION_RELEASE_NEAR, self.consultations.release_warning
        stmt = (
            select(Consultation, FrontierModel)
            .join(FrontierModel, col(FrontierModel.id) == Consultation.model_id)
            .where(Consultation.state == ConsultationState.OPEN.value, FrontierModel.planned_release_at > now,
                   FrontierModel.planned_release_at <= now + warning,
                   _not_reminded(kind, Consultation.id, FrontierModel.planned_release_at))  # fmt: skip
            .order_by(col(FrontierModel.planned_release_at), col(Consultation.id))
            .limit(batch)
        )
        rows = (await self.unit.session.exec(stmt)).all()
        deciders = await self._people(OrgKind.GOVERNMENT, CONSULTATION_DECIDERS) if rows else []
        for consultation, model in rows:
            requesters = await self._people(OrgKind.DEVELOPER, CONSULTATION_REQUESTERS, organisation_id=model.developer_id)
            yield Due(kind, consultation.id, model.planned_release_at,
                      max(model.planned_release_at - warning, consultation.created_at), [*requesters, *deciders],
                      model_id=model.id, organisation_id=model.developer_id,
                      payload={"consultation_id": consultation.id, "model": model.name, "round": consultation.round,
                               "opened_at": consultation.created_at, "planned_release_at": model.planned_release_at})  # fmt: skip

    # --- who hears of it ---------------------------------------------------------------------------------------

    async def _people(self, kind: OrgKind, roles: list[str], *, organisation_id: uuid.UUID | None = None) -> list[str]:
        """The active people holding one of ``roles`` in the organisations of ``kind`` (or in ``organisation_id``
        alone), as outbox addresses."""
        of = (col(User.organisation_id) == organisation_id if organisation_id is not None
              else col(User.organisation_id).in_(select(Organisation.id).where(Organisation.kind == kind.value)))  # fmt: skip
        stmt = (select(User.id).where(
            of, col(User.disabled_at).is_(None),
            sa.exists().where(col(UserRole.user_id) == User.id, col(UserRole.role).in_(roles)),
        ).order_by(col(User.id)))  # fmt: skip
        return [f"user:{user_id}" for user_id in (await self.unit.session.exec(stmt)).all()]

    async def side_people(self, nomination: Nomination, model: FrontierModel, side: Side, role: Role) -> list[str]:
        """The active people of ``side`` holding ``role``, as outbox addresses. Approvers: only those who could
        still decide (not the nominator, not decided yet); admins: all of them (they chase, whatever they did)."""
        of = (col(User.organisation_id) == model.developer_id if side == Side.DEVELOPER
              else col(User.organisation_id).in_(select(Organisation.id)
                                                 .where(Organisation.kind == OrgKind.GOVERNMENT.value)))  # fmt: skip
        stmt = select(User.id).where(
            of, col(User.disabled_at).is_(None),
            sa.exists().where(col(UserRole.user_id) == User.id, col(UserRole.role) == role.value),
        )  # fmt: skip
        if role != Role.ADMIN:
            stmt = stmt.where(col(User.id) != nomination.nominated_by, ~has_decided(nomination.id))
        return [f"user:{user_id}" for user_id in (await self.unit.session.exec(stmt.order_by(col(User.id)))).all()]

    async def undecided(self, nomination: Nomination, model: FrontierModel) -> list[uuid.UUID]:
        """The approvers who could still decide: on a side short of quorum, not the nominator, not decided yet."""
        # One select per side, naming the side's organisations through users.organisation_id, and their union
        # (roles as EXISTS, so that no select repeats a user). Joined to organisations and OR-ed, SQLite walked
        # every user (they grow with the partners) for each nomination; this way both databases go from the side's
        # organisations to their users by index.
        sides: list[tuple[sa.ColumnElement[bool], list[str]]] = []
        if nomination.developer_approvals < nomination.developer_quorum:
            sides.append((col(User.organisation_id) == model.developer_id, DECIDERS[OrgKind.DEVELOPER]))
        if nomination.government_approvals < nomination.government_quorum:
            government = select(Organisation.id).where(Organisation.kind == OrgKind.GOVERNMENT.value)
            sides.append((col(User.organisation_id).in_(government), DECIDERS[OrgKind.GOVERNMENT]))
        if not sides:
            return []
        stmt = sa.union(*(
            sa.select(col(User.id))
            .where(
                organisations,
                sa.exists().where(col(UserRole.user_id) == User.id, col(UserRole.role).in_(roles)),
                col(User.disabled_at).is_(None),
                col(User.id) != nomination.nominated_by,
                ~has_decided(nomination.id),
            )
            for organisations, roles in sides
        )).order_by("id")  # fmt: skip
        # sqlmodel's exec() runs any executable, but its overloads admit no compound select such as a UNION.
        return list((await self.unit.session.exec(stmt)).scalars().all())  # type: ignore[call-overload]

    # --- what the console shows ------------------------------------------------------------------------------

    async def listing(self, actor: Actor, *, cursor: str | None = None, limit: int = 50) -> Page[Reminder]:
        """Reminders sent, newest first: for staff who read the audit trail; a developer's staff see those of their
        own models and NDAs, and attestation reminders (organisation-wide, as attestations are)."""
        if not actor.is_staff or not actor.can(Permission.AUDIT_READ):
            raise Forbidden("only staff who read the audit trail see reminders")
        stmt = select(Reminder)
        if actor.kind == OrgKind.DEVELOPER:
            own = select(FrontierModel.id).where(FrontierModel.developer_id == actor.organisation_id)
            own_ndas = (select(NdaAcceptance.id)
                        .join(NdaTemplate, col(NdaTemplate.id) == NdaAcceptance.template_id)
                        .where(NdaTemplate.developer_id == actor.organisation_id))  # fmt: skip
            nda_kinds = [kind.value for kind, _ in NDA_SCHEDULE]
            stmt = stmt.where(sa.or_(
                col(Reminder.model_id).in_(own),
                sa.and_(col(Reminder.model_id).is_(None), col(Reminder.kind).not_in(nda_kinds)),
                sa.and_(col(Reminder.kind).in_(nda_kinds), col(Reminder.subject_id).in_(own_ndas)),
            ))  # fmt: skip
        rows = (await self.unit.session.exec(keyset(stmt, Reminder, cursor, limit))).all()
        return page_of(list(rows), limit)

    async def deliveries(self, reminders: Sequence[Reminder]) -> dict[str, OutboxMessage]:
        """The outbox messages of these reminders, by dedupe key."""
        keys = [key for reminder in reminders for key in reminder.messages]
        if not keys:
            return {}
        rows = await self.unit.session.exec(select(OutboxMessage).where(col(OutboxMessage.dedupe_key).in_(keys)))
        return {message.dedupe_key: message for message in rows.all()}

