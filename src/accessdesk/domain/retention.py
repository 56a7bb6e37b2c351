"""Forgetting what is finished: rows that only mattered while something was under way, deleted a configurable
time after it ended (``ACCESSDESK_RETAIN_*``; the worker's sweep runs it).

What goes, and when (each age counted from the moment the row was finished):

- console sessions (``web_sessions``, with their IP and user agent): from their end, by sign-out or their maximum
  life (an idle session counts from the end of its maximum life, at most ``ACCESSDESK_SESSION_MAX_HOURS`` later);
- outbox messages: delivered ones from their delivery, dead letters from when they were given up on (a dead letter
  can be retried until then), each with the Slack posts it made;
- the Slack posts an outbox message made (``slack_deliveries``), which only keep a retry from posting twice: from
  their message's delivery (a dead letter's are kept with it, for its retry);
- one-time Slack link requests: from their use, or from their expiry if never used.

Never touched: the audit trail and its checkpoints (append-only), and every row a live grant, session or pending
delivery needs (a message not yet delivered nor dead, a session not yet ended, a link that still works). What is
not listed stays, being part of the record (nominations, decisions, grants, NDAs, attestations, reminders, Slack
cards) or bounded already (OAuth one-time values and rate-limit counts have their own pruning).

A big backlog is removed a batch at a time, each batch a short transaction of its own, and at most
``batches_per_sweep`` batches per kind in one sweep: the next sweeps carry on. Several workers may prune at once:
on PostgreSQL each claims its batch with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select

from accessdesk.db.tables import OutboxMessage, SlackDelivery, SlackLinkRequest, WebSession
from accessdesk.domain.unit import Unit


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long finished rows are kept, by kind; None keeps them for good."""

    sessions: timedelta | None = timedelta(days=90)
    outbox: timedelta | None = timedelta(days=30)
    slack_deliveries: timedelta | None = timedelta(days=7)
    link_requests: timedelta | None = timedelta(days=7)
    batch: int = 500
    batches_per_sweep: int = 20


@dataclass(slots=True)
class RetentionReport:
    sessions: int = 0
    outbox: int = 0
    slack_deliveries: int = 0
    link_requests: int = 0


async def prune(unit: Unit, policy: RetentionPolicy) -> RetentionReport:
    """Delete the finished rows older than the policy's ages, committing batch by batch."""
    report = RetentionReport()
    now = unit.now()
    if policy.slack_deliveries is not None:
        delivered = select(OutboxMessage.id).where(col(OutboxMessage.delivered_at) <= now - policy.slack_deliveries)
        report.slack_deliveries += (await _in_batches(unit, policy, SlackDelivery, col(SlackDelivery.id),
                                                      col(SlackDelivery.message_id).in_(delivered)))[0]  # fmt: skip
    if policy.outbox is not None:
        cutoff = now - policy.outbox
        # Two conditions rather than one OR, each served by ix_outbox_pending (delivered_at, dead_at, …).
        for finished in (col(OutboxMessage.delivered_at) <= cutoff,
                         sa.and_(col(OutboxMessage.delivered_at).is_(None), col(OutboxMessage.dead_at) <= cutoff)):  # fmt: skip
            messages, posts = await _in_batches(unit, policy, OutboxMessage, col(OutboxMessage.id), finished,
                                                children=(SlackDelivery, col(SlackDelivery.message_id)))  # fmt: skip
            report.outbox += messages
            report.slack_deliveries += posts
    if policy.sessions is not None:
        cutoff = now - policy.sessions
        report.sessions = (await _in_batches(unit, policy, WebSession, col(WebSession.id), sa.or_(
            col(WebSession.ended_at) <= cutoff, col(WebSession.expires_at) <= cutoff)))[0]  # fmt: skip
    if policy.link_requests is not None:
        cutoff = now - policy.link_requests
        report.link_requests = (await _in_batches(unit, policy, SlackLinkRequest, col(SlackLinkRequest.id), sa.or_(
            col(SlackLinkRequest.used_at) <= cutoff, col(SlackLinkRequest.expires_at) <= cutoff)))[0]  # fmt: skip
    return report


async def _in_batches(unit: Unit, policy: RetentionPolicy, table: type[SQLModel], key: Any, finished: Any, *,
                      children: tuple[type[SQLModel], Any] | None = None) -> tuple[int, int]:  # fmt: skip
    """Delete the rows of ``table`` that are ``finished``, a batch per transaction, and first the rows of another
    table that point at them (``children``: that table and its foreign key). How many of each went."""
    removed = removed_children = 0
    for _ in range(policy.batches_per_sweep):
        claim = select(key).where(finished).limit(policy.batch)
        if unit.dialect == "postgresql":
            claim = claim.with_for_update(skip_locked=True)
        ids: Sequence[Any] = (await unit.session.exec(claim)).all()
        if ids and children is not None:
            removed_children += await _delete(unit, sa.delete(children[0]).where(children[1].in_(ids)))
        if ids:
            removed += await _delete(unit, sa.delete(table).where(key.in_(ids)))
        await unit.commit()
        if len(ids) < policy.batch:
            break
    return removed, removed_children


async def _delete(unit: Unit, statement: sa.Delete) -> int:
    result = await unit.session.exec(statement)
    return int(result.rowcount or 0)
