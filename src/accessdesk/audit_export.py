"""The audit trail as one download, JSON or CSV: the same file for an auditor in the console and for a script with a
personal API token. It holds every matching event up to the chain's head as it was when the download began, with
``prev_hash`` and ``hash``, so that a reader can verify it offline."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from litestar.response import Stream

from accessdesk.db.tables import AuditEvent
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import jsonable
from accessdesk.domain.evidence import HASHING, ChainHead, Evidence

FORMAT = "accessdesk.audit-export/1"
CSV_COLUMNS = list(AuditEvent.model_fields)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); a leading quote makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def attachment(filename: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"}


async def json_export(
    opening: dict[str, Any], batches: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[str]:  # fmt: skip
    """``opening`` and then ``"events": [...]``, written batch by batch."""
    head = json.dumps(opening, ensure_ascii=False)
    yield head[:-1] + ', "events": ['
    separator = "\n"
    async for batch in batches:
        yield separator + ",\n".join(json.dumps(record, ensure_ascii=False) for record in batch)
        separator = ",\n"
    yield "\n]}\n"


async def csv_export(batches: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for batch in batches:
        writer.writerows([csv_cell(record[c]) for c in CSV_COLUMNS] for record in batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Download:
    """One export: who asks, up to which head (read with :meth:`Evidence.head`, which refuses whoever may not read
    the trail, before the download starts), and the filters it keeps to."""

    evidence: Evidence
    actor: Actor
    head: ChainHead
    subject_type: str | None = None
    subject_id: str | None = None
    action: str | None = None

    @property
    def filters(self) -> dict[str, str]:
        given = {"subject_type": self.subject_type, "subject_id": self.subject_id, "action": self.action}
        return {k: v for k, v in given.items() if v is not None}

    def _batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        return self.evidence.trail(self.actor, upto=self.head, subject_type=self.subject_type,
                                   subject_id=self.subject_id, action=self.action)  # fmt: skip

    def _filename(self, extension: str) -> str:
        return f"accessdesk-audit-{self.evidence.unit.now():%Y-%m-%d}-to-{self.head.seq}.{extension}"

    def as_json(self) -> Stream:
        opening = {"format": FORMAT, "exported_at": jsonable(self.evidence.unit.now()),
                   "exported_by": self.actor.label, "filters": self.filters,
                   "chain_head": {"seq": self.head.seq, "hash": self.head.hash}, "order": "newest first",
                   "hashing": HASHING}  # fmt: skip
        return Stream(json_export(opening, self._batches()), media_type="application/json",
                      headers=attachment(self._filename("json")))  # fmt: skip

    def as_csv(self) -> Stream:
        return Stream(csv_export(self._batches()), media_type="text/csv; charset=utf-8",
                      headers=attachment(self._filename("csv")))  # fmt: skip
