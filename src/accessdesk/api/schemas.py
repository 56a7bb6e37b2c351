"""Request and response bodies of the JSON API (msgspec: validated on the way in, documented in OpenAPI)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter
from msgspec import Meta, Struct

from accessdesk.db.tables import (
    Attestation,
    AuditEvent,
    Decision,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
    Organisation,
    User,
)
from accessdesk.domain.actor import Actor
from accessdesk.domain.gates import explain
from accessdesk.domain.grants import Usability
from accessdesk.domain.queries import GrantRow
from accessdesk.domain.reasons import decision_reason, reason_for
from accessdesk.domain.visibility import STAFF_ONLY_MODEL_FIELDS
from accessdesk.domain.vocabulary import (
    Action,
    Area,
    Designation,
    OrgKind,
    Role,
    Side,
    Tier,
    Verdict,
    Vetting,
)

# PostgreSQL cannot store NUL in text (SQLite can): refuse it at the edge, the same way on both databases.
NO_NUL = r"^[^\x00]*$"
# msgspec matches patterns with Python's re.search, where "$" also matches before a final newline: "atlas\n" would
# pass for a slug (and become the scope "model:atlas\n:invoke"). Each anchored pattern below ends "$(?!\n)", which
# means the same in JSON Schema's regex dialect, where "$" is the end of the text already.
Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size")]
Aware = Annotated[datetime, Meta(tz=True, description="ISO 8601 with a UTC offset, e.g. 2026-12-01T09:00:00Z")]
# A name is one line of text: no control character (a newline, an escape sequence that rewrites a terminal or a
# log line, a NUL).
ONE_LINE = r"^[^\x00-\x1f\x7f]*$(?!\n)"
Text = Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=5000)]
ShortText = Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=200)]
Codename = Annotated[str, Meta(pattern=ONE_LINE, min_length=1, max_length=100)]  # the column is 100 characters
Slug = Annotated[str, Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$(?!\n)", description="lower-case, digits, -")]


def in_utc_range(struct: Struct, *names: str) -> None:
    """Every instant is stored in UTC; one that has no UTC form (0001-01-01T00:00+01:00, 9999-12-31T23:59-01:00)
    is refused as malformed. msgspec reports a ValueError raised here as a validation error (400)."""
    for name in names:
        try:
            getattr(struct, name).astimezone(UTC)
        except OverflowError:
            raise ValueError(f"`{name}` is outside the years 1 to 9999 once converted to UTC") from None


class Conflicting(Struct, kw_only=True):
    """What a conflict is with (an ``overlap``: the nomination or grant whose window the new one overlaps)."""

    kind: str
    id: uuid.UUID
    href: str


class Problem(Struct, kw_only=True):
    """RFC 9457 problem details; ``errors`` names each field at fault, ``conflicting`` what a conflict is with."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None
    conflicting: Conflicting | None = None


# ---- organisations and people ---------------------------------------------------------------------------------


class OrganisationIn(Struct, kw_only=True, forbid_unknown_fields=True):
    name: ShortText
    slug: Slug
    kind: OrgKind = OrgKind.PARTNER
    domains: list[Annotated[str, Meta(pattern=NO_NUL, max_length=253)]] = []
    sector: Annotated[str, Meta(pattern=NO_NUL, max_length=100)] | None = None
    country: Annotated[str, Meta(pattern=r"^[A-Z]{2}$(?!\n)")] | None = None
    contact_name: Annotated[str, Meta(pattern=NO_NUL, max_length=200)] | None = None
    contact_email: Annotated[str, Meta(pattern=NO_NUL, max_length=320)] | None = None


class OrganisationOut(Struct, kw_only=True):
    id: uuid.UUID
    kind: OrgKind
    name: str
    slug: str
    sector: str | None
    country: str | None
    contact_name: str | None
    contact_email: str | None
    vetting_state: Vetting | None
    vetting_reason: str | None
    vetting_changed_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, o: Organisation) -> OrganisationOut:
        return cls(**{f: getattr(o, f) for f in cls.__struct_fields__})


