"""Step-up for weighty approvals: approving access to a high-tier model (or to any model whose setting asks for it)
needs a sign-in younger than a few minutes, as revealing a secret does in the console.

Teleport stopped approving from Slack for years because a click proves no fresh authentication, then allowed it
again as an opt-in. Here a click (or an API token) proves none either: such an approval is refused with
:class:`StepUpRequired`, and the surface sends the person to sign in again through their identity provider and
approve in the console (Slack answers the click privately with the link). Rejecting stays one click: it only
closes doors.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from accessdesk.db.tables import FrontierModel, Nomination
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import StepUpRequired
from accessdesk.domain.vocabulary import Tier, Verdict

# How recent a sign-in a high-tier model's approvals need unless the model says otherwise.
HIGH_TIER_STEP_UP = timedelta(minutes=15)
# What a model may ask for (minutes): a setting outside this is refused.
STEP_UP_MINUTES = range(1, 241)


def approval_step_up(model: FrontierModel) -> timedelta | None:
    """How recent a sign-in approving access to ``model`` needs (None: any sign-in will do)."""
    if model.approval_step_up_minutes is not None:
        return timedelta(minutes=model.approval_step_up_minutes)
    return HIGH_TIER_STEP_UP if model.tier == Tier.HIGH.value else None


def step_up_refused(actor: Actor, model: FrontierModel, nomination: Nomination, verdict: Verdict,
                    at: datetime) -> StepUpRequired | None:  # fmt: skip
    """Why ``actor`` may not approve ``nomination`` of ``model`` at ``at`` without signing in again (None: they
    may, or it is not an approval). The system decides nothing here and needs no sign-in."""
    within = approval_step_up(model)
    if verdict != Verdict.APPROVE or within is None or actor.is_system:
        return None
    if actor.authenticated_at is not None and at - actor.authenticated_at <= within:
        return None
    minutes = int(within.total_seconds() // 60)
    return StepUpRequired(f"approving access to {model.slug} needs a sign-in within the last {minutes} minutes: "
                          "sign in again and approve in the console", nomination_id=nomination.id,
                          within_minutes=minutes)  # fmt: skip
