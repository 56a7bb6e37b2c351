"""Race safety (DESIGN.md §3 rule 2) on PostgreSQL, where requests really run at the same time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import func, select

from accessdesk.db.tables import AccessGrant, AuditEvent, Decision
from accessdesk.domain import audit
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import DomainError, NotPending
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.transitions import materialise_grants
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Role, Verdict

pytestmark = pytest.mark.postgres_only


async def in_own_session(sessionmaker, clock, work):
    """One concurrent request: its own session and connection."""
    async with sessionmaker() as session:
        try:
            return await work(Unit(session, clock))
        except DomainError as exc:
            return exc


async def test_twenty_approvers_at_once_make_exactly_one_grant(world, sessionmaker, clock):
    partner, _ = await world.partner()
    await world.government_ready()
    await world.government_grant()
    nomination = await world.nominate(partner, start=timedelta(days=2))
    approvers = [await world.person(world.developer, f"d{i}", [Role.APPROVER]) for i in range(10)]
    approvers += [await world.person(world.government, f"g{i}", [Role.APPROVER]) for i in range(10)]

    results = await asyncio.gather(*[
        in_own_session(sessionmaker, clock, lambda unit, a=a: CoSelection(unit).decide(
            actor=a, nomination_id=nomination.id, verdict=Verdict.APPROVE))
        for a in approvers
    ])  # fmt: skip

    recorded = [r for r in results if not isinstance(r, Exception)]
    conflicts = [r for r in results if isinstance(r, NotPending)]
    assert len(recorded) + len(conflicts) == 20, [r for r in results if isinstance(r, Exception)]
    assert sum(1 for r in recorded if r.grant is not None) == 1
    grants = (await world.unit.session.exec(select(AccessGrant).where(AccessGrant.nomination_id == nomination.id))).all()
    assert len(grants) == 1
    decisions = (await world.unit.session.exec(select(func.count()).where(Decision.nomination_id == nomination.id))).one()
    assert decisions == len(recorded)  # a conflicting decision is not recorded
    assert len(conflicts) >= 1
    assert (await audit.verify(world.unit.session)).ok


async def test_approve_racing_revoke_never_leaves_a_usable_grant(world, sessionmaker, clock):
    await world.government_ready()
    for round_ in range(8):
        model = await world.new_model(f"race-{round_}")
        grant = await world.government_grant(model=model, start=timedelta(hours=1))
        coselection = CoSelection(world.unit)
        extension = await coselection.request_extension(actor=world.dev_nominator, grant_id=grant.id,
                                                        ends_at=grant.ends_at + timedelta(days=10), justification="x")  # fmt: skip
        await coselection.decide(actor=world.dev_approver, nomination_id=extension.id, verdict=Verdict.APPROVE)

        def approve(unit, extension_id=extension.id):
            return CoSelection(unit).decide(actor=world.gov_approver, nomination_id=extension_id, verdict=Verdict.APPROVE)

        def revoke(unit, grant_id=grant.id):
            return Grants(unit).revoke(actor=world.dev_admin, grant_id=grant_id, reason="race")

        order = [approve, revoke] if round_ % 2 else [revoke, approve]
        await asyncio.gather(*[in_own_session(sessionmaker, clock, work) for work in order])

        for at in (grant.starts_at, grant.ends_at + timedelta(days=5)):
            assert not (await Grants(world.unit).usability(grant.id, at=at)).usable


async def test_kill_switch_racing_the_final_approval_leaves_nothing_usable(world, sessionmaker, clock):
    await world.government_ready()
    for round_ in range(6):
        model = await world.new_model(f"kill-{round_}")
        nomination = await world.nominate(world.government, start=timedelta(hours=1), model=model)
        await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                             verdict=Verdict.APPROVE)  # fmt: skip
        def approve(unit, nomination_id=nomination.id):
            return CoSelection(unit).decide(actor=world.gov_approver, nomination_id=nomination_id, verdict=Verdict.APPROVE)

        def kill(unit, model_id=model.id):
            return FrontierModels(unit).switch_off(actor=world.gov_admin, model_id=model_id, reason="x")

        await asyncio.gather(*[in_own_session(sessionmaker, clock, w) for w in ([approve, kill], [kill, approve])[round_ % 2]])
        grants = (await world.unit.session.exec(select(AccessGrant).where(AccessGrant.model_id == model.id))).all()
        for grant in grants:
            assert not (await Grants(world.unit).usability(grant.id, at=grant.starts_at)).usable


async def test_two_workers_at_once_record_each_transition_once(world, sessionmaker, clock):
    await world.government_ready()
    grants = [await world.government_grant(model=await world.new_model(f"w{i}"), start=timedelta(hours=1))
              for i in range(12)]  # fmt: skip
    clock.set(grants[-1].starts_at + timedelta(minutes=1))
    counts = await asyncio.gather(*[
        in_own_session(sessionmaker, clock, lambda unit: materialise_grants(unit, batch=3)) for _ in range(2)
    ])  # fmt: skip
    assert sum(counts) == 12
    changes = (await world.unit.session.exec(
        select(func.count()).where(AuditEvent.action == "grant.state_changed"))).one()  # fmt: skip
    assert changes == 12
    assert (await audit.verify(world.unit.session)).ok
