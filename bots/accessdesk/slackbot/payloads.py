"""What each listener reads of Slack's payload, read before it acknowledges.

Slack's signature proves a payload came from Slack, not that it holds what a listener expects: a payload without
the field a listener needs raises :class:`Malformed` here, before the acknowledgement, and is answered 400 (see
``accessdesk.slackbot.endpoint.slack_errors``) instead of failing half-way with a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class Malformed(Exception):
    """A payload signed by Slack that lacks what its listener reads; the message names the field, never its value."""


def _text(container: Any, *path: str) -> str:
    """The non-empty string at ``path`` in ``container`` (Malformed otherwise)."""
    found = container
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    if not isinstance(found, str) or not found:
        raise Malformed(f"no {'.'.join(path)}")
    return found


def _object(container: Any, *path: str) -> dict[str, Any]:
    found = container
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    if not isinstance(found, dict):
        raise Malformed(f"no {'.'.join(path)}")
    return found


@dataclass(frozen=True, slots=True)
class Command:
    """``/accessdesk …`` as typed."""

    slack_user: str
    channel: str
    text: str
    trigger_id: str
    team_id: str | None

    @classmethod
    def of(cls, command: dict[str, Any]) -> Command:
        text = command.get("text")
        team = command.get("team_id")
        return cls(slack_user=_text(command, "user_id"), channel=_text(command, "channel_id"),
                   text=text if isinstance(text, str) else "", trigger_id=_text(command, "trigger_id"),
                   team_id=team if isinstance(team, str) and team else None)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Click:
    """A click on a card's button: who, in which channel, on what (the button's value), and the trigger for a
    modal."""

    slack_user: str
    channel: str
    value: str
    trigger_id: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise Malformed("no actions")
        return cls(slack_user=_text(body, "user", "id"), channel=_text(body, "channel", "id"),
                   value=_text(actions[0], "value"), trigger_id=_text(body, "trigger_id"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Submission:
    """A modal submitted: who, what the modal carried from where it was opened (``private_metadata``), and the
    values of its inputs (``view.state.values``)."""

    slack_user: str
    origin: dict[str, Any]
    values: dict[str, Any]

    @classmethod
    def of(cls, body: dict[str, Any], view: dict[str, Any]) -> Submission:
        try:
            origin = json.loads(_text(view, "private_metadata"))
        except (ValueError, RecursionError):
            raise Malformed("private_metadata is not JSON") from None
        if not isinstance(origin, dict):
            raise Malformed("private_metadata is not an object")
        return cls(slack_user=_text(body, "user", "id"), origin=origin, values=_object(view, "state", "values"))

    def origin_text(self, key: str) -> str:
        return _text(self.origin, key)

    def input_value(self, block: str, action: str) -> str | None:
        """What was typed in a text input; None when it was left empty (Slack then sends no value)."""
        found = self.values.get(block)
        found = found.get(action) if isinstance(found, dict) else None
        value = found.get("value") if isinstance(found, dict) else None
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Slack asking for a menu's options as the person types."""

    slack_user: str
    typed: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Suggestion:
        typed = body.get("value")
        return cls(slack_user=_text(body, "user", "id"), typed=typed if isinstance(typed, str) else "")


@dataclass(frozen=True, slots=True)
class HomeOpened:
    """``app_home_opened``: whose, and which tab."""

    slack_user: str
    tab: str | None

    @classmethod
    def of(cls, event: dict[str, Any]) -> HomeOpened:
        tab = event.get("tab")
        return cls(slack_user=_text(event, "user"), tab=tab if isinstance(tab, str) else None)