class DomainIn(Struct, kw_only=True, forbid_unknown_fields=True):
    domain: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=253)]


class UserIn(Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, Meta(pattern=NO_NUL, min_length=3, max_length=320)]
    name: ShortText
    roles: list[Role] = msgspec.field(default_factory=lambda: [Role.MEMBER])


class UserPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    roles: list[Role] | None = None
    disabled: bool | None = None


class UserOut(Struct, kw_only=True):
    id: uuid.UUID
    organisation_id: uuid.UUID
    email: str
    name: str
    roles: list[Role]
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, u: User, roles: frozenset[Role] | set[Role]) -> UserOut:
        return cls(id=u.id, organisation_id=u.organisation_id, email=u.email, name=u.name, roles=sorted(roles),
                   disabled=u.disabled_at is not None, created_at=u.created_at)  # fmt: skip


class MeOut(Struct, kw_only=True):
    user: UserOut
    organisation: OrganisationOut
    permissions: list[str]


class VettingSubmissionIn(Struct, kw_only=True, forbid_unknown_fields=True):
    submission: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=20000)]


class VettingDecisionIn(Struct, kw_only=True, forbid_unknown_fields=True):
    outcome: Vetting
    reason: Annotated[str, Meta(pattern=NO_NUL, max_length=5000)] | None = None


# ---- models ----------------------------------------------------------------------------------------------------

StepUpMinutes = Annotated[int, Meta(ge=1, le=240, description=(
    "an approval needs a sign-in younger than this many minutes (null: 15 for a high-tier model, none for a "
    "standard one)"))]  # fmt: skip
ExpiryDays = Annotated[int, Meta(ge=1, le=90, description=(
    "a pending nomination expires this many days after it is made (and always at its proposed start)"))]
EscalationDays = Annotated[int, Meta(ge=1, le=30, description=(
    "pending this many days, the undecided side's approvers are reminded; twice as long, its admins are; fewer "
    "than nomination_expiry_days"))]  # fmt: skip


class ModelIn(Struct, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    name: ShortText
    codename: Codename
    tier: Tier
    planned_release_at: Aware
    resource: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=500)]
    slack_channels: list[str] = []
    developer_quorum: Annotated[int, Meta(ge=1, le=10)] = 1
    government_quorum: Annotated[int, Meta(ge=1, le=10)] = 1
    max_window_days: Annotated[int, Meta(ge=1, le=366)] = 90
    approval_step_up_minutes: StepUpMinutes | None = None
    nomination_expiry_days: ExpiryDays = 14
    escalation_days: EscalationDays = 3

    def __post_init__(self) -> None:
        in_utc_range(self, "planned_release_at")


class ModelPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    name: ShortText | msgspec.UnsetType = msgspec.UNSET
    codename: Codename | msgspec.UnsetType = msgspec.UNSET
    tier: Tier | msgspec.UnsetType = msgspec.UNSET
    resource: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=500)] | msgspec.UnsetType = msgspec.UNSET
    slack_channels: list[str] | msgspec.UnsetType = msgspec.UNSET
    developer_quorum: Annotated[int, Meta(ge=1, le=10)] | msgspec.UnsetType = msgspec.UNSET
    government_quorum: Annotated[int, Meta(ge=1, le=10)] | msgspec.UnsetType = msgspec.UNSET
    max_window_days: Annotated[int, Meta(ge=1, le=366)] | msgspec.UnsetType = msgspec.UNSET
    approval_step_up_minutes: StepUpMinutes | None | msgspec.UnsetType = msgspec.UNSET
    nomination_expiry_days: ExpiryDays | msgspec.UnsetType = msgspec.UNSET
    escalation_days: EscalationDays | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        return {f: str(v) if f == "tier" else v for f in self.__struct_fields__
                if (v := getattr(self, f)) is not msgspec.UNSET}  # fmt: skip


