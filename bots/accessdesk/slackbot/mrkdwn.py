"""Words in Slack's message markup, shared by every builder of blocks (:mod:`accessdesk.slackbot.blocks`,
:mod:`accessdesk.slackbot.cohort_blocks`)."""

from __future__ import annotations


def escape(text: str) -> str:
    """Slack reads ``&``, ``<`` and ``>`` as markup in message text; shown literally, they must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``1 nomination``, ``3 nominations``: never "nomination(s)"."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def console_page(console_url: str, path: str) -> str:
    """A page of the console (``/console/...``): where the bot sends people for what it does not show."""
    return f"{console_url.rstrip('/')}/console/{path}"
