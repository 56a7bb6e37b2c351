"""The organisations a person may nominate, found by name: what a nominate form offers as the person types."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import FrontierModel, Organisation
from accessdesk.domain import visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.pagination import check_limit
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import OrgKind

# The kinds of organisation that may be nominated (CoSelection.nominate refuses any other).
NOMINEE_KINDS = (OrgKind.PARTNER, OrgKind.GOVERNMENT)


def may_be_nominated(organisation: Organisation) -> bool:
    return organisation.kind in NOMINEE_KINDS


def may_be_nominated_sql() -> sa.ColumnElement[bool]:
    """:func:`may_be_nominated` as a filter on ``organisations``."""
    return col(Organisation.kind).in_([k.value for k in NOMINEE_KINDS])


def is_grantee(actor: Actor) -> bool:
    """Whether ``actor`` is of an organisation that receives access (a partner, or the government): one that
    accepts NDAs and attests."""
    return actor.kind in NOMINEE_KINDS


def takes_nominations(model: FrontierModel) -> bool:
    """A model whose access is switched off takes no new nomination (nor extension, nor decision)."""
    return model.killed_at is None


def takes_nominations_sql() -> sa.ColumnElement[bool]:
    """:func:`takes_nominations` as a filter on ``frontier_models``."""
    return col(FrontierModel.killed_at).is_(None)


# Longer than any organisation's name (200 characters): nothing longer can match.
MAX_MATCHING = 200


async def nominees(unit: Unit, actor: Actor, *, matching: str = "", limit: int = 100) -> list[Organisation]:
    """The partner and government organisations ``actor`` can see and may nominate, whose name contains
    ``matching`` in any case: names that start with it first, then the others, each alphabetically.

    Raises :class:`Forbidden` for someone who may not nominate at all, as :meth:`CoSelection.nominate` would."""
    actor.require(Permission.NOMINATIONS_CREATE, "only nominators, approvers and admins can nominate")
    check_limit(limit)
    text = " ".join(matching.split())[:MAX_MATCHING]
    name = sa.func.lower(Organisation.name)
    # A substring cannot be served by a B-tree index: the registry of organisations is read through, which stays
    # cheap at the thousands of organisations it is meant for.
    stmt = select(Organisation).where(
        visibility.organisations_filter(actor), may_be_nominated_sql()
    )
    if text:
        stmt = stmt.where(col(Organisation.name).icontains(text, autoescape=True))
        starts = sa.case((col(Organisation.name).istartswith(text, autoescape=True), 0), else_=1)
        stmt = stmt.order_by(starts)
    stmt = stmt.order_by(name, Organisation.slug).limit(limit)
    return list((await unit.session.exec(stmt)).all())
