"""The Notifier port: how the outbox's messages leave accessdesk, and its null twin.

The domain writes messages to the outbox in the transaction of the decision that caused them; the worker (and a
listener delivering what its own decision wrote) hands each due message to a :class:`Notifier` in the outbox's own
unit of work, the one that claimed the message and will mark it delivered. Implementations: :class:`NullNotifier`
(here), Slack (``accessdesk.slackbot.notifier``, chosen by ``accessdesk.compose``), and the tests' own.
"""

from __future__ import annotations

import logging
from typing import Protocol

from accessdesk.db.tables import OutboxMessage
from accessdesk.domain.unit import Unit

log = logging.getLogger(__name__)


class RetryAfter(Exception):
    """Raised by a notifier whose destination asked to be called again no sooner than ``seconds`` from now (an
    HTTP 429 with ``Retry-After``). The message waits exactly that long, and the try does not count towards the
    dead-letter bound: being told to wait is not a failure of the message, and counting it would dead-letter
    messages during a burst of our own making."""

    def __init__(self, seconds: float, reason: str = "rate limited") -> None:
        super().__init__(f"{reason}; retry after {seconds:g} s")
        self.seconds = max(0.0, seconds)


class Notifier(Protocol):
    """Delivers one outbox message, within ``unit``, the outbox's transaction that claimed it (what the delivery
    records of itself, such as the Slack posts made, commits with the message's own outcome). Raises to have it
    retried later (with backoff, then into the dead letters); raises :class:`RetryAfter` to have it retried no
    sooner than the destination asked."""

    async def deliver(self, unit: Unit, message: OutboxMessage) -> None: ...


class NullNotifier:
    """Delivers nowhere, logging what it would have sent: development, and deployments without Slack."""

    async def deliver(self, unit: Unit, message: OutboxMessage) -> None:
        log.info("notification %s → %s", message.topic, message.recipient)
