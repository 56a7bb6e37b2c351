"""Request and response bodies of the JSON API's evaluation findings. What the edge checks here is only the form
(types, lengths, no NUL); the rules (who reports, recipients, locations, moves) are the domain's, in its words."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct

from accessdesk.api.schemas import NO_NUL, ONE_LINE
from accessdesk.domain.finding_audience import LABELS
from accessdesk.domain.finding_fields import MAX_ATTACHMENT_NAME, MAX_BODY, MAX_LOCATION, MAX_NOTE, MAX_TITLE
from accessdesk.domain.findings import FindingActions, FindingRow, FindingView, Person, Step
from accessdesk.domain.vocabulary import Audience, FindingCategory, FindingSeverity, FindingState

# The domain refuses more than 20 attachments and 50 recipients in words; these bounds only keep a body from making
# it read an unbounded list first.
MAX_LISTED = 200


class AttachmentIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """A reference to material kept elsewhere: never the material (a body with any other field is refused)."""

    name: Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=MAX_ATTACHMENT_NAME)]
    sha256: Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=64,
                                description="the SHA-256 of the material, 64 hexadecimal digits")]  # fmt: skip
    location: Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=MAX_LOCATION,
                                  description="an https:// address, or a reference without a scheme")]  # fmt: skip


class FindingIn(Struct, kw_only=True, forbid_unknown_fields=True):
    title: Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=MAX_TITLE)]
    body: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=MAX_BODY)]
    severity: FindingSeverity
    category: FindingCategory
    audience: Audience
    attachments: Annotated[list[AttachmentIn], Meta(max_length=MAX_LISTED)] = []
    recipients: Annotated[list[uuid.UUID], Meta(max_length=MAX_LISTED,
                                                description="TLP:RED only: the people who read it")] = []  # fmt: skip


class FindingUpdateIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """A note, a move (``to_state``, from ``from_state``: the state you saw), a wider ``audience``, or several."""

    note: Annotated[str, Meta(pattern=NO_NUL, max_length=MAX_NOTE)] | None = None
    to_state: FindingState | None = None
    from_state: FindingState | None = None
    audience: Audience | None = None


class AttachmentOut(Struct, kw_only=True):
    name: str
    sha256: str
    location: str


class PersonOut(Struct, kw_only=True):
    id: uuid.UUID | None  # null: a person the reader may not know
    shown: str
    kind: str

    @classmethod
    def of(cls, person: Person) -> PersonOut:
        return cls(id=person.id, shown=person.shown, kind=person.kind.value)


class UpdateOut(Struct, kw_only=True):
    id: uuid.UUID
    at: datetime
    author: PersonOut
    from_state: str | None
    to_state: str | None
    note: str

    @classmethod
    def of(cls, step: Step) -> UpdateOut:
        u = step.update
        return cls(id=u.id, at=u.created_at, author=PersonOut.of(step.author),
                   from_state=u.from_state, to_state=u.to_state, note=u.note)  # fmt: skip


class ActionsOut(Struct, kw_only=True):
    """What the caller may do to the finding now."""

    moves: list[str]
    note: bool
    widen: list[str]

    @classmethod
    def of(cls, actions: FindingActions) -> ActionsOut:
        return cls(moves=[s.value for s in actions.moves], note=actions.note, widen=[a.value for a in actions.widen])


class FindingOut(Struct, kw_only=True):
    """A finding; ``body``, ``recipients``, ``updates`` and ``may`` only when one finding is read."""

    id: uuid.UUID
    model_id: uuid.UUID
    model_slug: str
    model_name: str
    title: str
    severity: str
    category: str
    audience: str
    audience_label: str
    readers: str
    state: str
    reporter: PersonOut
    reporter_kind: str
    attachments: list[AttachmentOut]
    created_at: datetime
    updated_at: datetime
    body: str | None = None
    recipients: list[PersonOut] | None = None
    updates: list[UpdateOut] | None = None
    may: ActionsOut | None = None

    @classmethod
    def of_row(cls, row: FindingRow) -> FindingOut:
        f, label = row.finding, LABELS[row.audience]
        return cls(id=f.id, model_id=f.model_id, model_slug=row.model_slug, model_name=row.model_name, title=f.title,
                   severity=f.severity, category=f.category, audience=f.audience, audience_label=label.label,
                   readers=label.readers, state=f.state, reporter=PersonOut.of(row.reporter),
                   reporter_kind=f.reporter_kind, attachments=[AttachmentOut(**a) for a in f.attachments],
                   created_at=f.created_at, updated_at=f.updated_at)  # fmt: skip

    @classmethod
    def of_view(cls, view: FindingView) -> FindingOut:
        row = FindingRow(finding=view.finding, model_name=view.model.name, model_slug=view.model.slug,
                         reporter=view.reporter)  # fmt: skip
        out = cls.of_row(row)
        out.body = view.finding.body
        out.recipients = [PersonOut.of(p) for p in view.recipients]
        out.updates = [UpdateOut.of(s) for s in view.steps]
        out.may = ActionsOut.of(view.actions)
        return out


class FindingPage(Struct, kw_only=True):
    items: list[FindingOut]
    next_cursor: str | None


class CountsOut(Struct, kw_only=True):
    total: int
    open: int
    by_state: dict[str, int]
    by_severity: dict[str, int]
