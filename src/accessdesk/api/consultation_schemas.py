"""Request and response bodies of the JSON API's designation consultations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from accessdesk.api.schemas import NO_NUL, ONE_LINE
from accessdesk.db.tables import ConsultationMessage, FrontierModel
from accessdesk.domain.consultations import (
    MAX_BODY,
    MAX_CAPABILITIES,
    MAX_CAPABILITY,
    MAX_CONTACT,
    MAX_CONTACTS,
    MAX_NOTE,
    MAX_REFERENCE,
    Round,
    Waiting,
)

Note = Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=MAX_NOTE)]
Contact = Annotated[str, Meta(pattern=ONE_LINE, max_length=MAX_CONTACT, description="a name, e-mail or phone")]
Capability = Annotated[str, Meta(pattern=ONE_LINE, max_length=MAX_CAPABILITY, description="e.g. cyber offence")]


class ConsultationIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """The developer's request (its admins), or the government's opening or reopening (its admins and approvers)."""

    note: Note
    contacts: Annotated[list[Contact], Meta(max_length=MAX_CONTACTS)] = []
    capabilities: Annotated[list[Capability], Meta(max_length=MAX_CAPABILITIES)] = []


class MessageIn(Struct, kw_only=True, forbid_unknown_fields=True):
    body: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=MAX_BODY)]


class ConsultationDecisionIn(Struct, kw_only=True, forbid_unknown_fields=True):
    outcome: Literal["covered", "not_covered"]
    assessment_ref: Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=MAX_REFERENCE,
                                        description="the opaque reference of the government's assessment")]  # fmt: skip


class ModelRef(Struct, kw_only=True):
    id: uuid.UUID
    slug: str
    name: str
    planned_release_at: datetime  # now (the round keeps the one it was opened with)

    @classmethod
    def of(cls, model: FrontierModel) -> ModelRef:
        return cls(id=model.id, slug=model.slug, name=model.name, planned_release_at=model.planned_release_at)


class MessageOut(Struct, kw_only=True):
    id: uuid.UUID
    author_id: uuid.UUID
    side: str
    body: str
    created_at: datetime

    @classmethod
    def of(cls, message: ConsultationMessage) -> MessageOut:
        return cls(id=message.id, author_id=message.author_id, side=message.author_side, body=message.body,
                   created_at=message.created_at)  # fmt: skip


class MayOut(Struct, kw_only=True):
    """What the caller may do about this round now."""

    message: bool
    decide: bool


class ConsultationOut(Struct, kw_only=True):
    id: uuid.UUID
    model: ModelRef
    round: int
    reopens_id: uuid.UUID | None
    state: str
    requested_side: str
    requested_by: uuid.UUID | None
    note: str
    contacts: list[str]
    capabilities: list[str]
    planned_release_at: datetime  # the model's planned release when the round was opened
    outcome: str | None
    assessment_ref: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    waited_seconds: int  # open: until now; decided: until the decision
    messages: list[MessageOut]
    may: MayOut

    @classmethod
    def of(cls, found: Round) -> ConsultationOut:
        c = found.consultation
        return cls(id=c.id, model=ModelRef.of(found.model), round=c.round, reopens_id=c.reopens_id, state=c.state,
                   requested_side=c.requested_side, requested_by=c.requested_by, note=c.note, contacts=list(c.contacts),
                   capabilities=list(c.capabilities), planned_release_at=c.planned_release_at, outcome=c.outcome,
                   assessment_ref=c.assessment_ref, decided_by=c.decided_by, decided_at=c.decided_at,
                   created_at=c.created_at, updated_at=c.updated_at, waited_seconds=int(found.waited.total_seconds()),
                   messages=[MessageOut.of(m) for m in found.messages],
                   may=MayOut(message=found.may.message, decide=found.may.decide))  # fmt: skip


class WaitingOut(Struct, kw_only=True):
    """An open round in the queue."""

    id: uuid.UUID
    model: ModelRef
    round: int
    requested_side: str
    created_at: datetime
    waited_seconds: int
    href: str

    @classmethod
    def of(cls, found: Waiting) -> WaitingOut:
        c = found.consultation
        return cls(id=c.id, model=ModelRef.of(found.model), round=c.round, requested_side=c.requested_side,
                   created_at=c.created_at, waited_seconds=int(found.waited.total_seconds()),
                   href=f"/api/v1/consultations/{c.id}")  # fmt: skip


class WaitingPage(Struct, kw_only=True):
    items: list[WaitingOut]
    next_cursor: str | None


class RoundsOut(Struct, kw_only=True):
    """A model's rounds, newest first."""

    items: list[ConsultationOut]
