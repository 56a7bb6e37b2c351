"""What the bot is still doing after it acknowledged Slack: a listener goes on after its ``ack()`` (Slack wants
the acknowledgement within 3 seconds; the answer may take longer), and the messages a decision queued are
delivered right after it. The server waits for both before it stops, so that what Slack was told is under way
is finished rather than cut off at shutdown."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any


class AtWork:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._then: list[Callable[[], Awaitable[None]]] = []

    def track(self, listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """``listener``, counted while it runs. Bolt reads a listener's parameters to know what to pass it:
        ``functools.wraps`` shows it the listener's own."""

        @functools.wraps(listener)
        async def tracked(**kwargs: Any) -> None:
            task = asyncio.current_task()
            assert task is not None  # bolt runs every listener in a task of its own
            self._tasks.add(task)
            try:
                await listener(**kwargs)
            finally:
                self._tasks.discard(task)

        return tracked

    def then(self, drain: Callable[[], Awaitable[None]]) -> None:
        """Wait for ``drain`` too, once the listeners are done (what they started, such as prompt deliveries)."""
        self._then.append(drain)

    async def drain(self) -> None:
        """Wait for the listeners under way, then for what they started."""
        current = asyncio.current_task()
        while others := [task for task in self._tasks if task is not current]:
            await asyncio.gather(*others, return_exceptions=True)
        for drain in self._then:
            await drain()
