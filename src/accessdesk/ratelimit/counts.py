"""Where the counts of the rate limits meet: a PostgreSQL table every instance adds to, or, for the embedded
deployment (SQLite, one process), memory. Both keep one interface, :class:`Counts`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

Slot = tuple[str, int]  # (key, start of the window in seconds since the epoch)


@dataclass(frozen=True, slots=True)
class Hits:
    """``n`` more requests by ``key`` in the window that starts at ``window`` and ends at ``ends``, against a limit
    of ``allowed`` per window."""

    key: str
    window: int
    n: int
    allowed: int
    ends: int

    @property
    def slot(self) -> Slot:
        return self.key, self.window


class Counts(Protocol):
    shared: bool
    """Other processes add to these counts too (then an instance learns their part only by adding or asking)."""

    async def add(self, hits: Sequence[Hits]) -> dict[Slot, int]:
        """Add every hit, atomically per slot; each slot's total afterwards, all processes together."""

    async def reached(self, *, now: float) -> list[tuple[str, int]]:
        """The keys whose total in a window still running at ``now`` has reached their limit, with the window's end."""

    async def prune(self, *, now: float) -> int:
        """Forget the windows that ended before ``now``; how many rows went."""


class MemoryCounts:
    """One process's counts, for the embedded deployment (SQLite): nobody else counts."""

    shared = False

    def __init__(self) -> None:
        self._totals: dict[Slot, list[int]] = {}  # slot → [total, allowed, ends]

    async def add(self, hits: Sequence[Hits]) -> dict[Slot, int]:
        totals = {}
        for hit in hits:
            row = self._totals.setdefault(hit.slot, [0, hit.allowed, hit.ends])
            row[0] += hit.n
            totals[hit.slot] = row[0]
        return totals

    async def reached(self, *, now: float) -> list[tuple[str, int]]:
        return [(key, ends) for (key, _), (total, allowed, ends) in self._totals.items() if ends > now and total >= allowed]

    async def prune(self, *, now: float) -> int:
        ended = [slot for slot, (_, _, ends) in self._totals.items() if ends <= now]
        for slot in ended:
            del self._totals[slot]
        return len(ended)


# The rows are sorted before they go in: two instances adding overlapping keys at once then lock the rows in the
# same order and cannot deadlock on each other.
_ADD = sa.text(
    """
    INSERT INTO rate_limit_counts AS c (key, window_start, count, allowed, expires_at)
    SELECT * FROM unnest(CAST(:keys AS varchar[]), CAST(:windows AS bigint[]), CAST(:ns AS integer[]),
                         CAST(:alloweds AS integer[]), CAST(:ends AS timestamptz[]))
    ON CONFLICT (key, window_start) DO UPDATE SET count = c.count + excluded.count
    RETURNING key, window_start, count
    """
)
_REACHED = sa.text("SELECT key, CAST(EXTRACT(EPOCH FROM expires_at) AS bigint) FROM rate_limit_counts "
                   "WHERE expires_at > :now AND count >= allowed")
_PRUNE = sa.text("DELETE FROM rate_limit_counts WHERE expires_at <= :now")


class PostgresCounts:
    """The counts of every instance, in ``rate_limit_counts`` (migration 0013)."""

    shared = True

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, hits: Sequence[Hits]) -> dict[Slot, int]:
        if not hits:
            return {}
        merged: dict[Slot, Hits] = {}
        for hit in hits:  # one statement may not update the same row twice
            known = merged.get(hit.slot)
            merged[hit.slot] = hit if known is None else Hits(hit.key, hit.window, known.n + hit.n, hit.allowed, hit.ends)
        rows = [merged[slot] for slot in sorted(merged)]
        async with self._engine.begin() as connection:
            result = await connection.execute(_ADD, {
                "keys": [h.key for h in rows], "windows": [h.window for h in rows], "ns": [h.n for h in rows],
                "alloweds": [h.allowed for h in rows], "ends": [_at(h.ends) for h in rows],
            })  # fmt: skip
            return {(key, window): count for key, window, count in result}

    async def reached(self, *, now: float) -> list[tuple[str, int]]:
        async with self._engine.connect() as connection:
            return [(key, ends) for key, ends in await connection.execute(_REACHED, {"now": _at(now)})]

    async def prune(self, *, now: float) -> int:
        async with self._engine.begin() as connection:
            return (await connection.execute(_PRUNE, {"now": _at(now)})).rowcount


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
