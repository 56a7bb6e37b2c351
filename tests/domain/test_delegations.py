"""Delegation (issue 18): an approver out of office names a delegate of the same organisation and deciding role for
at most 90 days, who decides in their name, the decision and the audit trail recording both. Every refusal leaves no
delegation, no audit event and no notice behind; ending one is the delegator's (or their admin's) to do."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent, Decision, Delegation, OutboxMessage
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.delegations import LONGEST, NOTE_LIMIT, Delegations
from accessdesk.domain.errors import AlreadyDecided, AlreadyRevoked, Forbidden, Invalid, NotFound, SelfDecision
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.vocabulary import Role, Verdict

DAY = timedelta(days=1)


@pytest.fixture
def leaves_nothing(refused, world):
    """``refused`` (no audit event, decision, grant, nomination or notice), and no delegation either."""

    async def check(error, call):
        before = await world.count(Delegation)
        caught = await refused(error, call)
        assert await world.count(Delegation) == before
        return caught

    return check


async def delegate(world, giver=None, taker=None, *, start=timedelta(0), days=7, note=None):
    giver, taker = giver or world.dev_approver, taker or world.dev_approver2
    return await Delegations(world.unit).create(actor=giver, delegate_id=taker.person_id, starts_at=world.now + start,
                                                ends_at=world.now + start + days * DAY, note=note)  # fmt: skip


async def events(world, delegation) -> list[tuple[str, str]]:
    rows = (await world.unit.session.exec(
        select(AuditEvent).where(AuditEvent.subject_id == str(delegation.id)).order_by(col(AuditEvent.seq)))).all()  # fmt: skip
    return [(e.action, e.actor) for e in rows]


async def notices(world, topic: str) -> list[tuple[str, dict]]:
    rows = (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.topic == topic))).all()
    return [(m.recipient, m.payload) for m in rows]


async def test_an_approver_names_a_delegate_who_is_told_and_the_trail_records_it(world):
    delegation = await delegate(world, note="  On leave until the 10th.  ")
    assert (delegation.delegator_id, delegation.delegate_id) == (world.dev_approver.user_id, world.dev_approver2.user_id)
    assert (delegation.organisation_id, delegation.note) == (world.developer.id, "On leave until the 10th.")
    assert (delegation.starts_at, delegation.ends_at, delegation.revoked_at) == (world.now, world.now + 7 * DAY, None)
    assert await events(world, delegation) == [("delegation.created", "dev1@acme.test")]
    [(recipient, payload)] = await notices(world, "delegation.created")
    assert recipient == f"user:{world.dev_approver2.user_id}"
    assert payload["delegator_id"] == str(world.dev_approver.user_id)


async def test_the_longest_delegation_is_ninety_days_and_it_may_start_later(world):
    later = await delegate(world, start=2 * DAY, days=LONGEST.days)
    [row] = await Delegations(world.unit).listing(world.dev_approver)
    assert row.delegation.id == later.id and row.state(world.now) == "scheduled"
    assert (row.delegator, row.delegate) == ("dev1@acme.test", "dev2@acme.test")
    assert row.state(world.now + 3 * DAY) == "active" and row.state(later.ends_at) == "ended"


async def test_every_refusal_names_its_field_and_leaves_nothing(world, leaves_nothing):
    delegations = Delegations(world.unit)
    partner, partner_admin = await world.partner()
    colleague = await world.person(partner, "pia", [Role.ADMIN])
    gone = await world.person(world.developer, "dev3", [Role.APPROVER])
    await Organisations(world.unit).update_user(actor=world.dev_admin, user_id=gone.person_id, disabled=True)
    now = world.now

    def create(actor=world.dev_approver, taker=world.dev_approver2, *, start=now, end=now + 7 * DAY, note=None):
        return delegations.create(actor=actor, delegate_id=taker.person_id, starts_at=start, ends_at=end, note=note)

    cases = [
        (Invalid, "delegate_id", "someone of your own organisation", create(taker=world.gov_approver)),
        (Invalid, "delegate_id", "your own delegate", create(taker=world.dev_approver)),
        (Invalid, "delegate_id", "hold your deciding role (approver)", create(taker=world.dev_nominator)),
        (Invalid, "delegate_id", "hold your deciding role (approver)", create(taker=world.dev_admin)),
        (Invalid, "delegate_id", "hold your deciding role (admin)", create(actor=world.dev_admin)),
        (Invalid, "delegate_id", "disabled", create(taker=gone)),
        (Invalid, "ends_at", "at most 90 days", create(end=now + LONGEST + timedelta(seconds=1))),
        (Invalid, "ends_at", "end after it starts", create(start=now + 2 * DAY, end=now + DAY)),
        (Invalid, "ends_at", "end in the future", create(start=now - 3 * DAY, end=now)),
        (Invalid, "note", "without NUL", create(note="Away\x00")),
        (Invalid, "note", f"at most {NOTE_LIMIT} characters", create(note="x" * (NOTE_LIMIT + 1))),
        (Invalid, "starts_at", "UTC offset", create(start=now.replace(tzinfo=None))),
        (Forbidden, None, "only approvers and admins", create(actor=partner_admin, taker=colleague)),
        (Forbidden, None, "only approvers and admins", create(actor=world.dev_nominator)),
        (Forbidden, None, "only approvers and admins", create(actor=world.gov_member)),
    ]
    for error, field, words, call in cases:
        caught = await leaves_nothing(error, call)
        assert words in caught.message, (words, caught.message)
        assert getattr(caught, "field", None) == field, (field, caught.message)


async def test_an_unknown_delegate_is_refused_like_a_stranger(world, leaves_nothing):
    caught = await leaves_nothing(Invalid, Delegations(world.unit).create(
        actor=world.dev_approver, delegate_id=uuid.uuid4(), starts_at=world.now, ends_at=world.now + DAY))  # fmt: skip
    assert caught.field == "delegate_id" and "your own organisation" in caught.message


async def test_the_delegator_or_their_admin_ends_a_delegation_and_the_delegate_is_told(world):
    delegations = Delegations(world.unit)
    first, second = await delegate(world), await delegate(world, start=10 * DAY)
    world.clock.advance(timedelta(hours=1))
    ended = await delegations.revoke(actor=world.dev_approver, delegation_id=first.id)
    assert (ended.revoked_at, ended.revoked_by) == (world.now, world.dev_approver.user_id)
    by_admin = await delegations.revoke(actor=world.dev_admin, delegation_id=second.id)
    assert by_admin.revoked_by == world.dev_admin.user_id
    assert await events(world, first) == [("delegation.created", "dev1@acme.test"),
                                          ("delegation.revoked", "dev1@acme.test")]  # fmt: skip
    assert await events(world, second) == [("delegation.created", "dev1@acme.test"),
                                           ("delegation.revoked", "dana@acme.test")]  # fmt: skip
    told = await notices(world, "delegation.revoked")
    assert sorted(p["delegation_id"] for _, p in told) == sorted([str(first.id), str(second.id)])
    assert {r for r, _ in told} == {f"user:{world.dev_approver2.user_id}"}
    assert [r.state(world.now) for r in await delegations.listing(world.dev_approver)] == ["revoked", "revoked"]


async def test_ending_a_delegation_is_refused_to_the_delegate_to_strangers_and_twice(world, leaves_nothing):
    delegations = Delegations(world.unit)
    delegation = await delegate(world)
    _, partner_admin = await world.partner()
    caught = await leaves_nothing(Forbidden, delegations.revoke(actor=world.dev_approver2, delegation_id=delegation.id))
    assert "only the person who delegated" in caught.message
    for stranger in (world.gov_admin, world.gov_approver, world.dev_nominator, partner_admin):
        caught = await leaves_nothing(NotFound, delegations.revoke(actor=stranger, delegation_id=delegation.id))
        assert caught.message == f"delegation {delegation.id} not found"
    await leaves_nothing(NotFound, delegations.revoke(actor=world.dev_approver, delegation_id=uuid.uuid4()))
    await delegations.revoke(actor=world.dev_approver, delegation_id=delegation.id)
    caught = await leaves_nothing(AlreadyRevoked, delegations.revoke(actor=world.dev_admin, delegation_id=delegation.id))
    assert "already ended" in caught.message


async def test_a_delegation_that_ran_out_cannot_be_ended_again(world, leaves_nothing):
    delegation = await delegate(world, days=1)
    world.clock.advance(2 * DAY)
    caught = await leaves_nothing(AlreadyRevoked, Delegations(world.unit).revoke(actor=world.dev_approver,
                                                                                 delegation_id=delegation.id))  # fmt: skip
    assert caught.message == "this delegation has already ended"


async def test_each_person_sees_the_delegations_they_gave_or_hold_and_admins_their_organisations(world):
    delegations = Delegations(world.unit)
    third = await world.person(world.developer, "dev3", [Role.APPROVER])
    given = await delegate(world)
    held = await delegate(world, giver=world.dev_approver2, taker=third)
    governments = await delegate(world, giver=world.gov_approver, taker=world.gov_approver2)

    async def seen(actor) -> set:
        return {row.delegation.id for row in await delegations.listing(actor)}

    assert await seen(world.dev_approver) == {given.id}
    assert await seen(world.dev_approver2) == {given.id, held.id}
    assert await seen(third) == {held.id}
    assert await seen(world.dev_admin) == {given.id, held.id}
    assert await seen(world.dev_nominator) == set()
    assert await seen(world.gov_admin) == {governments.id}
    _, partner_admin = await world.partner()
    assert await seen(partner_admin) == set()


async def test_the_form_offers_the_people_the_rules_accept_and_finds_them_by_e_mail(world):
    delegations = Delegations(world.unit)
    gone = await world.person(world.developer, "dev3", [Role.APPROVER])
    await Organisations(world.unit).update_user(actor=world.dev_admin, user_id=gone.person_id, disabled=True)
    assert [u.email for u in await delegations.candidates(world.dev_approver)] == ["dev2@acme.test"]
    assert [u.email for u in await delegations.candidates(world.dev_admin)] == []
    assert [u.email for u in await delegations.candidates(world.gov_approver)] == ["gov2@aiso.test"]
    assert await delegations.candidates(world.dev_nominator) == []
    assert await delegations.person(world.dev_approver, " DEV2@acme.test ") == world.dev_approver2.user_id
    for elsewhere in ("gov1@aiso.test", "nobody@acme.test", ""):
        with pytest.raises(Invalid) as refused_person:
            await delegations.person(world.dev_approver, elsewhere)
        assert refused_person.value.field == "delegate"


async def test_a_delegate_decides_in_the_approvers_name_and_both_are_recorded(world):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    delegation = await delegate(world)
    delegations = Delegations(world.unit)
    assert [u.email for u in await delegations.givers(world.dev_approver2)] == ["dev1@acme.test"]
    outcome = await CoSelection(world.unit).decide(actor=world.fresh(world.dev_approver2), nomination_id=nomination.id,
                                                   verdict=Verdict.APPROVE, on_behalf_of=world.dev_approver.person_id)  # fmt: skip
    decision = outcome.decision
    assert (decision.approver_id, decision.decided_by, decision.delegation_id) == (
        world.dev_approver.user_id, world.dev_approver2.user_id, delegation.id)
    recorded = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.subject_id == str(decision.id)))).one()
    assert recorded.actor == "dev2@acme.test" and recorded.after["delegation_id"] == str(delegation.id)


async def test_a_delegation_never_makes_one_person_count_twice_nor_decide_their_own(world, refused):
    partner, _ = await world.partner()
    other, _ = await world.partner()
    await delegate(world)
    coselection = CoSelection(world.unit)
    nomination = await world.nominate(partner)
    await coselection.decide(actor=world.fresh(world.dev_approver2), nomination_id=nomination.id,
                             verdict=Verdict.APPROVE)  # fmt: skip
    caught = await refused(AlreadyDecided, coselection.decide(
        actor=world.fresh(world.dev_approver2), nomination_id=nomination.id, verdict=Verdict.APPROVE,
        on_behalf_of=world.dev_approver.person_id))  # fmt: skip
    assert "already decided" in caught.message
    own = await world.nominate(other, by=world.dev_approver2)
    await refused(SelfDecision, coselection.decide(actor=world.fresh(world.dev_approver2), nomination_id=own.id,
                                                   verdict=Verdict.APPROVE, on_behalf_of=world.dev_approver.person_id))  # fmt: skip
    assert await world.count(Decision) == 1


async def test_once_ended_a_delegation_lets_no_one_decide_in_the_approvers_name(world, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    delegation = await delegate(world)
    await Delegations(world.unit).revoke(actor=world.dev_approver, delegation_id=delegation.id)
    assert await Delegations(world.unit).givers(world.dev_approver2) == []
    caught = await refused(Forbidden, CoSelection(world.unit).decide(
        actor=world.fresh(world.dev_approver2), nomination_id=nomination.id, verdict=Verdict.APPROVE,
        on_behalf_of=world.dev_approver.person_id))  # fmt: skip
    assert "no delegation in force" in caught.message
