"""The tables. Field names follow DESIGN.md §2; enumerations are stored as short strings (see domain.vocabulary)."""

from __future__ import annotations

import inspect
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from accessdesk.db.types import JSONDict, JSONList, UTCDateTime


def _id() -> uuid.UUID:
    return uuid.uuid4()


def _list() -> list[Any]:
    return []


def _dict() -> dict[str, Any]:
    return {}


# Pydantic asks every default factory not given a value, at every construction, whether it takes the validated data,
# by reading its signature: ≈10 µs for a function, ≈190 µs for a builtin such as ``list`` (a grant has four such
# fields). Each factory states its (empty) signature, which makes that ≈2 µs.
for _factory in (_id, _list, _dict):
    setattr(_factory, "__signature__", inspect.Signature())  # noqa: B010


def _at(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    kind: str = Field(sa_type=sa.String(16), index=True)
    name: str = Field(sa_type=sa.String(200))
    slug: str = Field(sa_type=sa.String(64), unique=True)
    sector: str | None = Field(default=None, sa_type=sa.String(100))
    country: str | None = Field(default=None, sa_type=sa.String(2))
    contact_name: str | None = Field(default=None, sa_type=sa.String(200))
    contact_email: str | None = Field(default=None, sa_type=sa.String(320))
    vetting_state: str | None = Field(default=None, sa_type=sa.String(16), index=True)
    vetting_submission: str | None = Field(default=None, sa_type=sa.Text)
    vetting_reason: str | None = Field(default=None, sa_type=sa.Text)
    vetting_decided_by: uuid.UUID | None = Field(default=None)
    vetting_changed_at: datetime | None = _at(default=None)
    created_at: datetime = _at()
    disabled_at: datetime | None = _at(default=None)


class OrganisationDomain(SQLModel, table=True):
    """An e-mail domain that belongs to one organisation (home-realm discovery at login)."""

    __tablename__ = "organisation_domains"

    domain: str = Field(sa_type=sa.String(253), primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    email: str = Field(sa_type=sa.String(320), unique=True)
    name: str = Field(sa_type=sa.String(200))
    disabled_at: datetime | None = _at(default=None)
    created_at: datetime = _at()


class UserRole(SQLModel, table=True):
    __tablename__ = "user_roles"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True)
    role: str = Field(sa_type=sa.String(16), primary_key=True)


class ApiToken(SQLModel, table=True):
    """A personal API token. Only the SHA-256 of the token is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    name: str = Field(sa_type=sa.String(100))
    token_hash: str = Field(sa_type=sa.String(64), unique=True)
    created_at: datetime = _at()
    expires_at: datetime | None = _at(default=None)
    last_used_at: datetime | None = _at(default=None)
    revoked_at: datetime | None = _at(default=None)


class FrontierModel(SQLModel, table=True):
    __tablename__ = "frontier_models"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    slug: str = Field(sa_type=sa.String(64), unique=True)
    name: str = Field(sa_type=sa.String(200))
    codename: str = Field(sa_type=sa.String(100))
    developer_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    tier: str = Field(sa_type=sa.String(16))
    planned_release_at: datetime = _at()
    resource: str = Field(sa_type=sa.String(500))
    slack_channels: list[str] = Field(default_factory=_list, sa_type=JSONList)
    designation: str = Field(sa_type=sa.String(16))
    designation_ref: str | None = Field(default=None, sa_type=sa.String(200))
    designated_by: uuid.UUID | None = Field(default=None)
    designated_at: datetime | None = _at(default=None)
    developer_quorum: int = Field(default=1)
    government_quorum: int = Field(default=1)
    max_window_days: int = Field(default=90)
    # A Slack (or API) approval needs a sign-in younger than this many minutes; None: 15 for a high-tier model,
    # none for a standard one (domain.step_up).
    approval_step_up_minutes: int | None = Field(default=None)
    # A pending nomination expires this many days after it was made (and always at its proposed start).
    nomination_expiry_days: int = Field(default=14, sa_column_kwargs={"server_default": "14"})
    # Pending this many days, the side that has not decided is reminded; twice as long, its admins are.
    escalation_days: int = Field(default=3, sa_column_kwargs={"server_default": "3"})
    killed_at: datetime | None = _at(default=None)
    killed_by: uuid.UUID | None = Field(default=None)
    kill_reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _at()
    updated_at: datetime = _at()


class NdaTemplate(SQLModel, table=True):
    """One version of an NDA. ``series`` is ``<developer id>:<model id or *>``: the versions that supersede each other."""

    __tablename__ = "nda_templates"
    __table_args__ = (sa.UniqueConstraint("series", "version_major", "version_minor"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    series: str = Field(sa_type=sa.String(80), index=True)
    developer_id: uuid.UUID = Field(foreign_key="organisations.id")
    model_id: uuid.UUID | None = Field(default=None, foreign_key="frontier_models.id")
    title: str = Field(sa_type=sa.String(200))
    body: str = Field(sa_type=sa.Text)
    version_major: int
    version_minor: int
    sha256: str = Field(sa_type=sa.String(64))
    term_days: int = Field(default=365)
    created_by: uuid.UUID | None = Field(default=None)
    created_at: datetime = _at()


class NdaAcceptance(SQLModel, table=True):
    __tablename__ = "nda_acceptances"
    __table_args__ = (
        sa.Index("ix_nda_acceptances_org_series", "organisation_id", "series", "version_major"),
        sa.Index("ix_nda_acceptances_expires", "expires_at"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    template_id: uuid.UUID = Field(foreign_key="nda_templates.id", index=True)
    series: str = Field(sa_type=sa.String(80))
    version_major: int
    version: str = Field(sa_type=sa.String(16))
    sha256: str = Field(sa_type=sa.String(64))
    signer_id: uuid.UUID = Field(foreign_key="users.id")
    accepted_at: datetime = _at()
    expires_at: datetime = _at()
    signer_ip: str | None = Field(default=None, sa_type=sa.String(45))
    signer_user_agent: str | None = Field(default=None, sa_type=sa.String(500))


class Attestation(SQLModel, table=True):
    __tablename__ = "attestations"
    __table_args__ = (
        sa.Index("ix_attestations_org_area", "organisation_id", "area", "valid_until"),
        sa.Index("ix_attestations_valid_until", "valid_until"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    area: str = Field(sa_type=sa.String(24))
    statement: str = Field(sa_type=sa.Text)
    evidence_ref: str | None = Field(default=None, sa_type=sa.String(500))
    attested_by: uuid.UUID = Field(foreign_key="users.id")
    attested_at: datetime = _at()
    valid_until: datetime = _at()


class Cohort(SQLModel, table=True):
    """Many partner organisations nominated at once for one model, one window, one set of actions and one
    justification. Each member is a nomination of its own (``Nomination.cohort_id``) under every rule; the cohort
    names them as one and its state is summarised from theirs."""

    __tablename__ = "cohorts"
    __table_args__ = (
        sa.UniqueConstraint("model_id", "name"),
        sa.Index("ix_cohorts_created", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    model_id: uuid.UUID = Field(foreign_key="frontier_models.id", index=True)
    name: str = Field(sa_type=sa.String(120))
    starts_at: datetime = _at()
    ends_at: datetime = _at()
    actions: list[str] = Field(sa_type=JSONList)
    justification: str = Field(sa_type=sa.Text)
    nominated_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = _at()


class Nomination(SQLModel, table=True):
    __tablename__ = "nominations"
    __table_args__ = (
        sa.Index("ix_nominations_queue", "state", "created_at", "id"),
        sa.Index("ix_nominations_created", "created_at", "id"),
        sa.Index("ix_nominations_model_state", "model_id", "state"),
        sa.Index("ix_nominations_partner_state", "organisation_id", "state"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    kind: str = Field(sa_type=sa.String(16))
    model_id: uuid.UUID = Field(foreign_key="frontier_models.id")
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    # No foreign key: grants reference their nomination, and a cycle of foreign keys would need deferred
    # constraints on both databases for no gain.
    grant_id: uuid.UUID | None = Field(default=None, index=True)
    starts_at: datetime = _at()
    ends_at: datetime = _at()
    actions: list[str] = Field(sa_type=JSONList)
    justification: str = Field(sa_type=sa.Text)
    nominated_by: uuid.UUID = Field(foreign_key="users.id", index=True)
    # No foreign key either: SQLite could add one to this table only by copying it (migration 0020); the domain
    # sets it once, in the transaction that creates the cohort and its members.
    cohort_id: uuid.UUID | None = Field(default=None, index=True)
    state: str = Field(sa_type=sa.String(16))
    # When a pending nomination lapses: its proposed start, or its model's expiry after it was made if sooner.
    # None only for nominations made before migration 0023, which set it to their start.
    expires_at: datetime | None = _at(default=None)
    # The rejected nomination this one reconsiders (a partner asked, and the nominator's side took it up).
    reconsiders_id: uuid.UUID | None = Field(default=None)
    developer_quorum: int
    government_quorum: int
    developer_approvals: int = Field(default=0)
    government_approvals: int = Field(default=0)
    outcome_reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _at()
    decided_at: datetime | None = _at(default=None)


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = (sa.UniqueConstraint("nomination_id", "approver_id"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    nomination_id: uuid.UUID = Field(foreign_key="nominations.id")
    approver_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    side: str = Field(sa_type=sa.String(16))
    verdict: str = Field(sa_type=sa.String(8))
    reason: str | None = Field(default=None, sa_type=sa.Text)
    # A rejection's reason shown to the partner too (else to the nominator and staff only).
    reason_shared: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Who decided in ``approver_id``'s name under a delegation (None: the approver themselves). No foreign keys:
    # SQLite could add them to this table only by copying it (migration 0023); the domain writes both at once.
    decided_by: uuid.UUID | None = Field(default=None)
    delegation_id: uuid.UUID | None = Field(default=None)
    created_at: datetime = _at()


# SQLAlchemy writes a boolean column as ``has_problems = 1`` on SQLite and bare on PostgreSQL; each index repeats
# its database's spelling, or the planner cannot prove the query's condition implies it.
_SQLITE_PROBLEMS = sa.text("has_problems = 1 AND revoked_at IS NULL")
_POSTGRESQL_PROBLEMS = sa.text("has_problems AND revoked_at IS NULL")
_NOT_REVOKED = sa.text("revoked_at IS NULL")


class AccessGrant(SQLModel, table=True):
    """A window of access for one organisation to one model.

    ``state`` is materialised from the facts below (see domain.grant_state); ``has_problems`` and
    ``gates_valid_until`` summarise the gates as of the last change to their inputs, so that the state at any
    instant can also be computed in SQL.
    """

    __tablename__ = "access_grants"
    __table_args__ = (
        sa.Index("ix_access_grants_model_start", "model_id", "starts_at"),
        sa.Index("ix_access_grants_org_created", "organisation_id", "created_at", "id"),
        sa.Index("ix_access_grants_created", "created_at", "id"),
        sa.Index("ix_access_grants_ends", "ends_at"),
        # The grants that need attention (blocked or suspended) are few among many; these partial indexes find
        # them without reading the rest (see grant_state.state_is_sql): live grants flagged with a problem, and
        # grants not started yet whose requirements may have lapsed.
        sa.Index("ix_access_grants_problems", "ends_at",
                 sqlite_where=_SQLITE_PROBLEMS, postgresql_where=_POSTGRESQL_PROBLEMS),  # fmt: skip
        sa.Index("ix_access_grants_unstarted", "starts_at", "gates_valid_until", "ends_at",
                 sqlite_where=_NOT_REVOKED, postgresql_where=_NOT_REVOKED),  # fmt: skip
        sa.Index("ix_access_grants_awaiting_government", "government_from",
                 sqlite_where=_NOT_REVOKED, postgresql_where=_NOT_REVOKED),  # fmt: skip
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    nomination_id: uuid.UUID = Field(foreign_key="nominations.id", unique=True)
    model_id: uuid.UUID = Field(foreign_key="frontier_models.id")
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    grantee_kind: str = Field(sa_type=sa.String(16))
    starts_at: datetime = _at()
    ends_at: datetime = _at()
    actions: list[str] = Field(sa_type=JSONList)
    scopes: list[str] = Field(sa_type=JSONList)
    state: str = Field(sa_type=sa.String(16), index=True)
    state_changed_at: datetime = _at()
    next_transition_at: datetime | None = _at(default=None, index=True)
    window_problems: list[str] = Field(default_factory=_list, sa_type=JSONList)
    # Rules about the model rather than the grantee: the designation (rule 4) and, for partners, whether any
    # government access to the model exists at all (rule 3).
    rule_problems: list[str] = Field(default_factory=_list, sa_type=JSONList)
    missing_gates: list[str] = Field(default_factory=_list, sa_type=JSONList)
    has_problems: bool = Field(default=False)
    # When each requirement on file lapses (reason code → ISO instant), so that the reasons for a lapse can be
    # named at any instant from the row alone; ``gates_valid_until`` is the earliest of them, for SQL.
    gate_lapses: dict[str, str] = Field(default_factory=_dict, sa_type=JSONDict)
    gates_valid_until: datetime | None = _at(default=None)
    # Partners only: when the government's access to the model that this grant relies on begins (rule 3,
    # "government first"); its end is the ``government_access_ended`` lapse.
    government_from: datetime | None = _at(default=None)
    revoked_at: datetime | None = _at(default=None)
    revoked_by: uuid.UUID | None = Field(default=None)
    revoke_reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _at()


class OutboxMessage(SQLModel, table=True):
    """A notification written in the same transaction as the change it reports, delivered later."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_pending", "delivered_at", "dead_at", "available_at"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    dedupe_key: str = Field(sa_type=sa.String(200), unique=True)
    topic: str = Field(sa_type=sa.String(64))
    recipient: str = Field(sa_type=sa.String(200))
    payload: dict[str, Any] = Field(default_factory=_dict, sa_type=JSONDict)
    created_at: datetime = _at()
    # Orders the messages written at the same instant of the domain's clock (one transaction's, or a frozen one's)
    # as they were written: a thread's notes arrive in the order of the decisions they report.
    queued_seq: int = Field(default=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"})
    available_at: datetime = _at()
    attempts: int = Field(default=0)
    delivered_at: datetime | None = _at(default=None)
    dead_at: datetime | None = _at(default=None)
    last_error: str | None = Field(default=None, sa_type=sa.Text)


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained: ``hash = SHA-256(prev_hash ‖ canonical event)``; see domain.audit."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_subject", "subject_type", "subject_id", "seq"),)

    seq: int = Field(sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: uuid.UUID = Field(default_factory=_id, unique=True)
    at: datetime = _at(index=True)
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    actor: str = Field(sa_type=sa.String(320))
    action: str = Field(sa_type=sa.String(64), index=True)
    subject_type: str = Field(sa_type=sa.String(32))
    subject_id: str = Field(sa_type=sa.String(64))
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONDict)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONDict)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    request_id: str | None = Field(default=None, sa_type=sa.String(64))
    prev_hash: str = Field(sa_type=sa.String(64))
    hash: str = Field(sa_type=sa.String(64), unique=True)


