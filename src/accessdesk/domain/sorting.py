"""Searching and sorting a list in SQL, the same on SQLite and PostgreSQL, with keyset pages that follow the sort.

A list offers an allow-list of sort keys (:class:`SortKey`: a name, the SQL it orders by, and the direction it starts
in); anything else asked for is no sort at all, and the list keeps its usual newest-first order with the cursors it
has always handed out (``domain.pagination``). A sorted list pages on ``(sort value, id)``: the id breaks ties, so
the order is total and a page never repeats nor skips a row, whatever rows share a value. Its cursor carries the
sort it was made for, and is refused under another one."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from accessdesk.domain.errors import Malformed
from accessdesk.domain.pagination import Keyed, check_limit

K = TypeVar("K", bound=Keyed)
LIKE_ESCAPE = "\\"
# How long a search may be: longer is no name or slug of ours, and the pattern is bounded for the database's sake.
MAX_SEARCH = 100


def contains(column: Any, text: str) -> sa.ColumnElement[bool]:
    """Whether ``column`` holds ``text``, ignoring case: LIKE with ``%`` and ``_`` (and the escape itself) escaped,
    so that they match themselves, and both sides lower-cased, since PostgreSQL's LIKE minds case and SQLite's
    does not. (SQLite's ``lower`` folds ASCII letters only: a non-ASCII capital matches only itself there.)"""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return sa.func.lower(column).like(f"%{escaped.lower()}%", escape=LIKE_ESCAPE)


def search_text(raw: str | None) -> str | None:
    """What a search box's text searches for: trimmed, cut to :data:`MAX_SEARCH`; nothing for an empty box."""
    text = (raw or "").strip()[:MAX_SEARCH]
    return text or None


@dataclass(frozen=True, slots=True)
class SortKey:
    """One way a list can be ordered. ``expression(dialect)`` is what it orders by (never NULL); ``kind`` is the
    type of its values (``str`` or ``datetime``), which a cursor carries as text; ``descending``: the direction
    it starts in (names A to Z, the newest first)."""

    name: str
    expression: Callable[[str], Any]
    kind: type = str
    descending: bool = False


def by_text(name: str, column: Any) -> SortKey:
    """A key that orders by ``column``'s text, ignoring case, in code-point order on both databases (PostgreSQL
    compares in the database's collation otherwise, which differs from server to server and from SQLite's)."""

    def expression(dialect: str) -> Any:
        lowered = sa.func.lower(column)
        return sa.collate(lowered, "C") if dialect == "postgresql" else lowered

    return SortKey(name, expression)


def by_time(name: str, column: Any, *, descending: bool = False) -> SortKey:
    return SortKey(name, lambda _dialect: column, kind=datetime, descending=descending)


@dataclass(frozen=True, slots=True)
class Sort:
    """A list's order as asked for: one of its keys, and the direction."""

    key: SortKey
    descending: bool

    @property
    def direction(self) -> str:
        return "desc" if self.descending else "asc"

    @classmethod
    def of(cls, keys: Mapping[str, SortKey], name: str | None, direction: str | None) -> Sort | None:
        """The sort named ``name`` among ``keys`` (``direction`` ``asc`` or ``desc``, else the key's own); None
        for a name not among them: the list's usual order."""
        key = keys.get(name or "")
        if key is None:
            return None
        return cls(key, direction == "desc" if direction in ("asc", "desc") else key.descending)


def keys_of(*keys: SortKey) -> dict[str, SortKey]:
    return {key.name: key for key in keys}


def _encode(sort: Sort, value: Any, id_: uuid.UUID) -> str:
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    raw = json.dumps([sort.key.name, sort.direction, text, str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(sort: Sort, cursor: str) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, direction, text, id_ = json.loads(raw)
        if (name, direction) != (sort.key.name, sort.direction) or not isinstance(text, str):
            raise ValueError("a cursor of another order")
        value: Any = text
        if sort.key.kind is datetime:
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                raise ValueError("a cursor's time carries its offset")
            value = value.astimezone(UTC)
        return value, uuid.UUID(id_)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError) as exc:
        raise Malformed("cursor", "not a cursor this list returned for this order") from exc


def sorted_keyset(
    stmt: SelectOfScalar[K], table: type[K], sort: Sort, dialect: str, cursor: str | None, limit: int
) -> SelectOfScalar[K]:
    """``stmt`` ordered by ``sort`` with its id after it, started after ``cursor``, one row more than ``limit``
    (to know whether more follow)."""
    value = sort.key.expression(dialect)
    id_column = col(table.id)
    if cursor:
        after, after_id = _decode(sort, cursor)
        if sort.descending:
            stmt = stmt.where(sa.or_(value < after, sa.and_(value == after, id_column < after_id)))
        else:
            stmt = stmt.where(sa.or_(value > after, sa.and_(value == after, id_column > after_id)))
    order = (value.desc(), id_column.desc()) if sort.descending else (value.asc(), id_column.asc())
    return stmt.order_by(*order).limit(check_limit(limit) + 1)


def sort_value(table: type[K], sort: Sort, dialect: str, id_: uuid.UUID) -> SelectOfScalar[Any]:
    """One row's sort value as the database computes and compares it (a name read through a subquery, say), for
    the cursor that starts after that row."""
    return select(sort.key.expression(dialect)).select_from(table).where(col(table.id) == id_)


def next_cursor(sort: Sort, value: Any, id_: uuid.UUID) -> str:
    return _encode(sort, value, id_)
