"""Outbox addresses and messages that more than one part writes or reads: one spelling of each, here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import Nomination, User, UserRole
from accessdesk.domain.actor import Actor
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Role


def approvers(model_id: uuid.UUID) -> str:
    """The outbox address of a model's approvers: the Slack notifier makes it the model's approval cards."""
    return f"model:{model_id}:approvers"


def closed(unit: Unit, nomination: Nomination, *, by: Actor) -> None:
    """Tell a model's approvers that a nomination left ``pending`` without a decision (withdrawn or lapsed), so
    that its approval cards stop offering buttons."""
    unit.notify(
        topic=f"nomination.{nomination.state}",
        recipient=approvers(nomination.model_id),
        payload={"nomination_id": nomination.id, "state": nomination.state, "by": by.user_id,
                 "reason": nomination.outcome_reason},  # fmt: skip
        dedupe_key=f"nomination.closed:{nomination.id}",
    )


async def contacts(unit: Unit, organisation_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Each organisation's contacts, as outbox addresses (``user:<id>``): its active admins, or, when it has none,
    every active member."""
    wanted = set(organisation_ids)
    if not wanted:
        return {}
    stmt = (
        select(User.organisation_id, User.id, UserRole.role)
        .outerjoin(UserRole, sa.and_(col(UserRole.user_id) == User.id, col(UserRole.role) == Role.ADMIN.value))
        .where(col(User.organisation_id).in_(wanted), col(User.disabled_at).is_(None))
        .order_by(col(User.organisation_id), User.email)
    )
    admins: dict[uuid.UUID, list[str]] = {}
    members: dict[uuid.UUID, list[str]] = {}
    for organisation_id, user_id, role in (await unit.session.exec(stmt)).all():
        (admins if role else members).setdefault(organisation_id, []).append(f"user:{user_id}")
    return {org: admins.get(org) or members.get(org, []) for org in wanted}
