"""Request and response bodies of the JSON API's reconsiderations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

from accessdesk.api.schemas import NO_NUL, Aware, NominationOut, in_utc_range
from accessdesk.domain.reconsiderations import NOTE_LIMIT, RESPONSE_LIMIT, ReconsiderationRow, ReconsiderationState


class ReconsiderationIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """Why the refused nomination should be looked at again (the side that nominated reads it)."""

    note: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=NOTE_LIMIT)]


class TakeUpIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """The new round's window (by default as long as the refused one's, starting at the later of its start and a
    day from now; ``ends_at`` alone keeps that start, ``starts_at`` alone that length), and a response for the
    partner."""

    starts_at: Aware | None = None
    ends_at: Aware | None = None
    response: Annotated[str, Meta(pattern=NO_NUL, max_length=RESPONSE_LIMIT)] | None = None

    def __post_init__(self) -> None:
        in_utc_range(self, *(name for name in ("starts_at", "ends_at") if getattr(self, name) is not None))


class DeclineIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """Why not, for the partner to read."""

    response: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=RESPONSE_LIMIT)]


class ReconsiderationOut(Struct, kw_only=True):
    """A request for reconsideration. ``refusal_reason``: why the nomination was refused, as the caller may read it
    (a partner: a rejection's reason only where the rejecting approver shared it). ``may_answer``: whether the
    caller may take it up or decline it now."""

    id: uuid.UUID
    nomination_id: uuid.UUID
    model_id: uuid.UUID
    model_name: str
    organisation_id: uuid.UUID
    organisation_name: str
    note: str
    requested_by: uuid.UUID
    state: ReconsiderationState
    response: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    new_nomination_id: uuid.UUID | None
    created_at: datetime
    refusal_reason: str | None
    may_answer: bool

    @classmethod
    def of(cls, row: ReconsiderationRow) -> ReconsiderationOut:
        r = row.reconsideration
        return cls(id=r.id, nomination_id=r.nomination_id, model_id=r.model_id, model_name=row.model_name,
                   organisation_id=r.organisation_id, organisation_name=row.organisation_name, note=r.note,
                   requested_by=r.requested_by, state=row.state, response=r.response, decided_by=r.decided_by,
                   decided_at=r.decided_at, new_nomination_id=r.new_nomination_id, created_at=r.created_at,
                   refusal_reason=row.refusal_reason, may_answer=row.may.take_up)  # fmt: skip


class TakenUpOut(Struct, kw_only=True):
    reconsideration: ReconsiderationOut
    nomination: NominationOut


class ReconsiderationPage(Struct, kw_only=True):
    items: list[ReconsiderationOut]
    next_cursor: str | None