class ModelOut(Struct, kw_only=True):
    id: uuid.UUID
    slug: str
    name: str
    codename: str
    developer_id: uuid.UUID
    tier: Tier
    planned_release_at: datetime
    resource: str
    slack_channels: list[str]
    designation: Designation
    designation_ref: str | None
    designated_at: datetime | None
    developer_quorum: int
    government_quorum: int
    max_window_days: int
    approval_step_up_minutes: int | None
    nomination_expiry_days: int
    escalation_days: int
    switched_off_at: datetime | None
    switch_off_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, m: FrontierModel, actor: Actor) -> ModelOut:
        fields = {f: getattr(m, f) for f in cls.__struct_fields__ if hasattr(m, f)}
        if not actor.is_staff:
            fields.update({f: [] if f == "slack_channels" else None for f in STAFF_ONLY_MODEL_FIELDS})
        return cls(**fields, switched_off_at=m.killed_at, switch_off_reason=m.kill_reason)


class ReleaseIn(Struct, kw_only=True, forbid_unknown_fields=True):
    planned_release_at: Aware
    reason: Annotated[str, Meta(pattern=NO_NUL, max_length=5000)] | None = None

    def __post_init__(self) -> None:
        in_utc_range(self, "planned_release_at")


class DesignationIn(Struct, kw_only=True, forbid_unknown_fields=True):
    designation: Designation
    reference: Annotated[str, Meta(pattern=NO_NUL, max_length=200)] | None = None


class ReasonIn(Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Text


class SwitchOffOut(Struct, kw_only=True):
    model: ModelOut
    grants_revoked: int


# ---- NDAs and attestations -------------------------------------------------------------------------------------


class NdaIn(Struct, kw_only=True, forbid_unknown_fields=True):
    title: ShortText
    body: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=200_000)]
    version: Annotated[str, Meta(pattern=r"^\d{1,4}\.\d{1,4}$(?!\n)")]
    model_id: uuid.UUID | None = None
    term_days: Annotated[int, Meta(ge=1, le=1825)] = 365


class NdaOut(Struct, kw_only=True):
    id: uuid.UUID
    developer_id: uuid.UUID
    model_id: uuid.UUID | None
    title: str
    version: str
    sha256: str
    term_days: int
    created_at: datetime
    body: str | None = None

    @classmethod
    def of(cls, t: NdaTemplate, *, with_body: bool = False) -> NdaOut:
        return cls(id=t.id, developer_id=t.developer_id, model_id=t.model_id, title=t.title,
                   version=f"{t.version_major}.{t.version_minor}", sha256=t.sha256, term_days=t.term_days,
                   created_at=t.created_at, body=t.body if with_body else None)  # fmt: skip


class AcceptanceIn(Struct, kw_only=True, forbid_unknown_fields=True):
    sha256: Annotated[str, Meta(pattern=r"^[0-9a-fA-F]{64}$(?!\n)", description="SHA-256 of the text as shown")]


class AcceptanceOut(Struct, kw_only=True):
    id: uuid.UUID
    organisation_id: uuid.UUID
    template_id: uuid.UUID
    version: str
    sha256: str
    signer_id: uuid.UUID
    accepted_at: datetime
    expires_at: datetime
    signer_ip: str | None
    signer_user_agent: str | None

    @classmethod
    def of(cls, a: NdaAcceptance) -> AcceptanceOut:
        return cls(**{f: getattr(a, f) for f in cls.__struct_fields__})


class AttestationIn(Struct, kw_only=True, forbid_unknown_fields=True):
    area: Area
    statement: Annotated[str, Meta(pattern=NO_NUL, min_length=1, max_length=10000)]
    valid_until: Aware
    evidence_ref: Annotated[str, Meta(pattern=NO_NUL, max_length=500)] | None = None

    def __post_init__(self) -> None:
        in_utc_range(self, "valid_until")


class AttestationOut(Struct, kw_only=True):
    id: uuid.UUID
    organisation_id: uuid.UUID
    area: Area
    statement: str
    evidence_ref: str | None
    attested_by: uuid.UUID
    attested_at: datetime
    valid_until: datetime

    @classmethod
    def of(cls, a: Attestation) -> AttestationOut:
        return cls(**{f: getattr(a, f) for f in cls.__struct_fields__})


