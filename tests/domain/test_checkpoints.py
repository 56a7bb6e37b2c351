"""Signed checkpoints of the audit chain (DESIGN.md §3 rule 8): signed only over a chain that holds, published
outside the database, and proof against a rewrite that ``audit verify`` alone cannot see."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from accessdesk.crypto import KeyUnavailable
from accessdesk.db.tables import AuditCheckpoint, AuditEvent, AuditKey, OutboxMessage
from accessdesk.domain import audit
from accessdesk.domain.checkpoint_proof import prove
from accessdesk.domain.checkpoints import (
    TYP,
    CheckpointPolicy,
    CheckpointRefused,
    published_keys,
    stored,
    verified,
)
from accessdesk.domain.evidence import Evidence
from tests.support.audit import POLICY, checkpoints, event, rechain_from, tamper_past_every_guard
from tests.world import OPERATOR

DATABASE_KEYS = "this database's audit keys"


async def test_a_checkpoint_signs_the_head_and_is_published(world, caplog):
    await world.government_ready()
    with caplog.at_level(logging.INFO, logger="accessdesk.audit.checkpoint"):
        taken = await checkpoints(world).take(actor=OPERATOR)
    head = await audit.head_of(world.unit.session)
    assert (taken.seq, taken.hash) == (head.seq, head.hash)
    # the key was made on first use, and its making is the last event the checkpoint covers
    last = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.seq == head.seq))).one()
    assert last.action == "audit_key.created" and last.subject_id == taken.kid
    [key] = await world.unit.session.exec(select(AuditKey))
    assert b"PRIVATE KEY" not in base64.b64decode(key.private_key_sealed) and "d" not in key.public_jwk

    header = json.loads(base64.urlsafe_b64decode(taken.jws.split(".")[0] + "=="))
    assert header["typ"] == TYP and header["alg"] == "ES256" and header["kid"] == key.kid
    assert header["jwk"]["x"] == key.public_jwk["x"]  # the checkpoint names its key...
    again = verified(taken.jws, await published_keys(world.unit), source="test")  # ...and verifies with it
    assert (again.seq, again.hash, again.issuer, again.log) == (head.seq, head.hash, "https://accessdesk.test",
                                                                str((await audit_first(world)).id))  # fmt: skip

    [row] = (await world.unit.session.exec(select(AuditCheckpoint))).all()
    assert (row.seq, row.hash, row.jws, row.signed_at) == (taken.seq, taken.hash, taken.jws, world.now)
    [message] = (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.topic == "audit.checkpoint"))).all()
    assert message.recipient == "slack:C0AUDIT" and message.payload["jws"] == taken.jws
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "accessdesk.audit.checkpoint"]
    assert line == {"event": "audit.checkpoint", **taken.record()}


async def audit_first(world) -> AuditEvent:
    return (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.seq == 1))).one()


async def test_without_a_channel_a_checkpoint_is_only_logged(world):
    quiet = CheckpointPolicy(sealing_key=POLICY.sealing_key, issuer=POLICY.issuer)
    await checkpoints(world, quiet).take(actor=OPERATOR)
    assert await world.count(AuditCheckpoint) == 1
    assert (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.topic == "audit.checkpoint"))).all() == []


async def test_the_worker_signs_when_the_interval_has_passed_and_the_head_moved(world, clock):
    service = checkpoints(world)
    assert await service.take_if_due(actor=OPERATOR) is not None  # the first: none before it
    assert await service.take_if_due(actor=OPERATOR) is None  # the head has not moved
    clock.advance(timedelta(minutes=20))
    assert await service.take_if_due(actor=OPERATOR) is None  # still not moved, however long it waits
    await event(world)
    clock.advance(timedelta(minutes=5))
    assert await service.take_if_due(actor=OPERATOR) is not None  # 25 minutes since the last, and moved
    await event(world)
    clock.advance(timedelta(minutes=14))
    assert await service.take_if_due(actor=OPERATOR) is None  # moved, but too soon
    off = CheckpointPolicy(sealing_key=POLICY.sealing_key, issuer=POLICY.issuer, every=None)
    clock.advance(timedelta(hours=1))
    assert await checkpoints(world, off).take_if_due(actor=OPERATOR) is None
    assert await world.count(AuditCheckpoint) == 2


@pytest.mark.parametrize("change", ["edited since", "re-chained"])
async def test_a_chain_that_does_not_hold_is_never_signed(world, change):
    """Signing walks only the events since the latest checkpoint, and checks that the chain still ends there in the
    hash it signed: an event edited since, or history re-chained beneath it, is refused, with nothing written."""
    await world.government_ready()
    taken = await checkpoints(world).take(actor=OPERATOR)
    await event(world)
    if change == "edited since":
        await tamper_past_every_guard(world.unit, f"UPDATE audit_events SET reason = 'forged' WHERE seq = {taken.seq + 1}")
        expected = rf"breaks at event #{taken.seq + 1}: content does not match its hash.*nothing signed"
    else:
        await rechain_from(world.unit, 3, reason="forged")
        expected = rf"no longer ends in the hash signed for #{taken.seq} by checkpoint #{taken.seq}.*nothing signed"
    before = (await world.count(AuditCheckpoint), await world.count(OutboxMessage), await world.audit_count())
    with pytest.raises(CheckpointRefused, match=expected):
        await checkpoints(world).take(actor=OPERATOR)
    await world.rollback()
    assert (await world.count(AuditCheckpoint), await world.count(OutboxMessage), await world.audit_count()) == before


async def test_the_worker_reports_a_refusal_once_per_head(world, clock, caplog):
    await checkpoints(world).take(actor=OPERATOR)
    await event(world)
    last = (await audit.head_of(world.unit.session)).seq
    await tamper_past_every_guard(world.unit, f"UPDATE audit_events SET actor = 'mallory' WHERE seq = {last}")
    for _ in range(2):
        clock.advance(timedelta(minutes=20))
        with caplog.at_level(logging.ERROR, logger="accessdesk.audit.checkpoint"):
            assert await checkpoints(world).take_if_due(actor=OPERATOR) is None
    assert any("audit checkpoint refused" in r.getMessage() for r in caplog.records)
    alerts = (await world.unit.session.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "audit.checkpoint_refused"))).all()  # fmt: skip
    assert len(alerts) == 1 and f"event #{last}" in alerts[0].payload["problem"]
    assert await world.count(AuditCheckpoint) == 1


async def test_a_key_sealed_under_another_key_encryption_key_signs_nothing(world):
    await checkpoints(world).take(actor=OPERATOR)
    other = CheckpointPolicy(sealing_key=b"x" * 32, issuer=POLICY.issuer)
    with pytest.raises(KeyUnavailable):
        await checkpoints(world, other).take(actor=OPERATOR)


async def test_checkpoints_find_what_verify_to_the_head_cannot(world):
    """A superuser deletes the newest events and rolls the head back, or rewrites an event and re-chains: the chain
    verifies; the checkpoints say what was lost or where the change lies."""
    await world.government_ready()
    service = checkpoints(world)
    early = await service.take(actor=OPERATOR)
    for _ in range(3):
        await event(world)
    late = await service.take(actor=OPERATOR)
    keys = await published_keys(world.unit)
    witnesses = await stored(world.unit, keys, source=DATABASE_KEYS)
    assert (await prove(world.unit, [late], witnesses=witnesses)).ok

    await rechain_from(world.unit, early.seq + 2, reason="never happened")
    assert (await audit.verify(world.unit.session)).ok
    proof = await prove(world.unit, [late], witnesses=witnesses)
    [finding] = proof.findings
    assert not proof.ok and (finding.first_seq, finding.last_seq) == (early.seq + 1, late.seq)
    assert (f"an event from #{early.seq + 1} to #{late.seq} was altered or replaced, and the events after it "
            f"re-chained; the chain still ends in the hash signed for #{early.seq}") in proof.describe()  # fmt: skip
    alone = await prove(world.unit, [late])  # without the stored checkpoints to narrow it down
    assert (alone.findings[0].first_seq, alone.findings[0].last_seq) == (1, late.seq)
    assert (await prove(world.unit, [early], witnesses=witnesses)).ok  # everything before the change still holds


async def test_a_deleted_tail_with_its_head_rolled_back_is_named(world):
    await world.government_ready()
    for _ in range(3):
        await event(world)
    taken = await checkpoints(world).take(actor=OPERATOR)
    keep = taken.seq - 3
    await tamper_past_every_guard(world.unit, f"DELETE FROM audit_events WHERE seq > {keep}",
                 f"UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_events WHERE seq = {keep}), "
                 f"prev_hash = (SELECT prev_hash FROM audit_events WHERE seq = {keep})")  # fmt: skip
    assert (await audit.verify(world.unit.session)).ok
    proof = await prove(world.unit, [taken])
    assert (proof.findings[0].first_seq, proof.findings[0].last_seq) == (keep + 1, taken.seq)
    assert f"events #{keep + 1}–#{taken.seq} are missing: the checkpoint records #{taken.seq}" in proof.describe()


async def test_the_evidence_bundle_carries_the_checkpoint_that_covers_it_and_its_key(world, clock):
    grant = await world.government_grant()
    bundle = await Evidence(world.unit).bundle(world.gov_admin, grant.id)
    assert bundle["audit"]["checkpoint"] is None and "no signed checkpoint covers" in bundle["audit"]["checkpoint_note"]
    clock.advance(timedelta(minutes=1))
    taken = await checkpoints(world).take(actor=OPERATOR)
    bundle = await Evidence(world.unit).bundle(world.gov_admin, grant.id)
    assert bundle["audit"]["checkpoint"]["jws"] == taken.jws and bundle["audit"]["checkpoint"]["seq"] == taken.seq
    assert max(e["seq"] for e in bundle["audit"]["events"]) <= taken.seq
    keys = bundle["audit"]["checkpoint_keys"]["keys"]
    assert verified(taken.jws, keys, source="the bundle").seq == taken.seq
