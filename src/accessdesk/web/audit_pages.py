"""Console pages for the audit trail: the filterable list, the chain's verification status, exports, and each
grant's evidence bundle."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Stream, Template

from accessdesk.api.audit import SEQ_MAX
from accessdesk.audit_export import Download, attachment
from accessdesk.domain.evidence import Evidence
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


class AuditPagesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/audit")
    async def trail(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries],
        evidence: NamedDependency[Evidence],
    ) -> Template:  # fmt: skip
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
    async def export_json(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], evidence: NamedDependency[Evidence]
    ) -> Stream:
        return (await self._export(request, signed, evidence)).as_json()

    @get("/audit/export.csv")
    async def export_csv(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], evidence: NamedDependency[Evidence]
    ) -> Stream:
        return (await self._export(request, signed, evidence)).as_csv()

    async def _export(self, request: Request[Any, Any, Any], signed: Signed, evidence: Evidence) -> Download:
        """Refusals (not an auditor, unusable filters) happen here, before the download starts."""
        head = await evidence.head(signed.actor)
        filters = AuditFilters.of(request.query_params)
        return Download(evidence, signed.actor, head, subject_type=filters.subject_type,
                        subject_id=filters.subject_id, action=filters.action)  # fmt: skip

    @get("/grants/{grant_id:uuid}/evidence")
    async def evidence_page(
        self, signed: NamedDependency[Signed], evidence: NamedDependency[Evidence], grant_id: FromPath[uuid.UUID]
    ) -> Template:
        bundle = await evidence.bundle(signed.actor, grant_id)
        return page("console/evidence.html", signed, b=bundle, when=when, changes=changes, badges=STATE_BADGES)

    @get("/grants/{grant_id:uuid}/evidence.json")
    async def evidence_json(
        self, signed: NamedDependency[Signed], unit: NamedDependency[Unit], evidence: NamedDependency[Evidence],
        grant_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:  # fmt: skip
        bundle = await evidence.bundle(signed.actor, grant_id)
        filename = f"accessdesk-evidence-{grant_id}-{unit.now():%Y-%m-%d}.json"
        return Response(json.dumps(bundle, ensure_ascii=False, indent=2).encode(), media_type="application/json",
                        headers=attachment(filename))  # fmt: skip

