"""The tamper-evident audit trail: every state change appends a hash-chained event in its own transaction.

``hash = SHA-256(prev_hash ‖ canonical(event))`` where ``canonical`` is the event's fields as JSON with sorted
keys and no spaces. Sequence numbers are contiguous, so a deleted event breaks the chain as surely as an edited one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import AuditEvent, AuditHead

GENESIS = "0" * 64

_HASHED_FIELDS = (
    "seq", "id", "at", "actor_id", "actor", "action", "subject_type", "subject_id",
    "before", "after", "reason", "request_id",
)  # fmt: skip


def jsonable(value: Any) -> Any:
    """The JSON form of a value as stored in snapshots: times in UTC ISO 8601, ids as strings."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def snapshot(row: SQLModel, fields: Iterable[str] | None = None) -> dict[str, Any]:
    names = list(fields) if fields is not None else list(type(row).model_fields)
    return {name: jsonable(getattr(row, name)) for name in names}


@dataclass(slots=True)
class Entry:
    """An audit event recorded in a unit of work and not yet appended: an ``audit_events`` row's fields as plain
    values (a transaction may record hundreds, and a table model costs ten times as much to make).
    :func:`append` gives it its place in the chain (``seq``, ``prev_hash``, ``hash``) and writes it."""

    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor: str
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    request_id: str | None
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""


Event = AuditEvent | Entry  # a stored event, or one on its way


def _body(event: Event) -> dict[str, Any]:
    return {name: jsonable(getattr(event, name)) for name in _HASHED_FIELDS}


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(event: Event) -> bytes:
    return _dumps(_body(event)).encode()


def chain_hash(prev_hash: str, event: Event) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


_SEQ_MARK = "\x00seq\x00"


def _around_seq(event: Event) -> tuple[str, str]:
    """The canonical text before and after the value of ``seq``, for a writer that learns ``seq`` in SQL."""
    text = _dumps({**_body(event), "seq": _SEQ_MARK})
    # The last occurrence: only system-set fields (subject id and type) follow ``seq`` in the sorted keys, so no
    # user text can imitate the mark after it.
    before, after = text.rsplit(json.dumps(_SEQ_MARK, ensure_ascii=False), 1)
    return before, after


# PostgreSQL: take the head row's lock, advance it and insert the event in ONE statement per event. The UPDATE
# waits for the row lock and then works on the latest committed head (READ COMMITTED re-reads the row it locked;
# SET expressions see that row's old values), so concurrent writers queue on the head and never fork the chain.
# The database computes the hash from the same canonical text Python verifies: the text around the sequence
# number is sent as parameters.
_APPEND_PG = sa.text(
    """
    WITH head AS (
        UPDATE audit_head
           SET seq = seq + 1,
               prev_hash = hash,
               hash = encode(sha256(convert_to(hash || :before || (seq + 1)::text || :after, 'UTF8')), 'hex')
         WHERE id = 1
        RETURNING seq, prev_hash, hash
    )
    INSERT INTO audit_events (seq, id, at, actor_id, actor, action, subject_type, subject_id, before, after,
                              reason, request_id, prev_hash, hash)
    SELECT head.seq, :id, :at, :actor_id, :actor, :action, :subject_type, :subject_id, :before_json, :after_json,
           :reason, :request_id, head.prev_hash, head.hash
      FROM head
    RETURNING seq, prev_hash, hash
    """
)


async def append(session: AsyncSession, events: Sequence[Event]) -> None:
    """Append ``events`` to the end of the chain, in the session's transaction, in their order.

    Called as the last step before commit so the head is held as briefly as possible. However many events there
    are, the database is asked a fixed number of times: the head still moves one step per event (migration 0012
    allows no other move), but those steps are sent together, as one executemany.
    """
    if not events:
        return
    assert session.bind is not None, "sessions are bound to their engine (db/engine.py)"
    connection = await session.connection()
    if session.bind.dialect.name == "postgresql":
        await _append_postgresql(connection, events)
    else:
        await _append_sqlite(connection, events)


