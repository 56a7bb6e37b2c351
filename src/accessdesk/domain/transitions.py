"""Time-based work for the worker: materialise grant transitions, lapse (and expire) nominations, send reminders and
escalations, deliver the outbox.

Every sweep is safe to run in several processes at once: rows are claimed with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite serialises writers anyway) and re-checked under the lock, so a transition is recorded once.
Reads never depend on this having run: state is also derived at read time (domain.grant_state).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.sql.selectable import GenerativeSelect
from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, Nomination, OutboxMessage
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import lapses_at, lapses_at_sql
from accessdesk.domain.credentials import prune_oauth_records
from accessdesk.domain.grants import Grants
from accessdesk.domain.notices import closed
from accessdesk.domain.notifier import Notifier, RetryAfter
from accessdesk.domain.reminders import ESCALATION, ConsultationSchedule, Reminders
from accessdesk.domain.retention import RetentionPolicy, prune
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import NominationState

log = logging.getLogger(__name__)
WORKER = Actor.system("worker")


@dataclass(slots=True)
class SweepReport:
    grant_transitions: int = 0
    nominations_lapsed: int = 0
    messages_delivered: int = 0
    messages_failed: int = 0
    oauth_records_pruned: int = 0
    reminders_sent: int = 0
    nominations_escalated: int = 0  # of the reminders: pending nominations escalated (domain.reminders.ESCALATION)
    # Finished rows past their retention age (domain.retention)
    sessions_pruned: int = 0
    outbox_pruned: int = 0
    slack_deliveries_pruned: int = 0
    link_requests_pruned: int = 0


_Claimed = TypeVar("_Claimed", bound=GenerativeSelect)


def _claim(stmt: _Claimed, unit: Unit) -> _Claimed:
    return stmt.with_for_update(skip_locked=True) if unit.dialect == "postgresql" else stmt


async def materialise_grants(unit: Unit, *, batch: int = 500) -> int:
    """Store the state of every grant whose next time-based transition is due."""
    grants, changed = Grants(unit), 0
    while True:
        now = unit.now()
        stmt = (
            select(AccessGrant)
            .where(col(AccessGrant.next_transition_at) <= now)
            .order_by(col(AccessGrant.next_transition_at))
            .limit(batch)
            .execution_options(populate_existing=True)
        )
        due = (await unit.session.exec(_claim(stmt, unit))).all()
        for grant in due:
            changed += await grants.catch_up(grant, actor=WORKER, at=now)
        await unit.commit()
        if len(due) < batch:
            return changed


def expired_before_start(nomination: Nomination) -> bool:
    """Whether ``nomination`` lapses (or lapsed) because its model's expiry came before its proposed start."""
    return lapses_at(nomination) < nomination.starts_at


def how_it_lapsed(nomination: Nomination) -> tuple[str, str]:
    """A lapsed nomination's end in words, as its cards, its nominator and its outcome reason say it: ("Expired",
    "after 14 days without both sides deciding") or ("Lapsed", "at its proposed start without both sides
    deciding")."""
    if expired_before_start(nomination):
        days = (lapses_at(nomination) - nomination.created_at).days
        return "Expired", f"after {days} day{'s' if days != 1 else ''} without both sides deciding"
    return "Lapsed", "at its proposed start without both sides deciding"


async def lapse_nominations(unit: Unit, *, batch: int = 500) -> int:
    """Pending nominations nobody finished deciding in time have lapsed: at their proposed start, or when they
    expired before it (their model's ``nomination_expiry_days`` after they were made). Their cards are closed
    (``nomination.lapsed`` to the model's approvers: no more buttons, the outcome on the card and in its thread)
    and their nominator is told, each once; the outcome reason says which of the two it was."""
    lapsed = 0
    while True:
        now = unit.now()
        stmt = (
            select(Nomination)
            .where(Nomination.state == NominationState.PENDING.value, lapses_at_sql() <= now)
            .order_by(lapses_at_sql(), col(Nomination.id))
            .limit(batch)
            .execution_options(populate_existing=True)
        )
        due = (await unit.session.exec(_claim(stmt, unit))).all()
        for nomination in due:
            nomination.state, nomination.decided_at = NominationState.LAPSED.value, now
            word, rest = how_it_lapsed(nomination)
            nomination.outcome_reason = f"{word.lower()} {rest}"
            unit.session.add(nomination)
            unit.record(actor=WORKER, action="nomination.lapsed", subject=nomination, before={"state": "pending"},
                        after={"state": nomination.state, "expired": expired_before_start(nomination)},
                        reason=nomination.outcome_reason)  # fmt: skip
            unit.notify(
                topic="nomination.lapsed",
                recipient=f"user:{nomination.nominated_by}",
                payload={"nomination_id": nomination.id, "state": nomination.state,
                         "reason": nomination.outcome_reason},  # fmt: skip
                dedupe_key=f"nomination.outcome:{nomination.id}",
            )
            closed(unit, nomination, by=WORKER)
        await unit.commit()
        lapsed += len(due)
        if len(due) < batch:
            return lapsed


