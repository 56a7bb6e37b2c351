"""What each listener reads of Slack's payload, read before it acknowledges.

Slack's signature proves a payload came from Slack, not that it holds what a listener expects: a payload without
the field a listener needs raises :class:`Malformed` here, before the acknowledgement, and is answered 400 (see
``accessdesk.slackbot.failures.slack_errors``) instead of failing half-way with a traceback.
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


def _maybe_text(container: Any, *path: str) -> str | None:
    try:
        return _text(container, *path)
    except Malformed:
        return None


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sent a request and from which channel, read leniently from any payload: None for what it does not name
    (an event about no one, a menu in a modal). ``kind`` is the payload's type (``command`` for a slash command,
    the event's own type for an event).

    Read once per request by the context middleware (:mod:`accessdesk.slackbot.context`), before bolt knows whether
    any listener handles the request: it never refuses. Each listener's own reader below refuses a payload without
    the person or the channel it needs (400, before the acknowledgement)."""

    kind: str
    slack_user: str | None
    channel: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> Origin:
        kind = body.get("type")
        if kind is None and isinstance(body.get("command"), str):
            return cls("command", _maybe_text(body, "user_id"), _maybe_text(body, "channel_id"))
        if kind == "event_callback":
            return cls(_maybe_text(body, "event", "type") or "event", _maybe_text(body, "event", "user"), None)
        slack_user = _maybe_text(body, "user", "id")
        if kind == "view_submission":
            return cls(kind, slack_user, _maybe_text(_metadata(body.get("view")), "channel"))
        return cls(kind if isinstance(kind, str) else "", slack_user, _maybe_text(body, "channel", "id"))


def _metadata(view: Any) -> Any:
    """A modal's ``private_metadata`` as the object the bot wrote, or None."""
    try:
        return json.loads(_maybe_text(view, "private_metadata") or "null")
    except (ValueError, RecursionError):
        return None


@dataclass(frozen=True, slots=True)
class Command:
    """``/accessdesk …`` as typed (by a person, in a channel: the payload must name both)."""

    text: str
    trigger_id: str
    team_id: str | None

    @classmethod
    def of(cls, command: dict[str, Any]) -> Command:
        _text(command, "user_id")
        _text(command, "channel_id")
        text = command.get("text")
        team = command.get("team_id")
        return cls(text=text if isinstance(text, str) else "", trigger_id=_text(command, "trigger_id"),
                   team_id=team if isinstance(team, str) and team else None)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Click:
    """A click on a button (by a person) of a card in a channel, or of their own App Home (``on_home``; Slack then
    names no channel): on what (the button's value), and the trigger for a modal."""

    value: str
    trigger_id: str
    on_home: bool = False

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise Malformed("no actions")
        _text(body, "user", "id")
        on_home = _maybe_text(body, "container", "type") == "view" and _maybe_text(body, "view", "type") == "home"
        if not on_home:
            _text(body, "channel", "id")
        return cls(value=_text(actions[0], "value"), trigger_id=_text(body, "trigger_id"), on_home=on_home)


@dataclass(frozen=True, slots=True)
class Submission:
    """A modal submitted by a person: what the modal carried from where it was opened (``private_metadata``: the
    channel, or ``home`` for one opened from the person's App Home), and the values of its inputs
    (``view.state.values``)."""

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
        _text(body, "user", "id")
        if origin.get("home") is not True:
            _text(origin, "channel")
        return cls(origin=origin, values=_object(view, "state", "values"))

    @property
    def from_home(self) -> bool:
        return self.origin.get("home") is True

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
    """Slack asking for a menu's options as a person types."""

    typed: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Suggestion:
        _text(body, "user", "id")
        typed = body.get("value")
        return cls(typed=typed if isinstance(typed, str) else "")


@dataclass(frozen=True, slots=True)
class HomeOpened:
    """``app_home_opened`` (of a person): which tab."""

    tab: str | None

    @classmethod
    def of(cls, event: dict[str, Any]) -> HomeOpened:
        _text(event, "user")
        tab = event.get("tab")
        return cls(tab=tab if isinstance(tab, str) else None)
