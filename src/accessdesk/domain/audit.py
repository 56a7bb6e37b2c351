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
# Any constant works; it only has to be the same for every writer of the chain.
CHAIN_LOCK_KEY = 0x61636365_73736465  # "accessde"

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


def canonical(event: AuditEvent) -> bytes:
    body = {name: jsonable(getattr(event, name)) for name in _HASHED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


async def append(session: AsyncSession, events: list[AuditEvent], *, chained: bool = True) -> None:
    """Give ``events`` their place at the end of the chain and add them to the session.

    Called as the last step before commit so the chain lock is held as briefly as possible. On PostgreSQL a
    transaction-scoped advisory lock serialises writers of the chain (the unique ``seq`` would catch a fork
    anyway, as a failed commit); SQLite transactions here begin IMMEDIATE and are serialised already.
    ``chained=False`` exists only for the benchmark that measures what the chain costs.
    """
    if not events:
        return
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        connection = await session.connection()
        await connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    last = (
        await session.exec(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))  # type: ignore[attr-defined]
    ).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    for event in events:
        seq += 1
        event.seq = seq
        event.prev_hash = prev
        event.hash = chain_hash(prev, event) if chained else uuid.uuid4().hex + uuid.uuid4().hex
        prev = event.hash
    session.add_all(events)


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
