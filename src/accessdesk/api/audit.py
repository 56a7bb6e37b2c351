"""The audit trail: read it, and verify its chain."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

from accessdesk.api.routes import get
from accessdesk.api.schemas import NO_NUL, AuditEventOut, AuditPage, VerificationOut
from accessdesk.domain.actor import Actor
from accessdesk.domain.queries import Queries

# Event numbers are 64-bit integers in both databases; a larger number is no event's, and neither driver can bind it.
SEQ_MAX = 2**63 - 1
Word = Annotated[str | None, Parameter(pattern=NO_NUL)]


@get("/audit/events", tags=["audit"])
async def list_events(
    actor: Actor, queries: Queries, subject_type: Word = None, subject_id: Word = None, action: Word = None,
    before_seq: Annotated[int | None, Parameter(ge=1, le=SEQ_MAX)] = None,
    limit: Annotated[int, Parameter(ge=1, le=200)] = 100,
) -> AuditPage:  # fmt: skip
    events, more = await queries.audit_events(actor, subject_type=subject_type, subject_id=subject_id,
                                              action=action, before_seq=before_seq, limit=limit)  # fmt: skip
    return AuditPage(items=[AuditEventOut.of(e) for e in events], next_before_seq=more)


@get("/audit/verification", tags=["audit"])
async def verify_chain(actor: Actor, queries: Queries) -> VerificationOut:
    result = await queries.verify_audit(actor)
    return VerificationOut(ok=result.ok, checked=result.checked, head_seq=result.head_seq,
                           broken_seq=result.broken_seq, broken_id=result.broken_id, problem=result.problem,
                           description=result.describe())  # fmt: skip
