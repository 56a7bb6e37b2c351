"""Console pages for the audit trail: the filterable list, the chain's verification status, exports, and each
grant's evidence bundle."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.exceptions import HTTPException
from litestar.response import Stream, Template

from accessdesk.api.audit import SEQ_MAX
from accessdesk.db.tables import AuditEvent
from accessdesk.domain.audit import jsonable
from accessdesk.domain.evidence import HASHING, ChainHead, Evidence
from accessdesk.domain.queries import Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, page

PAGE_SIZE = 50
# What the domain records events about (``Unit.record`` names subjects by their table), as the filter offers them.
SUBJECT_TYPES = {
    "access_grants": "Grants",
    "api_tokens": "API tokens",
    "attestations": "Attestations",
    "decisions": "Decisions",
    "frontier_models": "Models",
    "nda_acceptances": "NDA acceptances",
    "nda_templates": "NDA versions",
    "nominations": "Nominations",
    "organisations": "Organisations",
    "system": "System",
    "users": "People and sign-ins",
}
ACTION = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
SUBJECT_ID = re.compile(r"[^\x00-\x1f\x7f]+")
CSV_COLUMNS = list(AuditEvent.model_fields)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); a leading quote makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STATE_BADGES = {"active": "ok", "scheduled": "ok", "suspended": "warn", "expired": "warn", "blocked": "bad",
                "revoked": "bad"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """The audit list's and exports' filters, as read from the query string; anything unusable is refused with a
    400 page that says why, never a 500 nor an empty list that looks like an answer."""

    subject_type: str | None = None
    subject_id: str | None = None
    action: str | None = None

    @classmethod
    def of(cls, params: Mapping[str, str]) -> AuditFilters:
        subject_type = (params.get("subject_type") or "").strip() or None
        subject_id = (params.get("subject_id") or "").strip() or None
        action = (params.get("action") or "").strip() or None
        if subject_type is not None and subject_type not in SUBJECT_TYPES:
            raise HTTPException(status_code=400, detail=f"there is no subject type {subject_type[:64]!r}; choose one "
                                f"of {', '.join(SUBJECT_TYPES)}")  # fmt: skip
        if subject_id is not None and (len(subject_id) > 64 or not SUBJECT_ID.fullmatch(subject_id)):
            raise HTTPException(status_code=400, detail="a subject id is at most 64 printable characters")
        if action is not None and (len(action) > 64 or not ACTION.fullmatch(action)):
            raise HTTPException(status_code=400, detail="an action is written like grant.state_changed "
                                "(lower-case words joined by dots, at most 64 characters)")  # fmt: skip
        return cls(subject_type=subject_type, subject_id=subject_id, action=action)

    @property
    def given(self) -> dict[str, str]:
        """The filters in use, for links that keep them."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def link(self, path: str, **more: Any) -> str:
        query = urlencode({**self.given, **{k: v for k, v in more.items() if v is not None}})
        return f"{path}?{query}" if query else path