# ---- nominations, decisions, grants ----------------------------------------------------------------------------


class NominationIn(Struct, kw_only=True, forbid_unknown_fields=True):
    model_id: uuid.UUID
    organisation_id: uuid.UUID
    starts_at: Aware
    ends_at: Aware
    actions: Annotated[list[Action], Meta(min_length=1, max_length=8)]
    justification: Text

    def __post_init__(self) -> None:
        in_utc_range(self, "starts_at", "ends_at")


class DecisionIn(Struct, kw_only=True, forbid_unknown_fields=True):
    verdict: Verdict
    reason: Annotated[str, Meta(pattern=NO_NUL, max_length=5000)] | None = None
    reason_shared: Annotated[bool, Meta(description=(
        "a rejection's reason is shown to the partner too (else to the nominator and staff only); ignored for an "
        "approval, whose reason is always internal"))] = False  # fmt: skip
    on_behalf_of: Annotated[uuid.UUID, Meta(description=(
        "decide in this approver's name, by their delegation to you in force now; the decision counts as theirs "
        "and records that you took it"))] | None = None  # fmt: skip


class WithdrawalIn(Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(pattern=NO_NUL, max_length=5000)] | None = None


class ExtensionIn(Struct, kw_only=True, forbid_unknown_fields=True):
    ends_at: Aware
    justification: Text

    def __post_init__(self) -> None:
        in_utc_range(self, "ends_at")


# What of a decision only staff read (absent for a partner): whether a reason was shared, and a delegation.
STAFF_ONLY_DECISION_FIELDS = ("reason_shared", "decided_by", "delegation_id")


class DecisionOut(Struct, kw_only=True):
    id: uuid.UUID
    approver_id: uuid.UUID  # in whose name it was taken (the delegator, under a delegation)
    side: Side
    verdict: Verdict
    reason: str | None
    created_at: datetime
    # Staff only (absent for a partner).
    reason_shared: bool | msgspec.UnsetType = msgspec.UNSET
    decided_by: uuid.UUID | None | msgspec.UnsetType = msgspec.UNSET  # the delegate who took it (None: the approver)
    delegation_id: uuid.UUID | None | msgspec.UnsetType = msgspec.UNSET

    @classmethod
    def of(cls, d: Decision, actor: Actor | None = None) -> DecisionOut:
        """``d`` as ``actor`` reads it (None: as anyone would, staff-only fields left out). ``reason`` as
        ``domain.reasons`` lets ``actor`` read it: the nominated partner reads a rejection's reason only where it
        was shared, and no approval's."""
        staff = actor is not None and actor.is_staff
        plain = {f: getattr(d, f) for f in cls.__struct_fields__ if staff or f not in STAFF_ONLY_DECISION_FIELDS}
        if actor is not None:
            plain["reason"] = decision_reason(actor, d)
        return cls(**plain)


class Tally(Struct, kw_only=True):
    approvals: int
    quorum: int


class NominationOut(Struct, kw_only=True):
    """A nomination. ``outcome_reason``: why it ended as it did, as the reader may read it (``domain.reasons``: a
    partner reads a rejection's reason only on the nomination itself, where its decisions are read, and only where
    the rejecting approver shared it). ``expires_at``: when it lapses if still pending. ``reconsiders_id``: the
    refused nomination whose reconsideration this round is."""

    id: uuid.UUID
    kind: str
    model_id: uuid.UUID
    organisation_id: uuid.UUID
    grant_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    actions: list[str]
    justification: str
    nominated_by: uuid.UUID
    state: str
    tally: dict[str, Tally]
    outcome_reason: str | None
    expires_at: datetime | None
    reconsiders_id: uuid.UUID | None
    created_at: datetime
    decided_at: datetime | None
    decisions: list[DecisionOut] | None = None

    @classmethod
    def of(cls, n: Nomination, *, state: str, decisions: list[Decision] | None = None,
           actor: Actor | None = None) -> NominationOut:  # fmt: skip
        """``decisions`` as ``actor`` reads them (None: as anyone would, :meth:`DecisionOut.of`), and the outcome's
        reason as ``actor`` may read it (``domain.reasons.reason_for``). Every surface a partner reaches passes
        ``actor``; None is for answers only staff receive (a decision, a withdrawal)."""
        tally = {"developer": Tally(approvals=n.developer_approvals, quorum=n.developer_quorum),
                 "government": Tally(approvals=n.government_approvals, quorum=n.government_quorum)}  # fmt: skip
        plain = {f: getattr(n, f) for f in cls.__struct_fields__ if f not in ("state", "tally", "decisions")}
        if actor is not None:
            plain["outcome_reason"] = reason_for(actor, n, decisions)
        return cls(**plain, state=state, tally=tally,
                   decisions=[DecisionOut.of(d, actor) for d in decisions] if decisions is not None else None)  # fmt: skip