# SQLite has no data-modifying CTE: advance the head (hashing with the sha256_hex function db.engine registers),
# then insert the event. Its transactions begin IMMEDIATE, so writers are serialised already.
_ADVANCE_SQLITE = sa.text(
    """
    UPDATE audit_head
       SET seq = seq + 1,
           prev_hash = hash,
           hash = sha256_hex(hash || :before || CAST(seq + 1 AS TEXT) || :after)
     WHERE id = 1
    RETURNING seq, prev_hash, hash
    """
)
# Several events on SQLite: the links are computed here (chain_hash, the text _ADVANCE_SQLITE hashes) and the head
# is set to each in turn, one step per row as the trigger demands.
_STEP_SQLITE = sa.text("UPDATE audit_head SET seq = :seq, prev_hash = :prev_hash, hash = :hash WHERE id = 1")
_HEAD = sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")
# Several events on PostgreSQL: hold the head first, so that the events appended after ``seq`` are this
# transaction's own when they are read back (READ COMMITTED: the lock waits for another writer's commit, and the
# row it returns is the head that writer left).
_LOCK_HEAD_PG = sa.text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
_APPENDED = sa.text("SELECT seq, id, prev_hash, hash FROM audit_events WHERE seq > :start ORDER BY seq")


async def _append_sqlite(connection: AsyncConnection, events: Sequence[Event]) -> None:
    if len(events) == 1:
        before, after = _around_seq(events[0])
        row = (await connection.execute(_ADVANCE_SQLITE, {"before": before, "after": after})).one()
        events[0].seq, events[0].prev_hash, events[0].hash = row.seq, row.prev_hash, row.hash
    else:
        head = (await connection.execute(_HEAD)).one()
        seq, hash_ = head.seq, head.hash
        for event in events:
            seq += 1
            event.seq, event.prev_hash = seq, hash_
            event.hash = hash_ = chain_hash(event.prev_hash, event)
        # Every step but the last as computed here; the last one the database hashes itself, from the text the
        # one-event path sends: the head it returns must be the one computed here, or the append fails.
        steps = [{"seq": e.seq, "prev_hash": e.prev_hash, "hash": e.hash} for e in events[:-1]]
        await connection.execute(_STEP_SQLITE, steps)
        before, after = _around_seq(events[-1])
        last = (await connection.execute(_ADVANCE_SQLITE, {"before": before, "after": after})).one()
        if (last.seq, last.prev_hash, last.hash) != (events[-1].seq, events[-1].prev_hash, events[-1].hash):
            raise AssertionError(f"the audit head the database computed (#{last.seq} {last.hash}) is not the one "
                                 f"computed here (#{events[-1].seq} {events[-1].hash})")  # fmt: skip
    await connection.execute(sa.insert(AuditEvent), [_row(event) for event in events])


def _row(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _COLUMNS.keys()}


_COLUMNS = sa.inspect(AuditEvent).local_table.c
_APPEND_PG = _APPEND_PG.bindparams(
    sa.bindparam("at", type_=_COLUMNS.at.type),
    sa.bindparam("before_json", type_=_COLUMNS.before.type),
    sa.bindparam("after_json", type_=_COLUMNS.after.type),
    sa.bindparam("id", type_=_COLUMNS.id.type),
    sa.bindparam("actor_id", type_=_COLUMNS.actor_id.type),
)


def _pg_params(event: Event) -> dict[str, Any]:
    before, after = _around_seq(event)
    return {"before": before, "after": after, "id": event.id, "at": event.at, "actor_id": event.actor_id,
            "actor": event.actor, "action": event.action, "subject_type": event.subject_type,
            "subject_id": event.subject_id, "before_json": event.before, "after_json": event.after,
            "reason": event.reason, "request_id": event.request_id}  # fmt: skip


async def _append_postgresql(connection: AsyncConnection, events: Sequence[Event]) -> None:
    if len(events) == 1:
        row = (await connection.execute(_APPEND_PG, _pg_params(events[0]))).one()
        events[0].seq, events[0].prev_hash, events[0].hash = row.seq, row.prev_hash, row.hash
        return
    start = (await connection.execute(_LOCK_HEAD_PG)).scalar_one()
    # One executemany: asyncpg pipelines the statements, one round trip for all of them. Each statement sees the
    # head the one before it left, so they chain in the order sent.
    await connection.execute(_APPEND_PG, [_pg_params(event) for event in events])
    rows = (await connection.execute(_APPENDED, {"start": start})).all()
    if [row.id for row in rows] != [event.id for event in events]:
        raise AssertionError(f"the events appended after #{start} are not this transaction's, in its order")
    for event, row in zip(events, rows, strict=True):
        event.seq, event.prev_hash, event.hash = row.seq, row.prev_hash, row.hash


@dataclass(frozen=True, slots=True)
class Link:
    """A point of the chain: event ``seq`` and its hash (``seq`` 0 and the genesis hash before the first event)."""

    seq: int
    hash: str


START = Link(0, GENESIS)


