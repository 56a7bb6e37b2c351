"""What an auditor takes away: the audit trail exported in batches, and one grant's evidence bundle.

Both are tied to the chain: they carry its head (sequence number and hash) as it was when the export began, and
contain only events up to that head, with their ``prev_hash`` and ``hash``, so a reader can re-verify them offline
and match them against a later export of the whole chain. A bundle also carries the newest signed checkpoint that
covers its events, with the public key that signed it (domain.checkpoints). Reading changes nothing and is not
audited.

A bundle says only what the person exporting it may read: the model's designation consultation (its rounds, and
their events) to those who read it (``consultations.reads``: the developer's and the government's staff who act or
audit), and the evaluation findings on the model counted as their audience lets that person read them
(``Findings.counts``), never one more. A round's thread and a finding's words stay where they are: the bundle counts
them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from accessdesk.db.tables import (
    AccessGrant,
    Attestation,
    AuditCheckpoint,
    AuditEvent,
    AuditHead,
    Decision,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
    Organisation,
)
from accessdesk.domain import audit, consultations
from accessdesk.domain.actor import Actor
from accessdesk.domain.audit import jsonable
from accessdesk.domain.checkpoints import latest_covering
from accessdesk.domain.compliance import text_hash
from accessdesk.domain.consultations import Consultations, Round
from accessdesk.domain.findings import FindingCounts, Findings
from accessdesk.domain.gates import counted_acceptance, counted_attestations, current_nda, explain
from accessdesk.domain.grants import Grants
from accessdesk.domain.pagination import MAX_LIMIT
from accessdesk.domain.permissions import Permission
from accessdesk.domain.queries import Queries
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Area

BUNDLE_FORMAT = "accessdesk.evidence/1"
HASHING = ("hash = SHA-256(prev_hash ‖ canonical), where canonical is the event without prev_hash and hash, as "
           "JSON with sorted keys, no spaces and unescaped UTF-8; seq is contiguous from 1")  # fmt: skip


CHECKPOINT_NOTE = ("checkpoint: the newest signed checkpoint that covers these events, signed with the key in "
                   "checkpoint_keys; trust that key only if it matches a copy of /.well-known/accessdesk-audit-keys "
                   "kept outside accessdesk. The events here are part of the chain: `accessdesk audit verify "
                   "--checkpoint THIS-FILE --key KEYS` checks the whole chain up to the checkpoint")  # fmt: skip
NOT_YOURS = ("the model's designation consultation is the developer's and the government's business: it is shown to "
             "their staff who act on it or audit it")  # fmt: skip
FINDINGS_NOTE = ("the evaluation findings on the model that whoever made this bundle may read (their TLP audience), "
                 "counted; a finding shared with others only is not counted. Their words are on their own pages and "
                 "in the findings export")  # fmt: skip
NO_CHECKPOINT = ("no signed checkpoint covers these events yet (the worker signs one within "
                 "ACCESSDESK_AUDIT_CHECKPOINT_MINUTES, or run `accessdesk audit checkpoint`); export the bundle again "
                 "after it")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last event of the audit chain (``seq`` 0 and the genesis hash while it is empty)."""

    seq: int
    hash: str


def event_record(event: AuditEvent) -> dict[str, Any]:
    """An audit event as JSON-ready data, exactly as its hash covers it (plus ``prev_hash`` and ``hash``)."""
    return audit.snapshot(event)


