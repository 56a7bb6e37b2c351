"""The audit trail: read it (newest first, or followed from any event on, as a SIEM does), download it whole, and
verify its chain."""

from __future__ import annotations

from typing import Annotated

from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream

from accessdesk.api.routes import get
from accessdesk.api.schemas import NO_NUL, AuditEventOut, AuditPage, Limit, VerificationOut
from accessdesk.audit_export import Download
from accessdesk.domain.actor import Actor
from accessdesk.domain.evidence import Evidence
from accessdesk.domain.queries import Queries

# Event numbers are 64-bit integers in both databases; a larger number is no event's, and neither driver can bind it.
SEQ_MAX = 2**63 - 1
Word = Annotated[str | None, QueryParameter(pattern=NO_NUL)]
BeforeSeq = Annotated[int | None, QueryParameter(
    ge=1, le=SEQ_MAX, description="newest first: the events before this one (the page before's next_before_seq)")]
# ``minimum`` again by hand: Litestar leaves a bound of 0 out of the schema (it is falsy).
AfterSeq = Annotated[int | None, QueryParameter(
    ge=0, le=SEQ_MAX, schema_extra={"minimum": 0},
    description="oldest first: the events after this one, 0 for the first (the page before's next_after_seq)")]
FOLLOWING = ("Newest first, paged with before_seq; or, with after_seq, oldest first from the event after it up to the "
             "head: ask again with each page's next_after_seq (always given: the last event returned, or the head) "
             "to follow the trail, every event once and in order, while events are appended. A page with fewer "
             "than limit events ends at the head. An after_seq beyond the head is refused (400): this API never "
             "gave it.")
EXPORT = ("Every matching event up to the head as the download began, newest first, with prev_hash and hash: the "
          "console's export (format accessdesk.audit-export/1; the CSV as one event per row, a cell a spreadsheet "
          "would run as a formula starting with ').")


@get("/audit/events", tags=["audit"], description=FOLLOWING)
async def list_events(
    actor: NamedDependency[Actor], queries: NamedDependency[Queries], subject_type: Word = None,
    subject_id: Word = None, action: Word = None, before_seq: BeforeSeq = None, after_seq: AfterSeq = None,
    limit: Limit = 100,
) -> AuditPage:  # fmt: skip
    events, following = await queries.audit_events(actor, subject_type=subject_type, subject_id=subject_id,
                                                   action=action, before_seq=before_seq, after_seq=after_seq,
                                                   limit=limit)  # fmt: skip
    items = [AuditEventOut.of(e) for e in events]
    if after_seq is not None:
        return AuditPage(items=items, next_before_seq=None, next_after_seq=following)
    return AuditPage(items=items, next_before_seq=following)


@get("/audit/export.json", tags=["audit"], media_type="application/json", description=EXPORT)
async def export_json(
    actor: NamedDependency[Actor], evidence: NamedDependency[Evidence], subject_type: Word = None,
    subject_id: Word = None, action: Word = None,
) -> Stream:  # fmt: skip
    return (await _download(actor, evidence, subject_type, subject_id, action)).as_json()


@get("/audit/export.csv", tags=["audit"], media_type="text/csv; charset=utf-8", description=EXPORT)
async def export_csv(
    actor: NamedDependency[Actor], evidence: NamedDependency[Evidence], subject_type: Word = None,
    subject_id: Word = None, action: Word = None,
) -> Stream:  # fmt: skip
    return (await _download(actor, evidence, subject_type, subject_id, action)).as_csv()


async def _download(
    actor: Actor, evidence: Evidence, subject_type: str | None, subject_id: str | None, action: str | None
) -> Download:
    head = await evidence.head(actor)  # refuses whoever may not read the trail, before the download starts
    return Download(evidence, actor, head, subject_type=subject_type, subject_id=subject_id, action=action)


@get("/audit/verification", tags=["audit"])
async def verify_chain(actor: NamedDependency[Actor], queries: NamedDependency[Queries]) -> VerificationOut:
    result = await queries.verify_audit(actor)
    return VerificationOut(ok=result.ok, checked=result.checked, head_seq=result.head_seq,
                           broken_seq=result.broken_seq, broken_id=result.broken_id, problem=result.problem,
                           description=result.describe())  # fmt: skip
