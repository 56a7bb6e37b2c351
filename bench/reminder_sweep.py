"""The reminder sweep with 100k grants ÷ with 1k grants, 100 reminders due in both (goal ≤ 1.5).

Two fresh databases are built with the real migrations and filled in bulk (bench/_dataset.py) as of one fixed
instant, ``NOW``: N grants, 100 pending nominations, and the grantees' NDA acceptances and attestations with two
years of renewals. Both also get 100 more grants ending evenly over the next 7 days, and the first 10 partners'
NDAs and attestations lapse evenly over the next 30 days: without these the 1k database would not have 100
reminders to send at any one instant.

Each database is then brought to the steady state of a worker that has been sweeping every minute:

- the reminders sent before ``NOW`` whose windows have closed (about two per ended grant, one or two per renewed
  NDA or attestation) are loaded in bulk, each with its outbox messages, delivered;
- one sweep at ``NOW`` (not measured) sends what is due now, through the product's code;
- PostgreSQL gets ``VACUUM ANALYZE``, SQLite ``ANALYZE``.

100 of the reminders that sweep sent are chosen, the same number of each kind in both databases (``QUOTAS``). Each
round deletes those 100 rows and their outbox messages, then times one ``Reminders(Unit(session, clock)).sweep()``
at ``NOW``, which must send exactly those 100 again. The two databases alternate, the order reversed every other
round, after one round of warm-up. The result is the ratio of the median sweep times, 100k ÷ 1k.

    .venv/bin/python -m bench.reminder_sweep [--db postgresql|sqlite] [--rounds 15] [--small 1000] [--large 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import FrozenClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.tables import (
    AccessGrant,
    Attestation,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
    Organisation,
    OutboxMessage,
    Reminder,
    User,
    UserRole,
)
from accessdesk.domain.reminders import (
    ATTESTATION_SCHEDULE,
    GRANT_SCHEDULE,
    NDA_SCHEDULE,
    PENDING_FOR,
    TOPIC,
    ReminderKind,
    ReminderReport,
    Reminders,
)
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import NominationState, Role
from bench._common import db_argument, fresh_database, median, plain, verdict
from bench._dataset import CHUNK, Loader, populate

GOAL = 1.5
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PENDING = 100  # pending nominations, created over the last 5 days: about 60 of them pending for over 48 h
ENDING = 100  # grants ending evenly over the next 7 days, on top of the N
EXPIRING = 10  # partners whose NDAs and attestations lapse evenly over the next 30 days
K = ReminderKind
# The 100 measured: grants ending are the main case; the same number of each kind in both databases.
QUOTAS = {K.GRANT_ENDS_7D: 50, K.GRANT_ENDS_1D: 10, K.NDA_EXPIRES_30D: 5, K.NDA_EXPIRES_7D: 5,
          K.ATTESTATION_EXPIRES_30D: 5, K.ATTESTATION_EXPIRES_7D: 5, K.NOMINATION_PENDING_48H: 20}  # fmt: skip
COUNTED = (Organisation, User, Nomination, AccessGrant, NdaAcceptance, Attestation, Reminder, OutboxMessage)


@dataclass
class Size:
    label: str
    url: str
    counts: dict[str, int] = field(default_factory=dict)
    horizon: dict[str, int] = field(default_factory=dict)
    history: int = 0
    steady: ReminderReport | None = None
    steady_seconds: float = 0.0
    chosen: list[tuple[str, uuid.UUID, datetime]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


# --- the steady state: what a worker sweeping every minute would have sent before NOW ----------------------------


def _sent_before(schedule: Sequence[tuple[ReminderKind, timedelta]], *, start: datetime, deadline: datetime,
                 gone: datetime | None) -> Iterator[tuple[ReminderKind, datetime]]:  # fmt: skip
    """A subject's reminders whose windows closed before ``NOW``, each sent when it came due: (kind, due).

    ``gone``: when the subject stopped being reminded of (its grant revoked, a renewal signed). The reminders still
    due at ``NOW`` are left to the unmeasured sweep, which sends them through the product's code.
    """
    for index, (kind, offset) in enumerate(schedule):
        shorter = schedule[index + 1][1] if index + 1 < len(schedule) else timedelta(0)
        due = deadline - offset
        if start <= due and deadline - shorter <= NOW and (gone is None or gone > due):
            yield kind, due


class History:
    """Reminder rows and their delivered outbox messages, loaded ``CHUNK`` reminders at a time."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self.reminders: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.total = 0

    async def add(self, kind: ReminderKind, subject_id: uuid.UUID, deadline: datetime, due: datetime,
                  recipients: list[str], payload: dict[str, Any], *, organisation_id: uuid.UUID,
                  model_id: uuid.UUID | None = None) -> None:  # fmt: skip
        reminder_id = uuid.uuid4()
        keys = [f"reminder:{reminder_id}:{recipient}" for recipient in recipients]
        sent_at = due + timedelta(seconds=30)  # the worker's next sweep
        self.reminders.append(dict(id=reminder_id, kind=kind.value, subject_id=subject_id,
                                   organisation_id=organisation_id, model_id=model_id, deadline=deadline, due_at=due,
                                   created_at=sent_at, messages=keys))  # fmt: skip
        body = {**payload, "kind": kind.value, "deadline": deadline.isoformat()}
        for recipient, key in zip(recipients, keys, strict=True):
            self.messages.append(dict(id=uuid.uuid4(), dedupe_key=key, topic=TOPIC[kind], recipient=recipient,
                                      payload=body, created_at=sent_at, available_at=sent_at, attempts=1,
                                      delivered_at=sent_at + timedelta(seconds=2)))  # fmt: skip
        if len(self.reminders) >= CHUNK:
            await self.flush()

    async def flush(self) -> None:
        await self.loader.load("reminders", self.reminders)
        await self.loader.load("outbox", self.messages)
        self.total += len(self.reminders)
        self.reminders, self.messages = [], []