class OutcomeOut(Struct, kw_only=True):
    decision: DecisionOut
    nomination: NominationOut
    grant_id: uuid.UUID | None


class Reason(Struct, kw_only=True):
    code: str
    message: str


class GrantOut(Struct, kw_only=True):
    id: uuid.UUID
    nomination_id: uuid.UUID
    model_id: uuid.UUID
    organisation_id: uuid.UUID
    grantee_kind: OrgKind
    starts_at: datetime
    ends_at: datetime
    actions: list[str]
    scopes: list[str]
    state: str
    usable: bool
    problems: list[Reason]
    revoked_at: datetime | None
    revoke_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: GrantRow) -> GrantOut:
        """The grant's row: its state, whether it is usable, and every reason it is not (the domain's one answer)."""
        plain = {f: getattr(row.grant, f) for f in cls.__struct_fields__ if f not in ("state", "usable", "problems")}
        problems = [Reason(code=c, message=m) for c, m in zip(row.reasons, row.explanations, strict=True)]
        return cls(**plain, state=row.state.value, usable=row.usable, problems=problems)


class UsabilityOut(Struct, kw_only=True):
    grant_id: uuid.UUID
    at: datetime
    usable: bool
    state: str
    reasons: list[Reason]
    scopes: list[str]
    ends_at: datetime

    @classmethod
    def of(cls, u: Usability) -> UsabilityOut:
        return cls(grant_id=u.grant_id, at=u.at, usable=u.usable, state=u.state.value,
                   reasons=[Reason(code=r, message=explain(r)) for r in u.reasons], scopes=list(u.scopes),
                   ends_at=u.ends_at)  # fmt: skip


class ReleaseOut(Struct, kw_only=True):
    model: ModelOut
    blocked_grants: list[GrantOut]


# ---- audit -----------------------------------------------------------------------------------------------------


class AuditEventOut(Struct, kw_only=True):
    seq: int
    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor: str
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    request_id: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventOut:
        return cls(**{f: getattr(e, f) for f in cls.__struct_fields__})


class VerificationOut(Struct, kw_only=True):
    """The chain walked to the head ``audit_head`` records: ``broken_seq`` is the first event missing or not holding
    (``broken_id`` null when it is missing), ``description`` the whole finding in words."""

    ok: bool
    checked: int
    head_seq: int | None
    broken_seq: int | None
    broken_id: uuid.UUID | None
    problem: str | None
    description: str


class OrganisationPage(Struct, kw_only=True):
    items: list[OrganisationOut]
    next_cursor: str | None


class ModelPage(Struct, kw_only=True):
    items: list[ModelOut]
    next_cursor: str | None


class NominationPage(Struct, kw_only=True):
    items: list[NominationOut]
    next_cursor: str | None


class GrantPage(Struct, kw_only=True):
    items: list[GrantOut]
    next_cursor: str | None


class AuditPage(Struct, kw_only=True):
    """Newest first: ``next_before_seq`` asks for the page after this one (null after the first event). Asked with
    ``after_seq``, oldest first: ``next_after_seq`` is the ``after_seq`` of the next request, always given; a page
    with fewer than ``limit`` events ends at the head, and asking again later with it returns what was appended."""

    items: list[AuditEventOut]
    next_before_seq: int | None
    next_after_seq: int | None = None
