"""What a finding's outbox message (``finding.reported``, ``finding.updated``) says in its model's Slack channels,
which the developer's and the government's staff read: need-to-know-safe, whatever the finding's audience.

- TLP:RED: only that a TLP:RED finding was reported (or updated) on the model for its named recipients, and where
  they read it: no title, severity, category or state; the named read it in the console.
- TLP:AMBER+STRICT and wider (every channel reader is in that audience): the title, severity, category, audience,
  the kind of organisation that reported it (never which partner), what changed, and the link. Never the body, a
  note or an attachment.

The builders are pure functions of plain values (tests compare them); :func:`finding_notice` reads the finding as it
is at delivery (an audience widened since is shown widened).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from accessdesk.db.tables import Finding, FrontierModel, OutboxMessage
from accessdesk.domain.finding_audience import LABELS
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Audience
from accessdesk.slackbot.mrkdwn import console_page, escape

FINDING_TOPICS = frozenset({"finding.reported", "finding.updated"})
REPORTERS = {"government": "the government", "developer": "the developer", "partner": "a partner organisation"}


@dataclass(frozen=True, slots=True)
class FindingNotice:
    """Where a finding's notice goes (its model's channels) and what it says (``chat.postMessage`` arguments)."""

    channels: list[str]
    content: dict[str, Any]


def _content(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def _words(value: str | None) -> str:
    return (value or "").replace("_", " ")


def red_notice(topic: str, *, model_name: str, link: str) -> dict[str, Any]:
    """A TLP:RED finding: that it exists, on which model, and where its named recipients read it."""
    happened = "was reported" if topic == "finding.reported" else "was updated"
    return _content(f":red_circle: A TLP:RED finding {happened} on {escape(model_name)} for named recipients: "
                    f"<{link}|read it in accessdesk> if you are one of them.")  # fmt: skip


def shared_notice(
    topic: str, *, model_name: str, title: str, severity: str, category: str, audience: Audience, reporter_kind: str,
    state: str, from_state: str | None, to_state: str | None, link: str,
) -> dict[str, Any]:  # fmt: skip
    """A finding shared with TLP:AMBER+STRICT or wider: what it is about, never what was found."""
    label = LABELS[audience].label
    if topic == "finding.reported":
        lead = f":mag: New finding on {escape(model_name)}: *{escape(title)}*"
        what = (f"Severity {escape(severity)}, {escape(_words(category))}, {label}, reported by "
                f"{REPORTERS.get(reporter_kind, 'an organisation')}.")  # fmt: skip
    elif to_state:
        lead = f":mag: Finding on {escape(model_name)}: *{escape(title)}* is now {escape(_words(to_state))}"
        what = f"It was {escape(_words(from_state))}. Severity {escape(severity)}, {label}."
    else:
        lead = f":mag: Finding on {escape(model_name)}: *{escape(title)}* is now shared as {label}"
        what = f"It is {escape(_words(state))}; severity {escape(severity)}."
    return _content(f"{lead}\n{what} <{link}|Read it in accessdesk>.")


async def finding_notice(unit: Unit, message: OutboxMessage, *, console_url: str) -> FindingNotice:
    payload = message.payload
    finding = await unit.get(Finding, uuid.UUID(str(payload["finding_id"])))
    model = await unit.get(FrontierModel, finding.model_id)
    link = console_page(console_url, f"findings/{finding.id}")
    audience = Audience(finding.audience)
    if audience == Audience.RED:
        content = red_notice(message.topic, model_name=model.name, link=link)
    else:
        content = shared_notice(message.topic, model_name=model.name, title=finding.title, severity=finding.severity,
                                category=finding.category, audience=audience, reporter_kind=finding.reporter_kind,
                                state=finding.state, from_state=payload.get("from_state"),
                                to_state=payload.get("to_state"), link=link)  # fmt: skip
    return FindingNotice(channels=list(model.slack_channels), content=content)
