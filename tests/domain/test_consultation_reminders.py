"""Consultation reminders: a round open longer than ``ACCESSDESK_CONSULTATION_REMIND_DAYS`` reminds the government's
admins and approvers once; a planned release within ``ACCESSDESK_CONSULTATION_RELEASE_WARN_DAYS`` while its round
is still open tells both sides once per planned release. Both settings read, checked and handed to the worker's
sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import OutboxMessage, Reminder
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.reminders import ConsultationSchedule, Reminders
from accessdesk.domain.transitions import sweep
from accessdesk.domain.vocabulary import Designation
from accessdesk.settings import Settings, SettingsError
from accessdesk.worker import consultation_schedule_for


async def requested(world, slug="vela", *, release_in=timedelta(days=90)):
    model = await world.new_model(slug, designation=Designation.NOT_ASSESSED, release_in=release_in)
    return await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go."), model


async def told(world, topic: str) -> list[str]:
    stmt = select(OutboxMessage.recipient).where(OutboxMessage.topic == topic).order_by(col(OutboxMessage.recipient))
    return list((await world.unit.session.exec(stmt)).all())


def government_deciders(world) -> list[str]:
    return sorted(f"user:{a.user_id}" for a in (world.gov_admin, world.gov_approver, world.gov_approver2))


async def test_a_round_waiting_too_long_reminds_the_governments_deciders_once(world, clock):
    opened, model = await requested(world)
    reminders = Reminders(world.unit)
    clock.advance(timedelta(days=14) - timedelta(seconds=1))
    assert (await reminders.sweep()).sent == 0

    clock.advance(timedelta(seconds=1))
    assert (await reminders.sweep()).by_kind == {"consultation.waiting": 1}
    assert await told(world, "reminder.consultation_waiting") == government_deciders(world)  # not its member
    [reminder] = (await world.unit.session.exec(select(Reminder).where(Reminder.kind == "consultation.waiting"))).all()
    assert (reminder.subject_id, reminder.deadline, reminder.model_id) == (opened.id, opened.created_at + timedelta(days=14),
                                                                           model.id)  # fmt: skip
    clock.advance(timedelta(days=30))
    assert (await reminders.sweep()).by_kind.get("consultation.waiting") is None  # once per round


async def test_a_decided_round_is_not_reminded_and_the_schedule_is_the_operators(world, clock):
    decided, _ = await requested(world, "one")
    await Consultations(world.unit).decide(actor=world.gov_admin, consultation_id=decided.id, outcome="not_covered",
                                           assessment_ref="R")  # fmt: skip
    waiting, _ = await requested(world, "two")
    clock.advance(timedelta(days=3))
    report = await Reminders(world.unit, ConsultationSchedule(remind_after=timedelta(days=3))).sweep()
    assert report.by_kind == {"consultation.waiting": 1}
    [reminder] = (await world.unit.session.exec(select(Reminder))).all()
    assert reminder.subject_id == waiting.id


async def test_a_close_release_tells_both_sides_once_per_planned_release(world, clock):
    opened, model = await requested(world, release_in=timedelta(days=40))
    reminders = Reminders(world.unit, ConsultationSchedule(remind_after=timedelta(days=365)))
    clock.advance(timedelta(days=10) - timedelta(seconds=1))
    assert (await reminders.sweep()).sent == 0

    clock.advance(timedelta(seconds=1))
    assert (await reminders.sweep()).by_kind == {"consultation.release_near": 1}
    both = sorted([f"user:{world.dev_admin.user_id}", *government_deciders(world)])
    assert await told(world, "reminder.consultation_release_near") == both
    assert (await reminders.sweep()).sent == 0

    # A moved release is news: told again, for the new date.
    await FrontierModels(world.unit).move_release(actor=world.dev_admin, model_id=model.id,
                                                  planned_release_at=world.now + timedelta(days=20))  # fmt: skip
    assert (await reminders.sweep()).by_kind == {"consultation.release_near": 1}
    await Consultations(world.unit).decide(actor=world.gov_admin, consultation_id=opened.id, outcome="covered",
                                           assessment_ref="R")  # fmt: skip
    await FrontierModels(world.unit).move_release(actor=world.dev_admin, model_id=model.id,
                                                  planned_release_at=world.now + timedelta(days=10))  # fmt: skip
    assert (await reminders.sweep()).sent == 0  # decided: nothing more to warn of


async def test_a_round_opened_inside_the_warning_is_warned_of_at_once(world):
    opened, model = await requested(world, release_in=timedelta(days=5))
    report = await Reminders(world.unit).sweep()
    assert report.by_kind == {"consultation.release_near": 1}
    [reminder] = (await world.unit.session.exec(select(Reminder))).all()
    assert (reminder.deadline, reminder.due_at) == (model.planned_release_at, opened.created_at)


async def test_the_worker_sweeps_with_the_operators_schedule(world, clock):
    await requested(world)
    clock.advance(timedelta(days=2))
    assert (await sweep(world.unit, NullNotifier())).reminders_sent == 0
    chosen = ConsultationSchedule(remind_after=timedelta(days=2), release_warning=timedelta(days=1))
    assert (await sweep(world.unit, NullNotifier(), consultations=chosen)).reminders_sent == 1


def test_the_settings_read_check_and_reach_the_schedule():
    assert consultation_schedule_for(Settings.from_env({})) == ConsultationSchedule()
    chosen = Settings.from_env({"ACCESSDESK_CONSULTATION_REMIND_DAYS": "7",
                                "ACCESSDESK_CONSULTATION_RELEASE_WARN_DAYS": "60"})  # fmt: skip
    assert consultation_schedule_for(chosen) == ConsultationSchedule(remind_after=timedelta(days=7),
                                                                     release_warning=timedelta(days=60))  # fmt: skip
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"ACCESSDESK_CONSULTATION_REMIND_DAYS": "0",
                           "ACCESSDESK_CONSULTATION_RELEASE_WARN_DAYS": "soon"})  # fmt: skip
    assert caught.value.problems == (
        "ACCESSDESK_CONSULTATION_RELEASE_WARN_DAYS: not a whole number of days: 'soon'",
        "ACCESSDESK_CONSULTATION_REMIND_DAYS must be a number of days from 1 to 365",
    )  # fmt: skip
    assert Settings(consultation_release_warn_days=366).problems() == [
        "ACCESSDESK_CONSULTATION_RELEASE_WARN_DAYS must be a number of days from 1 to 365"]  # fmt: skip
