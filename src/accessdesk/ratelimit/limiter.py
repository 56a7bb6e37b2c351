"""Counting requests against limits, in fixed windows, and saying when to refuse.

Each limit counts per key (a client address, a claimed client_id, a token's digest) in fixed windows of its rate's
length: the window that holds ``now`` starts at ``now - now % seconds``. A key that has *reached* its limit in a
window (as many requests as allowed) is refused until that window ends: ``Retry-After`` is the rest of it.

Where the counts meet (:mod:`accessdesk.ratelimit.counts`) decides how exact a limit is across instances:

- in memory (SQLite: one process), every count is exact;
- on PostgreSQL, :meth:`Limiter.take` adds each request to the shared row as it comes (one atomic statement) and
  refuses by the total it returns: exact across instances. The rare doors with strict limits (sign-in, the OIDC
  callback, Slack link pages) are counted so, and so is every failed authentication (:meth:`Limiter.failed`);
  an instance refuses a key whose *failures* reached their limit elsewhere from its next flush, or its own next
  failure for that key, whichever comes first;
- :meth:`Limiter.count`, for the busy doors on the hot path (the token endpoint, introspection, revocation, the
  JSON API), counts in memory; every flush interval each instance adds what it counted to the shared rows and
  learns the totals back (``RETURNING``). An instance judges by the last total it learned plus what it counted
  since, and learns the others' counts at its first flush after theirs: beyond a limit, the instances together
  admit at most what the others counted in the last one or two flush intervals.

Every flush also asks which keys have reached their limit anywhere (so an instance refuses a key that another
one limited) and forgets the windows that ended; once a minute it deletes their rows.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from accessdesk.clock import Clock, SystemClock
from accessdesk.ratelimit.counts import Counts, Hits, Slot
from accessdesk.settings import Rate

log = logging.getLogger(__name__)
PRUNE_EVERY = 60.0  # seconds (of the app's clock) between two deletions of ended windows from the shared store
WARN_EVERY = 60.0  # seconds (real) between two warnings that the shared store is out of reach


@dataclass(frozen=True, slots=True)
class Limit:
    """One rate limit: ``name`` prefixes its keys and names it in the log; ``per`` says what a key is."""

    name: str
    rate: Rate
    per: str

    def window(self, now: float) -> tuple[int, int]:
        seconds = self.rate.seconds
        start = int(now // seconds) * seconds
        return start, start + seconds


@dataclass(frozen=True, slots=True, order=True)
class Refused:
    """Over a limit: ask again in ``retry_after`` seconds (when the window that refused ends)."""

    retry_after: int


Local = tuple[str, str, float]  # (limit name, key, window start): a count kept in memory
# What an instance knows of one Local, in one list (one lookup on the hot path):
PENDING, SHARED, FLUSHING, ALLOWED, ENDS = range(5)  # counted since the last flush, the shared total the last flush
# returned, the counts of the flush under way, the limit, the window's end


class Limiter:
    def __init__(self, counts: Counts, clock: Clock) -> None:
        self.counts = counts
        # The hot path asks the time on every request: the system clock's float directly (a datetime costs several
        # times as much); any other clock (a frozen one in tests) through the port.
        self.now: Callable[[], float] = time.time if isinstance(clock, SystemClock) else lambda: clock.now().timestamp()
        self._local: dict[Local, list[float]] = {}  # → [PENDING, SHARED, FLUSHING, ALLOWED, ENDS]
        self._reached: dict[str, dict[str, int]] = {}  # limit name → key → end of the window in which it reached
        self._pruned = 0.0
        self._warned = -math.inf

    def refused(self, limit: Limit, key: str, *, now: float) -> Refused | None:
        """Refused when ``key`` has reached ``limit`` in the current window, as far as this instance knows;
        nothing is counted."""
        reached = self._reached.get(limit.name)
        ends = reached.get(key) if reached else None
        if ends is None or ends <= now:
            return None
        return Refused(max(1, math.ceil(ends - now)))

    def any_reached(self, limit: Limit) -> bool:
        """Some key may have reached ``limit`` (a quick test before working out a costly key)."""
        return bool(self._reached.get(limit.name))

    def count_one(self, limit: Limit, key: str, now: float) -> Refused | None:
        """:meth:`count` for one (limit, key): the introspection and token endpoints' path, kept short."""
        name, seconds = limit.name, limit.rate.seconds
        reached = self._reached.get(name)
        if reached and reached.get(key, 0) > now:
            return Refused(max(1, math.ceil(reached[key] - now)))
        local = (name, key, now // seconds * seconds)
        slot = self._local.get(local)
        if slot is None:
            slot = self._local[local] = [0, 0, 0, limit.rate.count, local[2] + seconds]
        total = slot[PENDING] + slot[SHARED] + slot[FLUSHING] + 1
        if total > slot[ALLOWED]:
            self._reach(name, key, int(slot[ENDS]))
            return Refused(max(1, math.ceil(slot[ENDS] - now)))
        slot[PENDING] += 1
        if total == slot[ALLOWED]:
            self._reach(name, key, int(slot[ENDS]))
        return None

    def count(self, asked: Sequence[tuple[Limit, str]], *, now: float) -> Refused | None:
        """Count one request against each (limit, key) in memory, shared at the next flush; or refuse it, then
        counted against none. For the busy doors: no I/O, no await, one lookup per limit."""
        slots = []
        for limit, key in asked:
            reached = self._reached.get(limit.name)
            if reached and reached.get(key, 0) > now:
                return Refused(max(1, math.ceil(reached[key] - now)))
            seconds = limit.rate.seconds
            start = now // seconds * seconds
            slot = self._local.get((limit.name, key, start))
            if slot is None:
                slot = self._local[(limit.name, key, start)] = [0, 0, 0, limit.rate.count, start + seconds]
            total = slot[PENDING] + slot[SHARED] + slot[FLUSHING]
            if total >= slot[ALLOWED]:
                self._reach(limit.name, key, int(slot[ENDS]))
                return Refused(max(1, math.ceil(slot[ENDS] - now)))
            slots.append((limit.name, key, slot, total))
        for name, key, slot, total in slots:
            slot[PENDING] += 1
            if total + 1 >= slot[ALLOWED]:
                self._reach(name, key, int(slot[ENDS]))  # the next one is refused here; the flush that shares it logs
        return None

    async def take(self, asked: Sequence[tuple[Limit, str]], *, now: float) -> Refused | None:
        """Count one request against each (limit, key) in the shared store at once, or refuse it (once a key is
        known to have reached its limit, it is refused without being counted). For the rare doors with strict
        limits: exact across instances."""
        hits = []
        for limit, key in asked:
            refused = self.refused(limit, key, now=now)
            if refused is not None:
                return refused
            start, ends = limit.window(now)
            hits.append(Hits(f"{limit.name}:{key}", start, 1, limit.rate.count, ends))
        totals = await self._add(hits)
        refusals = [Refused(max(1, math.ceil(hit.ends - now))) for hit in hits if totals.get(hit.slot, 0) > hit.allowed]
        return max(refusals) if refusals else None

    async def failed(self, asked: Sequence[tuple[Limit, str]], *, now: float) -> None:
        """Count one failure (a refused authentication) against each (limit, key) in the shared store at once:
        failures are rare, and their limits strict."""
        hits = []
        for limit, key in asked:
            start, ends = limit.window(now)
            hits.append(Hits(f"{limit.name}:{key}", start, 1, limit.rate.count, ends))
        await self._add(hits)

    async def _add(self, hits: list[Hits]) -> dict[Slot, int]:
        try:
            totals = await self.counts.add(hits)
        except Exception as exc:  # noqa: BLE001 - a store out of reach must not take the service down with it
            self._warn(exc)
            return {}
        for hit in hits:
            self._crossed(hit, totals.get(hit.slot, 0))
        return totals

    async def flush(self) -> None:
        """Share what was counted in memory, learn the totals back and which keys reached their limits anywhere,
        and forget the windows that ended."""
        now = self.now()
        hits = {}
        for local, slot in self._local.items():
            if slot[PENDING]:
                slot[FLUSHING], slot[PENDING] = slot[PENDING], 0
                hits[local] = Hits(f"{local[0]}:{local[1]}", int(local[2]), int(slot[FLUSHING]), int(slot[ALLOWED]),
                                   int(slot[ENDS]))  # fmt: skip
        try:
            totals = await self.counts.add(list(hits.values()))
        except Exception as exc:  # noqa: BLE001 - counted again at the next flush; meanwhile each instance judges alone
            self._warn(exc)
            for local in hits:
                slot = self._local[local]
                slot[PENDING], slot[FLUSHING] = slot[PENDING] + slot[FLUSHING], 0
            return
        for local, hit in hits.items():
            slot = self._local[local]
            slot[SHARED], slot[FLUSHING] = totals.get(hit.slot, 0), 0
            self._crossed(hit, totals.get(hit.slot, 0))
        try:
            for key, ends in await self.counts.reached(now=now):
                name, _, rest = key.partition(":")
                self._reach(name, rest, ends)
            if now - self._pruned >= PRUNE_EVERY:
                await self.counts.prune(now=now)
                self._pruned = now
        except Exception as exc:  # noqa: BLE001 - as above
            self._warn(exc)
        self._local = {local: slot for local, slot in self._local.items() if slot[ENDS] > now}
        for keys in self._reached.values():
            for key in [k for k, ends in keys.items() if ends <= now]:
                del keys[key]

    def _reach(self, name: str, key: str, ends: int) -> None:
        self._reached.setdefault(name, {})[key] = ends

    def _crossed(self, hit: Hits, total: int) -> None:
        """Mark a key that reached its limit; the one addition that took it there (one, all instances together:
        the addition is atomic) logs it, once per key and window."""
        if total >= hit.allowed:
            name, _, key = hit.key.partition(":")
            self._reach(name, key, hit.ends)
            if total - hit.n < hit.allowed:
                until = datetime.fromtimestamp(hit.ends, UTC).strftime("%H:%M:%S")
                log.warning("rate limit %s reached by %s (%d in this window); refused until %s UTC", name, key,
                            total, until)  # fmt: skip

    def _warn(self, exc: Exception) -> None:
        if time.monotonic() - self._warned >= WARN_EVERY:
            self._warned = time.monotonic()
            log.warning("rate limits: the shared counts are out of reach (%s); each instance counts alone meanwhile",
                        type(exc).__name__)  # fmt: skip
