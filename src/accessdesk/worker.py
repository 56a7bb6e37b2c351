"""The background worker: sweeps on an interval (grant transitions, lapsed nominations, outbox delivery).

Runs as ``accessdesk worker`` or inside the server (embedded default). Any number may run at once.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.domain.transitions import Notifier, NullNotifier, SweepReport, sweep
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
