"""Instants given to the domain: aware, and representable in UTC (which is how both databases store them)."""

from __future__ import annotations

from datetime import UTC, datetime

from accessdesk.domain.errors import Invalid


def utc(field: str, value: datetime) -> datetime:
    """``value`` in UTC, or Invalid naming ``field`` (naive, or outside years 1–9999 once converted)."""
    if value.tzinfo is None:
        raise Invalid(field, "give the instant with a UTC offset, e.g. 2026-12-01T09:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise Invalid(field, "the instant is outside the years 1 to 9999 once converted to UTC") from None
