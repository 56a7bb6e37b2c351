"""Who is acting: a user of one organisation with roles, or the system itself (worker, CLI)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from accessdesk.domain.errors import Forbidden
from accessdesk.domain.permissions import Permission, permissions_for
from accessdesk.domain.vocabulary import OrgKind, Role


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: uuid.UUID | None
    label: str
    organisation_id: uuid.UUID | None
    kind: OrgKind | None
    roles: frozenset[Role] = frozenset()
    request_id: str | None = None
    permissions: frozenset[Permission] = field(default=frozenset())
    # When this person last proved who they are to accessdesk by signing in (the console's session); None where the
    # surface proves no sign-in (a Slack click, an API token). Weighty approvals ask for a recent one (step_up).
    authenticated_at: datetime | None = None

    @classmethod
    def user(
        cls,
        *,
        user_id: uuid.UUID,
        email: str,
        organisation_id: uuid.UUID,
        kind: OrgKind,
        roles: frozenset[Role],
        request_id: str | None = None,
    ) -> Actor:
        return cls(
            user_id=user_id,
            label=email,
            organisation_id=organisation_id,
            kind=kind,
            roles=roles,
            request_id=request_id,
            permissions=permissions_for(kind, roles),
        )

    @classmethod
    def system(cls, label: str = "system", request_id: str | None = None) -> Actor:
        return cls(user_id=None, label=label, organisation_id=None, kind=None, request_id=request_id)

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    @property
    def person_id(self) -> uuid.UUID:
        """The acting person's user id, where only a person can act (nominate, decide, sign, attest, create a
        credential): the row records who did it, and the system is nobody."""
        assert self.user_id is not None, f"{self.label} is not a person"
        return self.user_id

    @property
    def is_staff(self) -> bool:
        return self.kind in (OrgKind.DEVELOPER, OrgKind.GOVERNMENT)

    def can(self, permission: Permission) -> bool:
        return self.is_system or permission in self.permissions

    def require(self, permission: Permission, message: str | None = None) -> None:
        if not self.can(permission):
            raise Forbidden(message or f"you need the permission {permission.value} to do this")

    def with_request_id(self, request_id: str | None) -> Actor:
        return replace(self, request_id=request_id)

    def signed_in_at(self, at: datetime) -> Actor:
        """This person, known to have signed in at ``at``."""
        return replace(self, authenticated_at=at)
