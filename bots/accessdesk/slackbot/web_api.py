"""The Slack Web API client accessdesk uses, for the bot's listeners and for notifications alike."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from accessdesk.settings import Settings


def web_client(settings: Settings, *, timeout: int = 10) -> AsyncWebClient:
    """A Web API client on ``settings.slack_api_url`` with slack_sdk's own retries turned off.

    The outbox is the one retry policy for notifications (backoff, Retry-After, dead letters, all recorded in the
    database); a client that also retried inside a delivery would hide failures from it, hold a worker sweep for
    the length of its waits, and multiply attempts. An interactive call that fails is reported to the person
    instead, who can simply try again."""
    return AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=timeout,
                          retry_handlers=[])  # fmt: skip
