"""Who can see what. Something a person may not see does not exist for them: 404, never 403.

- government staff see every model, nomination and grant (they co-select for all of them);
- developer staff see their own models and what hangs off them;
- partner people see their own organisation's nominations and grants, and the models those concern.
Organisations (the registry of candidate partners) are visible to all staff; a partner sees only itself.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination, Organisation
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import NotFound
from accessdesk.domain.vocabulary import OrgKind


def sees_everything(actor: Actor) -> bool:
    return actor.is_system or actor.kind == OrgKind.GOVERNMENT


# What a partner involved with a model does not need to know about it: the reference of the (possibly classified)
# designation assessment and the staff's Slack channels.
STAFF_ONLY_MODEL_FIELDS = frozenset({"designation_ref", "slack_channels"})


def develops(actor: Actor, model: FrontierModel) -> bool:
    """Whether ``model`` is ``actor``'s organisation's own: the developer's staff look after it."""
    return model.developer_id == actor.organisation_id


def develops_sql(actor: Actor) -> sa.ColumnElement[bool]:
    """:func:`develops` as a filter on ``frontier_models``."""
    return col(FrontierModel.developer_id) == actor.organisation_id


def sees_gateway_credentials(actor: Actor) -> bool:
    """Gateway credentials are the developer's business; government staff see their status too. Partners never."""
    return actor.kind != OrgKind.PARTNER


def can_see_model(actor: Actor, model: FrontierModel, *, partner_has_access: bool = False) -> bool:
    if sees_everything(actor):
        return True
    if actor.kind == OrgKind.DEVELOPER:
        return develops(actor, model)
    return partner_has_access


async def sees_model(session: AsyncSession, actor: Actor, model: FrontierModel) -> bool:
    """:func:`can_see_model`, finding out whether a partner is involved with the model."""
    if actor.is_staff or actor.is_system:
        return can_see_model(actor, model)
    involved = await session.exec(
        select(sa.literal(1)).where(
            sa.or_(
                sa.exists().where(col(Nomination.model_id) == model.id,
                                  col(Nomination.organisation_id) == actor.organisation_id),
                sa.exists().where(col(AccessGrant.model_id) == model.id,
                                  col(AccessGrant.organisation_id) == actor.organisation_id),
            )
        )
    )
    return involved.first() is not None


def can_see_org(actor: Actor, organisation: Organisation) -> bool:
    return sees_everything(actor) or actor.is_staff or organisation.id == actor.organisation_id


def can_see_case(actor: Actor, model: FrontierModel, organisation_id: Any) -> bool:
    """A nomination or grant: of ``model``, for ``organisation_id``."""
    if sees_everything(actor):
        return True
    if actor.kind == OrgKind.DEVELOPER:
        return develops(actor, model)
    return organisation_id == actor.organisation_id


def require(visible: bool, what: str, id_: Any) -> None:
    if not visible:
        raise NotFound(f"{what} {id_} not found")


def models_filter(actor: Actor) -> sa.ColumnElement[bool]:
    if sees_everything(actor):
        return sa.true()
    if actor.kind == OrgKind.DEVELOPER:
        return col(FrontierModel.developer_id) == actor.organisation_id
    return sa.or_(
        col(FrontierModel.id).in_(
            sa.select(col(Nomination.model_id)).where(col(Nomination.organisation_id) == actor.organisation_id)
        ),
        col(FrontierModel.id).in_(
            sa.select(col(AccessGrant.model_id)).where(col(AccessGrant.organisation_id) == actor.organisation_id)
        ),
    )


def cases_filter(actor: Actor, table: type[Nomination] | type[AccessGrant]) -> sa.ColumnElement[bool]:
    if sees_everything(actor):
        return sa.true()
    if actor.kind == OrgKind.DEVELOPER:
        return col(table.model_id).in_(
            sa.select(col(FrontierModel.id)).where(col(FrontierModel.developer_id) == actor.organisation_id)
        )
    return col(table.organisation_id) == actor.organisation_id


def organisations_filter(actor: Actor) -> sa.ColumnElement[bool]:
    if sees_everything(actor) or actor.is_staff:
        return sa.true()
    return col(Organisation.id) == actor.organisation_id
