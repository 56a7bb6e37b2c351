"""Designation consultations: whether a model in development is a covered frontier model.

The developer asks (:meth:`Consultations.request`), or the government opens a round itself, or reopens one after a
new checkpoint of the model (:meth:`Consultations.open`); either side writes in the round's thread
(:meth:`Consultations.message`); the government decides it (:meth:`Consultations.decide`) with the opaque reference
of its assessment. One fact holds throughout: a model is ``in_consultation`` exactly when it has one open round (a
partial unique index keeps a second from opening). Every path that moves a designation comes through here, the
one-step :meth:`FrontierModels.designate` included (:meth:`Consultations.designate`), and has one effect on grants,
:meth:`FrontierModels.apply_designation` (DESIGN.md §3 rule 4).

Need-to-know: a consultation is the business of the model's developer and of the government only. Those who may act
for either side (the developer's admins, approvers and nominators; the government's admins and approvers) and their
auditors read it; anyone else is told it does not exist (404), and lists leave it out. A message's words stay in its
row: the audit trail and the notices say who wrote, on which side, never what.

Lock order: the model, then the round (as co-selection locks a model before its nominations).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent, Consultation, ConsultationMessage, FrontierModel
from accessdesk.domain import visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import (
    AlreadyDecided,
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    ModelSwitchedOff,
    NotFound,
)
from accessdesk.domain.frontier_models import FrontierModels, designation_refused
from accessdesk.domain.notices import approvers
from accessdesk.domain.pagination import Page, check_limit, decode_cursor, encode_cursor
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import DESIGNATION_MOVES, ConsultationState, Designation, OrgKind, Side

MAX_NOTE = 4000
MAX_BODY = 4000
MAX_CONTACTS = 10
MAX_CONTACT = 200
MAX_CAPABILITIES = 20
MAX_CAPABILITY = 100
MAX_REFERENCE = 200  # the column's length
# The note of a round the government opens through the one-step designation (FrontierModels.designate).
DEFAULT_NOTE = "Opened by the government to assess whether the model is a covered frontier model."
OUTCOMES = (Designation.COVERED, Designation.NOT_COVERED)
HISTORY_LIMIT = 500
# Text of several lines (a note, a message): no control character but tab, new line and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# One line (a contact, a capability, a reference): no control character at all.
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ConsultationOpen(Conflict):
    """The model already has an open round: one at a time."""

    code = "consultation_open"


def _government_reader(actor: Actor) -> bool:
    return actor.kind == OrgKind.GOVERNMENT and (actor.can(Permission.MODELS_DESIGNATE) or actor.can(Permission.AUDIT_READ))


def _developer_reader(actor: Actor) -> bool:
    return actor.kind == OrgKind.DEVELOPER and (actor.can(Permission.NOMINATIONS_CREATE) or actor.can(Permission.AUDIT_READ))


def side_in(actor: Actor, model: FrontierModel) -> Side | None:
    """The side ``actor`` reads ``model``'s consultations for: those who may act for it and its auditors. None: it
    is none of their business (a partner, another developer, staff who hold no role that acts or audits)."""
    if _government_reader(actor):
        return Side.GOVERNMENT
    if _developer_reader(actor) and visibility.develops(actor, model):
        return Side.DEVELOPER
    return None


def reads(actor: Actor, model: FrontierModel) -> bool:
    """Whether ``actor`` may read ``model``'s consultations (the system may)."""
    return actor.is_system or side_in(actor, model) is not None


def reads_any(actor: Actor) -> bool:
    """Whether ``actor`` may read some model's consultations: the queue is theirs to open (the console's header
    links it for them alone)."""
    return actor.is_system or _government_reader(actor) or _developer_reader(actor)


def _readable_models(actor: Actor) -> sa.ColumnElement[bool]:
    """:func:`reads` as a filter on ``frontier_models``."""
    if actor.is_system or _government_reader(actor):
        return sa.true()
    if _developer_reader(actor):
        return visibility.develops_sql(actor)
    return sa.false()


