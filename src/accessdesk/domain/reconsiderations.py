"""Reconsideration: a partner asks that a refusal be looked at again, and the side that nominated it answers.

A partner's admin or member asks (:meth:`Reconsiderations.ask`), with a note, about a nomination of its own
organisation that was rejected, or that lapsed or expired undecided. One request is open per nomination at a time (a
partial unique index holds it under races too); a request once taken up is not asked again (the new round is where
the case goes on), one declined may be.

The side that nominated (the nominator's organisation: the developer or the government) sees the open requests
about its nominations (:meth:`Reconsiderations.listing`) and answers each, once, by a person who may nominate:

- :meth:`Reconsiderations.take_up` opens a new nomination round (:meth:`CoSelection.nominate`, every rule of a
  nomination applying) for the same model, organisation, actions and justification, linked both ways
  (``Reconsideration.new_nomination_id``, ``Nomination.reconsiders_id``). Its window is the one the taker gives;
  by default (:func:`default_window`) as long as the refused one's, starting at the later of the refused one's start
  and a day from now (a day for both sides to decide, and never earlier than was asked for the first time);
- :meth:`Reconsiderations.decline` closes the request with a response, which the partner reads.

Need-to-know: a request is its partner's and the business of the staff who may see its nomination; anyone else is
told it does not exist (404). Every step is audited and told to the partner who asked and to the nominator.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from accessdesk.db.tables import Decision, FrontierModel, Nomination, Organisation, Reconsideration, User
from accessdesk.domain import instants, visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import snapshot
from accessdesk.domain.coselection import CoSelection, effective_state
from accessdesk.domain.errors import (
    AlreadyDecided,
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    ModelSwitchedOff,
    NotFound,
)
from accessdesk.domain.nominees import takes_nominations
from accessdesk.domain.notices import contacts
from accessdesk.domain.pagination import Page, keyset, page_of
from accessdesk.domain.permissions import Permission
from accessdesk.domain.reasons import reason_for
from accessdesk.domain.unit import Nested, Unit
from accessdesk.domain.vocabulary import NominationKind, NominationState, OrgKind, Role

NOTE_LIMIT = 2000
RESPONSE_LIMIT = 2000
# A round taken up starts no sooner than this from now, by default: time for both sides to decide on it.
LEAD = timedelta(days=1)
# Which refusals a partner may ask about: a rejection, and a nomination nobody decided in time.
ASKABLE = frozenset({NominationState.REJECTED, NominationState.LAPSED})
# Who of a partner asks: its admins and members (not its auditors, who only read).
ASKING_ROLES = frozenset({Role.ADMIN, Role.MEMBER})
# Text of several lines: no control character but tab, new line and carriage return (PostgreSQL stores no NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ReconsiderationState(StrEnum):
    OPEN = "open"
    TAKEN_UP = "taken_up"
    DECLINED = "declined"


class ReconsiderationOpen(Conflict):
    """The nomination already has an open request: one at a time."""

    code = "reconsideration_open"


@dataclass(frozen=True, slots=True)
class Answers:
    """What one reader may do about one request now: what a surface offers, and nothing else."""

    take_up: bool
    decline: bool


@dataclass(frozen=True, slots=True)
class ReconsiderationRow:
    """A request as its reader may know it: the refused nomination, the names it mentions, why the nomination was
    refused (as the reader may read it: :func:`reasons.reason_for`), and what the reader may do."""

    reconsideration: Reconsideration
    nomination: Nomination
    model_name: str
    organisation_name: str
    requested_by: str
    refusal_reason: str | None
    may: Answers

    @property
    def state(self) -> ReconsiderationState:
        return ReconsiderationState(self.reconsideration.state)


def _text(field: str, value: str | None, *, most: int, what: str, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise Invalid(field, f"{what} is required")
        return None
    if len(text) > most:
        raise Invalid(field, f"{what} may be at most {most} characters")
    if _CONTROL.search(text):
        raise Invalid(field, f"{what} holds a control character (such as NUL); remove it")
    return text


def reads(actor: Actor, nomination: Nomination, model: FrontierModel) -> bool:
    """Whether ``actor`` may read the requests about ``nomination`` (of ``model``): its partner, and the staff who
    may see it."""
    if actor.kind == OrgKind.PARTNER:
        return nomination.organisation_id == actor.organisation_id
    return visibility.can_see_case(actor, model, nomination.organisation_id)


def asking_refused(actor: Actor, nomination: Nomination, *, at: datetime) -> DomainError | None:
    """Why ``actor`` (who may see ``nomination``) may not ask for it to be reconsidered at ``at`` (None: they may;
    whether a request is already open is :meth:`Reconsiderations.ask`'s to say)."""
    if actor.kind != OrgKind.PARTNER or nomination.organisation_id != actor.organisation_id:
        return Forbidden("only the nominated partner asks for a reconsideration; the side that nominated can "
                         "nominate again")  # fmt: skip
    if not actor.roles & ASKING_ROLES:
        return Forbidden("only your organisation's admins and members ask for a reconsideration")
    if nomination.kind != NominationKind.GRANT.value:
        return Conflict("an extension is not reconsidered: the side that nominated asks for a new extension")
    state = effective_state(nomination, at)
    if state not in ASKABLE:
        return Conflict(f"this nomination is {state.value}: only a rejected or lapsed nomination is reconsidered")
    return None


def answer_refused(
    actor: Actor, reconsideration: Reconsideration, *, nominator_organisation_id: uuid.UUID | None
) -> DomainError | None:
    """Why ``actor`` (who may read the request) may not take it up or decline it (None: they may): people of the
    side that nominated who may nominate, while it is open."""
    if actor.kind == OrgKind.PARTNER:
        return Forbidden("the side that nominated answers a request for reconsideration, not the partner")
    if actor.is_system or actor.organisation_id != nominator_organisation_id:
        return Forbidden("only the side that nominated (the nominator's organisation) answers this request")
    if not actor.can(Permission.NOMINATIONS_CREATE):
        return Forbidden("only nominators, approvers and admins answer a request for reconsideration")
    if reconsideration.state != ReconsiderationState.OPEN.value:
        said = ReconsiderationState(reconsideration.state).value.replace("_", " ")
        return AlreadyDecided(f"this request was already answered: {said}")
    return None


def default_window(nomination: Nomination, now: datetime) -> tuple[datetime, datetime]:
    """The window a round taken up proposes unless told otherwise: as long as ``nomination``'s, starting at the
    later of its start and :data:`LEAD` from ``now``."""
    starts_at = max(nomination.starts_at, now + LEAD)
    return starts_at, starts_at + (nomination.ends_at - nomination.starts_at)


class Reconsiderations:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def _case(self, actor: Actor, nomination_id: uuid.UUID) -> tuple[Nomination, FrontierModel]:
        """A nomination whose requests ``actor`` may read, and its model; NotFound otherwise."""
        nomination = await self.unit.get(Nomination, nomination_id, what="nomination")
        model = await self.unit.get(FrontierModel, nomination.model_id)
        visibility.require(reads(actor, nomination, model), "nomination", nomination_id)
        return nomination, model

    async def _nominator_organisation(self, nomination: Nomination) -> uuid.UUID | None:
        nominator = await self.unit.session.get(User, nomination.nominated_by)
        return nominator.organisation_id if nominator is not None else None

    async def ask(self, *, actor: Actor, nomination_id: uuid.UUID, note: str) -> Reconsideration:
        """The nominated partner asks that a rejected (or lapsed) nomination of theirs be reconsidered."""
        seen, model = await self._case(actor, nomination_id)
        if (refused := asking_refused(actor, seen, at=self.unit.now())) is not None:
            raise refused
        text = _text("note", note, most=NOTE_LIMIT, what="a note saying why", required=True)
        if not takes_nominations(model):
            raise ModelSwitchedOff(f"access to {model.name} is switched off: nothing is reconsidered for it")
        nomination = await self.unit.lock(Nomination, nomination_id)  # one request at a time per nomination
        earlier = (await self.unit.session.exec(
            select(Reconsideration).where(Reconsideration.nomination_id == nomination.id)
            .order_by(col(Reconsideration.created_at).desc())
        )).all()  # fmt: skip
        if any(r.state == ReconsiderationState.OPEN.value for r in earlier):
            raise ReconsiderationOpen("your organisation has already asked for this nomination to be reconsidered; "
                                      "the side that nominated has not answered yet")  # fmt: skip
        if any(r.state == ReconsiderationState.TAKEN_UP.value for r in earlier):
            raise Conflict("this nomination was already reconsidered: its new round is where the case goes on")
        reconsideration = Reconsideration(
            nomination_id=nomination.id, model_id=nomination.model_id, organisation_id=nomination.organisation_id,
            note=text or "", requested_by=actor.person_id, state=ReconsiderationState.OPEN.value,
            created_at=self.unit.now(),
        )  # fmt: skip
        try:
            async with self.unit.session.begin_nested():
                self.unit.session.add(reconsideration)
        except IntegrityError:  # asked at the same moment by someone else of the organisation
            raise ReconsiderationOpen("your organisation has already asked for this nomination to be "
                                      "reconsidered") from None  # fmt: skip
        self.unit.record(actor=actor, action="reconsideration.requested", subject=reconsideration,
                         after=snapshot(reconsideration))  # fmt: skip
        for recipient in await self._nominator_side(nomination):
            self._tell(reconsideration, "reconsideration.requested", recipient)
        await self.unit.commit()
        return reconsideration

    async def take_up(
        self, *, actor: Actor, reconsideration_id: uuid.UUID, starts_at: datetime | None = None,
        ends_at: datetime | None = None, response: str | None = None,
    ) -> tuple[Reconsideration, Nomination]:  # fmt: skip
        """Open a new nomination round for the request (see the module's docstring for its window); returns the
        request and the new nomination."""
        seen, original, nominator_organisation_id = await self._answerable(actor, reconsideration_id)
        text = _text("response", response, most=RESPONSE_LIMIT, what="a response", required=False)
        start = instants.utc("starts_at", starts_at) if starts_at is not None else None
        end = instants.utc("ends_at", ends_at) if ends_at is not None else None
        reconsideration = await self._locked(actor, seen.id, nominator_organisation_id)
        now = self.unit.now()
        default_start, default_end = default_window(original, now)
        start = start or default_start
        end = end or start + (default_end - default_start)
        inside = Nested(self.unit)
        try:
            nomination = await CoSelection(inside).nominate(
                actor=actor, model_id=original.model_id, organisation_id=original.organisation_id, starts_at=start,
                ends_at=end, actions=list(original.actions), justification=original.justification,
                reconsiders_id=original.id,
            )  # fmt: skip
        except DomainError:
            await self.unit.rollback()
            raise
        inside.hand_over(self.unit)
        self._answer(actor, reconsideration, ReconsiderationState.TAKEN_UP, text, now=now)
        reconsideration.new_nomination_id = nomination.id
        self.unit.record(actor=actor, action="reconsideration.taken_up", subject=reconsideration,
                         before={"state": "open"}, after={"state": reconsideration.state,
                                                          "new_nomination_id": nomination.id}, reason=text)  # fmt: skip
        await self._tell_both(actor, reconsideration, original)
        await self.unit.commit()
        return reconsideration, nomination

    async def decline(self, *, actor: Actor, reconsideration_id: uuid.UUID, response: str) -> Reconsideration:
        """Close the request without a new round, saying why to the partner (``response``, required)."""
        seen, original, nominator_organisation_id = await self._answerable(actor, reconsideration_id)
        text = _text("response", response, most=RESPONSE_LIMIT, what="a response to the partner", required=True)
        reconsideration = await self._locked(actor, seen.id, nominator_organisation_id)
        self._answer(actor, reconsideration, ReconsiderationState.DECLINED, text, now=self.unit.now())
        self.unit.record(actor=actor, action="reconsideration.declined", subject=reconsideration,
                         before={"state": "open"}, after={"state": reconsideration.state}, reason=text)  # fmt: skip
        await self._tell_both(actor, reconsideration, original)
        await self.unit.commit()
        return reconsideration

    async def _answerable(
        self, actor: Actor, reconsideration_id: uuid.UUID
    ) -> tuple[Reconsideration, Nomination, uuid.UUID | None]:
        """The request, its nomination and the nominator's organisation, when ``actor`` may answer it: NotFound
        for who may not read it, the refusal (before any lock) for who may read it but not answer."""
        seen = await self.unit.get(Reconsideration, reconsideration_id, what="reconsideration")
        original, _ = await self._case_of(actor, seen)
        nominator_organisation_id = await self._nominator_organisation(original)
        if (refused := answer_refused(actor, seen, nominator_organisation_id=nominator_organisation_id)) is not None:
            raise refused
        return seen, original, nominator_organisation_id

    async def _case_of(self, actor: Actor, reconsideration: Reconsideration) -> tuple[Nomination, FrontierModel]:
        """A request's nomination and model, if ``actor`` may read the request: NotFound, naming the request,
        otherwise."""
        try:
            return await self._case(actor, reconsideration.nomination_id)
        except NotFound:
            raise NotFound(f"reconsideration {reconsideration.id} not found") from None

    async def _locked(
        self, actor: Actor, reconsideration_id: uuid.UUID, nominator_organisation_id: uuid.UUID | None
    ) -> Reconsideration:
        """The request, held for the rest of the transaction and asked again (it may have been answered since)."""
        reconsideration = await self.unit.lock(Reconsideration, reconsideration_id, what="reconsideration")
        refused = answer_refused(actor, reconsideration, nominator_organisation_id=nominator_organisation_id)
        if refused is not None:
            raise refused
        return reconsideration

    def _answer(self, actor: Actor, reconsideration: Reconsideration, state: ReconsiderationState,
                response: str | None, *, now: datetime) -> None:  # fmt: skip
        reconsideration.state, reconsideration.response = state.value, response
        reconsideration.decided_by, reconsideration.decided_at = actor.person_id, now
        self.unit.session.add(reconsideration)

    async def _nominator_side(self, nomination: Nomination) -> list[str]:
        """Whom the nominator's side is told through: the nominator, or, were they disabled, their organisation's
        contacts."""
        nominator = await self.unit.session.get(User, nomination.nominated_by)
        if nominator is None:
            return []
        if nominator.disabled_at is None:
            return [f"user:{nominator.id}"]
        return (await contacts(self.unit, [nominator.organisation_id])).get(nominator.organisation_id, [])

    async def _tell_both(self, actor: Actor, reconsideration: Reconsideration, nomination: Nomination) -> None:
        """Tell the partner who asked (or, were they disabled, its contacts) and the nominator's side (but the
        person answering) how the request was answered."""
        topic = f"reconsideration.{reconsideration.state}"
        asker = await self.unit.session.get(User, reconsideration.requested_by)
        partner = ([f"user:{asker.id}"] if asker is not None and asker.disabled_at is None
                   else (await contacts(self.unit, [reconsideration.organisation_id])).get(
                       reconsideration.organisation_id, []))  # fmt: skip
        nominators = [r for r in await self._nominator_side(nomination) if r != f"user:{actor.user_id}"]
        for recipient in dict.fromkeys([*partner, *nominators]):
            self._tell(reconsideration, topic, recipient)

    def _tell(self, reconsideration: Reconsideration, topic: str, recipient: str) -> None:
        self.unit.notify(
            topic=topic, recipient=recipient,
            payload={"reconsideration_id": reconsideration.id, "nomination_id": reconsideration.nomination_id,
                     "model_id": reconsideration.model_id, "organisation_id": reconsideration.organisation_id,
                     "state": reconsideration.state, "new_nomination_id": reconsideration.new_nomination_id},
            dedupe_key=f"{topic}:{reconsideration.id}:{recipient}",
        )  # fmt: skip

    # ---- reading ----------------------------------------------------------------------------------------------

    def _readable(self, actor: Actor) -> sa.ColumnElement[bool]:
        """The requests a list shows ``actor``: a partner's own organisation's; staff, those about their own
        organisation's nominations (the queue of the side that answers them)."""
        if actor.is_system:
            return sa.true()
        if actor.kind == OrgKind.PARTNER:
            return col(Reconsideration.organisation_id) == actor.organisation_id
        ours = (select(Nomination.id).join(User, col(User.id) == Nomination.nominated_by)
                .where(User.organisation_id == actor.organisation_id))  # fmt: skip
        return sa.and_(col(Reconsideration.nomination_id).in_(ours),
                       col(Reconsideration.nomination_id).in_(select(Nomination.id).where(
                           visibility.cases_filter(actor, Nomination))))  # fmt: skip

    async def listing(
        self, actor: Actor, *, state: ReconsiderationState | None = None, nomination_id: uuid.UUID | None = None,
        cursor: str | None = None, limit: int = 50,
    ) -> Page[ReconsiderationRow]:  # fmt: skip
        """The requests ``actor`` follows (a partner: its own; staff: those about their organisation's
        nominations), in ``state``, about ``nomination_id``, newest first."""
        stmt = select(Reconsideration).where(self._readable(actor))
        if state is not None:
            stmt = stmt.where(Reconsideration.state == ReconsiderationState(state).value)
        if nomination_id is not None:
            stmt = stmt.where(Reconsideration.nomination_id == nomination_id)
        found = page_of(list((await self.unit.session.exec(keyset(stmt, Reconsideration, cursor, limit))).all()), limit)
        return Page(items=await self._rows(actor, found.items), next_cursor=found.next_cursor)

    async def of_nomination(self, actor: Actor, nomination_id: uuid.UUID) -> list[ReconsiderationRow]:
        """Every request about one nomination ``actor`` may see, newest first (a nomination's page)."""
        await self._case(actor, nomination_id)
        rows = (await self.unit.session.exec(
            select(Reconsideration).where(Reconsideration.nomination_id == nomination_id)
            .order_by(col(Reconsideration.created_at).desc(), col(Reconsideration.id).desc())
        )).all()  # fmt: skip
        return await self._rows(actor, list(rows))

    async def one(self, actor: Actor, reconsideration_id: uuid.UUID) -> ReconsiderationRow:
        """One request ``actor`` may read (NotFound otherwise)."""
        reconsideration = await self.unit.get(Reconsideration, reconsideration_id, what="reconsideration")
        await self._case_of(actor, reconsideration)
        return (await self._rows(actor, [reconsideration]))[0]

    async def asking(self, actor: Actor, nomination: Nomination) -> bool:
        """Whether ``actor`` may ask now for ``nomination`` (one they may see) to be reconsidered: what a surface
        offers (the refusals are :meth:`ask`'s)."""
        if asking_refused(actor, nomination, at=self.unit.now()) is not None:
            return False
        model = await self.unit.get(FrontierModel, nomination.model_id)
        states = set((await self.unit.session.exec(
            select(Reconsideration.state).where(Reconsideration.nomination_id == nomination.id))).all())  # fmt: skip
        return takes_nominations(model) and not states & {ReconsiderationState.OPEN.value,
                                                          ReconsiderationState.TAKEN_UP.value}  # fmt: skip

    async def _rows(self, actor: Actor, found: list[Reconsideration]) -> list[ReconsiderationRow]:
        if not found:
            return []
        nomination_ids = {r.nomination_id for r in found}
        nominations = {n.id: n for n in (await self.unit.session.exec(
            select(Nomination).where(col(Nomination.id).in_(nomination_ids)))).all()}  # fmt: skip
        decisions: dict[uuid.UUID, list[Decision]] = {}
        for decision in (await self.unit.session.exec(
                select(Decision).where(col(Decision.nomination_id).in_(nomination_ids)))).all():  # fmt: skip
            decisions.setdefault(decision.nomination_id, []).append(decision)
        people_ids = {r.requested_by for r in found} | {n.nominated_by for n in nominations.values()}
        people = {u.id: u for u in (await self.unit.session.exec(
            select(User).where(col(User.id).in_(people_ids)))).all()}  # fmt: skip
        names = dict((await self.unit.session.exec(
            select(FrontierModel.id, FrontierModel.name).where(col(FrontierModel.id).in_({r.model_id for r in found}))
        )).all())  # fmt: skip
        names.update(dict((await self.unit.session.exec(
            select(Organisation.id, Organisation.name)
            .where(col(Organisation.id).in_({r.organisation_id for r in found})))).all()))  # fmt: skip
        rows = []
        for r in found:
            nomination = nominations[r.nomination_id]
            nominator = people.get(nomination.nominated_by)
            asker = people.get(r.requested_by)
            answerable = answer_refused(actor, r, nominator_organisation_id=nominator.organisation_id
                                        if nominator else None) is None  # fmt: skip
            rows.append(ReconsiderationRow(
                reconsideration=r, nomination=nomination, model_name=names.get(r.model_id, ""),
                organisation_name=names.get(r.organisation_id, ""),
                requested_by=f"{asker.name} ({asker.email})" if asker else "",
                refusal_reason=reason_for(actor, nomination, decisions.get(nomination.id, [])),
                may=Answers(take_up=answerable, decline=answerable),
            ))  # fmt: skip
        return rows

