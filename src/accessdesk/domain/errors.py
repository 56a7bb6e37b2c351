"""Domain errors. Each surface (JSON API, console, OAuth, Slack) maps them to its own form in one place."""

from __future__ import annotations

import uuid


class DomainError(Exception):
    """Base class: ``code`` is stable and machine-readable, the message is for people."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class SelfDecision(Forbidden):
    code = "self_decision"


class WrongSide(Forbidden):
    code = "wrong_side"


class StepUpRequired(Forbidden):
    """A weighty decision needs a sign-in younger than ``within`` and the actor has none (a Slack click or an API
    token proves none): the surface sends the person to sign in again and decide in the console."""

    code = "step_up_required"

    def __init__(self, message: str, *, nomination_id: uuid.UUID, within_minutes: int) -> None:
        super().__init__(message)
        self.nomination_id = nomination_id
        self.within_minutes = within_minutes


class Conflict(DomainError):
    code = "conflict"


class Overlap(Conflict):
    """A nomination whose window overlaps one the organisation already has for the model: names which (a pending
    nomination or a grant, by ``kind`` and ``subject_id``) so that every surface can lead to it."""

    code = "overlap"

    def __init__(self, message: str, *, kind: str, subject_id: uuid.UUID) -> None:
        super().__init__(message)
        self.kind = kind
        self.subject_id = subject_id


class NotPending(Conflict):
    code = "not_pending"


class AlreadyDecided(Conflict):
    code = "already_decided"


class AlreadyRevoked(Conflict):
    code = "already_revoked"


class ModelSwitchedOff(Conflict):
    code = "model_switched_off"


class NotDesignated(Conflict):
    """The model's designation does not allow this access (DESIGN.md §3 rule 4)."""

    code = "not_designated"


class Invalid(DomainError):
    """Input that breaks a rule; names the field at fault."""

    code = "invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Malformed(Invalid):
    """Input that is not even of the right form (a cursor this API never issued): a malformed request, not a broken
    rule."""

    code = "validation_error"


class OutsideWindow(Invalid):
    code = "outside_window"