def request_refused(actor: Actor, model: FrontierModel) -> DomainError | None:
    """Why ``actor`` may not ask for a consultation of ``model`` now (None: they may): the developer's own admins,
    for a model not switched off, not assessed yet or designated not covered (a new checkpoint, say)."""
    if actor.kind != OrgKind.DEVELOPER or not actor.can(Permission.MODELS_UPDATE) or not visibility.develops(actor, model):
        return Forbidden("only the developer's admins request a consultation on their model")
    if model.killed_at is not None:
        return ModelSwitchedOff(f"access to {model.slug} is switched off: no consultation is requested for it")
    if model.designation == Designation.IN_CONSULTATION.value:
        return ConsultationOpen(f"{model.slug} is already in consultation: write in its open round instead")
    if model.designation == Designation.COVERED.value:
        return Conflict(f"{model.slug} is designated covered: only the government reopens its consultation "
                        "(after a new checkpoint, say)")  # fmt: skip
    return None


def _government_refused(actor: Actor, does: str, do: str) -> Forbidden | None:
    """:func:`designation_refused` in a consultation's words: the government's admins and approvers only."""
    if designation_refused(actor) is None:
        return None
    if actor.kind != OrgKind.GOVERNMENT:
        return Forbidden(f"only the government {does}")
    return Forbidden(f"only the government's admins and approvers {do}")


def open_refused(actor: Actor, model: FrontierModel) -> DomainError | None:
    """Why ``actor`` may not open (or reopen) a consultation of ``model`` now (None: they may): the government's
    admins and approvers, on a model not switched off and not already in consultation."""
    if (refused := _government_refused(actor, "opens a consultation (the developer's admins request one)",
                                       "open a consultation")) is not None:  # fmt: skip
        return refused
    if model.killed_at is not None:
        return ModelSwitchedOff(f"access to {model.slug} is switched off: no consultation is opened for it")
    if model.designation == Designation.IN_CONSULTATION.value:
        return ConsultationOpen(f"{model.slug} is already in consultation: its open round is decided first")
    return None


def message_refused(actor: Actor, model: FrontierModel, consultation: Consultation) -> DomainError | None:
    """Why ``actor`` (who reads the round) may not write in its thread (None: they may): those who may act for a
    side (not its auditors), while the round is open."""
    side = side_in(actor, model)
    if side == Side.GOVERNMENT and not actor.can(Permission.MODELS_DESIGNATE):
        return Forbidden("only the government's admins and approvers write in a consultation")
    if side == Side.DEVELOPER and not actor.can(Permission.NOMINATIONS_CREATE):
        return Forbidden("only the developer's admins, approvers and nominators write in a consultation")
    if side is None:
        return Forbidden("only people of the developer or the government write in a consultation")
    if consultation.state != ConsultationState.OPEN.value:
        return AlreadyDecided(f"round {consultation.round} of {model.slug}'s consultation is decided: its thread is "
                              "closed (the government reopens the consultation for a new assessment)")  # fmt: skip
    return None


def decision_refused(actor: Actor, model: FrontierModel, consultation: Consultation) -> DomainError | None:
    """Why ``actor`` may not decide the round (None: they may): the government's admins and approvers, once."""
    if (refused := _government_refused(actor, "decides a consultation", "decide a consultation")) is not None:
        return refused
    if consultation.state != ConsultationState.OPEN.value:
        return AlreadyDecided(f"round {consultation.round} of {model.slug}'s consultation was already decided "
                              f"({(consultation.outcome or '').replace('_', ' ')}); reopen it for a new assessment")  # fmt: skip
    return None


@dataclass(frozen=True, slots=True)
class ConsultationActions:
    """What one reader may do about a model's consultation now: what a surface offers, and nothing else."""

    request: bool  # the developer asks for one
    open: bool  # the government opens or reopens one
    message: bool  # write in the open round's thread
    decide: bool  # record the open round's outcome


@dataclass(frozen=True, slots=True)
class Round:
    """One round as its reader may know it: the thread oldest first, and how long it waited (open: until now;
    decided: until its decision)."""

    consultation: Consultation
    model: FrontierModel
    messages: list[ConsultationMessage]
    waited: timedelta
    may: ConsultationActions


@dataclass(frozen=True, slots=True)
class Waiting:
    """An open round in the queue: how long it has waited, and the model's planned release now."""

    consultation: Consultation
    model: FrontierModel
    waited: timedelta


def _text(field: str, value: object, *, most: int, what: str) -> str:
    """Text of one or more lines, stripped, 1 to ``most`` characters."""
    if not isinstance(value, str):
        raise Invalid(field, f"{what} is text")
    text = value.strip()
    if not text or len(text) > most:
        raise Invalid(field, f"{what} of 1 to {most} characters is required")
    if _CONTROL.search(text):
        raise Invalid(field, f"{what} holds a control character (such as NUL); remove it")
    return text


