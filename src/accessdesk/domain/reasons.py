"""Who may read why a nomination ended as it did, and why each decision on it was taken.

Staff who may see a nomination (the developer's and the government's: the nominator among them) read every reason:
each decision's and the outcome's. The nominated partner reads:

- a rejection's reason only where the rejecting decision shared it (``Decision.reason_shared``, the rejecting
  approver's choice); an internal reason is never shown to it, nor is the outcome's copy of it
  (``Nomination.outcome_reason``);
- no approval's reason, and no withdrawal's (notes the staff wrote for one another);
- the system's own words for a nomination that lapsed, expired or was closed when its model was switched off
  (what any reader of the model is told anyway).

Every surface that shows a partner a nomination asks here (the JSON API's nomination, the partner portal).
"""

from __future__ import annotations

from collections.abc import Iterable

from accessdesk.db.tables import AuditEvent, Decision, Nomination
from accessdesk.domain.actor import Actor
from accessdesk.domain.vocabulary import NominationState, Verdict


def reads_every_reason(actor: Actor) -> bool:
    """Staff and the system read every reason of a nomination they may see; the nominated partner does not."""
    return actor.is_system or actor.is_staff


def rejecting(decisions: Iterable[Decision]) -> Decision | None:
    """The decision that rejected the nomination (a veto ends it: there is at most one)."""
    return next((d for d in decisions if d.verdict == Verdict.REJECT.value), None)


def decision_reason(actor: Actor, decision: Decision) -> str | None:
    """The reason of ``decision`` as ``actor`` may read it (None: none given, or not theirs to read)."""
    if reads_every_reason(actor):
        return decision.reason
    if decision.verdict == Verdict.REJECT.value and decision.reason_shared:
        return decision.reason
    return None


def reason_for(actor: Actor, nomination: Nomination, decisions: Iterable[Decision] | None) -> str | None:
    """Why ``nomination`` ended as it did, as ``actor`` may read it (None: no reason, or not theirs to read).

    ``decisions``: the nomination's decisions; None when the caller has not read them (a list), and then a
    partner is told no rejection's reason (whether it was shared is the rejecting decision's to say)."""
    if reads_every_reason(actor):
        return nomination.outcome_reason
    state = nomination.state
    if state == NominationState.REJECTED.value:
        veto = rejecting(decisions or ())
        return veto.reason if veto is not None and veto.reason_shared else None
    if state in (NominationState.WITHDRAWN.value, NominationState.APPROVED.value, NominationState.PENDING.value):
        return None
    return nomination.outcome_reason  # lapsed or expired: the system's words


# The nomination events whose reason is the system's own words, which any reader of the nomination is told anyway.
SYSTEM_WORDS = frozenset({"nomination.lapsed"})


def event_reason(actor: Actor, event: AuditEvent) -> str | None:
    """The reason an audit event of a nomination's or a grant's history gives, as ``actor`` may read it: staff every
    reason; the partner a decision's only where it rejected and shared it (the event records the decision as it
    was made), a lapse's system words, and no other nomination event's (an outcome repeats its decision's reason;
    approvals and withdrawals are the staff's notes). Events of other subjects are left as they are."""
    if reads_every_reason(actor) or event.reason is None:
        return event.reason
    after = event.after or {}
    if event.action == "decision.recorded":
        shared = after.get("verdict") == Verdict.REJECT.value and after.get("reason_shared") is True
        return event.reason if shared else None
    if event.subject_type == "nominations":
        return event.reason if event.action in SYSTEM_WORDS else None
    return event.reason