async def head_of(session: AsyncSession) -> Link:
    """Where ``audit_head`` says the chain ends."""
    row = (await session.exec(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1))).first()
    return START if row is None else Link(row[0], row[1])


def missing(first: int, last: int, *, recorded_by: str) -> str:
    """``events #41–#43 are missing: the head records #43`` (one event: ``event #43 is missing: …``)."""
    what = f"event #{first} is" if first == last else f"events #{first}–#{last} are"
    return f"{what} missing: {recorded_by} records #{last}"


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``verify`` found. When it is not ``ok``, ``broken_seq`` is the first event that is missing or does not
    hold, ``broken_id`` its id when the event is there at all, and ``problem`` says what is wrong in words."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: uuid.UUID | None = None
    problem: str | None = None
    head_seq: int | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} events verified, up to the head (#{self.head_seq})"
        if self.broken_id is None:  # nothing there to name: the problem names the events
            return f"audit chain BROKEN: {self.problem}"
        return f"audit chain BROKEN at event #{self.broken_seq} ({self.broken_id}): {self.problem}"


@dataclass(frozen=True, slots=True)
class Walk:
    """A walk along the chain: the last event that held, how many held, and the first that did not."""

    end: Link
    checked: int
    broken: AuditEvent | None = None
    problem: str | None = None


async def walk(
    session: AsyncSession, *, upto: int, start: Link = START, marks: dict[int, str] | None = None, batch: int = 2000
) -> Walk:
    """Check the events after ``start`` up to ``upto``, in order, each linked to the one before and matching its
    own hash; stop at the first that does not, or where the events run out. ``marks``: sequence numbers whose hash
    to note on the way (filled in place)."""
    end, checked = start, 0
    while end.seq < upto:
        rows = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.seq > end.seq, AuditEvent.seq <= upto)
                .order_by(col(AuditEvent.seq)).limit(batch)
            )
        ).all()  # fmt: skip
        if not rows:
            break
        for event in rows:
            problem = None
            if event.seq != end.seq + 1:
                problem = f"sequence jumps from #{end.seq} to #{event.seq} (events missing)"
            elif event.prev_hash != end.hash:
                problem = "prev_hash does not match the previous event's hash"
            elif chain_hash(event.prev_hash, event) != event.hash:
                problem = "content does not match its hash (the event was altered)"
            if problem:
                return Walk(end=end, checked=checked, broken=event, problem=problem)
            checked += 1
            end = Link(event.seq, event.hash)
            if marks is not None and event.seq in marks:
                marks[event.seq] = event.hash
        session.expunge_all()
    return Walk(end=end, checked=checked)


async def verify(session: AsyncSession, *, batch: int = 2000) -> Verification:
    """Walk the chain in order up to the head that ``audit_head`` records, and name the first event whose link or
    content does not hold, or that is missing: deleting the newest events is found as surely as editing one.

    Only the database's own word is checked here: someone who may write it at will (a superuser) can delete the
    newest events and roll the head back, or rewrite an event and re-chain everything after it, and this still
    finds a chain that holds. Signed checkpoints kept outside the database find that (domain.checkpoints)."""
    head = await head_of(session)
    found = await walk(session, upto=head.seq, batch=batch)
    if found.broken is not None:
        return Verification(ok=False, checked=found.checked, broken_seq=found.broken.seq, broken_id=found.broken.id,
                            problem=found.problem, head_seq=head.seq)  # fmt: skip
    if found.end.seq < head.seq:
        return Verification(ok=False, checked=found.checked, broken_seq=found.end.seq + 1, head_seq=head.seq,
                            problem=missing(found.end.seq + 1, head.seq, recorded_by="the head"))  # fmt: skip
    if found.end.hash != head.hash:
        return Verification(ok=False, checked=found.checked, broken_seq=head.seq, head_seq=head.seq,
                            problem=f"the head records another hash for #{head.seq} than the event has "
                            "(audit_head was written by hand)")  # fmt: skip
    # Read the newest event before the head again: an append commits both at once, so an event beyond a head read
    # later was not appended, it was put there (or the head was rolled back beneath it).
    newest = (await session.exec(select(sa.func.max(AuditEvent.seq)))).one()
    now = await head_of(session)
    if newest is not None and newest > now.seq:
        return Verification(ok=False, checked=found.checked, broken_seq=now.seq + 1, head_seq=now.seq,
                            problem=f"events up to #{newest} lie beyond the head, which records #{now.seq} (the head "
                            "was rolled back, or events were written around it)")  # fmt: skip
    return Verification(ok=True, checked=found.checked, head_seq=head.seq)
