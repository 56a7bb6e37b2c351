"""Nominations that do not rot: a pending nomination expires after its model's ``nomination_expiry_days`` (and always
at its proposed start), and before that it is escalated: after ``escalation_days`` the approvers of each side still
short of its quorum are reminded, after twice that the side's admins, once each. The three per-model settings
(with the step-up before approving) are checked, audited and refused with reasons."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent, FrontierModel, Nomination, OutboxMessage, Reminder
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.errors import Forbidden, Invalid, NotPending
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.reminders import Reminders
from accessdesk.domain.transitions import deliver_outbox, lapse_nominations, sweep
from accessdesk.domain.vocabulary import NominationState, Tier, Verdict

DAY = timedelta(days=1)
APPROVERS, ADMINS = "nomination.escalated.approvers", "nomination.escalated.admins"


def user(actor) -> str:
    return f"user:{actor.user_id}"


async def escalated(world, kind: str) -> list[tuple[str, str]]:
    """Who each escalation of ``kind`` went to, and for which side, in the order the rows were written."""
    rows = (await world.unit.session.exec(select(Reminder).where(Reminder.kind == kind))).all()
    keys = [key for row in rows for key in row.messages]
    messages = (await world.unit.session.exec(
        select(OutboxMessage).where(col(OutboxMessage.dedupe_key).in_(keys)))).all()  # fmt: skip
    return sorted((m.recipient, m.payload["side"]) for m in messages)


async def sweep_kinds(world) -> dict[str, int]:
    return (await Reminders(world.unit).sweep()).by_kind


async def test_a_nomination_expires_at_its_start_or_its_models_expiry_whichever_is_sooner(world):
    far, _ = await world.partner()
    near, _ = await world.partner()
    later = await world.nominate(far, start=30 * DAY)
    sooner = await world.nominate(near, start=5 * DAY)
    assert world.model.nomination_expiry_days == 14
    assert later.expires_at == later.created_at + 14 * DAY < later.starts_at
    assert sooner.expires_at == sooner.starts_at


async def test_the_models_setting_changes_the_expiry_of_new_nominations_only(world):
    first, _ = await world.partner()
    second, _ = await world.partner()
    before = await world.nominate(first, start=30 * DAY)
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"nomination_expiry_days": 7})  # fmt: skip
    after = await world.nominate(second, start=30 * DAY)
    assert after.expires_at == world.now + 7 * DAY
    assert (await world.get(Nomination, before.id)).expires_at == before.created_at + 14 * DAY
    [event] = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.action == "model.updated"))).all()
    assert (event.before, event.after, event.actor_id) == ({"nomination_expiry_days": 14}, {"nomination_expiry_days": 7},
                                                           world.dev_admin.user_id)  # fmt: skip


async def test_an_expired_nomination_takes_no_decision_closes_and_frees_its_window(world, clock, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, start=30 * DAY)
    await deliver_outbox(world.unit, NullNotifier())
    clock.advance(14 * DAY)

    # Expired before the worker says so: a decision is a conflict already.
    error = await refused(NotPending, CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id,
                                                                     verdict=Verdict.APPROVE))  # fmt: skip
    assert str(error) == "this nomination is lapsed; it no longer takes decisions"

    assert await lapse_nominations(world.unit) == 1
    closed = await world.get(Nomination, nomination.id)
    assert (closed.state, closed.decided_at) == (NominationState.LAPSED.value, world.now)
    assert closed.outcome_reason == "expired after 14 days without both sides deciding"
    [event] = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.action == "nomination.lapsed"))).all()
    assert (event.after, event.reason) == ({"state": "lapsed", "expired": True}, closed.outcome_reason)
    told = (await world.unit.session.exec(select(OutboxMessage).where(col(OutboxMessage.delivered_at).is_(None)))).all()
    assert sorted((m.topic, m.recipient) for m in told) == [
        ("nomination.lapsed", f"model:{world.model.id}:approvers"),  # its cards close
        ("nomination.lapsed", user(world.dev_nominator)),  # its nominator is told
    ]
    assert await lapse_nominations(world.unit) == 0  # once

    await refused(NotPending, CoSelection(world.unit).decide(actor=world.gov_approver, nomination_id=nomination.id,
                                                             verdict=Verdict.REJECT, reason="late"))  # fmt: skip
    # The same window may be asked for again.
    again = await CoSelection(world.unit).nominate(
        actor=world.dev_nominator, model_id=world.model.id, organisation_id=partner.id, starts_at=nomination.starts_at,
        ends_at=nomination.ends_at, actions=["invoke"], justification="Still needed.")  # fmt: skip
    assert again.state == NominationState.PENDING.value and again.expires_at == world.now + 14 * DAY


async def test_a_nomination_whose_start_comes_first_lapses_at_its_start_and_says_so(world, clock):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, start=2 * DAY)
    clock.advance(2 * DAY)
    report = await sweep(world.unit, NullNotifier())
    assert report.nominations_lapsed == 1 and report.nominations_escalated == 0
    closed = await world.get(Nomination, nomination.id)
    assert closed.outcome_reason == "lapsed at its proposed start without both sides deciding"


async def test_the_undecided_side_is_escalated_to_its_approvers_then_its_admins_once_each(world, clock):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, start=30 * DAY)
    await CoSelection(world.unit).decide(actor=world.gov_approver, nomination_id=nomination.id,
                                         verdict=Verdict.APPROVE)  # the government side has decided  # fmt: skip
    clock.advance(3 * DAY - timedelta(seconds=1))
    assert APPROVERS not in await sweep_kinds(world)

    clock.advance(timedelta(seconds=1))
    assert (await sweep_kinds(world)).get(APPROVERS) == 1
    # The developer's approvers (not its admin, not yet; nobody of the government, which has decided).
    assert await escalated(world, APPROVERS) == sorted([(user(world.dev_approver), "developer"),
                                                        (user(world.dev_approver2), "developer")])  # fmt: skip
    [message] = (await world.unit.session.exec(select(OutboxMessage).where(
        OutboxMessage.recipient == user(world.dev_approver), OutboxMessage.topic == "reminder.nomination_escalated"))).all()  # fmt: skip
    assert (message.payload["days"], message.payload["model"], message.payload["kind"]) == (3, "Atlas", APPROVERS)
    assert datetime.fromisoformat(message.payload["lapses_at"]) == nomination.expires_at
    clock.advance(DAY)
    assert await sweep_kinds(world) == {}  # once

    clock.advance(2 * DAY)  # six days: as long again
    assert await sweep_kinds(world) == {ADMINS: 1}
    assert await escalated(world, ADMINS) == [(user(world.dev_admin), "developer")]
    clock.advance(7 * DAY)
    assert await sweep_kinds(world) == {}  # never again, up to its expiry
    assert await escalated(world, APPROVERS) == sorted([(user(world.dev_approver), "developer"),
                                                        (user(world.dev_approver2), "developer")])  # fmt: skip


async def test_both_sides_short_are_escalated_leaving_out_who_decided_and_the_nominator(world, clock):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"developer_quorum": 2})  # fmt: skip
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, start=30 * DAY, by=world.dev_approver2)
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    clock.advance(3 * DAY)
    assert (await sweep_kinds(world)).get(APPROVERS) == 1
    # The developer's side is still short, but its one approver left decided and the other nominated it.
    assert await escalated(world, APPROVERS) == sorted([(user(world.gov_approver), "government"),
                                                        (user(world.gov_approver2), "government")])  # fmt: skip
    clock.advance(3 * DAY)
    assert (await sweep_kinds(world)).get(ADMINS) == 1
    assert await escalated(world, ADMINS) == sorted([(user(world.dev_admin), "developer"),
                                                     (user(world.gov_admin), "government")])  # fmt: skip


async def test_a_delegate_who_decided_in_someones_name_is_not_escalated_to_nor_is_the_one_they_stood_for(world, clock):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"developer_quorum": 2})  # fmt: skip
    await Delegations(world.unit).create(actor=world.dev_approver, delegate_id=world.dev_approver2.person_id,
                                         starts_at=world.now, ends_at=world.now + 7 * DAY)  # fmt: skip
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, start=30 * DAY, by=world.gov_admin)
    await CoSelection(world.unit).decide(actor=world.dev_approver2, nomination_id=nomination.id, verdict=Verdict.APPROVE,
                                         on_behalf_of=world.dev_approver.user_id)  # fmt: skip
    clock.advance(3 * DAY)
    assert (await sweep_kinds(world)).get(APPROVERS) == 1
    # The developer's side is still short (1 of 2), but both its approvers have had their say: one through the other.
    assert await escalated(world, APPROVERS) == sorted([(user(world.gov_approver), "government"),
                                                        (user(world.gov_approver2), "government")])  # fmt: skip


async def test_nothing_is_escalated_for_a_nomination_decided_withdrawn_or_closed(world, clock):
    coselection = CoSelection(world.unit)
    partners = [partner for partner, _ in [await world.partner() for _ in range(4)]]
    await world.approve_both(await world.nominate(partners[0], start=30 * DAY))
    rejected = await world.nominate(partners[1], start=30 * DAY)
    await coselection.decide(actor=world.gov_approver, nomination_id=rejected.id, verdict=Verdict.REJECT,
                             reason="not yet")  # fmt: skip
    withdrawn = await world.nominate(partners[2], start=30 * DAY)
    await coselection.withdraw(actor=world.dev_nominator, nomination_id=withdrawn.id, reason="wrong window")
    await world.nominate(partners[3], start=2 * DAY)  # closes at its start, before the escalation is due
    for _ in range(15):
        clock.advance(DAY)
        assert APPROVERS not in await sweep_kinds(world) and ADMINS not in await sweep_kinds(world)
    assert (await world.unit.session.exec(select(Reminder).where(col(Reminder.kind).in_([APPROVERS, ADMINS])))).all() == []


async def test_each_model_escalates_and_expires_on_its_own_settings_through_the_worker_sweep(world, clock):
    quick = await world.new_model("vela", nomination_expiry_days=4, escalation_days=1)
    partner, _ = await world.partner()
    fast = await world.nominate(partner, start=30 * DAY, model=quick)
    slow = await world.nominate(partner, start=30 * DAY)
    assert fast.expires_at == world.now + 4 * DAY
    clock.advance(DAY)
    report = await sweep(world.unit, NullNotifier())
    assert report.nominations_escalated == 1
    [row] = (await world.unit.session.exec(select(Reminder).where(Reminder.kind == APPROVERS))).all()
    assert (row.subject_id, row.deadline, row.due_at) == (fast.id, fast.created_at, fast.created_at + DAY)
    clock.advance(DAY)
    assert (await sweep(world.unit, NullNotifier())).nominations_escalated == 1  # vela's admins: two days
    clock.advance(DAY)
    assert (await sweep(world.unit, NullNotifier())).nominations_escalated == 1  # atlas's approvers: three days
    clock.advance(DAY)
    report = await sweep(world.unit, NullNotifier())
    assert (report.nominations_lapsed, report.nominations_escalated) == (1, 0)
    assert (await world.get(Nomination, fast.id)).outcome_reason == "expired after 4 days without both sides deciding"
    assert (await world.get(Nomination, slow.id)).state == NominationState.PENDING.value


# ---- the settings ------------------------------------------------------------------------------------------------


async def test_the_developers_admins_set_the_nomination_settings_and_each_change_is_audited(world):
    models = FrontierModels(world.unit)
    model = await models.update(actor=world.dev_admin, model_id=world.model.id,
                                changes={"approval_step_up_minutes": 30, "nomination_expiry_days": 21,
                                         "escalation_days": 5})  # fmt: skip
    assert (model.approval_step_up_minutes, model.nomination_expiry_days, model.escalation_days) == (30, 21, 5)
    model = await models.update(actor=world.dev_admin, model_id=world.model.id,
                                changes={"approval_step_up_minutes": None})  # the tier's default again
    assert model.approval_step_up_minutes is None
    events = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.action == "model.updated")
                                            .order_by(col(AuditEvent.seq)))).all()  # fmt: skip
    assert [(e.before, e.after) for e in events] == [
        ({"approval_step_up_minutes": None, "nomination_expiry_days": 14, "escalation_days": 3},
         {"approval_step_up_minutes": 30, "nomination_expiry_days": 21, "escalation_days": 5}),
        ({"approval_step_up_minutes": 30}, {"approval_step_up_minutes": None}),
    ]  # fmt: skip
    registered = await world.new_model("orion", tier=Tier.HIGH, approval_step_up_minutes=5, nomination_expiry_days=30,
                                       escalation_days=29)  # fmt: skip
    assert (registered.approval_step_up_minutes, registered.nomination_expiry_days, registered.escalation_days) == (5, 30, 29)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"nomination_expiry_days": 0}, "nomination_expiry_days", "a pending nomination expires after 1 to 90 days"),
    ({"nomination_expiry_days": 91}, "nomination_expiry_days", "a pending nomination expires after 1 to 90 days"),
    ({"nomination_expiry_days": True}, "nomination_expiry_days", "a pending nomination expires after 1 to 90 days"),
    ({"escalation_days": 0}, "escalation_days", "a pending nomination is escalated after 1 to 30 days"),
    ({"escalation_days": 31}, "escalation_days", "a pending nomination is escalated after 1 to 30 days"),
    ({"escalation_days": 14}, "escalation_days",
     "a nomination must be escalated before it expires: 14 days to escalation must be fewer than the 14 days to expiry"),
    ({"nomination_expiry_days": 3}, "nomination_expiry_days",
     "a nomination must be escalated before it expires: 3 days to escalation must be fewer than the 3 days to expiry"),
    ({"nomination_expiry_days": 5, "escalation_days": 6}, "escalation_days",
     "a nomination must be escalated before it expires: 6 days to escalation must be fewer than the 5 days to expiry"),
    ({"approval_step_up_minutes": 0}, "approval_step_up_minutes",
     "a sign-in before approving is asked within 1 to 240 minutes, or left empty for the tier's default"),
    ({"approval_step_up_minutes": 241}, "approval_step_up_minutes",
     "a sign-in before approving is asked within 1 to 240 minutes, or left empty for the tier's default"),
])  # fmt: skip
async def test_a_setting_out_of_bounds_is_refused_and_changes_nothing(world, refused, changes, field, message):
    error = await refused(Invalid, FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                                                     changes=changes))  # fmt: skip
    assert (error.field, str(error)) == (field, message)
    model = await world.get(FrontierModel, world.model.id)
    assert (model.approval_step_up_minutes, model.nomination_expiry_days, model.escalation_days) == (None, 14, 3)


async def test_only_the_developers_admins_change_the_settings_or_register_them_inconsistent(world, refused):
    models = FrontierModels(world.unit)
    for outsider in (world.dev_approver, world.gov_admin):
        await refused(Forbidden, models.update(actor=outsider, model_id=world.model.id,
                                               changes={"nomination_expiry_days": 30}))  # fmt: skip
    error = await refused(Invalid, world.new_model("orion", nomination_expiry_days=5, escalation_days=5))
    assert error.field == "escalation_days"
    assert (await world.get(FrontierModel, world.model.id)).nomination_expiry_days == 14
