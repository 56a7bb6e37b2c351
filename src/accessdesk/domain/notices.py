"""Outbox messages about nominations that more than one service writes: one spelling of each, here."""

from __future__ import annotations

import uuid

from accessdesk.db.tables import Nomination
from accessdesk.domain.actor import Actor
from accessdesk.domain.unit import Unit


def approvers(model_id: uuid.UUID) -> str:
    """The outbox address of a model's approvers: the Slack notifier makes it the model's approval cards."""
    return f"model:{model_id}:approvers"


def closed(unit: Unit, nomination: Nomination, *, by: Actor) -> None:
    """Tell a model's approvers that a nomination left ``pending`` without a decision (withdrawn or lapsed), so
    that its approval cards stop offering buttons."""
    unit.notify(
        topic=f"nomination.{nomination.state}",
        recipient=approvers(nomination.model_id),
        payload={"nomination_id": nomination.id, "state": nomination.state, "by": by.user_id,
                 "reason": nomination.outcome_reason},  # fmt: skip
        dedupe_key=f"nomination.closed:{nomination.id}",
    )
