"""The Slack side of the domain's ``Notifier`` port: outbox messages addressed to Slack become ``chat.postMessage``."""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_object_session

from accessdesk.clock import Clock, SystemClock
from accessdesk.db.tables import OutboxMessage, SlackCard
from accessdesk.domain.transitions import RetryAfter
from accessdesk.domain.unit import Unit
from bots.slackbot.blocks import notification_text
from bots.slackbot.cards import card_of, posted

log = logging.getLogger(__name__)

# ``slack:C0123ABCD`` is a channel (public C…, private G…, direct D…); ``slack-user:U0123ABCD`` a person, whom the
# bot writes to in its own direct-message conversation (chat.postMessage accepts a user id as the channel).
_CHANNEL = re.compile(r"slack:([CGD][A-Z0-9]{2,})")
_USER = re.compile(r"slack-user:([UW][A-Z0-9]{2,})")
_APPROVERS = re.compile(r"model:([0-9a-fA-F-]{36}):approvers")
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8000"


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

    A new nomination (``nomination.created`` to ``model:<id>:approvers``) becomes an approval card in each of the
    model's Slack channels, remembered as a :class:`SlackCard` so that decisions edit it in place and a retried
    delivery posts nothing twice. The domain's other logical addresses (``user:<id>``, ``organisation:<id>``) are
    logged and count as delivered, exactly as without Slack; failing them instead would only retry them into the
    dead letters with nothing learnt.

    Failures raise, so the outbox stays the one retry policy: a 429 becomes :class:`RetryAfter` (the message waits
    as long as Slack asked); a 5xx, an ``ok: false`` answer, a timeout or a network error raise as they are, and
    the outbox retries them with backoff into the dead letters.
    """

    def __init__(self, client: AsyncWebClient, *, console_url: str = DEFAULT_CONSOLE_URL,
                 clock: Clock | None = None) -> None:  # fmt: skip
        self._client = client
        self._console_url = console_url
        self._clock = clock or SystemClock()

    async def deliver(self, message: OutboxMessage) -> None:
        if message.topic == "nomination.created" and _APPROVERS.fullmatch(message.recipient):
            await self._post_cards(message)
            return
        channel = slack_channel_of(message.recipient)
        if channel is None:
            log.info("notification %s → %s (not a Slack address: logged only)", message.topic, message.recipient)
            return
        async with _rate_limited(channel):
            await self._client.chat_postMessage(channel=channel, text=notification_text(message.topic, message.payload),
                                                unfurl_links=False, unfurl_media=False)  # fmt: skip

    async def _post_cards(self, message: OutboxMessage) -> None:
        """Post the nomination's card in each of the model's channels that does not have it yet.

        The cards are recorded in the outbox's own transaction (the one that claimed ``message``), committed with
        the message marked delivered, or with its failure: a card posted before a later channel failed is kept,
        and the retry posts only the rest. A second session would wait for the first on SQLite, where every
        transaction holds the write lock (db/engine.py)."""
        session = async_object_session(message)
        if session is None:
            raise RuntimeError("approval cards are posted from the outbox's transaction (deliver_outbox)")
        card = await card_of(Unit(session, self._clock), uuid.UUID(str(message.payload["nomination_id"])))  # type: ignore[arg-type]
        done = {row.channel for row in await posted(session, card.nomination.id)}  # type: ignore[arg-type]
        for channel in card.model.slack_channels:
            if channel in done:
                continue
            async with _rate_limited(channel):
                answer = await self._client.chat_postMessage(
                    channel=channel, unfurl_links=False, unfurl_media=False,
                    **card.for_channel(channel, console_url=self._console_url),
                )  # fmt: skip
            session.add(SlackCard(nomination_id=card.nomination.id, channel=channel, ts=str(answer["ts"]),
                                  posted_at=self._clock.now()))  # fmt: skip


@asynccontextmanager
async def _rate_limited(channel: str) -> AsyncIterator[None]:
    """A 429 from Slack becomes :class:`RetryAfter` (the outbox waits as long as Slack asked)."""
    try:
        yield
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
