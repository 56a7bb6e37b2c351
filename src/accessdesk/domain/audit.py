"""The tamper-evident audit trail: every state change appends a hash-chained event in its own transaction.

``hash = SHA-256(prev_hash ‖ canonical(event))`` where ``canonical`` is the event's fields as JSON with sorted
keys and no spaces. Sequence numbers are contiguous, so a deleted event breaks the chain as surely as an edited one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import AuditEvent

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


def _body(event: AuditEvent) -> dict[str, Any]:
    return {name: jsonable(getattr(event, name)) for name in _HASHED_FIELDS}


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(event: AuditEvent) -> bytes:
    return _dumps(_body(event)).encode()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


_SEQ_MARK = "\x00seq\x00"


def _around_seq(event: AuditEvent) -> tuple[str, str]:
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


async def append(session: AsyncSession, events: list[AuditEvent]) -> None:
    """Append ``events`` to the end of the chain, in the session's transaction.

    Called as the last step before commit so the head is held as briefly as possible.
    """
    if not events:
        return
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        await _append_postgresql(session, events)
        return
    connection = await session.connection()
    for event in events:
        before, after = _around_seq(event)
        row = (await connection.execute(_ADVANCE_SQLITE, {"before": before, "after": after})).one()
        event.seq, event.prev_hash, event.hash = row.seq, row.prev_hash, row.hash
    session.add_all(events)


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
_COLUMNS = AuditEvent.__table__.c  # type: ignore[attr-defined]
_APPEND_PG = _APPEND_PG.bindparams(
    sa.bindparam("at", type_=_COLUMNS.at.type),
    sa.bindparam("before_json", type_=_COLUMNS.before.type),
    sa.bindparam("after_json", type_=_COLUMNS.after.type),
    sa.bindparam("id", type_=_COLUMNS.id.type),
    sa.bindparam("actor_id", type_=_COLUMNS.actor_id.type),
)


async def _append_postgresql(session: AsyncSession, events: list[AuditEvent]) -> None:
    connection = await session.connection()
    for event in events:
        before, after = _around_seq(event)
        row = (
            await connection.execute(
                _APPEND_PG,
                {"before": before, "after": after, "id": event.id, "at": event.at, "actor_id": event.actor_id,
                 "actor": event.actor, "action": event.action, "subject_type": event.subject_type,
                 "subject_id": event.subject_id, "before_json": event.before, "after_json": event.after,
                 "reason": event.reason, "request_id": event.request_id},  # fmt: skip
            )
        ).one()
        event.seq, event.prev_hash, event.hash = row.seq, row.prev_hash, row.hash


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: uuid.UUID | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} events verified"
        return f"audit chain BROKEN at event #{self.broken_seq} ({self.broken_id}): {self.problem}"


async def verify(session: AsyncSession, *, batch: int = 2000) -> Verification:
    """Walk the whole chain in order and name the first event whose link or content does not hold."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    while True:
        rows = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.seq >= expected_seq).order_by(AuditEvent.seq).limit(batch)
            )
        ).all()
        if not rows:
            return Verification(ok=True, checked=checked)
        for event in rows:
            problem = None
            if event.seq != expected_seq:
                problem = f"sequence jumps from #{expected_seq - 1} to #{event.seq} (events missing)"
            elif event.prev_hash != expected_prev:
                problem = "prev_hash does not match the previous event's hash"
            elif chain_hash(event.prev_hash, event) != event.hash:
                problem = "content does not match its hash (the event was altered)"
            if problem:
                return Verification(ok=False, checked=checked, broken_seq=event.seq, broken_id=event.id, problem=problem)
            checked += 1
            expected_prev, expected_seq = event.hash, event.seq + 1
        session.expunge_all()
