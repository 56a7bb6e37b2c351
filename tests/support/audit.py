"""Tampering with the audit chain as someone past the database's guards could, and audit checkpoints under a test
policy: what the audit tests in tests/domain, tests/web, tests/slack and the CLI's share."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent
from accessdesk.domain import audit
from accessdesk.domain.checkpoints import CheckpointPolicy, Checkpoints
from tests.world import OPERATOR

POLICY = CheckpointPolicy(sealing_key=b"k" * 32, issuer="https://accessdesk.test", every=timedelta(minutes=15),
                          slack_channel="C0AUDIT")  # fmt: skip


async def raw(unit, sql: str, **params):
    connection = await unit.session.connection()
    return await connection.execute(sa.text(sql), params)


async def tamper(unit, sql: str, **params) -> None:
    """What a DBA with raw access could do: get past the append-only guard and change history."""
    if unit.dialect == "postgresql":
        await raw(unit, "SET LOCAL session_replication_role = replica")  # superuser only: triggers off
        await raw(unit, sql, **params)
    else:
        await raw(unit, "DROP TRIGGER audit_events_no_update")
        await raw(unit, "DROP TRIGGER audit_events_no_delete")
        await raw(unit, sql, **params)
    await unit.session.commit()


async def tamper_past_every_guard(unit, *statements: str) -> None:
    """What a superuser (PostgreSQL) or whoever holds the file (SQLite) can do: get past every guard, the audit
    head's too."""
    if unit.dialect == "postgresql":
        await raw(unit, "SET LOCAL session_replication_role = replica")
    else:
        for trigger in ("audit_events_no_update", "audit_events_no_delete", "audit_head_only_appends",
                        "audit_head_no_delete"):  # fmt: skip
            await raw(unit, f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in statements:
        await raw(unit, statement)
    await unit.session.commit()
    unit.session.expunge_all()


async def rechain_from(unit, seq: int, **changes: str) -> None:
    """What a superuser can do unseen by ``audit verify``: change event ``seq``, recompute every hash after it and
    set the head to match."""
    rows = (await unit.session.exec(select(AuditEvent).order_by(col(AuditEvent.seq)))).all()
    statements, hashes = [], [audit.GENESIS]
    for row in rows:
        if row.seq == seq:
            for name, value in changes.items():
                setattr(row, name, value)
        if row.seq >= seq:
            row.prev_hash, row.hash = hashes[-1], audit.chain_hash(hashes[-1], row)
            sets = "".join(f"{k} = '{v}', " for k, v in changes.items()) if row.seq == seq else ""
            statements.append(f"UPDATE audit_events SET {sets}prev_hash = '{row.prev_hash}', hash = '{row.hash}' "
                              f"WHERE seq = {row.seq}")  # fmt: skip
        hashes.append(row.hash)
    statements.append(f"UPDATE audit_head SET prev_hash = '{hashes[-2]}', hash = '{hashes[-1]}'")
    await unit.session.rollback()
    await tamper_past_every_guard(unit, *statements)


def checkpoints(world, policy: CheckpointPolicy = POLICY) -> Checkpoints:
    return Checkpoints(world.unit, policy)


async def event(world, action: str = "test.happened") -> None:
    """One more audit event, recorded by the test operator."""
    world.unit.record(actor=OPERATOR, action=action)
    await world.unit.commit()
