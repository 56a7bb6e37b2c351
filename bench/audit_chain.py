"""Audit write throughput with the hash chain ÷ without it, measured in one run (goal ≥ 0.8).

The real write path: a loop of small transactions, each a fresh session and :class:`Unit`, one event queued with
``Unit.record(...)``, then ``Unit.commit()`` (which chains the event and commits). Modes, alternated round by
round so that drift (cache warm-up, autovacuum, a noisy neighbour) hits all of them alike:

- ``chained`` — the product: ``Unit.commit`` appends through the chain head (on PostgreSQL one statement per
                event locks ``audit_head``, advances it and inserts the event with its SHA-256; on SQLite the head is
                read, the hash computed in Python, the head written back);
- ``bare``    — no chain at all: ``seq`` from an in-process counter (this benchmark is the only writer), no
                head, a random ``hash``. Not a design anyone could ship (two writers would collide); it is the
                floor: what writing the same rows costs without any chain. Its events are numbered from
                ``BARE_FROM`` on, out of the chain's way: the head moves only by appending (migration 0012), so
                the chained mode carries on from its own last event.

The goal is judged on chained ÷ bare: the full price of the chain.

    .venv/bin/python -m bench.audit_chain [--db postgresql|sqlite] [--rounds 5] [--per-round 500] [--writers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.tables import AuditEvent
from accessdesk.domain.actor import Actor
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import OrgKind, Role
from bench._common import db_argument, fresh_database, median, verdict

GOAL = 0.8
BARE_FROM = 10**15


class BareUnit(Unit):
    """:class:`Unit` with no chain at all: sequence numbers from a counter this process owns."""

    next_seq = 0  # set from the table before each round; the benchmark is the only writer

    async def commit(self) -> None:
        events, self._events = self._events, []
        try:
            for event in events:
                event.seq, BareUnit.next_seq = BareUnit.next_seq, BareUnit.next_seq + 1
                event.prev_hash = ""
                event.hash = uuid.uuid4().hex + uuid.uuid4().hex
            # A single Core INSERT per event, as the chained path issues one statement per event: the comparison
            # is of the chain's work, not of ORM flush against Core.
            connection = await self.session.connection()
            for event in events:
                await connection.execute(sa.insert(AuditEvent).values(**dataclasses.asdict(event)))
            await self.session.commit()
        except BaseException:
            await self.session.rollback()
            raise


MODES: dict[str, type[Unit]] = {"chained": Unit, "bare": BareUnit}

ACTOR = Actor.user(user_id=uuid.uuid4(), email="gov1@aiso.test", organisation_id=uuid.uuid4(),
                   kind=OrgKind.GOVERNMENT, roles=frozenset({Role.APPROVER}), request_id=uuid.uuid4().hex)  # fmt: skip


async def transactions(sessionmaker: async_sessionmaker[AsyncSession], unit_class: type[Unit], n: int) -> float:
    """Run ``n`` one-event transactions; returns the seconds taken."""
    clock = SystemClock()
    nomination_id = uuid.uuid4()
    started = time.perf_counter()
    for i in range(n):
        async with sessionmaker() as session:
            unit = unit_class(session, clock)
            unit.record(
                actor=ACTOR,
                action="nomination.tallied",
                subject_type="nominations",
                subject_id=nomination_id,
                before={"state": "pending", "developer_approvals": i % 2, "government_approvals": 0},
                after={"state": "pending", "developer_approvals": i % 2, "government_approvals": 1},
            )
            await unit.commit()
    return time.perf_counter() - started


async def _sync_counter(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The bare mode continues after its own last event (the chain itself is not kept intact: bare events carry
    random hashes and lie beyond the head; only the cost is measured here)."""
    async with sessionmaker() as session:
        last = (await session.exec(
            sa.select(sa.func.max(AuditEvent.seq)).where(AuditEvent.seq >= BARE_FROM)  # type: ignore[call-overload]
        )).one()[0]  # fmt: skip
    BareUnit.next_seq = (last or BARE_FROM - 1) + 1


async def batch(sessionmaker: async_sessionmaker[AsyncSession], unit_class: type[Unit], n: int, writers: int) -> float:
    """``n`` transactions spread over ``writers`` concurrent writers; returns the wall-clock seconds taken."""
    if writers == 1:
        return await transactions(sessionmaker, unit_class, n)
    shares = [n // writers + (1 if i < n % writers else 0) for i in range(writers)]
    started = time.perf_counter()
    await asyncio.gather(*(transactions(sessionmaker, unit_class, share) for share in shares))
    return time.perf_counter() - started


async def run(url: str, rounds: int, per_round: int, writers: int, log: Callable[[str], None]) -> dict[str, list[float]]:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        for unit_class in MODES.values():  # warm-up: connections, statement caches, code paths
            await _sync_counter(sessionmaker)
            await batch(sessionmaker, unit_class, max(50, per_round // 5), writers)
        for r in range(rounds):
            order = list(MODES) if r % 2 == 0 else list(reversed(MODES))
            line = []
            for mode in order:
                await _sync_counter(sessionmaker)
                seconds = await batch(sessionmaker, MODES[mode], per_round, writers)
                rates[mode].append(per_round / seconds)
                line.append(f"{mode} {per_round / seconds:7.0f}/s")
            log(f"  round {r + 1}/{rounds}: " + ", ".join(line))
        async with sessionmaker() as session:
            total = (await session.exec(sa.select(sa.func.count()).select_from(AuditEvent))).one()[0]  # type: ignore[call-overload]
        log(f"  {total} audit events written")
    finally:
        await engine.dispose()
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_chain", description=__doc__.splitlines()[0])
    db_argument(parser)
    parser.add_argument("--rounds", type=int, default=5, help="rounds; each runs every mode once (default 5)")
    parser.add_argument("--per-round", type=int, default=500, help="transactions per mode per round (default 500)")
    parser.add_argument("--writers", type=int, default=1,
                        help="concurrent writers sharing each batch (default 1; try 8 to see the chain head "
                             "serialise writers)")  # fmt: skip
    args = parser.parse_args(argv)

    print(f"audit_chain on {args.db}: {args.rounds} rounds × {args.per_round} one-event transactions per mode, "
          f"{args.writers} writer{'s' if args.writers > 1 else ''}")  # fmt: skip
    with fresh_database(args.db, "audit") as url:
        rates = asyncio.run(run(url, args.rounds, args.per_round, args.writers, print))

    med = {mode: median(values) for mode, values in rates.items()}
    ratio = med["chained"] / med["bare"]
    print()
    print(f"median events/s   chained {med['chained']:.0f}   bare {med['bare']:.0f}")
    print(f"chained ÷ bare = {ratio:.3f}   goal ≥ {GOAL}   {verdict(ratio, GOAL, at_least=True)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
