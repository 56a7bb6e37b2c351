"""The domain's words, as string enums; stored as their values."""

from __future__ import annotations

import re
from enum import StrEnum

# Slugs name models in OAuth scopes and organisations in URLs: lower-case letters, digits and inner dashes.
# Always matched with fullmatch (a "$" would let a trailing newline through).
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
# How many days a personal API token may last: never forever (a leaked token would then never die); the default
# unless its creator or the operator (ACCESSDESK_API_TOKEN_DAYS) chooses otherwise.
API_TOKEN_DAYS = range(1, 3651)
DEFAULT_API_TOKEN_DAYS = 90


class OrgKind(StrEnum):
    DEVELOPER = "developer"
    GOVERNMENT = "government"
    PARTNER = "partner"


class Role(StrEnum):
    ADMIN = "admin"
    APPROVER = "approver"
    AUDITOR = "auditor"
    MEMBER = "member"
    NOMINATOR = "nominator"


class Vetting(StrEnum):
    INVITED = "invited"
    SUBMITTED = "submitted"
    VETTED = "vetted"
    DECLINED = "declined"


class Tier(StrEnum):
    STANDARD = "standard"
    HIGH = "high"


class Designation(StrEnum):
    NOT_ASSESSED = "not_assessed"
    IN_CONSULTATION = "in_consultation"
    COVERED = "covered"
    NOT_COVERED = "not_covered"


DESIGNATION_MOVES: dict[Designation, frozenset[Designation]] = {
    Designation.NOT_ASSESSED: frozenset({Designation.IN_CONSULTATION}),
    Designation.IN_CONSULTATION: frozenset({Designation.COVERED, Designation.NOT_COVERED}),
    # A designation can be reopened for a new assessment.
    Designation.COVERED: frozenset({Designation.IN_CONSULTATION}),
    Designation.NOT_COVERED: frozenset({Designation.IN_CONSULTATION}),
}


class ConsultationState(StrEnum):
    """A consultation on whether a model is a covered frontier model: one round, open until the government records
    its outcome. Reopening (a new checkpoint, say) is a new round of its own."""

    OPEN = "open"
    DECIDED = "decided"


class FindingSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FindingCategory(StrEnum):
    CYBER_CAPABILITY = "cyber_capability"
    CBRN_CAPABILITY = "cbrn_capability"
    SAFEGUARD_BYPASS = "safeguard_bypass"
    MISUSE = "misuse"
    AUTONOMY = "autonomy"
    OTHER = "other"


class Audience(StrEnum):
    """Who may read an evaluation finding, in Traffic Light Protocol 2.0 terms, narrowest first."""

    RED = "tlp_red"  # the named recipients (always someone of the developer and of the government) and the reporter
    AMBER_STRICT = "tlp_amber_strict"  # the model's developer, the government and the reporter's organisation
    AMBER = "tlp_amber"  # ... and the model's current grantees
    GREEN = "tlp_green"  # ... and every organisation on the platform


class FindingState(StrEnum):
    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    ACCEPTED_RISK = "accepted_risk"
    DISPUTED = "disputed"


class Area(StrEnum):
    """The six requirement areas a grantee attests to."""

    CONFIDENTIALITY = "confidentiality"
    CYBERSECURITY = "cybersecurity"
    INSIDER_RISK = "insider_risk"
    IP_PROTECTION = "ip_protection"
    USE = "use"
    NONDISCLOSURE = "nondisclosure"


class Action(StrEnum):
    """What a grant lets the grantee do with the model; becomes the scope ``model:<slug>:<action>``."""

    INVOKE = "invoke"
    EVALUATE = "evaluate"
    FINE_TUNE = "fine_tune"
    RED_TEAM = "red_team"


class NominationKind(StrEnum):
    GRANT = "grant"
    EXTENSION = "extension"


class NominationState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"


class Side(StrEnum):
    DEVELOPER = "developer"
    GOVERNMENT = "government"


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class GrantState(StrEnum):
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    EXPIRED = "expired"
    BLOCKED = "blocked"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


def scope_for(model_slug: str, action: str) -> str:
    return f"model:{model_slug}:{action}"
