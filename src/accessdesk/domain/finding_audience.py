"""Who may read an evaluation finding: its audience, in Traffic Light Protocol terms (``vocabulary.Audience``), as
one SQL filter (:func:`readable_sql`) and the same rule in Python (:func:`can_read`). Every read of a finding — its
page, the lists, the counts, the exports, the Slack notices — goes through one of them; what someone may not read
does not exist for them (404, absent from lists, counts and exports).

    everyone's finding    the reporter, and anyone it was ever named to (a TLP:RED recipient stays a reader when
                          the audience is widened: widening never takes a reader away)
    TLP:RED               ... nobody else
    TLP:AMBER+STRICT      ... the model's developer, every government organisation, the reporter's organisation
    TLP:AMBER             ... and every organisation holding a current grant on the model (not revoked, not ended)
    TLP:GREEN             ... and every organisation on the platform

Government staff, who otherwise see everything (``visibility.sees_everything``), read a finding only as its
audience allows: a TLP:RED finding is hidden from every government person not named. Auditors read as their
organisation does. Only the system (the worker, the notifier, the counts it gives others) reads every finding.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, Finding, FindingRecipient, FrontierModel
from accessdesk.domain.actor import Actor
from accessdesk.domain.vocabulary import Audience, OrgKind

# Narrowest first: an audience may only move to the right (widened), never back.
ORDER = (Audience.RED, Audience.AMBER_STRICT, Audience.AMBER, Audience.GREEN)
STRICT_AND_WIDER = frozenset(ORDER[1:])
AMBER_AND_WIDER = frozenset(ORDER[2:])


@dataclass(frozen=True, slots=True)
class AudienceLabel:
    """How an audience is shown: its TLP label, its colour, and who reads it, in words."""

    label: str
    colour: str
    readers: str


LABELS: dict[Audience, AudienceLabel] = {
    Audience.RED: AudienceLabel("TLP:RED", "red", "only the named recipients and the reporter"),
    Audience.AMBER_STRICT: AudienceLabel(
        "TLP:AMBER+STRICT", "amber", "the model's developer, the government and the reporter's organisation"),
    Audience.AMBER: AudienceLabel(
        "TLP:AMBER", "amber", "the model's developer, the government, the reporter's organisation and every "
                                  "organisation holding a current grant on the model"),
    Audience.GREEN: AudienceLabel("TLP:GREEN", "green", "every organisation on the platform"),
}  # fmt: skip


def wider(audience: Audience, than: Audience) -> bool:
    return ORDER.index(audience) > ORDER.index(than)


def current_grant_sql(at: datetime) -> sa.ColumnElement[bool]:
    """A grant that makes its holder one of a model's grantees for TLP:AMBER at ``at``: not revoked, not ended
    (scheduled, blocked and suspended grants count: the organisation is still among the model's grantees)."""
    return sa.and_(col(AccessGrant.revoked_at).is_(None), col(AccessGrant.ends_at) > at)


def readable_sql(actor: Actor, at: datetime) -> sa.ColumnElement[bool]:
    """:func:`can_read` as a filter on ``findings``, at ``at`` (when grants are current)."""
    if actor.is_system:
        return sa.true()
    if actor.user_id is None or actor.organisation_id is None:
        return sa.false()
    named = sa.or_(
        col(Finding.reported_by) == actor.user_id,
        col(Finding.id).in_(select(FindingRecipient.finding_id).where(FindingRecipient.user_id == actor.user_id)),
    )
    strict = [col(Finding.reporter_org_id) == actor.organisation_id,
              col(Finding.model_id).in_(select(FrontierModel.id).where(FrontierModel.developer_id == actor.organisation_id))]  # fmt: skip
    if actor.kind == OrgKind.GOVERNMENT:
        strict.append(sa.true())
    grantee = col(Finding.model_id).in_(
        select(AccessGrant.model_id).where(AccessGrant.organisation_id == actor.organisation_id, current_grant_sql(at))
    )
    return sa.or_(
        named,
        sa.and_(col(Finding.audience).in_([a.value for a in STRICT_AND_WIDER]), sa.or_(*strict)),
        sa.and_(col(Finding.audience).in_([a.value for a in AMBER_AND_WIDER]), grantee),
        col(Finding.audience) == Audience.GREEN.value,
    )


def can_read(
    actor: Actor, finding: Finding, *, developer_id: uuid.UUID, recipients: Collection[uuid.UUID], grantee: bool
) -> bool:
    """Whether ``actor`` may read ``finding`` (of a model developed by ``developer_id``, named to ``recipients``);
    ``grantee``: the actor's organisation holds a current grant on the model (:func:`current_grant_sql`)."""
    if actor.is_system:
        return True
    if actor.user_id is None or actor.organisation_id is None:
        return False
    if actor.user_id == finding.reported_by or actor.user_id in recipients:
        return True
    audience = Audience(finding.audience)
    if audience in STRICT_AND_WIDER and (actor.kind == OrgKind.GOVERNMENT or actor.organisation_id in
                                         (developer_id, finding.reporter_org_id)):  # fmt: skip
        return True
    if audience in AMBER_AND_WIDER and grantee:
        return True
    return audience == Audience.GREEN
