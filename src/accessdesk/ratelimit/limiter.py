"""Counting requests against limits, in fixed windows, and saying when to refuse.

Each limit counts per key (a client address, a claimed client_id, a token's digest) in fixed windows of its rate's
length: the window that holds ``now`` starts at ``now - now % seconds``. A key that has *reached* its limit in a
window (as many requests as allowed) is refused until that window ends: ``Retry-After`` is the rest of it.

Where the counts meet (:mod:`accessdesk.ratelimit.counts`) decides how exact a limit is across instances:

- in memory (one process), every count is exact;
- on PostgreSQL, a limit counted *directly* adds each request to the shared row as it comes (one statement,
  atomic): exact across instances. Sign-in, the OIDC callback, Slack link pages and every failed authentication
  are counted so; they are rare;
- a limit counted *in batches* (the token endpoint, introspection, revocation, the JSON API: busy, and on the
  hot path) counts in memory and adds what it counted to the shared rows every flush interval, learning the totals
  of all instances back (``RETURNING``). An instance judges by the last shared total plus what it counted since,
  so the instances together admit at most what the others counted in one interval beyond the limit.

Every flush also asks which keys have reached their limit anywhere, so that an instance refuses a key another
one limited, and forgets the windows that ended.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from accessdesk.clock import Clock
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
    batched: bool = False

    def window(self, now: float) -> tuple[int, int]:
        seconds = self.rate.seconds
        start = int(now // seconds) * seconds
        return start, start + seconds


@dataclass(frozen=True, slots=True, order=True)
class Refused:
    """Over a limit: ask again in ``retry_after`` seconds (when the window that refused ends)."""

    retry_after: int


class Limiter:
    def __init__(self, counts: Counts, clock: Clock) -> None:
        self.counts = counts
        self.clock = clock
        self._pending: dict[Slot, list[int]] = {}  # batched counts not yet shared: slot → [n, allowed, ends]
        self._flushing: dict[Slot, int] = {}  # the counts of the flush under way (not yet in _known)
        self._known: dict[Slot, tuple[int, int]] = {}  # slot → (shared total as the last flush returned it, end)
        self._reached: dict[str, dict[str, int]] = {}  # limit name → key → end of the window in which it reached
        self._pruned = 0.0
        self._warned = -math.inf

    def now(self) -> float:
        return self.clock.now().timestamp()

    def refused(self, limit: Limit, key: str, *, now: float) -> Refused | None:
        """Refused when ``key`` has reached ``limit`` in the current window, as far as this instance knows;
        nothing is counted."""
        ends = self._reached.get(limit.name, {}).get(key)
        if ends is None or ends <= now:
            return None
        return Refused(max(1, math.ceil(ends - now)))

    def any_reached(self, limit: Limit) -> bool:
        """Some key may have reached ``limit`` (a quick test before working out a costly key)."""
        return bool(self._reached.get(limit.name))

    async def take(self, asked: Sequence[tuple[Limit, str]], *, now: float) -> Refused | None:
        """Count one request against each (limit, key), or refuse it, then counted against none of the batched
        limits (and, once a key is known to have reached its limit, against none at all)."""
        refusals = [r for limit, key in asked if (r := self.refused(limit, key, now=now)) is not None]
        if refusals:
            return max(refusals)
        batched, direct = [], []
        for limit, key in asked:
            start, ends = limit.window(now)
            full = f"{limit.name}:{key}"
            if limit.batched and self.counts.shared:
                slot = (full, start)
                pending = self._pending.get(slot)
                shared = self._known.get(slot)
                total = (shared[0] if shared else 0) + self._flushing.get(slot, 0) + (pending[0] if pending else 0)
                if total >= limit.rate.count:
                    self._reach(full, ends)
                    refusals.append(Refused(max(1, math.ceil(ends - now))))
                batched.append((limit, full, slot, ends, total))
            else:
                direct.append(Hits(full, start, 1, limit.rate.count, ends))
        if refusals:
            return max(refusals)
        if direct:
            try:
                totals = await self.counts.add(direct)
            except Exception as exc:  # noqa: BLE001 - a store out of reach must not take the service down with it
                self._warn(exc)
                totals = {}
            for hit in direct:
                total = totals.get(hit.slot, 0)
                self._crossed(hit, total)
                if total > hit.allowed:
                    refusals.append(Refused(max(1, math.ceil(hit.ends - now))))
            if refusals:
                return max(refusals)
        for limit, full, slot, ends, total in batched:
            pending = self._pending.setdefault(slot, [0, limit.rate.count, ends])
            pending[0] += 1
            if total + 1 >= limit.rate.count:
                self._reach(full, ends)  # the next request is refused here; the flush that shares it logs it
        return None

    async def failed(self, asked: Sequence[tuple[Limit, str]], *, now: float) -> None:
        """Count one failure (a refused authentication) against each (limit, key), directly: failures are rare, and
        their limits are strict."""
        hits = []
        for limit, key in asked:
            start, ends = limit.window(now)
            hits.append(Hits(f"{limit.name}:{key}", start, 1, limit.rate.count, ends))
        try:
            totals = await self.counts.add(hits)
        except Exception as exc:  # noqa: BLE001 - as in take
            self._warn(exc)
            return
        for hit in hits:
            self._crossed(hit, totals.get(hit.slot, 0))

    async def flush(self) -> None:
        """Share what was counted in batches, learn the totals back and which keys reached their limits anywhere,
        and forget the windows that ended."""
        now = self.now()
        pending, self._pending = self._pending, {}
        self._flushing = {slot: n for slot, (n, _, _) in pending.items()}
        hits = [Hits(key, start, n, allowed, ends) for (key, start), (n, allowed, ends) in pending.items()]
        try:
            totals = await self.counts.add(hits)
            for hit in hits:
                self._known[hit.slot] = (totals.get(hit.slot, 0), hit.ends)
                self._crossed(hit, totals.get(hit.slot, 0))
            for key, ends in await self.counts.reached(now=now):
                self._reach(key, ends)
            if now - self._pruned >= PRUNE_EVERY:
                await self.counts.prune(now=now)
                self._pruned = now
        except Exception as exc:  # noqa: BLE001 - counted again at the next flush; meanwhile each instance judges alone
            self._warn(exc)
            for slot, (n, allowed, ends) in pending.items():
                self._pending.setdefault(slot, [0, allowed, ends])[0] += n
        finally:
            self._flushing = {}
        self._known = {slot: known for slot, known in self._known.items() if known[1] > now}
        for keys in self._reached.values():
            for key in [k for k, ends in keys.items() if ends <= now]:
                del keys[key]

    def _reach(self, full: str, ends: int) -> None:
        name, _, key = full.partition(":")
        self._reached.setdefault(name, {})[key] = ends

    def _crossed(self, hit: Hits, total: int) -> None:
        """Mark a key that reached its limit; the one addition that took it there (one, all instances together:
        the addition is atomic) logs it, once per key and window."""
        if total >= hit.allowed:
            self._reach(hit.key, hit.ends)
            if total - hit.n < hit.allowed:
                name, _, key = hit.key.partition(":")
                until = datetime.fromtimestamp(hit.ends, UTC).strftime("%H:%M:%S")
                log.warning("rate limit %s reached by %s (%d in this window); refused until %s UTC", name, key,
                            total, until)  # fmt: skip

    def _warn(self, exc: Exception) -> None:
        if time.monotonic() - self._warned >= WARN_EVERY:
            self._warned = time.monotonic()
            log.warning("rate limits: the shared counts are out of reach (%s); each instance counts alone meanwhile",
                        type(exc).__name__)  # fmt: skip
