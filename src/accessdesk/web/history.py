"""A nomination's or a grant's history told in sentences, from its audit events (``Queries.history``): who did
what and when, with the reason they gave — the trail, readable where the case is."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accessdesk.db.tables import AuditEvent
from accessdesk.domain.gates import explain
from accessdesk.domain.queries import Queries
from accessdesk.domain.reasons import event_reason
from accessdesk.web.audit_pages import ACTION_WORDS


@dataclass(frozen=True, slots=True)
class Line:
    at: datetime
    text: str
    reason: str | None


def _sentence(event: AuditEvent, who: str) -> str:
    after: dict[str, Any] = event.after or {}
    match event.action:
        case "decision.recorded":
            verdict = "approved" if after.get("verdict") == "approve" else "rejected"
            return f"{who} {verdict} for the {after.get('side', '')} side".rstrip()
        case "nomination.created":
            return f"{who} nominated the organisation"
        case "nomination.approved":
            return f"{who}'s approval completed both sides' decisions: the nomination is approved"
        case "grant.created":
            return "The grant was made"
        case "grant.extended":
            return f"The grant was extended to {_when(after.get('ends_at'))}"
        case "model.designated":
            return f"{who} designated the model {str(after.get('designation', '?')).replace('_', ' ')}"
        case "consultation.decided":
            return f"{who} decided the consultation: {str(after.get('outcome', '?')).replace('_', ' ')}"
        case "grant.state_changed":
            problems = [explain(p) for p in after.get("problems") or []]
            said = f"The grant became {after.get('state', '?')}"
            return f"{said}: {'; '.join(problems)}" if problems else said
        case _:
            return f"{who} {ACTION_WORDS.get(event.action, event.action)}"


def _when(value: Any) -> str:
    try:
        return f"{datetime.fromisoformat(str(value)):%Y-%m-%d %H:%M} UTC"
    except ValueError:
        return str(value)


async def history_lines(queries: Queries, actor: Any, events: list[AuditEvent]) -> list[Line]:
    """Each event as a sentence naming who acted (a person by name, the system as itself), with its reason as
    ``actor`` may read it (``domain.reasons.event_reason``)."""
    people = await queries.people_names(sorted({e.actor_id for e in events if e.actor_id}, key=str))
    lines = []
    for event in events:
        who = people.get(event.actor_id or uuid.UUID(int=0), event.actor)
        lines.append(Line(at=event.at, text=_sentence(event, who), reason=event_reason(actor, event)))
    return lines
