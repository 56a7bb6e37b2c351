"""Who may do what: permissions named ``resource:action``, granted to (organisation kind, role) pairs.

This table is the only place that says which role can do what; services ask ``actor.require(...)``.
Which *side* a person decides for, and whether they are the nominator, are rules of co-selection, not
permissions (see domain.coselection).
"""

from __future__ import annotations

from enum import StrEnum

from accessdesk.domain.vocabulary import OrgKind, Role


class Permission(StrEnum):
    ATTESTATIONS_CREATE = "attestations:create"
    AUDIT_READ = "audit:read"
    CREDENTIALS_MANAGE = "credentials:manage"
    DELIVERIES_RETRY = "deliveries:retry"
    GATEWAYS_MANAGE = "gateways:manage"
    GRANTS_REVOKE = "grants:revoke"
    MODELS_CREATE = "models:create"
    MODELS_DESIGNATE = "models:designate"
    MODELS_KILL = "models:kill"
    MODELS_UPDATE = "models:update"
    NDAS_ACCEPT = "ndas:accept"
    NDAS_PUBLISH = "ndas:publish"
    NOMINATIONS_CREATE = "nominations:create"
    NOMINATIONS_DECIDE = "nominations:decide"
    ORGANISATIONS_MANAGE = "organisations:manage"
    PARTNERS_VET = "partners:vet"
    VETTING_SUBMIT = "vetting:submit"


P = Permission

_STAFF_APPROVER = {P.NOMINATIONS_CREATE, P.NOMINATIONS_DECIDE, P.GRANTS_REVOKE}
_STAFF_ADMIN = _STAFF_APPROVER | {P.ORGANISATIONS_MANAGE, P.MODELS_KILL, P.AUDIT_READ, P.DELIVERIES_RETRY}

ROLE_PERMISSIONS: dict[tuple[OrgKind, Role], frozenset[Permission]] = {
    (OrgKind.DEVELOPER, Role.ADMIN): frozenset(
        _STAFF_ADMIN | {P.MODELS_CREATE, P.MODELS_UPDATE, P.NDAS_PUBLISH, P.GATEWAYS_MANAGE}
    ),
    (OrgKind.DEVELOPER, Role.APPROVER): frozenset(_STAFF_APPROVER),
    (OrgKind.DEVELOPER, Role.NOMINATOR): frozenset({P.NOMINATIONS_CREATE}),
    (OrgKind.DEVELOPER, Role.AUDITOR): frozenset({P.AUDIT_READ}),
    (OrgKind.DEVELOPER, Role.MEMBER): frozenset(),
    # A government agency that receives access itself completes the same gates as a partner (NDA, attestations).
    # Vetting is the government's screening of partners (DESIGN.md §3 rule 5): only its admins and approvers
    # decide it; a developer sees it and decides per nomination.
    (OrgKind.GOVERNMENT, Role.ADMIN): frozenset(
        _STAFF_ADMIN | {P.MODELS_DESIGNATE, P.NDAS_ACCEPT, P.ATTESTATIONS_CREATE, P.CREDENTIALS_MANAGE, P.PARTNERS_VET}
    ),
    (OrgKind.GOVERNMENT, Role.APPROVER): frozenset(_STAFF_APPROVER | {P.MODELS_DESIGNATE, P.PARTNERS_VET}),
    (OrgKind.GOVERNMENT, Role.NOMINATOR): frozenset({P.NOMINATIONS_CREATE}),
    (OrgKind.GOVERNMENT, Role.AUDITOR): frozenset({P.AUDIT_READ}),
    (OrgKind.GOVERNMENT, Role.MEMBER): frozenset(),
    (OrgKind.PARTNER, Role.ADMIN): frozenset(
        {P.VETTING_SUBMIT, P.NDAS_ACCEPT, P.ATTESTATIONS_CREATE, P.ORGANISATIONS_MANAGE, P.CREDENTIALS_MANAGE}
    ),
    (OrgKind.PARTNER, Role.APPROVER): frozenset(),
    (OrgKind.PARTNER, Role.NOMINATOR): frozenset(),
    (OrgKind.PARTNER, Role.AUDITOR): frozenset(),
    (OrgKind.PARTNER, Role.MEMBER): frozenset(),
}

def permissions_for(kind: OrgKind, roles: frozenset[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[(kind, role)]
    return frozenset(granted)