def before_seq_of(params: Mapping[str, str]) -> int | None:
    raw = (params.get("before_seq") or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= SEQ_MAX:
        raise HTTPException(status_code=400, detail="before_seq must be an event number (a whole number from 1)")
    return int(raw)


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> list[tuple[str, str | None, str | None]]:
    """A compact before/after: each field once, with its old and new values shortened (None where the event
    does not record one)."""
    before, after = before or {}, after or {}
    return [(k, _short(before[k]) if k in before else None, _short(after[k]) if k in after else None)
            for k in dict.fromkeys([*before, *after])]  # fmt: skip


def when(instant: str | None) -> str:
    """An instant of the bundle (ISO 8601, UTC) as people read it."""
    return datetime.fromisoformat(instant).strftime("%Y-%m-%d %H:%M UTC") if instant else ""


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


class AuditPagesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/audit")
    async def trail(self, request: Request[Any, Any, Any], signed: Signed, queries: Queries,
                    evidence: Evidence) -> Template:  # fmt: skip
        head = await evidence.head(signed.actor)  # refuses anyone but auditors and admins, before all else
        filters = AuditFilters.of(request.query_params)
        before_seq = before_seq_of(request.query_params)
        # Verification walks the whole chain on every view of this page: a few milliseconds per thousand events,
        # fine at this scale. A trail of millions would want the worker to verify and the page to show its result.
        verification = await queries.verify_audit(signed.actor)
        events, older = await queries.audit_events(signed.actor, subject_type=filters.subject_type,
                                                   subject_id=filters.subject_id, action=filters.action,
                                                   before_seq=before_seq, limit=PAGE_SIZE)  # fmt: skip
        return page("console/audit.html", signed, filters=filters, subject_types=SUBJECT_TYPES, head=head,
                    verification=verification, rows=[(e, changes(e.before, e.after)) for e in events],
                    older=filters.link("/console/audit", before_seq=older) if older else None,
                    newest=filters.link("/console/audit") if before_seq else None)  # fmt: skip

    @get("/audit/export.json")
    async def export_json(self, request: Request[Any, Any, Any], signed: Signed, evidence: Evidence) -> Stream:
        filters, head = await self._export(request, signed, evidence)
        opening = {"format": "accessdesk.audit-export/1", "exported_at": jsonable(evidence.unit.now()),
                   "exported_by": signed.actor.label, "filters": filters.given,
                   "chain_head": {"seq": head.seq, "hash": head.hash}, "order": "newest first", "hashing": HASHING}  # fmt: skip
        batches = evidence.trail(signed.actor, upto=head, subject_type=filters.subject_type,
                                 subject_id=filters.subject_id, action=filters.action)
        return Stream(json_export(opening, batches), media_type="application/json",
                      headers=attachment(_filename(evidence, head, "json")))  # fmt: skip

    @get("/audit/export.csv")
    async def export_csv(self, request: Request[Any, Any, Any], signed: Signed, evidence: Evidence) -> Stream:
        filters, head = await self._export(request, signed, evidence)
        batches = evidence.trail(signed.actor, upto=head, subject_type=filters.subject_type,
                                 subject_id=filters.subject_id, action=filters.action)
        return Stream(csv_export(batches),
                      media_type="text/csv; charset=utf-8", headers=attachment(_filename(evidence, head, "csv")))  # fmt: skip

    async def _export(
        self, request: Request[Any, Any, Any], signed: Signed, evidence: Evidence
    ) -> tuple[AuditFilters, ChainHead]:
        """Refusals (not an auditor, unusable filters) happen here, before the download starts."""
        head = await evidence.head(signed.actor)
        return AuditFilters.of(request.query_params), head

    @get("/grants/{grant_id:uuid}/evidence")
    async def evidence_page(self, signed: Signed, evidence: Evidence, grant_id: uuid.UUID) -> Template:
        bundle = await evidence.bundle(signed.actor, grant_id)
        return page("console/evidence.html", signed, b=bundle, when=when, changes=changes, badges=STATE_BADGES)

    @get("/grants/{grant_id:uuid}/evidence.json")
    async def evidence_json(
        self, signed: Signed, unit: Unit, evidence: Evidence, grant_id: uuid.UUID
    ) -> Response[bytes]:
        bundle = await evidence.bundle(signed.actor, grant_id)
        filename = f"accessdesk-evidence-{grant_id}-{unit.now():%Y-%m-%d}.json"
        return Response(json.dumps(bundle, ensure_ascii=False, indent=2).encode(), media_type="application/json",
                        headers=attachment(filename))  # fmt: skip


def _filename(evidence: Evidence, head: ChainHead, extension: str) -> str:
    return f"accessdesk-audit-{evidence.unit.now():%Y-%m-%d}-to-{head.seq}.{extension}"
