"""What an outbox message says in Slack: outcomes, reminders and notes, in words, with a link to the console.

Models are named by name, never by codename; a message goes only to people and channels entitled to it (the
nominator, the grantee's contacts, the model's own channels, the approvers), as the domain addressed it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from accessdesk.db.tables import AccessGrant, Cohort, FrontierModel, Nomination, Organisation, OutboxMessage, User
from accessdesk.domain.transitions import expired_before_start, how_it_lapsed
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import NominationState
from accessdesk.slackbot import blocks, cohort_blocks, consultation_notices, times

OUTCOMES = frozenset({"nomination.approved", "nomination.rejected", "nomination.lapsed", "nomination.withdrawn"})
AREAS = {"confidentiality": "confidentiality", "cybersecurity": "cybersecurity", "insider_risk": "insider risk",
         "ip_protection": "IP protection", "use": "use", "nondisclosure": "nondisclosure"}  # fmt: skip


def _at(value: Any) -> str:
    """A payload's instant (stored as ISO 8601) as Slack shows it to each reader in their own time zone."""
    return times.local(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def _in(days: str) -> str:
    return "tomorrow" if days == "1d" else f"in {days.removesuffix('d')} days"


async def text_of(unit: Unit, message: OutboxMessage, console_url: str) -> str:
    topic, payload = message.topic, message.payload
    if topic in consultation_notices.TOPICS:
        return await consultation_notices.text_of(unit, message, console_url)
    if topic in OUTCOMES and "nomination_id" in payload:
        nomination = await unit.get(Nomination, uuid.UUID(str(payload["nomination_id"])))
        model = await unit.get(FrontierModel, nomination.model_id)
        organisation = await unit.get(Organisation, nomination.organisation_id)
        said = blocks.outcome_message(nomination, model=model, organisation=organisation.name, console_url=console_url)
        if nomination.state == NominationState.LAPSED.value and expired_before_start(nomination):
            said += " Its window had not started: if the access is still needed, it can be asked for again."
        return said
    if topic == "cohort.outcome":
        cohort = await unit.get(Cohort, uuid.UUID(str(payload["cohort_id"])))
        model = await unit.get(FrontierModel, cohort.model_id)
        by = await unit.session.get(User, uuid.UUID(str(payload["by"]))) if payload.get("by") else None
        return cohort_blocks.cohort_outcome_message(cohort, model=model, by=by.name if by else "Someone",
                                                    payload=payload, console_url=console_url)  # fmt: skip
    if topic.startswith("reminder."):
        return reminder_text(topic, payload, console_url=console_url)
    if topic == "grant.revoked":
        grant = await unit.get(AccessGrant, uuid.UUID(str(payload["grant_id"])))
        model = await unit.get(FrontierModel, grant.model_id)
        organisation = await unit.get(Organisation, grant.organisation_id)
        link = blocks.console_page(console_url, f"grants/{grant.id}")
        return (f":no_entry: Access of {blocks.escape(organisation.name)} to {blocks.escape(model.name)} was revoked: "
                f"{blocks.escape(str(payload.get('reason') or 'no reason given'))}. No new token is issued for it: "
                f"<{link}|the grant in accessdesk>.")  # fmt: skip
    if topic == "model.release_moved":
        model = await unit.get(FrontierModel, uuid.UUID(str(payload["model_id"])))
        blocked = len(payload.get("blocked_grants") or [])
        link = blocks.console_page(console_url, f"models/{model.id}")
        return (f":calendar: The planned release of {blocks.escape(model.name)} moved to "
                f"{_at(payload['planned_release_at'])}; {blocks.counted(blocked, 'grant')} no longer fit "
                f"and {'are' if blocked != 1 else 'is'} blocked: <{link}|the model in accessdesk>.")  # fmt: skip
    if topic == "model.designated":
        model = await unit.get(FrontierModel, uuid.UUID(str(payload["model_id"])))
        blocked = len(payload.get("blocked_grants") or [])
        link = blocks.console_page(console_url, f"models/{model.id}")
        return (f":scales: The government designated {blocks.escape(model.name)} "
                f"{str(payload['designation']).replace('_', ' ')}; {blocks.counted(blocked, 'grant')} "
                f"{'are' if blocked != 1 else 'is'} blocked until a designation allows {'them' if blocked != 1 else 'it'}"
                f": <{link}|the model in accessdesk>.")  # fmt: skip
    if topic in ("audit.checkpoint", "audit.checkpoint_refused"):
        return checkpoint_text(topic, payload)
    return blocks.notification_text(topic, payload)


def checkpoint_text(topic: str, payload: dict[str, Any]) -> str:
    """A checkpoint as the channel keeps it: the signed text whole, so that the channel's history is itself a copy
    of every checkpoint that the database's owner cannot edit."""
    if topic == "audit.checkpoint_refused":
        return (f":rotating_light: No audit checkpoint was signed: {blocks.escape(str(payload.get('problem')))}. Run "
                "`accessdesk audit verify --checkpoint` with a checkpoint from this channel.")  # fmt: skip
    return (f":lock: Audit checkpoint #{payload['seq']} of {payload['time']}, hash `{payload['hash']}`, signed with "
            f"key `{blocks.escape(str(payload['kid']))}`. Check the trail against it with `accessdesk audit verify "
            f"--checkpoint FILE`, FILE holding:\n```{payload['jws']}```")  # fmt: skip


def reminder_text(topic: str, payload: dict[str, Any], *, console_url: str) -> str:
    days = str(payload.get("kind", "")).rsplit(".", 1)[-1]
    esc = blocks.escape
    if topic == "reminder.grant_ending":
        link = blocks.console_page(console_url, f"grants/{payload['grant_id']}")
        return (f":hourglass: Access of {esc(payload['organisation'])} to {esc(payload['model'])} ends {_in(days)}, "
                f"{_at(payload['ends_at'])}. An extension needs both sides' approval before then: <{link}|the grant "
                f"in accessdesk>.")  # fmt: skip
    if topic == "reminder.nda_expiring":
        link = blocks.console_page(console_url, "my-organisation")
        return (f":memo: {esc(payload['organisation'])}'s acceptance of “{esc(payload['title'])}” (version "
                f"{esc(payload['version'])}) expires {_in(days)}, {_at(payload['expires_at'])}. Access that needs it "
                f"stops then unless it is signed again: <{link}|sign it in accessdesk>.")  # fmt: skip
    if topic == "reminder.attestation_expiring":
        link = blocks.console_page(console_url, "my-organisation")
        area = AREAS.get(str(payload["area"]), str(payload["area"]))
        return (f":memo: {esc(payload['organisation'])}'s attestation for {esc(area)} expires {_in(days)}, "
                f"{_at(payload['valid_until'])}. Access is suspended then unless it is renewed: <{link}|attest "
                f"again in accessdesk>.")  # fmt: skip
    if topic == "reminder.nomination_pending":
        link = blocks.nomination_url(console_url, uuid.UUID(str(payload["nomination_id"])))
        return (f":bell: The nomination of {esc(payload['organisation'])} for {esc(payload['model'])} has waited "
                f"48 hours for your decision; it closes undecided {_closes(payload)}: <{link}|decide in "
                "accessdesk>.")  # fmt: skip
    if topic == "reminder.nomination_escalated":
        return escalation_text(payload, console_url=console_url)
    if topic == "reminder.cohort_pending":
        link = blocks.console_page(console_url, f"cohorts/{payload['cohort_id']}")
        awaiting = int(payload.get("awaiting") or 0)
        return (f":bell: Cohort {esc(payload['cohort'])} for {esc(payload['model'])}: "
                f"{blocks.counted(awaiting, 'member')} {'has' if awaiting == 1 else 'have'} waited 48 hours for your "
                f"decision; they close undecided {_closes(payload)}: <{link}|review the cohort in accessdesk>.")  # fmt: skip
    return blocks.notification_text(topic, payload)


def _closes(payload: dict[str, Any]) -> str:
    """When a waiting nomination closes undecided, as a reminder says it (messages queued before nominations
    expired know only the proposed start)."""
    return _at(payload.get("lapses_at") or payload["starts_at"])


def escalation_text(payload: dict[str, Any], *, console_url: str) -> str:
    """A nomination escalated to one person: an approver of a side that has not decided (``nomination.escalated.
    approvers``), or an admin of it (``….admins``), after the model's ``escalation_days`` and twice that. Said to
    staff of the side only, who see the nomination anyway; the model by name, never by codename."""
    esc, side = blocks.escape, str(payload.get("side") or "your")
    link = blocks.nomination_url(console_url, uuid.UUID(str(payload["nomination_id"])))
    organisation, model = esc(payload["organisation"]), esc(payload["model"])
    what = (f"The extension of {organisation}'s access to {model}" if payload.get("nomination_kind") == "extension"
            else f"The nomination of {organisation} for {model}")  # fmt: skip
    waited = f"{what} has waited {payload['days']} days"
    closes = f"it expires undecided {_at(payload['lapses_at'])}"
    if str(payload.get("kind")).endswith(".admins"):
        return (f":rotating_light: Escalation: {waited} and the {side} side has still not reached its quorum, "
                f"though its approvers were reminded; {closes}. Please see that someone decides: <{link}|the "
                "nomination in accessdesk>.")  # fmt: skip
    return (f":bell: {waited} without the {side} side's decision; {closes}: <{link}|decide in accessdesk>.")


def closed_note(nomination: Nomination, *, by: str | None) -> str:
    """The card's thread reply when a nomination closes without a decision."""
    if nomination.state == NominationState.WITHDRAWN.value:
        why = f": {blocks.escape(nomination.outcome_reason)}" if nomination.outcome_reason else ""
        return f"Withdrawn by {blocks.escape(by)}{why}" if by else f"Withdrawn{why}"
    word, rest = how_it_lapsed(nomination)
    return f"{word} {rest}"
