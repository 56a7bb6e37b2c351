"""The outbox as people see it: the dead letters (messages that gave up) and sending one of them again."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import OutboxMessage
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Conflict, Forbidden
from accessdesk.domain.pagination import Page, keyset, page_of
from accessdesk.domain.permissions import Permission
from accessdesk.domain.unit import Unit


def _require(actor: Actor) -> None:
    if not actor.is_staff or not actor.can(Permission.DELIVERIES_RETRY):
        raise Forbidden("only staff admins see and retry undelivered messages")


class Deliveries:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def dead_letters(self, actor: Actor, *, cursor: str | None = None, limit: int = 50) -> Page[OutboxMessage]:
        """Messages the outbox gave up on, newest first."""
        _require(actor)
        stmt = select(OutboxMessage).where(col(OutboxMessage.delivered_at).is_(None),
                                           col(OutboxMessage.dead_at).is_not(None))
        rows = (await self.unit.session.exec(keyset(stmt, OutboxMessage, cursor, limit))).all()
        return page_of(list(rows), limit)

    async def count_dead(self, actor: Actor) -> int:
        _require(actor)
        stmt = select(sa.func.count()).select_from(OutboxMessage).where(
            col(OutboxMessage.delivered_at).is_(None), col(OutboxMessage.dead_at).is_not(None))  # fmt: skip
        return int((await self.unit.session.exec(stmt)).one())

    async def retry(self, *, actor: Actor, message_id: uuid.UUID) -> OutboxMessage:
        """Send a dead letter again from the next sweep, with a fresh count of tries. What it posted before it
        died is remembered, so that nothing already delivered is posted twice."""
        _require(actor)
        message = await self.unit.lock(OutboxMessage, message_id, what="message")
        if message.delivered_at is not None:
            raise Conflict("this message was delivered; there is nothing to retry")
        if message.dead_at is None:
            raise Conflict("this message is still being tried; it is not in the dead letters")
        before = {"dead_at": message.dead_at, "attempts": message.attempts, "last_error": message.last_error}
        message.dead_at, message.attempts, message.available_at = None, 0, self.unit.now()
        self.unit.session.add(message)
        self.unit.record(actor=actor, action="outbox.retried", subject=message, before=before,
                         after={"topic": message.topic, "recipient": message.recipient})  # fmt: skip
        await self.unit.commit()
        return message
