"""Keyset pagination over ``(created_at, id)``, newest first: stable under inserts and cheap on any page."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.sql.expression import SelectOfScalar

from accessdesk.domain.errors import Invalid, Malformed

T = TypeVar("T")


class Keyed(Protocol):
    """A row that pages by its creation: when, and its id after that."""

    created_at: datetime
    id: uuid.UUID


K = TypeVar("K", bound=Keyed)
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, id_ = json.loads(raw)
        created_at = datetime.fromisoformat(at)
        if created_at.tzinfo is None:
            raise ValueError("a cursor's time carries its offset")
        return created_at.astimezone(UTC), uuid.UUID(id_)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError) as exc:
        raise Malformed("cursor", "not a cursor this API returned") from exc


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def keyset(stmt: SelectOfScalar[K], table: type[K], cursor: str | None, limit: int) -> SelectOfScalar[K]:
    """Order ``stmt`` newest first and start it after ``cursor``; fetch one extra row to know if more follow."""
    if cursor:
        at, id_ = decode_cursor(cursor)
        stmt = stmt.where(
            sa.or_(col(table.created_at) < at, sa.and_(col(table.created_at) == at, col(table.id) < id_))
        )
    return stmt.order_by(col(table.created_at).desc(), col(table.id).desc()).limit(check_limit(limit) + 1)


def page_of(rows: list[K], limit: int) -> Page[K]:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None)
