"""What a designation consultation's outbox messages say in Slack: who did what about which model, how long the
round has waited, and a link to its console page; never a note's or a message's words, nor the assessment's
reference (a consultation's thread is read in accessdesk, by the model's developer and the government alone).

The domain addresses these to the model's approvers (posted in the model's own channels, which are its developer's
and the government's staff's) and, for reminders, to the people concerned by direct message.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from accessdesk.db.tables import Consultation, FrontierModel, OutboxMessage, User
from accessdesk.domain.consultations import waited_words
from accessdesk.domain.unit import Unit
from accessdesk.slackbot import times
from accessdesk.slackbot.mrkdwn import console_page, escape

EVENTS = frozenset({"consultation.requested", "consultation.opened", "consultation.reopened",
                    "consultation.message", "consultation.decided"})  # fmt: skip
REMINDERS = frozenset({"reminder.consultation_waiting", "reminder.consultation_release_near"})
TOPICS = EVENTS | REMINDERS
SIDES = {"developer": "the developer", "government": "the government"}


def _at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def link_to(console_url: str, consultation_id: Any) -> str:
    return f"<{console_page(console_url, f'consultations/{consultation_id}')}|the consultation in accessdesk>"


async def text_of(unit: Unit, message: OutboxMessage, console_url: str) -> str:
    """The words of one of :data:`TOPICS`."""
    topic, payload = message.topic, message.payload
    if topic in REMINDERS:
        return reminder_text(topic, payload, console_url=console_url)
    consultation = await unit.get(Consultation, uuid.UUID(str(payload["consultation_id"])))
    model = await unit.get(FrontierModel, consultation.model_id)
    by = payload.get("by")
    who = escape((await unit.get(User, uuid.UUID(str(by)))).name) if by else "The system"
    return event_text(topic, consultation=consultation, model_name=model.name, who=who,
                      side=str(payload.get("side") or ""), console_url=console_url)  # fmt: skip


def event_text(topic: str, *, consultation: Consultation, model_name: str, who: str, side: str,
               console_url: str) -> str:  # fmt: skip
    """One step of a round, as the model's channels read it (``who`` already escaped)."""
    model, round_, link = escape(model_name), consultation.round, link_to(console_url, consultation.id)
    if topic == "consultation.requested":
        return (f":speech_balloon: {who} (the developer) asked the government whether {model} is a covered frontier "
                f"model: consultation round {round_}, planned release {times.local(consultation.planned_release_at)}. "
                f"{link}.")  # fmt: skip
    if topic in ("consultation.opened", "consultation.reopened"):
        verb = "reopened" if topic == "consultation.reopened" else "opened"
        return (f":speech_balloon: {who} (the government) {verb} the consultation on whether {model} is a covered "
                f"frontier model: round {round_}. Partners have no access while it is open. {link}.")  # fmt: skip
    if topic == "consultation.message":
        return f":envelope: New message from {SIDES.get(side, 'a side')} in the consultation on {model} (round {round_}): {link}."
    outcome = (consultation.outcome or "").replace("_", " ")
    waited = (consultation.decided_at or consultation.updated_at) - consultation.created_at
    return (f":scales: {who} (the government) decided the consultation on {model}: *{outcome}*, after "
            f"{waited_words(waited)} in consultation (round {round_}). {link}.")  # fmt: skip


def reminder_text(topic: str, payload: dict[str, Any], *, console_url: str) -> str:
    model, link = escape(str(payload["model"])), link_to(console_url, payload["consultation_id"])
    if topic == "reminder.consultation_waiting":
        return (f":bell: The consultation on {model} (round {payload['round']}) has waited "
                f"{waited_words(timedelta(days=int(payload['days'])))} since {times.local(_at(payload['opened_at']))} "
                f"for the government's decision: {link}.")  # fmt: skip
    return (f":calendar: {model} is planned for release {times.local(_at(payload['planned_release_at']))}, and its "
            f"consultation (round {payload['round']}) is still open: {link}.")  # fmt: skip
