"""Rate limits on the doors people and programs knock at: sign-in, the OIDC callback, the OAuth token,
introspection and revocation endpoints, the JSON API and Slack link confirmation (:mod:`.doors`); counted per key
in fixed windows (:mod:`.limiter`), in memory or, across instances, in PostgreSQL (:mod:`.counts`)."""

from __future__ import annotations

import asyncio

from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.clock import Clock
from accessdesk.ratelimit.counts import Counts, MemoryCounts, PostgresCounts
from accessdesk.ratelimit.doors import Doors
from accessdesk.ratelimit.limiter import Limiter
from accessdesk.settings import Settings

__all__ = ["Counts", "Limiter", "MemoryCounts", "PostgresCounts", "RateLimits", "rate_limited"]


class RateLimits:
    """The app's rate limits when the settings turn them on: the doors the middleware (:func:`rate_limited`) counts
    at, and the limiter whose counts the app shares every ``ACCESSDESK_RATE_LIMIT_FLUSH_SECONDS`` (``flush_forever``
    in the app's lifespan). The app keeps it as ``app.state.rate_limit_doors`` and the limiter as
    ``app.state.rate_limits``."""

    def __init__(self, settings: Settings, *, engine: AsyncEngine, clock: Clock) -> None:
        self.limiter = Limiter(MemoryCounts() if settings.is_sqlite else PostgresCounts(engine), clock)
        self.doors = Doors(settings, self.limiter)
        self.flush_every = settings.rate_limit_flush_seconds

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            await self.limiter.flush()


def rate_limited(app: ASGIApp) -> ASGIApp:
    """The middleware in front of the handlers: the app's doors (``app.state.rate_limit_doors``) count and refuse
    requests when the deployment limits them; otherwise the request passes untouched."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        doors: Doors | None = scope["app"].state.get("rate_limit_doors")
        if doors is None:
            await app(scope, receive, send)
        else:
            await doors.handle(app, scope, receive, send)

    return middleware
