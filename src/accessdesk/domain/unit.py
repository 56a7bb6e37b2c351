"""A unit of work: one database transaction plus the audit events and notifications that commit with it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

import sqlalchemy as sa
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import OutboxMessage
from accessdesk.domain import audit
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import NotFound

Row = TypeVar("Row", bound=SQLModel)


class Recorded(Protocol):
    """What an audit event can be about without naming it: a row of a table, with an ``id``."""

    __tablename__: ClassVar[str]

    @property
    def id(self) -> Any: ...


_queue_lock = threading.Lock()
_queue_last = 0


def _queue_seq() -> int:
    """A message's place in the outbox among those of the same instant: the wall clock in nanoseconds, strictly
    increasing within this process (two processes' messages of one instant are in no particular order)."""
    global _queue_last
    with _queue_lock:
        _queue_last = max(_queue_last + 1, time.time_ns())
        return _queue_last


class Unit:
    """``session`` may be given as a factory: the session is then made on first use (a request answered from
    memory never makes one)."""

    def __init__(self, session: AsyncSession | Callable[[], AsyncSession], clock: Clock) -> None:
        self._session = session if isinstance(session, AsyncSession) else None
        self._make_session = None if isinstance(session, AsyncSession) else session
        self.clock = clock
        self._events: list[audit.Entry] = []
        # Every outbox message this unit wrote, committed or not: a caller may deliver its own at once
        # (transitions.deliver_outbox's ``only``) rather than wait for the worker.
        self.queued: list[uuid.UUID] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            assert self._make_session is not None
            self._session = self._make_session()
        return self._session

    @property
    def has_session(self) -> bool:
        return self._session is not None

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def dialect(self) -> str:
        bind = self.session.bind
        assert bind is not None, "sessions are bound to their engine (db/engine.py)"
        return bind.dialect.name

    async def get(self, table: type[Row], id_: Any, *, what: str | None = None, fresh: bool = False) -> Row:
        """Load a row by primary key (``fresh``: as the database has it now, not as this session last saw it)."""
        row = await self.session.get(table, id_, populate_existing=fresh)
        if row is None:
            raise NotFound(f"{what or table.__name__} {id_} not found")
        return row

    async def lock(self, table: type[Row], id_: Any, *, what: str | None = None, shared: bool = False) -> Row:
        """Load a row and hold it for the rest of the transaction.

        PostgreSQL takes ``FOR UPDATE`` (``FOR SHARE`` when ``shared``); SQLite has no row locks, but our
        SQLite transactions begin IMMEDIATE, which already serialises writers. ``populate_existing`` makes sure
        we read the row as it is now that we hold the lock, not as an earlier read in this session saw it.
        """
        pk = sa.inspect(table).local_table.primary_key.columns.values()[0]
        stmt = (
            select(table)
            .where(pk == id_)
            .with_for_update(read=shared)
            .execution_options(populate_existing=True)
        )
        row = (await self.session.exec(stmt)).first()
        if row is None:
            raise NotFound(f"{what or table.__name__} {id_} not found")
        return row

    def record(
        self,
        *,
        actor: Actor,
        action: str,
        subject: Recorded | None = None,
        subject_type: str | None = None,
        subject_id: Any = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        """Queue an audit event; it is chained and written by :meth:`commit`, in the same transaction."""
        if subject is not None:
            subject_type = subject_type or subject.__tablename__
            subject_id = subject_id or subject.id
        self._events.append(
            audit.Entry(
                id=uuid.uuid4(),
                at=self.now(),
                actor_id=actor.user_id,
                actor=actor.label,
                action=action,
                subject_type=subject_type or "system",
                subject_id=str(subject_id or ""),
                before=audit.jsonable(before) if before is not None else None,
                after=audit.jsonable(after) if after is not None else None,
                reason=reason,
                request_id=actor.request_id,
            )
        )

    def notify(self, *, topic: str, recipient: str, payload: dict[str, Any], dedupe_key: str) -> uuid.UUID:
        """Queue a notification in the outbox, written with this transaction (delivered by the worker)."""
        now, message_id = self.now(), uuid.uuid4()
        self.queued.append(message_id)
        self.session.add(
            OutboxMessage(
                id=message_id,
                dedupe_key=dedupe_key,
                topic=topic,
                recipient=recipient,
                payload=audit.jsonable(payload),
                created_at=now,
                queued_seq=_queue_seq(),
                available_at=now,
            )
        )
        return message_id

    async def commit(self) -> None:
        events, self._events = self._events, []
        try:
            await audit.append(self.session, events)
            await self.session.commit()
        except BaseException:
            await self.session.rollback()
            raise

    async def rollback(self) -> None:
        self._events = []
        await self.session.rollback()


class Nested(Unit):
    """Another service's work inside ``outer``'s transaction (a cohort's member, a reconsideration's new round): the
    service runs on it unchanged, but its commit only flushes, and the audit events it records and the messages it
    queues wait here until :meth:`hand_over` gives them to ``outer``, so work rolled back in between (a SAVEPOINT, a
    refusal) leaves none of them behind. ``outer`` commits everything at once."""

    def __init__(self, outer: Unit) -> None:
        super().__init__(outer.session, outer.clock)
        self._recorded: list[dict[str, Any]] = []

    def record(self, **event: Any) -> None:
        self._recorded.append(event)

    async def commit(self) -> None:
        await self.session.flush()

    def hand_over(self, to: Unit) -> None:
        for event in self._recorded:
            to.record(**event)
        to.queued.extend(self.queued)
