"""Rate limits on the doors people and programs knock at: sign-in, the OIDC callback, the OAuth token,
introspection and revocation endpoints, the JSON API and Slack link confirmation (:mod:`.doors`); counted per key
in fixed windows (:mod:`.limiter`), in memory or, across instances, in PostgreSQL (:mod:`.counts`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.clock import Clock
from accessdesk.ratelimit.counts import Counts, MemoryCounts, PostgresCounts
from accessdesk.ratelimit.doors import Doors
from accessdesk.ratelimit.limiter import Limiter
from accessdesk.settings import Settings

__all__ = ["Counts", "Limiter", "MemoryCounts", "PostgresCounts", "RateLimits"]


class RateLimits(InitPluginProtocol):
    """The app's rate limits, when the settings turn them on: the middleware in front of the limited doors, and a
    task that shares the counts every ``ACCESSDESK_RATE_LIMIT_FLUSH_SECONDS`` (the limiter is ``app.state.rate_limits``)."""

    def __init__(self, settings: Settings, *, engine: AsyncEngine, clock: Clock) -> None:
        self.enabled = settings.rate_limits_enabled
        self.limiter = Limiter(MemoryCounts() if settings.is_sqlite else PostgresCounts(engine), clock)
        self.doors = Doors(settings, self.limiter)
        self.flush_every = settings.rate_limit_flush_seconds

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if self.enabled:
            app_config.middleware.append(self.doors.middleware)
            app_config.lifespan.append(self.lifespan)
            app_config.state["rate_limits"] = self.limiter
        return app_config

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(self._flush_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.limiter.flush()  # what was counted since the last flush still counts for the others

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            await self.limiter.flush()
