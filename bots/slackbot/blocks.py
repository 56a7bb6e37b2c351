"""Block Kit, built by pure functions: what the bot says, comparable in tests without Slack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bots.slackbot.ids import CommandName, Subcommand

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    subcommand: Subcommand
    usage: str
    summary: str
    available: bool


# The bot is built in steps (issue #5); the help says plainly which subcommands work today.
USAGES = (
    Usage(Subcommand.NOMINATE, "nominate", "nominate a partner organisation for early access to a model", False),
    Usage(Subcommand.STATUS, "status <model>", "where a model's nominations and grants stand", False),
    Usage(Subcommand.PENDING, "pending", "the nominations waiting for your decision", False),
    Usage(Subcommand.LINK, "link", "link your Slack account to your accessdesk account", False),
    Usage(Subcommand.HELP, "help", "this message", True),
)


def escape(text: str) -> str:
    """Slack reads ``&``, ``<`` and ``>`` as markup in message text; shown literally, they must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _ephemeral(text: str, blocks: list[Block]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def help_message(*, console_url: str) -> dict[str, Any]:
    """The answer to ``/accessdesk help`` (and to anything it does not understand), seen only by the asker."""
    lines = [
        f"`{CommandName.ACCESSDESK} {escape(u.usage)}` — {u.summary}" + ("" if u.available else " _(coming soon)_")
        for u in USAGES
    ]
    coming = ", ".join(f"`{u.subcommand}`" for u in USAGES if not u.available)
    return _ephemeral(
        f"accessdesk commands: {escape(', '.join(u.usage for u in USAGES))}",
        [
            {"type": "section", "text": _mrkdwn("*accessdesk* — co-selected early access to frontier AI models")},
            {"type": "section", "text": _mrkdwn("\n".join(lines))},
            {"type": "context", "elements": [_mrkdwn(
                f"Not available in Slack yet: {coming}. Meanwhile use the console: <{console_url}|accessdesk>."
            )]},
        ],
    )  # fmt: skip


def not_available_message(subcommand: Subcommand, *, console_url: str) -> dict[str, Any]:
    """The honest answer to a subcommand the bot does not do yet."""
    text = (
        f"`{CommandName.ACCESSDESK} {subcommand}` is not available yet. "
        f"Meanwhile use the console: <{console_url}|accessdesk>."
    )
    return _ephemeral(f"/accessdesk {subcommand} is not available yet", [{"type": "section", "text": _mrkdwn(text)}])


def notification_text(topic: str, payload: Mapping[str, Any]) -> str:
    """A plain summary of an outbox message: its topic, then each payload field on its own line."""
    lines = [f"accessdesk: {escape(topic)}"]
    lines += [f"{escape(str(key))}: {escape(str(value))}" for key, value in payload.items()]
    return "\n".join(lines)