class AuditHead(SQLModel, table=True):
    """The end of the audit chain: one row, locked by each writer to append (see domain.audit.append)."""

    __tablename__ = "audit_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=sa.BigInteger)
    prev_hash: str = Field(sa_type=sa.String(64))
    hash: str = Field(sa_type=sa.String(64))


class AuditKey(SQLModel, table=True):
    """A key that signs audit checkpoints (domain.checkpoints), kept apart from the token-signing keys: its public
    half is published for good, since checkpoints are kept for years. The private key is stored sealed."""

    __tablename__ = "audit_keys"

    kid: str = Field(sa_type=sa.String(64), primary_key=True)
    alg: str = Field(sa_type=sa.String(16))
    public_jwk: dict[str, Any] = Field(sa_type=JSONDict)
    private_key_sealed: str = Field(sa_type=sa.Text)
    created_at: datetime = _at()


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement that the audit chain ended at (``seq``, ``hash``) at ``signed_at``; ``jws`` is the
    statement itself, as published outside the database. Append-only, like the events."""

    __tablename__ = "audit_checkpoints"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    seq: int = Field(sa_type=sa.BigInteger, index=True)
    hash: str = Field(sa_type=sa.String(64))
    signed_at: datetime = _at(index=True)
    kid: str = Field(sa_type=sa.String(64), foreign_key="audit_keys.kid")
    jws: str = Field(sa_type=sa.Text)


class WebSession(SQLModel, table=True):
    """A console session, stored server-side. ``id`` is the SHA-256 of the cookie's value; the value itself is
    never stored."""

    __tablename__ = "web_sessions"

    id: str = Field(sa_type=sa.String(64), primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    csrf_token: str = Field(sa_type=sa.String(64))
    created_at: datetime = _at()
    authenticated_at: datetime = _at()
    last_seen_at: datetime = _at()
    expires_at: datetime = _at(index=True)  # and ended_at: the retention sweep's (domain.retention)
    ended_at: datetime | None = _at(default=None, index=True)
    ip: str | None = Field(default=None, sa_type=sa.String(45))
    user_agent: str | None = Field(default=None, sa_type=sa.String(500))


class OAuthClient(SQLModel, table=True):
    """An OAuth client: a grantee's credential for one grant (``kind='grant'``), or the developer's gateway
    credential for one model (``kind='gateway'``, allowed to introspect that model's tokens). It authenticates
    with a client secret (``client_secret_basic``/``client_secret_post``) or a registered public key
    (``private_key_jwt``)."""

    __tablename__ = "oauth_clients"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    client_id: str = Field(sa_type=sa.String(64), unique=True)
    kind: str = Field(sa_type=sa.String(16))
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    model_id: uuid.UUID = Field(foreign_key="frontier_models.id", index=True)
    grant_id: uuid.UUID | None = Field(default=None, foreign_key="access_grants.id", index=True)
    auth_method: str = Field(sa_type=sa.String(32))
    jwks: dict[str, Any] | None = Field(default=None, sa_type=JSONDict)
    name: str = Field(sa_type=sa.String(100))
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = _at()
    revoked_at: datetime | None = _at(default=None)
    revoked_by: uuid.UUID | None = Field(default=None)
    revoke_reason: str | None = Field(default=None, sa_type=sa.Text)
    # Issuances are counted here, not audited one by one.
    token_count: int = Field(default=0)
    last_used_at: datetime | None = _at(default=None)


class TokenIssuanceDay(SQLModel, table=True):
    """How many access tokens one credential was issued on one UTC day (the programme overview's picture), added
    to with its ``token_count`` (domain.credentials.count_issuance)."""

    __tablename__ = "token_issuance_days"

    client_pk: uuid.UUID = Field(foreign_key="oauth_clients.id", primary_key=True)
    day: date = Field(sa_type=sa.Date, primary_key=True)
    count: int = Field(default=0)


class OAuthClientSecret(SQLModel, table=True):
    """One secret of a client, stored only as HMAC-SHA256 under the server's pepper. ``expires_at`` is set when a
    rotation replaces it: it keeps working until then (the overlap), then dies."""

    __tablename__ = "oauth_client_secrets"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    client_pk: uuid.UUID = Field(foreign_key="oauth_clients.id", index=True)
    digest: str = Field(sa_type=sa.String(64))
    created_at: datetime = _at()
    expires_at: datetime | None = _at(default=None)


class SigningKey(SQLModel, table=True):
    """A key that signs access tokens. Published in the JWKS before it signs (``signs_from`` unset: the next key),
    signing while current, and published after it is retired until the last token it signed has expired (a next
    key retired without ever signing, a surplus a rotation repaired, leaves the JWKS at once). The
    private key is stored sealed (AES-256-GCM under the key-encryption key from settings)."""

    __tablename__ = "signing_keys"
    # One current and one next key (per algorithm), however many processes start or rotate at once: a second
    # first start loses at the index and uses the keys the first one made.
    __table_args__ = (
        sa.Index("ix_signing_keys_one_current", "alg", unique=True,
                 sqlite_where=sa.text("signs_from IS NOT NULL AND retired_at IS NULL"),
                 postgresql_where=sa.text("signs_from IS NOT NULL AND retired_at IS NULL")),
        sa.Index("ix_signing_keys_one_next", "alg", unique=True,
                 sqlite_where=sa.text("signs_from IS NULL AND retired_at IS NULL"),
                 postgresql_where=sa.text("signs_from IS NULL AND retired_at IS NULL")),
    )  # fmt: skip

    kid: str = Field(sa_type=sa.String(64), primary_key=True)
    alg: str = Field(sa_type=sa.String(16))
    public_jwk: dict[str, Any] = Field(sa_type=JSONDict)
    private_key_sealed: str = Field(sa_type=sa.Text)
    created_at: datetime = _at()
    signs_from: datetime | None = _at(default=None)
    retired_at: datetime | None = _at(default=None)
    published_until: datetime | None = _at(default=None)


class OAuthUsedJti(SQLModel, table=True):
    """A ``jti`` already seen (client assertion or DPoP proof), kept until the JWT it came from has expired so that
    it cannot be replayed."""

    __tablename__ = "oauth_used_jtis"

    key: str = Field(sa_type=sa.String(300), primary_key=True)
    expires_at: datetime = _at(index=True)


class OAuthRevokedToken(SQLModel, table=True):
    """An access token revoked by its client before its expiry (RFC 7009); introspection says inactive."""

    __tablename__ = "oauth_revoked_tokens"

    jti: str = Field(sa_type=sa.String(64), primary_key=True)
    client_pk: uuid.UUID = Field(foreign_key="oauth_clients.id")
    revoked_at: datetime = _at()
    expires_at: datetime = _at(index=True)


class SlackCard(SQLModel, table=True):
    """A nomination's approval card as posted in one Slack channel: ``ts`` is the message, edited in place after
    every decision. One card per channel: a delivery retried after it was posted finds this row and posts nothing.
    ``ts`` None: the post, at ``posted_at``, got no answer (a timeout), so whether it landed is not known yet; the
    retry looks for it in the channel before posting again (bots/accessdesk/slackbot/notifier.py)."""

    __tablename__ = "slack_cards"
    __table_args__ = (sa.UniqueConstraint("nomination_id", "channel"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    nomination_id: uuid.UUID = Field(foreign_key="nominations.id")
    channel: str = Field(sa_type=sa.String(32))
    ts: str | None = Field(default=None, sa_type=sa.String(32))
    posted_at: datetime = _at()


class SlackDelivery(SQLModel, table=True):
    """A post one outbox message already made in one Slack conversation (a note in a card's thread, a reminder in
    a channel). Written in the outbox's own transaction: a delivery retried after a later post failed skips these."""

    __tablename__ = "slack_deliveries"
    __table_args__ = (sa.UniqueConstraint("message_id", "channel"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    message_id: uuid.UUID = Field(foreign_key="outbox.id")
    channel: str = Field(sa_type=sa.String(32))
    ts: str = Field(sa_type=sa.String(32))
    posted_at: datetime = _at()


class SlackLink(SQLModel, table=True):
    """A Slack user confirmed in the console, by a signed-in accessdesk user, to act as them (``/accessdesk link``).
    Used before the e-mail match, for people whose Slack address is not their accessdesk one."""

    __tablename__ = "slack_links"

    slack_user_id: str = Field(sa_type=sa.String(32), primary_key=True)
    team_id: str | None = Field(default=None, sa_type=sa.String(32))
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    linked_at: datetime = _at()


class SlackEmailMatch(SQLModel, table=True):
    """A Slack user whom Slack's ``users.info`` showed, at ``confirmed_at``, to have confirmed ``email``, the address
    of an accessdesk account: remembered so that a listener can tell who acts without asking Slack before it
    acknowledges (Slack gives it 3 seconds; its Web API may take longer).

    The match holds while the account still has that address and is not disabled (checked at every use), and for
    ``domain.slack_links.EMAIL_MATCH_TTL`` after ``confirmed_at``; then Slack is asked again."""

    __tablename__ = "slack_email_matches"

    slack_user_id: str = Field(sa_type=sa.String(32), primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    email: str = Field(sa_type=sa.String(320))
    confirmed_at: datetime = _at()


class SlackLinkRequest(SQLModel, table=True):
    """A one-time link DMed by ``/accessdesk link``: only the SHA-256 of its token is stored; it works once, briefly."""

    __tablename__ = "slack_link_requests"

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    token_sha256: str = Field(sa_type=sa.String(64), unique=True)
    slack_user_id: str = Field(sa_type=sa.String(32), index=True)
    team_id: str | None = Field(default=None, sa_type=sa.String(32))
    slack_name: str | None = Field(default=None, sa_type=sa.String(200))
    created_at: datetime = _at()
    expires_at: datetime = _at()
    used_at: datetime | None = _at(default=None)
    used_by: uuid.UUID | None = Field(default=None)


class Reminder(SQLModel, table=True):
    """A reminder sent (written to the outbox, one message per recipient, in this row's transaction).

    Unique per (kind, subject, deadline): however many workers sweep at once, one insert wins and only the winner
    writes the messages. A moved deadline (a grant extended, an NDA re-signed) is a new reminder."""

    __tablename__ = "reminders"
    __table_args__ = (
        sa.UniqueConstraint("kind", "subject_id", "deadline"),
        sa.Index("ix_reminders_created", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    kind: str = Field(sa_type=sa.String(32))
    subject_id: uuid.UUID
    organisation_id: uuid.UUID | None = Field(default=None, index=True)
    model_id: uuid.UUID | None = Field(default=None)
    deadline: datetime = _at()
    due_at: datetime = _at()
    created_at: datetime = _at()
    messages: list[str] = Field(default_factory=_list, sa_type=JSONList)


class RateLimitCount(SQLModel, table=True):
    """How many requests (or failed authentications) one key has made against one rate limit in one fixed window,
    all instances together (accessdesk.ratelimit). Only PostgreSQL deployments use it; SQLite counts in memory."""

    __tablename__ = "rate_limit_counts"

    key: str = Field(sa_type=sa.String(200), primary_key=True)
    window_start: int = Field(sa_type=sa.BigInteger, primary_key=True)  # seconds since the epoch
    count: int
    allowed: int  # the limit it was counted against, so that the instances can ask which keys reached theirs
    expires_at: datetime = _at(index=True)  # the window's end


class SlackCohortCard(SQLModel, table=True):
    """A cohort's one card as posted in one Slack channel (its members get none of their own): ``ts`` is the
    message, edited in place as its members are decided. ``ts`` None: as :class:`SlackCard`'s (the post got no
    answer yet). ``shown``: a digest of what the card shows now, so that a change is one edit however many member
    decisions report it (a cohort decided at once reports each of its members)."""

    __tablename__ = "slack_cohort_cards"
    __table_args__ = (sa.UniqueConstraint("cohort_id", "channel"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    cohort_id: uuid.UUID = Field(foreign_key="cohorts.id")
    channel: str = Field(sa_type=sa.String(32))
    ts: str | None = Field(default=None, sa_type=sa.String(32))
    posted_at: datetime = _at()
    shown: str | None = Field(default=None, sa_type=sa.String(64))


class Consultation(SQLModel, table=True):
    """One round of consultation on whether a model is a covered frontier model (the order's designation
    consultation): asked for by the developer (or opened by the government), open while the government assesses the
    model, decided when the government records the outcome with the opaque reference of its assessment. A reopened
    consultation is a new round (``round`` + 1, ``reopens_id``); at most one round of a model is open at a time."""

    __tablename__ = "consultations"
    __table_args__ = (
        sa.Index("ux_consultations_one_open", "model_id", unique=True,
                 sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'")),  # fmt: skip
        sa.Index("ix_consultations_queue", "state", "created_at", "id"),
        sa.UniqueConstraint("model_id", "round"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    model_id: uuid.UUID = Field(foreign_key="frontier_models.id", index=True)
    round: int = Field(default=1)
    reopens_id: uuid.UUID | None = Field(default=None, foreign_key="consultations.id")
    state: str = Field(sa_type=sa.String(16))
    # None only for a round migration 0022 opened for a model already in consultation with no one recorded.
    requested_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    requested_side: str = Field(sa_type=sa.String(16))  # developer (a request) | government (opened or reopened)
    note: str = Field(sa_type=sa.Text)
    contacts: list[str] = Field(default_factory=_list, sa_type=JSONList)
    capabilities: list[str] = Field(default_factory=_list, sa_type=JSONList)
    planned_release_at: datetime = _at()  # the model's planned release when the round was opened
    outcome: str | None = Field(default=None, sa_type=sa.String(16))  # covered | not_covered
    assessment_ref: str | None = Field(default=None, sa_type=sa.String(200))
    decided_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = _at(default=None)
    created_at: datetime = _at()
    updated_at: datetime = _at()  # the last message or change


class ConsultationMessage(SQLModel, table=True):
    """A message in a consultation's thread, by either side; only the model's developer and the government read it."""

    __tablename__ = "consultation_messages"
    __table_args__ = (sa.Index("ix_consultation_messages_thread", "consultation_id", "created_at", "id"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    consultation_id: uuid.UUID = Field(foreign_key="consultations.id")
    author_id: uuid.UUID = Field(foreign_key="users.id")
    author_side: str = Field(sa_type=sa.String(16))
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = _at()


class Finding(SQLModel, table=True):
    """An evaluation finding on a model, shared with an audience in Traffic Light Protocol terms
    (``vocabulary.Audience``). Attachments are references (name, SHA-256, location), never the material itself."""

    __tablename__ = "findings"
    __table_args__ = (
        sa.Index("ix_findings_model", "model_id", "created_at", "id"),
        sa.Index("ix_findings_created", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    model_id: uuid.UUID = Field(foreign_key="frontier_models.id")
    reported_by: uuid.UUID = Field(foreign_key="users.id")
    reporter_org_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    reporter_kind: str = Field(sa_type=sa.String(16))
    title: str = Field(sa_type=sa.String(200))
    body: str = Field(sa_type=sa.Text)
    severity: str = Field(sa_type=sa.String(16))
    category: str = Field(sa_type=sa.String(32))
    audience: str = Field(sa_type=sa.String(24))
    state: str = Field(sa_type=sa.String(16))
    attachments: list[Any] = Field(default_factory=_list, sa_type=JSONList)
    created_at: datetime = _at()
    updated_at: datetime = _at()


class FindingRecipient(SQLModel, table=True):
    """A named recipient of a TLP:RED finding."""

    __tablename__ = "finding_recipients"

    finding_id: uuid.UUID = Field(foreign_key="findings.id", primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True)


class FindingUpdate(SQLModel, table=True):
    """A step in a finding's lifecycle (``from_state`` → ``to_state``) or a note without one, with its words; read
    by the finding's audience only (the audit trail records the step without the words)."""

    __tablename__ = "finding_updates"
    __table_args__ = (sa.Index("ix_finding_updates_thread", "finding_id", "created_at", "id"),)

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    finding_id: uuid.UUID = Field(foreign_key="findings.id")
    author_id: uuid.UUID = Field(foreign_key="users.id")
    from_state: str | None = Field(default=None, sa_type=sa.String(16))
    to_state: str | None = Field(default=None, sa_type=sa.String(16))
    note: str = Field(sa_type=sa.Text)
    created_at: datetime = _at()


class Delegation(SQLModel, table=True):
    """An approver's delegate for a period (out of office): the delegate decides in the approver's name, the
    decision recording both. Same organisation and same deciding role; never on the delegate's own nominations,
    and never so that one person counts twice on a nomination (domain.delegations)."""

    __tablename__ = "delegations"
    __table_args__ = (sa.Index("ix_delegations_delegate", "delegate_id", "starts_at"),
                      sa.Index("ix_delegations_delegator", "delegator_id", "starts_at"))  # fmt: skip

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    delegator_id: uuid.UUID = Field(foreign_key="users.id")
    delegate_id: uuid.UUID = Field(foreign_key="users.id")
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    starts_at: datetime = _at()
    ends_at: datetime = _at()
    note: str | None = Field(default=None, sa_type=sa.Text)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: datetime = _at()
    revoked_at: datetime | None = _at(default=None)
    revoked_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")


class Reconsideration(SQLModel, table=True):
    """A partner's request that a rejected nomination be reconsidered: a note the original nominator's side sees
    and may take up (a new nomination for the same model, ``new_nomination_id``) or decline, with a response."""

    __tablename__ = "reconsiderations"
    __table_args__ = (
        sa.Index("ux_reconsiderations_one_open", "nomination_id", unique=True,
                 sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'")),  # fmt: skip
        sa.Index("ix_reconsiderations_queue", "state", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    nomination_id: uuid.UUID = Field(foreign_key="nominations.id")
    model_id: uuid.UUID = Field(foreign_key="frontier_models.id", index=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    note: str = Field(sa_type=sa.Text)
    requested_by: uuid.UUID = Field(foreign_key="users.id")
    state: str = Field(sa_type=sa.String(16))  # open | taken_up | declined
    response: str | None = Field(default=None, sa_type=sa.Text)
    decided_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = _at(default=None)
    new_nomination_id: uuid.UUID | None = Field(default=None)
    created_at: datetime = _at()
