"""What the government's designation allows (DESIGN.md §3 rule 4): the framework applies to covered models.

The government may have access while it evaluates a model (``in_consultation``) and once it is ``covered``;
partners only once it is ``covered``. ``not_assessed`` and ``not_covered`` allow no access at all. A grant the
designation does not allow is blocked with the designation's reason, and a later designation re-evaluates it.
"""

from __future__ import annotations

from accessdesk.db.tables import FrontierModel
from accessdesk.domain.errors import NotDesignated
from accessdesk.domain.vocabulary import Designation, OrgKind

ALLOWS: dict[OrgKind, frozenset[Designation]] = {
    OrgKind.GOVERNMENT: frozenset({Designation.IN_CONSULTATION, Designation.COVERED}),
    OrgKind.PARTNER: frozenset({Designation.COVERED}),
}

_WHY = {
    Designation.NOT_ASSESSED: "the government has not yet assessed whether {slug} is a covered frontier model",
    Designation.NOT_COVERED: "the government has designated {slug} not covered",
    Designation.IN_CONSULTATION: "{slug} is still in consultation; partners get access once the government "
                                 "designates it covered",
}


def problems_for(model: FrontierModel, grantee_kind: OrgKind) -> list[str]:
    """The designation's reason code when it does not allow a grant of ``grantee_kind`` on ``model``."""
    current = Designation(model.designation)
    return [] if current in ALLOWS.get(grantee_kind, frozenset()) else [f"designation_{current.value}"]


def require_allows(model: FrontierModel, grantee_kind: OrgKind) -> None:
    """Refuse to open access (a nomination) that the model's designation does not allow."""
    current = Designation(model.designation)
    if current not in ALLOWS.get(grantee_kind, frozenset()):
        raise NotDesignated(_WHY[current].format(slug=model.slug))
