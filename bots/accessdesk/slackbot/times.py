"""Instants as the bot shows them, one convention everywhere (cards, the App Home, command answers, messages,
reminders): Slack's date formatting, which each reader's Slack renders in their own time zone, with the instant in
UTC, said so, for any client that cannot. Where Slack formats no dates (plain text: headers, confirmation dialogs,
modal text) the instant is written in UTC, said so."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(at: datetime) -> str:
    """``2026-12-03 16:30 UTC``: for plain text, and the fallback of :func:`local`."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return f"{at:%Y-%m-%d %H:%M} UTC"


def local(at: datetime) -> str:
    """For mrkdwn: ``<!date^1796315400^{date_short_pretty} {time}|2026-12-03 16:30 UTC>``, shown to each reader as
    e.g. "Dec 3, 2026 5:30 PM" in their own time zone."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{utc(at)}>"
