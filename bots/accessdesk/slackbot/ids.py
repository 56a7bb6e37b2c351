"""Every identifier we give Slack, in one place: the listeners, the blocks and the tests use these names."""

from __future__ import annotations

from enum import StrEnum


class CommandName(StrEnum):
    """Slash commands, as configured in the Slack app's manifest."""

    ACCESSDESK = "/accessdesk"


class Subcommand(StrEnum):
    """The first word after ``/accessdesk``."""

    HELP = "help"
    LINK = "link"
    NOMINATE = "nominate"
    PENDING = "pending"
    STATUS = "status"


class ActionId(StrEnum):
    """``action_id`` of interactive elements (buttons, selects)."""

    APPROVE = "nomination-approve"
    REJECT = "nomination-reject"
    COHORT_APPROVE_ALL = "cohort-approve-all"
    # A link button: Slack opens its URL and still tells the app of the click, which is only acknowledged.
    COHORT_REVIEW = "cohort-review"


class CallbackId(StrEnum):
    """``callback_id`` of modals (views)."""

    NOMINATE = "nominate-modal"
    REJECT_REASON = "reject-reason-modal"


class NominateField(StrEnum):
    """``block_id`` (and ``action_id``) of each input of the nominate modal.

    Each value is the name the domain gives the field in :class:`accessdesk.domain.errors.Invalid`, so a refusal
    is shown next to the input it is about (``response_action: errors``). ``ORGANISATION`` is an external select:
    Slack asks for its options (``block_suggestion``) under this ``action_id``."""

    MODEL = "model_id"
    ORGANISATION = "organisation_id"
    STARTS_AT = "starts_at"
    ENDS_AT = "ends_at"
    ACTIONS = "actions"
    JUSTIFICATION = "justification"