def _renewed_at(rows: Sequence[Any], series: str) -> dict[uuid.UUID, datetime]:
    """When each acceptance or attestation was superseded: the start of the next one of the same organisation and
    series (NDA) or area (attestation)."""
    chains: dict[tuple[uuid.UUID, str], list[Any]] = defaultdict(list)
    for row in rows:
        chains[(row.organisation_id, getattr(row, series))].append(row)
    out = {}
    for chain in chains.values():
        chain.sort(key=lambda row: row.end)
        for earlier, later in zip(chain, chain[1:], strict=False):
            out[earlier.id] = later.start
    return out


async def load_history(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            async def rows(stmt: sa.Select[Any]) -> Sequence[Any]:
                return (await connection.execute(stmt)).all()

            organisations = dict(await rows(sa.select(Organisation.id, Organisation.name)))
            admins: dict[uuid.UUID, list[str]] = defaultdict(list)
            for organisation_id, user_id in await rows(
                sa.select(User.organisation_id, User.id).join(UserRole, UserRole.user_id == User.id)  # type: ignore[arg-type]
                .where(UserRole.role == Role.ADMIN.value).order_by(User.organisation_id, User.email)  # type: ignore[arg-type]
            ):  # fmt: skip
                admins[organisation_id].append(f"user:{user_id}")
            models = {row.id: row for row in await rows(sa.select(FrontierModel.id, FrontierModel.name,
                                                                  FrontierModel.slack_channels))}  # fmt: skip
            grants = await rows(sa.select(AccessGrant.id, AccessGrant.organisation_id, AccessGrant.model_id,
                                          AccessGrant.starts_at, AccessGrant.ends_at, AccessGrant.revoked_at))  # fmt: skip
            ndas = await rows(sa.select(NdaAcceptance.id, NdaAcceptance.organisation_id, NdaAcceptance.series,
                                        NdaAcceptance.version, NdaAcceptance.accepted_at.label("start"),  # type: ignore[attr-defined]
                                        NdaAcceptance.expires_at.label("end"), NdaTemplate.title)  # type: ignore[attr-defined]
                              .join(NdaTemplate, NdaTemplate.id == NdaAcceptance.template_id))  # type: ignore[arg-type]  # fmt: skip
            attestations = await rows(sa.select(Attestation.id, Attestation.organisation_id, Attestation.area,
                                                Attestation.attested_at.label("start"),  # type: ignore[attr-defined]
                                                Attestation.valid_until.label("end")))  # type: ignore[attr-defined]  # fmt: skip
        async with Loader(url) as loader:
            history = History(loader)
            for g in grants:
                model = models[g.model_id]
                for kind, due in _sent_before(GRANT_SCHEDULE, start=g.starts_at, deadline=g.ends_at, gone=g.revoked_at):
                    await history.add(
                        kind, g.id, g.ends_at, due, [*admins[g.organisation_id], *(f"slack:{c}" for c in model.slack_channels)],
                        {"grant_id": str(g.id), "model": model.name, "organisation": organisations[g.organisation_id],
                         "ends_at": g.ends_at.isoformat()}, organisation_id=g.organisation_id, model_id=g.model_id,
                    )  # fmt: skip
            renewed = _renewed_at(ndas, "series")
            for a in ndas:
                for kind, due in _sent_before(NDA_SCHEDULE, start=a.start, deadline=a.end, gone=renewed.get(a.id)):
                    await history.add(kind, a.id, a.end, due, admins[a.organisation_id],
                                      {"acceptance_id": str(a.id), "title": a.title, "version": a.version,
                                       "organisation": organisations[a.organisation_id], "expires_at": a.end.isoformat()},
                                      organisation_id=a.organisation_id)  # fmt: skip
            renewed = _renewed_at(attestations, "area")
            for a in attestations:
                for kind, due in _sent_before(ATTESTATION_SCHEDULE, start=a.start, deadline=a.end, gone=renewed.get(a.id)):
                    await history.add(kind, a.id, a.end, due, admins[a.organisation_id],
                                      {"attestation_id": str(a.id), "area": a.area,
                                       "organisation": organisations[a.organisation_id],
                                       "valid_until": a.end.isoformat()}, organisation_id=a.organisation_id)  # fmt: skip
            await history.flush()
        return history.total
    finally:
        await engine.dispose()


async def _vacuum(url: str) -> None:
    """As autovacuum would have left a database that has been running: statistics, and the visibility map that
    index-only scans read (bulk-loaded rows have none yet)."""
    if url.startswith("sqlite"):
        engine = make_engine(url)
        async with engine.begin() as connection:
            await connection.execute(sa.text("ANALYZE"))
        await engine.dispose()
        return
    connection = await asyncpg.connect(plain(url))
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _counts(session: AsyncSession) -> dict[str, int]:
    out = {}
    for table in COUNTED:
        out[table.__tablename__] = (await session.exec(select(sa.func.count()).select_from(table))).one()  # type: ignore[arg-type,attr-defined]
    return out


async def _horizon(session: AsyncSession) -> dict[str, int]:
    """How many subjects the sweep looks at, reminded already or not."""
    queries = {
        "grants ending within 7 days": select(sa.func.count()).select_from(AccessGrant).where(
            AccessGrant.ends_at > NOW, AccessGrant.ends_at <= NOW + timedelta(days=7),  # type: ignore[arg-type]
            AccessGrant.starts_at <= NOW, AccessGrant.revoked_at.is_(None)),  # type: ignore[arg-type,union-attr]
        "NDA acceptances expiring within 30 days": select(sa.func.count()).select_from(NdaAcceptance).where(
            NdaAcceptance.expires_at > NOW, NdaAcceptance.expires_at <= NOW + timedelta(days=30)),  # type: ignore[arg-type]
        "attestations expiring within 30 days": select(sa.func.count()).select_from(Attestation).where(
            Attestation.valid_until > NOW, Attestation.valid_until <= NOW + timedelta(days=30)),  # type: ignore[arg-type]
        "nominations pending for over 48 h": select(sa.func.count()).select_from(Nomination).where(
            Nomination.state == NominationState.PENDING.value, Nomination.created_at <= NOW - PENDING_FOR,  # type: ignore[operator]
            Nomination.starts_at > NOW),  # type: ignore[arg-type]
    }  # fmt: skip
    return {label: (await session.exec(stmt)).one() for label, stmt in queries.items()}


def _spread(rows: Sequence[Any], count: int) -> list[Any]:
    """``count`` of ``rows``, evenly spaced."""
    return [rows[int((i + 0.5) * len(rows) / count)] for i in range(count)]


async def prepare(size: Size, grants: int) -> None:
    """Populate, load the history, sweep once at NOW, and choose the 100 reminders to send again."""
    await populate(size.url, grants, PENDING, now=NOW, ending=ENDING, compliance=True, expiring=EXPIRING)
    size.history = await load_history(size.url)
    engine = make_engine(size.url)
    try:
        sessionmaker = make_sessionmaker(engine)
        started = time.perf_counter()
        async with sessionmaker() as session:
            size.steady = await Reminders(Unit(session, FrozenClock(NOW))).sweep()
        size.steady_seconds = time.perf_counter() - started
        async with sessionmaker() as session:
            sent = (await session.exec(select(Reminder).where(Reminder.created_at == NOW)
                                       .order_by(Reminder.kind, Reminder.deadline, Reminder.subject_id))).all()  # fmt: skip
        by_kind: dict[str, list[Reminder]] = defaultdict(list)
        for reminder in sent:
            by_kind[reminder.kind].append(reminder)
        for kind, count in QUOTAS.items():
            if len(by_kind[kind.value]) < count:
                raise RuntimeError(f"{size.label}: only {len(by_kind[kind.value])} {kind.value} reminders due at "
                                   f"{NOW:%Y-%m-%d %H:%M}, {count} needed")  # fmt: skip
            size.chosen += [(r.kind, r.subject_id, r.deadline) for r in _spread(by_kind[kind.value], count)]
    finally:
        await engine.dispose()
    await _vacuum(size.url)
    engine = make_engine(size.url)
    try:
        async with make_sessionmaker(engine)() as session:
            size.counts = await _counts(session)
            size.horizon = await _horizon(session)
    finally:
        await engine.dispose()


# --- the measurement -----------------------------------------------------------------------------------------------


async def forget(sessionmaker: async_sessionmaker[AsyncSession], chosen: list[tuple[str, uuid.UUID, datetime]]) -> None:
    """Delete the chosen reminders and their outbox messages, as if they had never been sent."""
    wanted = set(chosen)
    async with sessionmaker() as session:
        rows = (await session.exec(select(Reminder).where(
            Reminder.subject_id.in_({subject for _, subject, _ in chosen})))).all()  # type: ignore[attr-defined]  # fmt: skip
        doomed = [r for r in rows if (r.kind, r.subject_id, r.deadline) in wanted]
        if len(doomed) != len(wanted):
            raise RuntimeError(f"found {len(doomed)} of the {len(wanted)} chosen reminders to delete")
        keys = [key for reminder in doomed for key in reminder.messages]
        await session.exec(sa.delete(OutboxMessage).where(OutboxMessage.dedupe_key.in_(keys)))  # type: ignore[call-overload,attr-defined]
        await session.exec(sa.delete(Reminder).where(Reminder.id.in_([r.id for r in doomed])))  # type: ignore[call-overload,attr-defined]
        await session.commit()


async def timed_sweep(sessionmaker: async_sessionmaker[AsyncSession], size: Size) -> float:
    async with sessionmaker() as session:
        started = time.perf_counter()
        report = await Reminders(Unit(session, FrozenClock(NOW))).sweep()
        elapsed = time.perf_counter() - started
    expected = {kind.value: count for kind, count in QUOTAS.items()}
    if report.sent != sum(QUOTAS.values()) or report.by_kind != expected:
        raise RuntimeError(f"{size.label}: the sweep sent {report.sent} ({report.by_kind}), expected {expected}")
    return elapsed


async def measure(sizes: list[Size], rounds: int) -> None:
    engines: list[AsyncEngine] = [make_engine(size.url) for size in sizes]
    try:
        makers = [make_sessionmaker(engine) for engine in engines]
        for r in range(rounds + 1):  # the first round warms up
            order = list(zip(sizes, makers, strict=True))
            for size, sessionmaker in order if r % 2 == 0 else reversed(order):
                await forget(sessionmaker, size.chosen)
                elapsed = await timed_sweep(sessionmaker, size)
                if r:
                    size.seconds.append(elapsed)
    finally:
        for engine in engines:
            await engine.dispose()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _range(seconds: list[float]) -> str:
    return f"{min(seconds) * 1000:.0f} to {max(seconds) * 1000:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reminder_sweep", description=__doc__.splitlines()[0])
    db_argument(parser)
    parser.add_argument("--small", type=int, default=1_000, help="grants in the small database (default 1000)")
    parser.add_argument("--large", type=int, default=100_000, help="grants in the large database (default 100000)")
    parser.add_argument("--rounds", type=int, default=15, help="measured sweeps per size (default 15)")
    args = parser.parse_args(argv)

    due = sum(QUOTAS.values())
    print(f"reminder_sweep on {args.db}: {args.small:,} vs {args.large:,} grants (+{ENDING} ending within 7 days), "
          f"{due} reminders due in both at {NOW:%Y-%m-%d %H:%M} UTC; {args.rounds} rounds")  # fmt: skip
    sizes: list[Size] = []
    with contextlib.ExitStack() as stack:
        for label, grants in (("small", args.small), ("large", args.large)):
            size = Size(label=f"{grants:,} grants", url=stack.enter_context(fresh_database(args.db, label)))
            started = time.perf_counter()
            asyncio.run(prepare(size, grants))
            assert size.steady is not None
            steady = ", ".join(f"{k} {v:,}" for k, v in sorted(size.steady.by_kind.items()))
            print(f"  {size.label}: loaded with {size.history:,} reminders sent before, swept once at NOW "
                  f"({size.steady.sent:,} sent in {size.steady_seconds:.1f} s: {steady}), "
                  f"{time.perf_counter() - started:.1f} s in all")  # fmt: skip
            print("    " + ", ".join(f"{k} {v:,}" for k, v in size.counts.items()))
            sizes.append(size)
        started = time.perf_counter()
        asyncio.run(measure(sizes, args.rounds))
        print(f"  measured in {time.perf_counter() - started:.1f} s")

    small, large = sizes
    print()
    print(f"{'':46s}{small.label:>16s}{large.label:>18s}")
    for label in small.horizon:
        print(f"  {label:44s}{small.horizon[label]:>16,}{large.horizon[label]:>18,}")
    print(f"  {'reminders in the table':44s}{small.counts['reminders']:>16,}{large.counts['reminders']:>18,}")
    ratio = median(large.seconds) / median(small.seconds)
    print(f"  {f'sweep sending {due} reminders, median':44s}{_ms(median(small.seconds)):>16s}"
          f"{_ms(median(large.seconds)):>18s}   large ÷ small {ratio:.3f}")  # fmt: skip
    print(f"  {'                          min to max':44s}{_range(small.seconds):>16s}{_range(large.seconds):>18s}")
    print()
    print(f"ratio of medians {large.label} ÷ {small.label}, reminder sweep with {due} due: {ratio:.3f}   "
          f"goal ≤ {GOAL}   {verdict(ratio, GOAL, at_least=False)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