class Evidence:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.queries = Queries(unit)

    async def head(self, actor: Actor) -> ChainHead:
        """Where the chain ends now; exports read up to here so that they stay one consistent prefix."""
        actor.require(Permission.AUDIT_READ, "only auditors and admins read the audit trail")
        row = await self.unit.session.get(AuditHead, 1, populate_existing=True)
        return ChainHead(seq=row.seq, hash=row.hash) if row is not None else ChainHead(seq=0, hash=audit.GENESIS)

    async def trail(
        self, actor: Actor, *, upto: ChainHead, subject_type: str | None = None, subject_id: str | None = None,
        action: str | None = None, batch: int = MAX_LIMIT,
    ) -> AsyncIterator[list[dict[str, Any]]]:  # fmt: skip
        """Every event matching the filters up to ``upto``, newest first, as batches of :func:`event_record`.

        Ends the read transaction after each batch (rows loaded earlier in the unit are expired): on SQLite every
        transaction holds the write lock, and a slow download must not hold writers up. Events up to ``upto``
        never change, so batches read in different transactions still make one snapshot."""
        async for rows in self._pages(actor, upto=upto, subject_type=subject_type, subject_id=subject_id,
                                      action=action, batch=batch):  # fmt: skip
            records = [event_record(e) for e in rows]
            await self.unit.rollback()
            yield records

    async def _pages(
        self, actor: Actor, *, upto: ChainHead, subject_type: str | None = None, subject_id: str | None = None,
        action: str | None = None, batch: int = MAX_LIMIT,
    ) -> AsyncIterator[list[AuditEvent]]:  # fmt: skip
        before = upto.seq + 1
        while True:
            rows, older = await self.queries.audit_events(actor, subject_type=subject_type, subject_id=subject_id,
                                                          action=action, before_seq=before, limit=batch)  # fmt: skip
            if rows:
                yield rows
            if older is None:
                return
            before = older

    async def bundle(self, actor: Actor, grant_id: uuid.UUID) -> dict[str, Any]:
        """Everything that justifies one grant, JSON-ready: the grant and its state now, the nomination that
        created it and any extension rounds with every decision, the NDA acceptance in force with the template it
        refers to, the grantee's attestations, the model's designation with its consultation rounds (for those who
        read them), the evaluation findings on the model the actor may read (counted), and the audit events of all
        of these up to the chain's head.

        Needs ``audit:read``; a grant the actor cannot see does not exist for them (404)."""
        head = await self.head(actor)
        grant = await self.queries.grant(actor, grant_id)
        now = self.unit.now()
        model = await self.queries.model(actor, grant.model_id)
        organisation = await self.queries.organisation(actor, grant.organisation_id)
        rounds = [await self.queries.nomination(actor, nomination_id) for nomination_id in await self._rounds(grant)]
        template = await current_nda(self.unit.session, model)
        acceptance = await self._acceptance_in_force(actor, organisation, template)
        accepted_template = (await self.queries.nda_template(actor, acceptance.template_id)
                             if acceptance is not None else None)  # fmt: skip
        attestations = await self.queries.attestations(actor, organisation.id)
        in_force = _attestations_in_force(attestations, now)
        people = await self.queries.people_names(
            [n.nominated_by for n, _ in rounds] + [d.approver_id for _, ds in rounds for d in ds]
            + [d.decided_by for _, ds in rounds for d in ds if d.decided_by]
            + ([acceptance.signer_id] if acceptance else []) + [a.attested_by for a in attestations]
            + ([grant.revoked_by] if grant.revoked_by else [])
        )  # fmt: skip

        subjects = [("access_grants", grant.id)]
        subjects += [("nominations", n.id) for n, _ in rounds] + [("decisions", d.id) for _, ds in rounds for d in ds]
        subjects += [("nda_acceptances", acceptance.id)] if acceptance else []
        subjects += [("attestations", a.id) for a in attestations if a.id in in_force]
        consulted = await self._consultation(actor, model)
        if consulted is not None:
            people |= await self.queries.people_names(
                [p for r in consulted for p in (r.consultation.requested_by, r.consultation.decided_by) if p])
        findings = await Findings(self.unit).counts(actor, model.id)
        events: list[dict[str, Any]] = []
        for subject_type, subject_id in subjects:
            async for rows in self._pages(actor, upto=head, subject_type=subject_type, subject_id=str(subject_id)):
                events += [event_record(e) for e in rows]
        if consulted is not None:  # every step of the consultation, and every designation it recorded
            for r in consulted:
                async for rows in self._pages(actor, upto=head, subject_type="consultations",
                                              subject_id=str(r.consultation.id)):  # fmt: skip
                    events += [event_record(e) for e in rows]
            async for rows in self._pages(actor, upto=head, subject_type="frontier_models", subject_id=str(model.id),
                                          action="model.designated"):  # fmt: skip
                events += [event_record(e) for e in rows]
        events.sort(key=lambda e: e["seq"])
        covering = await latest_covering(self.unit, max((e["seq"] for e in events), default=0))

        answer = await Grants(self.unit).usability(grant.id, at=now)
        return jsonable({
            "format": BUNDLE_FORMAT,
            "generated_at": now,
            "generated_by": actor.label,
            "chain_head": {"seq": head.seq, "hash": head.hash},
            "grant": {
                "id": grant.id, "state": answer.state, "usable": answer.usable, "state_stored": grant.state,
                "state_changed_at": grant.state_changed_at,
                "model": {"id": model.id, "slug": model.slug, "name": model.name},
                "organisation": {"id": organisation.id, "name": organisation.name, "kind": organisation.kind},
                "starts_at": grant.starts_at, "ends_at": grant.ends_at, "actions": grant.actions,
                "scopes": grant.scopes, "created_at": grant.created_at,
                "problems": [{"code": code, "explanation": explain(code)} for code in answer.reasons],
                "revoked_at": grant.revoked_at, "revoked_by": _person(grant.revoked_by, people),
                "revoke_reason": grant.revoke_reason,
            },
            "nominations": [_round(n, decisions, people) for n, decisions in rounds],
            "nda": {
                "template_in_force": _template(template) if template else None,
                "acceptance": _acceptance(acceptance, accepted_template, people, now) if acceptance else None,
            },
            "attestations": [_attestation(a, people, a.id in in_force) for a in _by_area(attestations)],
            "designation": _designation(model, consulted, people),
            "findings": _findings(findings),
            "audit": {"hashing": HASHING, "events": events, **_checkpoint(covering)},
        })  # fmt: skip

    async def _consultation(self, actor: Actor, model: FrontierModel) -> list[Round] | None:
        """The model's consultation rounds, oldest first, if ``actor`` reads them (None: not theirs to read)."""
        if not consultations.reads(actor, model):
            return None
        _, rounds = await Consultations(self.unit).rounds(actor, model.id)
        return sorted(rounds, key=lambda r: r.consultation.round)

    async def _rounds(self, grant: AccessGrant) -> list[uuid.UUID]:
        """The nomination that created the grant, then its extension rounds, oldest first."""
        extensions = await self.unit.session.exec(
            select(Nomination.id).where(Nomination.grant_id == grant.id)
            .order_by(col(Nomination.created_at), col(Nomination.id))
        )  # fmt: skip
        return [grant.nomination_id, *(i for i in extensions.all() if i != grant.nomination_id)]

    async def _acceptance_in_force(
        self, actor: Actor, organisation: Organisation, template: NdaTemplate | None
    ) -> NdaAcceptance | None:
        """The acceptance the NDA gate relies on: of the current major version, the one that runs longest
        (as :func:`accessdesk.domain.gates.evaluate` counts it); None when there is none."""
        if template is None:
            return None
        return counted_acceptance(await self.queries.nda_acceptances(actor, organisation.id), template,
                                  at=self.unit.now())


