"""The background worker: sweeps on an interval (grant transitions, lapsed nominations, outbox delivery).

Runs as ``accessdesk worker`` or inside the server (embedded default). Any number may run at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.domain.actor import Actor
from accessdesk.domain.checkpoints import CheckpointPolicy, Checkpoints
from accessdesk.domain.transitions import Notifier, NullNotifier, SweepReport, deliver_outbox, sweep
from accessdesk.domain.unit import Unit
from accessdesk.settings import Settings

log = logging.getLogger(__name__)


def notifier_for(settings: Settings) -> Notifier:
    """Slack when it is configured (``Settings.slack_enabled``), else the null notifier, which only logs."""
    if not settings.slack_enabled:
        return NullNotifier()
    from bots.slackbot.notifier import SlackNotifier  # slack_sdk is imported only by deployments that use it
    from bots.slackbot.web_api import web_client

    return SlackNotifier(web_client(settings), console_url=settings.base_url)


def checkpoint_policy_for(settings: Settings) -> CheckpointPolicy:
    """How this deployment signs and publishes audit checkpoints (``ACCESSDESK_AUDIT_CHECKPOINT_*``)."""
    minutes = settings.audit_checkpoint_minutes
    return CheckpointPolicy(sealing_key=settings.sealing_key, issuer=settings.issuer,
                            every=timedelta(minutes=minutes) if minutes > 0 else None,
                            slack_channel=settings.audit_checkpoint_slack_channel or None)  # fmt: skip


class PromptDelivery:
    """Delivers what a request wrote to the outbox as soon as the request is over, rather than at the worker's
    next sweep: a decision made in the console edits its Slack cards within a second. Still exactly once (the
    outbox claims each message; a worker that claimed it first keeps it), and nothing is lost if this fails or
    the process stops: the worker delivers whatever is left."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, notifier: Notifier) -> None:
        self._sessionmaker, self._clock, self._notifier = sessionmaker, clock, notifier
        self._tasks: set[asyncio.Task[None]] = set()

    def soon(self, messages: Sequence[uuid.UUID]) -> None:
        task = asyncio.get_running_loop().create_task(self.now(list(messages)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def now(self, messages: Sequence[uuid.UUID]) -> None:
        try:
            async with self._sessionmaker() as session:
                await deliver_outbox(Unit(session, self._clock), self._notifier, only=messages)
        except Exception:  # noqa: BLE001 - the worker's sweep delivers what this could not
            log.exception("prompt delivery failed; the worker will retry")

    async def drain(self) -> None:
        """Wait for the deliveries under way (at shutdown, and in tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def sweep_once(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, notifier: Notifier,
                     checkpoints: CheckpointPolicy | None = None) -> SweepReport:  # fmt: skip
    """One sweep; first a checkpoint of the audit chain when one is due, so that this sweep's outbox delivery
    publishes it."""
    async with sessionmaker() as session:
        unit = Unit(session, clock)
        if checkpoints is not None:
            await Checkpoints(unit, checkpoints).take_if_due(actor=CHECKPOINTER)
        return await sweep(unit, notifier)


CHECKPOINTER = Actor.system("worker")


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, notifier: Notifier, *, interval: float,
    checkpoints: CheckpointPolicy | None = None,
) -> None:  # fmt: skip
    while True:
        try:
            report = await sweep_once(sessionmaker, clock, notifier, checkpoints)
            if (report.grant_transitions or report.nominations_lapsed or report.messages_delivered
                    or report.messages_failed or report.reminders_sent):
                log.info("worker sweep: %s", report)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed sweep is logged and retried on the next tick
            log.exception("worker sweep failed")
        await asyncio.sleep(interval)
