"""The Slack side of the domain's ``Notifier`` port: outbox messages addressed to Slack become ``chat.postMessage``."""

from __future__ import annotations

import logging
import math
import re

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from accessdesk.db.tables import OutboxMessage
from accessdesk.domain.transitions import RetryAfter
from bots.slackbot.blocks import notification_text

log = logging.getLogger(__name__)

# ``slack:C0123ABCD`` is a channel (public C…, private G…, direct D…); ``slack-user:U0123ABCD`` a person, whom the
# bot writes to in its own direct-message conversation (chat.postMessage accepts a user id as the channel).
_CHANNEL = re.compile(r"slack:([CGD][A-Z0-9]{2,})")
_USER = re.compile(r"slack-user:([UW][A-Z0-9]{2,})")


def slack_channel_of(recipient: str) -> str | None:
    """The Slack conversation a recipient names, or None if it is not a Slack address.

    Raises ValueError for a malformed Slack address: it should end in the dead letters, not vanish."""
    if not recipient.startswith(("slack:", "slack-user:")):
        return None
    match = _CHANNEL.fullmatch(recipient) or _USER.fullmatch(recipient)
    if match is None:
        raise ValueError(f"not a Slack channel or user id: {recipient!r}")
    return match.group(1)


class SlackNotifier:
    """Posts outbox messages addressed to Slack; logs the others, as the null notifier does.

    The domain addresses most messages logically today (``user:<id>``, ``model:<id>:approvers``,
    ``organisation:<id>``). Turning those into Slack conversations needs linked Slack accounts and the model's
    allowed channels, a later step of the bot; until then they are logged and count as delivered, exactly as
    without Slack. Failing them instead would only retry them into the dead letters with nothing learnt.

    Failures raise, so the outbox stays the one retry policy: a 429 becomes :class:`RetryAfter` (the message waits
    as long as Slack asked); a 5xx, an ``ok: false`` answer, a timeout or a network error raise as they are, and
    the outbox retries them with backoff into the dead letters.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def deliver(self, message: OutboxMessage) -> None:
        channel = slack_channel_of(message.recipient)
        if channel is None:
            log.info("notification %s → %s (not a Slack address: logged only)", message.topic, message.recipient)
            return
        try:
            await self._client.chat_postMessage(channel=channel, text=notification_text(message.topic, message.payload),
                                                unfurl_links=False, unfurl_media=False)  # fmt: skip
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                seconds = _seconds(exc.response.headers.get("Retry-After"))
                if seconds is not None:
                    raise RetryAfter(seconds, reason=f"Slack rate-limited chat.postMessage to {channel}") from exc
            raise


def _seconds(raw: str | None) -> float | None:
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    # Anything but a finite number of seconds is ignored: the outbox's own backoff applies then.
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None
