"""Console pages for the audit trail: the filterable list, the chain's verification status, exports, and each
grant's evidence bundle."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect, Stream, Template

from accessdesk.api.audit import SEQ_MAX
from accessdesk.audit_export import Download, attachment
from accessdesk.db.tables import AuditEvent
from accessdesk.domain.audit_subjects import KINDS, AuditSubjects, Subject
from accessdesk.domain.consultations import waited_words
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
    "consultations": "Consultations",
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
# What each action is, in words: the actor, then these, then the subject (shown beside it, by name).
ACTION_WORDS = {
    "api_token.created": "created an API token", "api_token.revoked": "revoked an API token",
    "attestation.made": "attested", "audit_key.created": "created an audit signing key",
    "consultation.decided": "decided the consultation", "consultation.message_added": "wrote in the consultation",
    "consultation.opened": "opened the consultation", "consultation.reopened": "reopened the consultation",
    "consultation.requested": "requested the consultation",
    "credential.created": "created a credential", "credential.revealed": "was shown the credential's secret",
    "credential.revoked": "revoked the credential", "credential.rotated": "rotated the credential's secret",
    "credential.token_revoked": "revoked one of the credential's tokens", "decision.recorded": "decided",
    "grant.created": "created the grant", "grant.extended": "extended the grant",
    "grant.revoked": "revoked the grant", "grant.state_changed": "changed the grant's state",
    "model.designated": "recorded the model's designation", "model.registered": "registered the model",
    "model.release_moved": "moved the model's planned release", "model.switched_off": "switched the model off",
    "model.updated": "changed the model", "nda.accepted": "accepted the NDA", "nda.published": "published the NDA",
    "nomination.approved": "approved the nomination (both sides now have)", "nomination.created": "nominated",
    "nomination.lapsed": "closed the nomination undecided (its start passed)",
    "nomination.rejected": "rejected the nomination", "nomination.tallied": "counted a decision on the nomination",
    "nomination.withdrawn": "withdrew the nomination", "organisation.created": "registered the organisation",
    "organisation.disabled": "disabled the organisation", "organisation.domain_added": "added an e-mail domain to",
    "organisation.vetting_declined": "declined the organisation's vetting",
    "organisation.vetting_invited": "reopened the organisation's vetting",
    "organisation.vetting_submitted": "submitted the organisation's vetting",
    "organisation.vetting_vetted": "vetted the organisation", "outbox.retried": "retried a notification",
    "session.started": "signed in", "session.ended": "signed out", "signing_key.created": "created a signing key",
    "signing_key.rotated": "rotated the signing key", "slack.linked": "linked a Slack account",
    "slack.unlinked": "unlinked the Slack account", "user.created": "added the person",
    "user.updated": "changed the person",
}  # fmt: skip
# The console page of each kind of subject that has one.
PAGES = {"consultation": "/console/consultations/{}", "grant": "/console/grants/{}", "model": "/console/models/{}", "nda": "/console/ndas/{}",
         "nomination": "/console/nominations/{}", "organisation": "/console/organisations/{}"}  # fmt: skip
SUBJECT_TEXT = 100
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


def page_of(subject: Subject | None) -> str | None:
    """The console page of a subject the reader can see, if it has one."""
    if subject is None or subject.page is None:
        return None
    kind, id_ = subject.page
    return PAGES[kind].format(id_)


def action_words(event: AuditEvent) -> str:
    words = ACTION_WORDS.get(event.action, event.action)
    verdict = (event.after or {}).get("verdict") if event.action == "decision.recorded" else None
    return f"{words}: {verdict}" if isinstance(verdict, str) else words


def subject_text_of(params: Mapping[str, str]) -> str | None:
    """The "about" filter as typed: a person's name or e-mail, an organisation's or model's name or slug, or an
    id; refused (400) when it cannot be one."""
    text = (params.get("subject") or "").strip()
    if not text:
        return None
    if len(text) > SUBJECT_TEXT or not SUBJECT_ID.fullmatch(text):
        raise HTTPException(status_code=400, detail=f"what an event is about is at most {SUBJECT_TEXT} printable "
                                                    "characters: a name, an e-mail, a slug or an id")  # fmt: skip
    return text


def _is_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def resolve_subject(
    subjects: AuditSubjects, signed: Signed, filters: AuditFilters, text: str
) -> AuditFilters | list[Subject]:  # fmt: skip
    """The filters for the subject ``text`` stands for (an id stands for itself, as before), or every subject it
    may stand for (none, or more than one: the reader chooses)."""
    if _is_id(text):
        return AuditFilters(subject_type=filters.subject_type, subject_id=text, action=filters.action)
    found = await subjects.find(signed.actor, text, subject_type=filters.subject_type)
    if len(found) == 1:
        return AuditFilters(subject_type=found[0].subject_type, subject_id=found[0].subject_id, action=filters.action)
    return found


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


def waited(seconds: int) -> str:
    """How long a consultation round of the bundle waited, in words."""
    return waited_words(timedelta(seconds=seconds))


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
        evidence: NamedDependency[Evidence], unit: NamedDependency[Unit],
    ) -> Template | Redirect:  # fmt: skip
        head = await evidence.head(signed.actor)  # refuses anyone but auditors and admins, before all else
        filters = AuditFilters.of(request.query_params)
        before_seq = before_seq_of(request.query_params)
        subjects = AuditSubjects(unit)
        typed = subject_text_of(request.query_params)
        if typed is not None:
            # A name becomes the subject's own filter (its type and id), so that paging and the exports keep to
            # exactly that subject; a name that stands for several (or none) asks which.
            resolved = await resolve_subject(subjects, signed, filters, typed)
            if isinstance(resolved, AuditFilters):
                return Redirect(resolved.link("/console/audit"), status_code=303)
            return page("console/audit.html", signed, filters=filters, subject_types=SUBJECT_TYPES, head=head,
                        verification=await queries.verify_audit(signed.actor), rows=[], older=None, newest=None,
                        typed=typed, choices=[(s, filters.link("/console/audit", subject_type=s.subject_type,
                                                               subject_id=s.subject_id)) for s in resolved],
                        kinds=KINDS, page_of=page_of, about=None)  # fmt: skip
        # Verification walks the whole chain on every view of this page: a few milliseconds per thousand events,
        # fine at this scale. A trail of millions would want the worker to verify and the page to show its result.
        verification = await queries.verify_audit(signed.actor)
        events, older = await queries.audit_events(signed.actor, subject_type=filters.subject_type,
                                                   subject_id=filters.subject_id, action=filters.action,
                                                   before_seq=before_seq, limit=PAGE_SIZE)  # fmt: skip
        named = await subjects.named(signed.actor, events)
        about = next((named.get((e.subject_type, e.subject_id)) for e in events), None) if filters.subject_id else None
        return page("console/audit.html", signed, filters=filters, subject_types=SUBJECT_TYPES, head=head,
                    verification=verification, kinds=KINDS, page_of=page_of, typed=None, choices=None, about=about,
                    rows=[(e, changes(e.before, e.after), named.get((e.subject_type, e.subject_id)), action_words(e))
                          for e in events],
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
        typed = subject_text_of(request.query_params)
        if typed is not None:
            resolved = await resolve_subject(AuditSubjects(evidence.unit), signed, filters, typed)
            if not isinstance(resolved, AuditFilters):
                raise HTTPException(status_code=400, detail=f"“{typed}” stands for {len(resolved) or 'no'} subject"
                                    f"{'' if len(resolved) == 1 else 's'} you can see; choose one on the audit page")  # fmt: skip
            filters = resolved
        return Download(evidence, signed.actor, head, subject_type=filters.subject_type,
                        subject_id=filters.subject_id, action=filters.action)  # fmt: skip

    @get("/grants/{grant_id:uuid}/evidence")
    async def evidence_page(
        self, signed: NamedDependency[Signed], evidence: NamedDependency[Evidence], grant_id: FromPath[uuid.UUID]
    ) -> Template:
        bundle = await evidence.bundle(signed.actor, grant_id)
        return page("console/evidence.html", signed, b=bundle, when=when, changes=changes, badges=STATE_BADGES,
                    waited=waited)  # fmt: skip

    @get("/grants/{grant_id:uuid}/evidence.json")
    async def evidence_json(
        self, signed: NamedDependency[Signed], unit: NamedDependency[Unit], evidence: NamedDependency[Evidence],
        grant_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:  # fmt: skip
        bundle = await evidence.bundle(signed.actor, grant_id)
        filename = f"accessdesk-evidence-{grant_id}-{unit.now():%Y-%m-%d}.json"
        return Response(json.dumps(bundle, ensure_ascii=False, indent=2).encode(), media_type="application/json",
                        headers=attachment(filename))  # fmt: skip