def _lines(field: str, values: object, *, most: int, longest: int, what: str) -> list[str]:
    """Up to ``most`` distinct one-line entries of at most ``longest`` characters each, blanks left out."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise Invalid(field, f"{what} are a list of text")
    found: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise Invalid(field, f"{what} are a list of text")
        text = value.strip()
        if len(text) > longest:
            raise Invalid(field, f"each of the {what} is at most {longest} characters")
        if _LINE_CONTROL.search(text):
            raise Invalid(field, f"each of the {what} is one line of text, without control characters")
        if text and text not in found:
            found.append(text)
    if len(found) > most:
        raise Invalid(field, f"at most {most} {what}")
    return found


def _given(note: object, contacts: object, capabilities: object) -> tuple[str, list[str], list[str]]:
    """A round's note, contacts and capabilities, checked."""
    return (_text("note", note, most=MAX_NOTE, what="a note"),
            _lines("contacts", contacts, most=MAX_CONTACTS, longest=MAX_CONTACT, what="contacts"),
            _lines("capabilities", capabilities, most=MAX_CAPABILITIES, longest=MAX_CAPABILITY, what="capabilities"))  # fmt: skip


def _reference(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("assessment_ref", "a decision needs the reference of the government's assessment")
    text = value.strip()
    if len(text) > MAX_REFERENCE:
        raise Invalid("assessment_ref", f"the assessment reference may be at most {MAX_REFERENCE} characters")
    if _LINE_CONTROL.search(text):
        raise Invalid("assessment_ref", "the assessment reference is one line of text, without control characters")
    return text


def _outcome(value: object) -> Designation:
    try:
        outcome = Designation(str(value))
    except ValueError:
        outcome = None
    if outcome not in OUTCOMES:
        raise Invalid("outcome", "a consultation's outcome is covered or not_covered")
    assert outcome is not None
    return outcome


class Consultations:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.models = FrontierModels(unit)

    # ---- who may do what ----------------------------------------------------------------------------------------

    @staticmethod
    def allowed(actor: Actor, model: FrontierModel, consultation: Consultation | None = None) -> ConsultationActions:
        """What ``actor`` (who reads ``model``'s consultations) may do now; ``consultation``: its open round, if any."""
        return ConsultationActions(
            request=request_refused(actor, model) is None, open=open_refused(actor, model) is None,
            message=consultation is not None and message_refused(actor, model, consultation) is None,
            decide=consultation is not None and decision_refused(actor, model, consultation) is None,
        )  # fmt: skip

    async def _model(self, actor: Actor, model_id: uuid.UUID, *, lock: bool = False) -> FrontierModel:
        found = await (self.unit.lock if lock else self.unit.session.get)(FrontierModel, model_id)
        if found is None or not reads(actor, found):
            raise NotFound(f"consultations of model {model_id} not found")
        return found

    async def _round(self, actor: Actor, consultation_id: uuid.UUID) -> tuple[Consultation, FrontierModel]:
        consultation = await self.unit.session.get(Consultation, consultation_id)
        model = await self.unit.session.get(FrontierModel, consultation.model_id) if consultation else None
        if consultation is None or model is None or not reads(actor, model):
            raise NotFound(f"consultation {consultation_id} not found")
        return consultation, model

    async def _open_round(self, model_id: uuid.UUID) -> Consultation | None:
        found = await self.unit.session.exec(select(Consultation).where(
            Consultation.model_id == model_id, Consultation.state == ConsultationState.OPEN.value))  # fmt: skip
        return found.first()

    # ---- the use cases -------------------------------------------------------------------------------------------

    async def request(
        self, *, actor: Actor, model_id: uuid.UUID, note: str, contacts: Sequence[str] = (),
        capabilities: Sequence[str] = (),
    ) -> Consultation:  # fmt: skip
        """The developer asks the government whether its model is a covered frontier model: a new round, the model
        ``in_consultation``. ``contacts``: who the government may talk to; ``capabilities``: what the developer
        would have it assess. The round keeps the model's planned release as it is now."""
        return await self._new_round(actor, model_id, Side.DEVELOPER, note, contacts, capabilities)

    async def open(
        self, *, actor: Actor, model_id: uuid.UUID, note: str, contacts: Sequence[str] = (),
        capabilities: Sequence[str] = (),
    ) -> Consultation:  # fmt: skip
        """The government opens a consultation itself, or reopens a decided one (a new checkpoint of the model,
        say): a new round, the model ``in_consultation`` (a covered model's partners lose access until it is
        designated covered again: rule 4)."""
        return await self._new_round(actor, model_id, Side.GOVERNMENT, note, contacts, capabilities)

    async def _new_round(
        self, actor: Actor, model_id: uuid.UUID, side: Side, note: object, contacts: object, capabilities: object
    ) -> Consultation:
        """:meth:`request` (``side`` developer) or :meth:`open` (government): refused for who asks (403) before the
        input is read (422), and for the model's state (409) after."""
        model = await self._model(actor, model_id, lock=True)
        refused = (request_refused if side == Side.DEVELOPER else open_refused)(actor, model)
        if isinstance(refused, Forbidden):
            raise refused
        text, listed, asked = _given(note, contacts, capabilities)
        if refused is not None:
            raise refused
        consultation = await self._begin(actor, model, side=side, note=text, contacts=listed, capabilities=asked)
        await self.unit.commit()
        return consultation

    async def message(self, *, actor: Actor, consultation_id: uuid.UUID, body: str) -> ConsultationMessage:
        """A message in an open round's thread, by either side. Its words are kept in the thread alone."""
        consultation, model = await self._round(actor, consultation_id)
        if isinstance(refused := message_refused(actor, model, consultation), Forbidden):
            raise refused
        body = _text("body", body, most=MAX_BODY, what="a message")
        consultation = await self.unit.lock(Consultation, consultation.id)
        if (refused := message_refused(actor, model, consultation)) is not None:
            raise refused
        side = side_in(actor, model)
        assert side is not None
        now = self.unit.now()
        message = ConsultationMessage(consultation_id=consultation.id, author_id=actor.person_id,
                                      author_side=side.value, body=body, created_at=now)  # fmt: skip
        consultation.updated_at = now
        self.unit.session.add_all([message, consultation])
        self.unit.record(actor=actor, action="consultation.message_added", subject=consultation,
                         after={"message_id": message.id, "side": side.value, "length": len(body)})  # fmt: skip
        self.unit.notify(topic="consultation.message", recipient=approvers(model.id),
                         payload={"consultation_id": consultation.id, "model_id": model.id, "round": consultation.round,
                                  "side": side.value, "message_id": message.id, "by": actor.user_id},
                         dedupe_key=f"consultation.message:{message.id}")  # fmt: skip
        await self.unit.commit()
        return message

    async def decide(
        self, *, actor: Actor, consultation_id: uuid.UUID, outcome: Designation | str, assessment_ref: str
    ) -> Consultation:
        """The government's outcome of an open round, ``covered`` or ``not_covered``, with the opaque reference of
        its assessment (the assessment itself may be classified: only its reference is kept). The model is
        designated so, and its grants follow (rule 4). A round already decided is a conflict, not a second
        outcome: the model and then the round are locked first."""
        consultation, model = await self._round(actor, consultation_id)
        if isinstance(refused := decision_refused(actor, model, consultation), Forbidden):
            raise refused
        chosen, reference = _outcome(outcome), _reference(assessment_ref)
        model = await self.unit.lock(FrontierModel, model.id)
        consultation = await self.unit.lock(Consultation, consultation.id)
        if (refused := decision_refused(actor, model, consultation)) is not None:
            raise refused
        await self._decide(actor, model, consultation, chosen, reference)
        await self.unit.commit()
        return consultation

    async def designate(
        self, *, actor: Actor, model_id: uuid.UUID, designation: Designation | str, reference: str | None = None
    ) -> FrontierModel:
        """The one-step designation (:meth:`FrontierModels.designate`), as consultation steps: ``in_consultation``
        opens a round on the government's side (with :data:`DEFAULT_NOTE`), ``covered`` / ``not_covered`` decides
        the open one with ``reference``. Audited as the consultation's steps are; its notice stays the one it always
        gave (``model.designated``, to the approvers, when it blocks grants), not the consultation's."""
        if (refused := designation_refused(actor)) is not None:
            raise refused
        try:
            designation = Designation(designation)
        except ValueError:
            raise Invalid("designation", f"a designation is one of {', '.join(d.value for d in Designation)}") from None
        reference = (reference or "").strip() or None
        if reference is not None and len(reference) > MAX_REFERENCE:
            raise Invalid("reference", f"the designation reference may be at most {MAX_REFERENCE} characters")
        if designation in OUTCOMES and reference is None:
            raise Invalid("reference", "a designation outcome needs the reference of its assessment")
        model = await self.unit.lock(FrontierModel, model_id, what="model")
        visibility.require(await visibility.sees_model(self.unit.session, actor, model), "model", model_id)
        current = Designation(model.designation)
        if designation not in DESIGNATION_MOVES[current]:
            raise Conflict(f"designation cannot go from {current.value} to {designation.value}")
        if designation == Designation.IN_CONSULTATION:
            if (opening := open_refused(actor, model)) is not None:
                raise opening
            await self._begin(actor, model, side=Side.GOVERNMENT, note=DEFAULT_NOTE, reference=reference, announce=False)
        else:
            consultation = await self._open_round(model.id)
            if consultation is None:  # migration 0022 opened one for every model in consultation
                raise Conflict(f"{model.slug} is in consultation without an open round; open one to decide it")
            consultation = await self.unit.lock(Consultation, consultation.id)
            assert reference is not None
            await self._decide(actor, model, consultation, designation, reference, announce=False)
        await self.unit.commit()
        return model

    async def _begin(
        self, actor: Actor, model: FrontierModel, *, side: Side, note: str, contacts: list[str] | None = None,
        capabilities: list[str] | None = None, reference: str | None = None, announce: bool = True,
    ) -> Consultation:  # fmt: skip
        """A new round of ``model`` (locked, checked), after its last one; the model ``in_consultation``;
        ``announce``: in the model's channels."""
        last = (await self.unit.session.exec(select(Consultation).where(Consultation.model_id == model.id)
                                             .order_by(col(Consultation.round).desc()).limit(1))).first()  # fmt: skip
        now = self.unit.now()
        consultation = Consultation(
            model_id=model.id, round=last.round + 1 if last else 1, reopens_id=last.id if last else None,
            state=ConsultationState.OPEN.value, requested_by=actor.user_id, requested_side=side.value, note=note,
            contacts=contacts or [], capabilities=capabilities or [], planned_release_at=model.planned_release_at,
            created_at=now, updated_at=now,
        )  # fmt: skip
        self.unit.session.add(consultation)
        if side == Side.DEVELOPER:
            action = "consultation.requested"
        else:
            action = "consultation.reopened" if last is not None else "consultation.opened"
        # The note, contacts and capabilities stay in the round (need-to-know); the trail says how much was given.
        self.unit.record(actor=actor, action=action, subject=consultation,
                         after={"model_id": model.id, "round": consultation.round, "side": side.value,
                                "reopens_id": consultation.reopens_id, "note_length": len(note),
                                "contacts": len(consultation.contacts), "capabilities": len(consultation.capabilities),
                                "planned_release_at": model.planned_release_at})  # fmt: skip
        await self.unit.session.flush()
        await self.models.apply_designation(actor=actor, model=model, designation=Designation.IN_CONSULTATION,
                                            reference=reference)  # fmt: skip
        if announce:
            self.unit.notify(topic=action, recipient=approvers(model.id),
                             payload={"consultation_id": consultation.id, "model_id": model.id,
                                      "round": consultation.round, "side": side.value, "by": actor.user_id},
                             dedupe_key=f"{action}:{consultation.id}")  # fmt: skip
        return consultation

    async def _decide(
        self, actor: Actor, model: FrontierModel, consultation: Consultation, outcome: Designation, reference: str,
        *, announce: bool = True,
    ) -> None:  # fmt: skip
        now = self.unit.now()
        consultation.state, consultation.outcome = ConsultationState.DECIDED.value, outcome.value
        consultation.assessment_ref, consultation.decided_by = reference, actor.user_id
        consultation.decided_at = consultation.updated_at = now
        self.unit.session.add(consultation)
        waited = now - consultation.created_at
        self.unit.record(actor=actor, action="consultation.decided", subject=consultation,
                         before={"state": ConsultationState.OPEN.value},
                         after={"state": consultation.state, "outcome": outcome.value, "assessment_ref": reference,
                                "round": consultation.round, "waited_seconds": int(waited.total_seconds())})  # fmt: skip
        await self.unit.session.flush()
        await self.models.apply_designation(actor=actor, model=model, designation=outcome, reference=reference)
        if announce:
            self.unit.notify(topic="consultation.decided", recipient=approvers(model.id),
                             payload={"consultation_id": consultation.id, "model_id": model.id,
                                      "round": consultation.round, "outcome": outcome.value, "by": actor.user_id,
                                      "waited_seconds": int(waited.total_seconds())},
                             dedupe_key=f"consultation.decided:{consultation.id}")  # fmt: skip

    # ---- the read model ------------------------------------------------------------------------------------------

    async def round(self, actor: Actor, consultation_id: uuid.UUID) -> Round:
        """One round with its thread, if ``actor`` may read it."""
        consultation, model = await self._round(actor, consultation_id)
        return (await self._rounds(actor, model, [consultation]))[0]

    async def rounds(self, actor: Actor, model_id: uuid.UUID) -> tuple[FrontierModel, list[Round]]:
        """A model's rounds, newest first, each with its thread."""
        model = await self._model(actor, model_id)
        found = await self.unit.session.exec(select(Consultation).where(Consultation.model_id == model.id)
                                             .order_by(col(Consultation.round).desc()))  # fmt: skip
        return model, await self._rounds(actor, model, list(found.all()))

    async def _rounds(self, actor: Actor, model: FrontierModel, consultations: list[Consultation]) -> list[Round]:
        if not consultations:
            return []
        found = await self.unit.session.exec(
            select(ConsultationMessage).where(col(ConsultationMessage.consultation_id).in_([c.id for c in consultations]))
            .order_by(col(ConsultationMessage.created_at), col(ConsultationMessage.id)))  # fmt: skip
        threads: dict[uuid.UUID, list[ConsultationMessage]] = {}
        for message in found.all():
            threads.setdefault(message.consultation_id, []).append(message)
        now = self.unit.now()
        return [Round(consultation=c, model=model, messages=threads.get(c.id, []),
                      waited=(c.decided_at or now) - c.created_at,
                      may=self.allowed(actor, model, c if c.state == ConsultationState.OPEN.value else None))
                for c in consultations]  # fmt: skip

    async def queue(self, actor: Actor, *, cursor: str | None = None, limit: int = 50) -> Page[Waiting]:
        """The open rounds ``actor`` may read, the longest waiting first: the government's queue (a developer's
        staff see their own models'). Paged by (opened at, id), as every list is, but oldest first."""
        stmt = (select(Consultation, FrontierModel).join(FrontierModel, col(FrontierModel.id) == Consultation.model_id)
                .where(Consultation.state == ConsultationState.OPEN.value, _readable_models(actor)))  # fmt: skip
        if cursor:
            at, id_ = decode_cursor(cursor)
            stmt = stmt.where(sa.or_(col(Consultation.created_at) > at,
                                     sa.and_(col(Consultation.created_at) == at, col(Consultation.id) > id_)))  # fmt: skip
        stmt = stmt.order_by(col(Consultation.created_at), col(Consultation.id)).limit(check_limit(limit) + 1)
        rows = list((await self.unit.session.exec(stmt)).all())
        more, rows = len(rows) > limit, rows[:limit]
        now = self.unit.now()
        return Page(items=[Waiting(consultation=c, model=m, waited=now - c.created_at) for c, m in rows],
                    next_cursor=encode_cursor(rows[-1][0].created_at, rows[-1][0].id) if more and rows else None)  # fmt: skip

    async def history(self, actor: Actor, model_id: uuid.UUID) -> list[AuditEvent]:
        """The model's designation story, oldest first: every step of its consultations and every designation the
        steps recorded (the first :data:`HISTORY_LIMIT`; the audit trail has the rest)."""
        model = await self._model(actor, model_id)
        ids = [str(i) for i in (await self.unit.session.exec(select(Consultation.id).where(
            Consultation.model_id == model.id))).all()]  # fmt: skip
        stmt = select(AuditEvent).where(sa.or_(
            sa.and_(col(AuditEvent.subject_type) == "consultations", col(AuditEvent.subject_id).in_(ids)),
            sa.and_(col(AuditEvent.subject_type) == "frontier_models", col(AuditEvent.subject_id) == str(model.id),
                    col(AuditEvent.action) == "model.designated"),
        )).order_by(col(AuditEvent.seq)).limit(HISTORY_LIMIT)  # fmt: skip
        return list((await self.unit.session.exec(stmt)).all())

    async def open_round_of(self, actor: Actor, model_id: uuid.UUID) -> Consultation | None:
        """The model's open round, if ``actor`` may read its consultations and it has one."""
        model = await self._model(actor, model_id)
        return await self._open_round(model.id)


def waited_words(waited: timedelta) -> str:
    """How long a round has waited, in words: "3 days", "5 hours", "less than an hour"."""
    days, hours = waited.days, waited.seconds // 3600
    if days >= 1:
        return f"{days} day{'' if days == 1 else 's'}"
    if hours >= 1:
        return f"{hours} hour{'' if hours == 1 else 's'}"
    return "less than an hour"