def _attestations_in_force(attestations: list[Attestation], now: datetime) -> set[uuid.UUID]:
    """Per area, the attestation the gate counts, if it is valid now."""
    return {a.id for a in counted_attestations(attestations, at=now).values() if a.valid_until > now}


def _by_area(attestations: list[Attestation]) -> list[Attestation]:
    order = {area.value: i for i, area in enumerate(Area)}
    return sorted(attestations, key=lambda a: (order.get(a.area, len(order)), -a.attested_at.timestamp()))


def _person(user_id: uuid.UUID | None, people: dict[uuid.UUID, str]) -> dict[str, Any] | None:
    return {"id": user_id, "name": people.get(user_id, "unknown")} if user_id else None


def _round(n: Nomination, decisions: list[Decision], people: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "state": n.state, "starts_at": n.starts_at, "ends_at": n.ends_at,
        "actions": n.actions, "justification": n.justification, "nominated_by": _person(n.nominated_by, people),
        "created_at": n.created_at, "decided_at": n.decided_at, "outcome_reason": n.outcome_reason,
        "quorum": {"developer": {"approvals": n.developer_approvals, "needed": n.developer_quorum},
                   "government": {"approvals": n.government_approvals, "needed": n.government_quorum}},
        "decisions": [{"id": d.id, "approver": _person(d.approver_id, people), "side": d.side, "verdict": d.verdict,
                       "reason": d.reason, "at": d.created_at,
                       # A delegate who decided in the approver's name (domain.delegations); None: the approver.
                       "decided_by": _person(d.decided_by, people), "delegation_id": d.delegation_id}
                      for d in decisions],
    }  # fmt: skip