MAX_ATTEMPTS = 8


async def deliver_outbox(unit: Unit, notifier: Notifier, *, batch: int = 100, max_attempts: int = MAX_ATTEMPTS,
                         only: Sequence[uuid.UUID] | None = None) -> tuple[int, int]:  # fmt: skip
    """Deliver up to ``batch`` due messages, each at most once: claimed under lock, marked delivered in the same
    transaction.

    On SQLite a transaction holds the database's one write lock (db/engine.py), and a delivery waits on Slack: there
    each message is claimed and delivered in a transaction of its own, so that no writer waits for more than one
    message's calls. PostgreSQL locks only the claimed rows (``SKIP LOCKED``), and claims the batch at once.

    ``only``: just these messages, if they are due (a listener delivering what its own decision wrote, rather
    than leave it to the worker's next sweep; a worker that claimed one first keeps it)."""
    per_claim = 1 if unit.dialect == "sqlite" else batch
    delivered = failed = tried = 0
    while tried < batch:
        now = unit.now()
        stmt = (
            select(OutboxMessage)
            .where(
                col(OutboxMessage.delivered_at).is_(None),
                col(OutboxMessage.dead_at).is_(None),
                OutboxMessage.available_at <= now,
            )
            .order_by(col(OutboxMessage.available_at), col(OutboxMessage.created_at), col(OutboxMessage.queued_seq))
            .limit(min(per_claim, batch - tried))
            .execution_options(populate_existing=True)
        )
        if only is not None:
            stmt = stmt.where(col(OutboxMessage.id).in_(list(only)))
        due = (await unit.session.exec(_claim(stmt, unit))).all()
        for message in due:
            if await _deliver_one(unit, notifier, message, now=now, max_attempts=max_attempts):
                delivered += 1
            else:
                failed += 1
        await unit.commit()
        tried += len(due)
        if len(due) < per_claim:
            break
    return delivered, failed


async def _deliver_one(unit: Unit, notifier: Notifier, message: OutboxMessage, *, now: datetime,
                       max_attempts: int) -> bool:  # fmt: skip
    message.attempts += 1
    try:
        await notifier.deliver(unit, message)
    except RetryAfter as exc:
        message.attempts -= 1  # a wait the destination asked for is not a failed try (see RetryAfter)
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        # Never at once: a destination that says "now" again must not keep this sweep going round.
        message.available_at = now + timedelta(seconds=max(exc.seconds, 1.0))
        ok = False
    except Exception as exc:  # noqa: BLE001 - any failure is retried with backoff
        log.warning("delivery of %s to %s failed (try %d)", message.topic, message.recipient, message.attempts,
                    exc_info=True)
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= max_attempts:
            message.dead_at = now
        else:
            message.available_at = now + timedelta(seconds=min(3600, 2 ** message.attempts * 5))
        ok = False
    else:
        message.delivered_at = now
        ok = True
    unit.session.add(message)
    return ok


async def sweep(unit: Unit, notifier: Notifier, retention: RetentionPolicy | None = None,
                consultations: ConsultationSchedule | None = None) -> SweepReport:  # fmt: skip
    """Everything time does, in order; ``retention``, ``consultations``: the documented defaults unless given."""
    report = SweepReport()
    report.grant_transitions = await materialise_grants(unit)
    report.nominations_lapsed = await lapse_nominations(unit)
    reminded = await Reminders(unit, consultations).sweep()
    report.reminders_sent = reminded.sent
    report.nominations_escalated = sum(reminded.by_kind.get(kind.value, 0) for kind, _, _ in ESCALATION)
    report.messages_delivered, report.messages_failed = await deliver_outbox(unit, notifier)
    report.oauth_records_pruned = await prune_oauth_records(unit)
    pruned = await prune(unit, retention or RetentionPolicy())
    report.sessions_pruned, report.outbox_pruned = pruned.sessions, pruned.outbox
    report.slack_deliveries_pruned, report.link_requests_pruned = pruned.slack_deliveries, pruned.link_requests
    return report
