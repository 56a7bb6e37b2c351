"""Request and response bodies of the JSON API's delegations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

from accessdesk.api.schemas import NO_NUL, ONE_LINE, Aware, in_utc_range
from accessdesk.domain.delegations import NOTE_LIMIT, DelegationRow


class DelegationIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """Name a delegate of your own organisation who holds your deciding role: by ``delegate_id`` or by e-mail
    (``delegate``), one of the two. ``starts_at`` defaults to now; a delegation lasts at most 90 days."""

    delegate_id: uuid.UUID | None = None
    delegate: Annotated[str, Meta(pattern=ONE_LINE, min_length=3, max_length=320,
                                  description="the delegate's e-mail address")] | None = None  # fmt: skip
    starts_at: Aware | None = None
    ends_at: Aware
    note: Annotated[str, Meta(pattern=NO_NUL, max_length=NOTE_LIMIT)] | None = None

    def __post_init__(self) -> None:
        if (self.delegate_id is None) == (self.delegate is None):
            raise ValueError("name the delegate by `delegate_id` or by e-mail in `delegate`, one of the two")
        in_utc_range(self, *(name for name in ("starts_at", "ends_at") if getattr(self, name) is not None))


class DelegationOut(Struct, kw_only=True):
    """A delegation, its ``state`` now: ``scheduled``, ``active``, ``ended`` or ``revoked``."""

    id: uuid.UUID
    delegator_id: uuid.UUID
    delegator: str
    delegate_id: uuid.UUID
    delegate: str
    organisation_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    note: str | None
    state: str
    created_by: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None

    @classmethod
    def of(cls, row: DelegationRow, at: datetime) -> DelegationOut:
        d = row.delegation
        return cls(id=d.id, delegator_id=d.delegator_id, delegator=row.delegator, delegate_id=d.delegate_id,
                   delegate=row.delegate, organisation_id=d.organisation_id, starts_at=d.starts_at, ends_at=d.ends_at,
                   note=d.note, state=row.state(at), created_by=d.created_by, created_at=d.created_at,
                   revoked_at=d.revoked_at, revoked_by=d.revoked_by)  # fmt: skip


class DelegationList(Struct, kw_only=True):
    """The delegations you gave or hold (an admin: every one of your organisation), newest first."""

    items: list[DelegationOut]