def _designation(model: FrontierModel, rounds: list[Round] | None, people: dict[uuid.UUID, str]) -> dict[str, Any]:
    """The model's designation now, and its consultation rounds oldest first (None, with a note, for those who do
    not read them): who asked, the planned release then, how long it waited, the outcome with the reference of the
    government's assessment, and how many messages its thread holds (their words stay in the round)."""
    shown: dict[str, Any] = {"designation": model.designation, "designation_ref": model.designation_ref,
                             "designated_at": model.designated_at}  # fmt: skip
    if rounds is None:
        return {**shown, "consultations": None, "consultations_note": NOT_YOURS}
    return {**shown, "consultations": [{
        "id": r.consultation.id, "round": r.consultation.round, "state": r.consultation.state,
        "requested_side": r.consultation.requested_side, "requested_by": _person(r.consultation.requested_by, people),
        "opened_at": r.consultation.created_at, "planned_release_at": r.consultation.planned_release_at,
        "outcome": r.consultation.outcome, "assessment_ref": r.consultation.assessment_ref,
        "decided_by": _person(r.consultation.decided_by, people), "decided_at": r.consultation.decided_at,
        "waited_seconds": int(r.waited.total_seconds()), "messages": len(r.messages),
    } for r in rounds]}  # fmt: skip


def _findings(counts: FindingCounts) -> dict[str, Any]:
    return {"total": counts.total, "open": counts.open, "by_state": {s.value: n for s, n in counts.by_state.items()},
            "by_severity": {s.value: n for s, n in counts.by_severity.items()}, "note": FINDINGS_NOTE}  # fmt: skip


def _template(t: NdaTemplate) -> dict[str, Any]:
    """An NDA version with its exact text, so that a reader can recompute its SHA-256."""
    return {"id": t.id, "title": t.title, "version": f"{t.version_major}.{t.version_minor}", "sha256": t.sha256,
            "text_matches_sha256": text_hash(t.body) == t.sha256, "model_id": t.model_id,
            "term_days": t.term_days, "published_at": t.created_at, "text": t.body}  # fmt: skip


def _acceptance(
    a: NdaAcceptance, template: NdaTemplate | None, people: dict[uuid.UUID, str], now: datetime
) -> dict[str, Any]:
    return {"id": a.id, "version": a.version, "sha256": a.sha256, "signer": _person(a.signer_id, people),
            "accepted_at": a.accepted_at, "expires_at": a.expires_at, "valid_now": a.expires_at > now,
            "signer_ip": a.signer_ip, "signer_user_agent": a.signer_user_agent,
            "template": _template(template) if template else None}  # fmt: skip


def _attestation(a: Attestation, people: dict[uuid.UUID, str], in_force: bool) -> dict[str, Any]:
    return {"id": a.id, "area": a.area, "statement": a.statement, "evidence_ref": a.evidence_ref,
            "attested_by": _person(a.attested_by, people), "attested_at": a.attested_at,
            "valid_until": a.valid_until, "in_force": in_force}  # fmt: skip


def _checkpoint(found: tuple[AuditCheckpoint, dict[str, Any]] | None) -> dict[str, Any]:
    if found is None:
        return {"checkpoint": None, "checkpoint_note": NO_CHECKPOINT}
    row, key = found
    return {"checkpoint": {"seq": row.seq, "hash": row.hash, "time": row.signed_at, "kid": row.kid, "jws": row.jws},
            "checkpoint_keys": {"keys": [key]}, "checkpoint_note": CHECKPOINT_NOTE}  # fmt: skip
