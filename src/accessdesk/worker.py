"""The background worker: sweeps on an interval (grant transitions, lapsed and expired nominations, reminders and
escalations, outbox delivery).

Runs as ``accessdesk worker`` or inside the server (embedded default). Any number may run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.domain.actor import Actor
from accessdesk.domain.checkpoints import CheckpointPolicy, Checkpoints
from accessdesk.domain.notifier import Notifier
from accessdesk.domain.reminders import ConsultationSchedule
from accessdesk.domain.retention import RetentionPolicy
from accessdesk.domain.transitions import SweepReport, deliver_outbox, sweep
from accessdesk.domain.unit import Unit
from accessdesk.settings import Settings
from accessdesk.telemetry import sweep_timed
from accessdesk.unavailable import describe, is_database_unavailable

log = logging.getLogger(__name__)


def checkpoint_policy_for(settings: Settings) -> CheckpointPolicy:
    """How this deployment signs and publishes audit checkpoints (``ACCESSDESK_AUDIT_CHECKPOINT_*``)."""
    minutes = settings.audit_checkpoint_minutes
    return CheckpointPolicy(sealing_key=settings.sealing_key, issuer=settings.issuer,
                            every=timedelta(minutes=minutes) if minutes > 0 else None,
                            slack_channel=settings.audit_checkpoint_slack_channel or None)  # fmt: skip


def retention_policy_for(settings: Settings) -> RetentionPolicy:
    """How long this deployment keeps finished rows (``ACCESSDESK_RETAIN_*``; 0 days keeps them for good)."""

    def days(value: int) -> timedelta | None:
        return timedelta(days=value) if value > 0 else None

    return RetentionPolicy(sessions=days(settings.retain_sessions_days), outbox=days(settings.retain_outbox_days),
                           slack_deliveries=days(settings.retain_slack_deliveries_days),
                           link_requests=days(settings.retain_link_requests_days))  # fmt: skip


def consultation_schedule_for(settings: Settings) -> ConsultationSchedule:
    """When this deployment reminds of consultations (``ACCESSDESK_CONSULTATION_*``)."""
    return ConsultationSchedule(remind_after=timedelta(days=settings.consultation_remind_days),
                                release_warning=timedelta(days=settings.consultation_release_warn_days))  # fmt: skip


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
        except Exception as exc:  # noqa: BLE001 - the worker's sweep delivers what this could not
            if not is_database_unavailable(exc):
                log.exception("prompt delivery failed; the worker will retry")
            else:
                log.warning("prompt delivery: database unavailable (%s); the worker will retry", describe(exc))

    async def drain(self) -> None:
        """Wait for the deliveries under way (at shutdown, and in tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def sweep_once(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, notifier: Notifier,
                     checkpoints: CheckpointPolicy | None = None,
                     retention: RetentionPolicy | None = None,
                     consultations: ConsultationSchedule | None = None) -> SweepReport:  # fmt: skip
    """One sweep; first a checkpoint of the audit chain when one is due, so that this sweep's outbox delivery
    publishes it. ``retention``, ``consultations``: the documented defaults unless given."""
    with sweep_timed():
        async with sessionmaker() as session:
            unit = Unit(session, clock)
            if checkpoints is not None:
                await Checkpoints(unit, checkpoints).take_if_due(actor=CHECKPOINTER)
            return await sweep(unit, notifier, retention, consultations)


CHECKPOINTER = Actor.system("worker")


MAX_BACKOFF_SECONDS = 60.0


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, notifier: Notifier, *, interval: float,
    checkpoints: CheckpointPolicy | None = None, stop: asyncio.Event | None = None,
    retention: RetentionPolicy | None = None, consultations: ConsultationSchedule | None = None,
) -> None:  # fmt: skip
    """Sweep every ``interval`` seconds. While the database cannot be reached, one line when it is lost, sweeps
    further and further apart (doubling, up to ``MAX_BACKOFF_SECONDS`` or ``interval`` if longer), one line when it
    is back; any other failure is logged with its traceback and retried at the next tick.

    With ``stop``, return once it is set: a sweep under way is finished first (never cut between its transactions),
    the wait between sweeps is not. Without it, run until cancelled (the embedded worker, stopped with its app)."""
    missed = 0
    stop = stop or asyncio.Event()
    while not stop.is_set():
        wait = interval
        try:
            report = await sweep_once(sessionmaker, clock, notifier, checkpoints, retention, consultations)
            if missed:
                log.warning("worker: database reachable again after %d missed sweeps; sweeping every %g s",
                            missed, interval)  # fmt: skip
                missed = 0
            if (report.grant_transitions or report.nominations_lapsed or report.messages_delivered
                    or report.messages_failed or report.reminders_sent or report.sessions_pruned
                    or report.outbox_pruned or report.slack_deliveries_pruned or report.link_requests_pruned):
                log.info("worker sweep: %s", report)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed sweep is logged and retried on the next tick
            if not is_database_unavailable(exc):
                log.exception("worker sweep failed")
            else:
                missed += 1
                wait = min(interval * 2 ** min(missed, 16), max(MAX_BACKOFF_SECONDS, interval))
                if missed == 1:
                    log.warning("worker: database unavailable (%s); sweeping again in %g s, less often while it "
                                "lasts", describe(exc), wait)  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
