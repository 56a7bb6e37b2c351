"""Access windows (DESIGN.md §3 rule 3): tied to the planned release, government first, bounded length."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.db.tables import AccessGrant, FrontierModel
from accessdesk.db.types import aware
from accessdesk.domain import instants
from accessdesk.domain.errors import Invalid, OutsideWindow
from accessdesk.domain.vocabulary import OrgKind

GOVERNMENT_LEAD = timedelta(days=30)


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def earliest_start(model: FrontierModel) -> datetime:
    return model.planned_release_at - GOVERNMENT_LEAD


async def earliest_government_start(
    session: AsyncSession, model_id: uuid.UUID, *, excluding: uuid.UUID | None = None
) -> datetime | None:
    """When the first government grant of a model that has not been revoked starts, if there is one."""
    stmt = select(sa.func.min(AccessGrant.starts_at)).where(
        AccessGrant.model_id == model_id,
        AccessGrant.grantee_kind == OrgKind.GOVERNMENT.value,
        col(AccessGrant.revoked_at).is_(None),
    )
    if excluding is not None:
        stmt = stmt.where(AccessGrant.id != excluding)
    return aware((await session.exec(stmt)).first())


def check_proposal(
    *,
    model: FrontierModel,
    grantee_kind: OrgKind,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    government_start: datetime | None,
    new_window: bool = True,
) -> None:
    """Refuse a proposed window that breaks a rule, naming the field at fault."""
    starts_at, ends_at = instants.utc("starts_at", starts_at), instants.utc("ends_at", ends_at)
    if new_window and starts_at <= now:
        raise Invalid("starts_at", "the window must start in the future")
    if ends_at <= starts_at:
        raise Invalid("ends_at", "the window must end after it starts")
    longest = timedelta(days=model.max_window_days)
    if ends_at - starts_at > longest:
        raise Invalid("ends_at", f"the window may last at most {model.max_window_days} days for this model")
    if not new_window:
        return
    floor = earliest_start(model)
    if starts_at < floor:
        who = "government" if grantee_kind == OrgKind.GOVERNMENT else "any"
        raise OutsideWindow(
            "starts_at",
            f"{who} access may start at most 30 days before the planned release "
            f"({_day(model.planned_release_at)}), so no earlier than {_day(floor)}",
        )
    if grantee_kind == OrgKind.PARTNER and government_start is not None and starts_at < government_start:
        raise OutsideWindow(
            "starts_at",
            f"partner access may not start before the government's, which starts {_day(government_start)}",
        )


def problems_for(
    grant: AccessGrant, model: FrontierModel, government_start: datetime | None, *,
    planned_release_at: datetime | None = None,
) -> list[str]:  # fmt: skip
    """The window rules a grant breaks as things stand (re-checked when the release date moves), or would break
    were the release planned at ``planned_release_at``."""
    if grant.grantee_kind == OrgKind.GOVERNMENT.value:
        floor = (planned_release_at or model.planned_release_at) - GOVERNMENT_LEAD
        return ["window_too_early"] if grant.starts_at < floor else []
    if government_start is None or grant.starts_at < government_start:
        return ["window_before_government"]
    return []
