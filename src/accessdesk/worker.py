"""The background worker: sweeps on an interval (grant transitions, lapsed nominations, outbox delivery).

Runs as ``accessdesk worker`` or inside the server (embedded default). Any number may run at once.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.domain.transitions import Notifier, SweepReport, sweep
from accessdesk.domain.unit import Unit

log = logging.getLogger(__name__)


async def sweep_once(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, notifier: Notifier) -> SweepReport:
    async with sessionmaker() as session:
        return await sweep(Unit(session, clock), notifier)


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, notifier: Notifier, *, interval: float
) -> None:
    while True:
        try:
            report = await sweep_once(sessionmaker, clock, notifier)
            if report.grant_transitions or report.nominations_lapsed or report.messages_delivered:
                log.info("worker sweep: %s", report)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed sweep is logged and retried on the next tick
            log.exception("worker sweep failed")
        await asyncio.sleep(interval)
