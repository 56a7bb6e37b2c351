"""Reasons and re-requests (issue 18): a rejection's reason reaches the partner only when the rejecting approver
shared it; the partner may ask for a refused nomination to be reconsidered, and the side that nominated takes the
request up (a new round, linked both ways) or declines it with a response. Every step is audited and told to the
partner and the nominator; every refusal leaves nothing behind, and a request is nobody else's business (404)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import AuditEvent, Nomination, OutboxMessage, Reconsideration
from accessdesk.domain.coselection import CoSelection, tally
from accessdesk.domain.errors import (
    AlreadyDecided,
    Conflict,
    Forbidden,
    Invalid,
    ModelSwitchedOff,
    NotFound,
    Overlap,
)
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.queries import Queries
from accessdesk.domain.reasons import decision_reason, event_reason, reason_for
from accessdesk.domain.reconsiderations import (
    LEAD,
    NOTE_LIMIT,
    ReconsiderationOpen,
    Reconsiderations,
    ReconsiderationState,
    default_window,
)
from accessdesk.domain.vocabulary import NominationState, Role, Verdict
from tests.support.scenes import rival_developer

DAY = timedelta(days=1)
INTERNAL = "Their export licence lapsed; do not tell them yet."
SHARED = "Your organisation's vetting is out of date."


@pytest.fixture
def leaves_nothing(refused, world):
    """``refused``, and no request added or answered either."""

    async def check(error, call):
        before = [(r.id, r.state, r.response) for r in (await world.unit.session.exec(
            select(Reconsideration).execution_options(populate_existing=True))).all()]  # fmt: skip
        caught = await refused(error, call)
        after = [(r.id, r.state, r.response) for r in (await world.unit.session.exec(
            select(Reconsideration).execution_options(populate_existing=True))).all()]  # fmt: skip
        assert sorted(after, key=str) == sorted(before, key=str)
        return caught

    return check


async def rejected(world, *, shared: bool = False, reason: str | None = None, by=None, **kw):
    """A partner, its admin, and a nomination of it that the government rejected."""
    partner, admin = await world.partner()
    nomination = await world.nominate(partner, **kw)
    await CoSelection(world.unit).decide(actor=world.fresh(world.gov_approver), nomination_id=nomination.id,
                                         verdict=Verdict.REJECT, reason=reason or (SHARED if shared else INTERNAL),
                                         reason_shared=shared)  # fmt: skip
    return partner, admin, await world.get(Nomination, nomination.id)


async def _decisions(world, nomination):
    return await tally(world.unit, nomination.id)


async def events(world, *actions: str) -> list[tuple[str, str]]:
    rows = (await world.unit.session.exec(select(AuditEvent).where(col(AuditEvent.action).in_(actions))
                                          .order_by(col(AuditEvent.seq)))).all()  # fmt: skip
    return [(e.action, e.actor) for e in rows]


async def told(world, topic: str) -> list[str]:
    rows = (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.topic == topic))).all()
    return sorted(m.recipient for m in rows)


def user(actor) -> str:
    return f"user:{actor.user_id}"


# ---- reasons ----------------------------------------------------------------------------------------------------


async def test_an_internal_reason_is_the_staffs_alone(world):
    _, admin, nomination = await rejected(world)
    decisions = await _decisions(world, nomination)
    for staff in (world.dev_nominator, world.dev_approver, world.gov_approver, world.gov_member):
        assert reason_for(staff, nomination, decisions) == INTERNAL
        assert decision_reason(staff, decisions[0]) == INTERNAL
    assert reason_for(admin, nomination, decisions) is None
    assert decision_reason(admin, decisions[0]) is None


async def test_a_shared_reason_reaches_the_partner_once_its_decisions_are_read(world):
    _, admin, nomination = await rejected(world, shared=True)
    decisions = await _decisions(world, nomination)
    assert reason_for(admin, nomination, decisions) == SHARED
    assert decision_reason(admin, decisions[0]) == SHARED
    assert reason_for(admin, nomination, None) is None  # a list that did not read the decisions says nothing


async def test_the_partner_reads_no_approval_or_withdrawal_note_but_the_systems_words_on_a_lapse(world):
    partner, admin = await world.partner()
    coselection = CoSelection(world.unit)
    approved = await world.nominate(partner, start=2 * DAY)
    first = await coselection.decide(actor=world.fresh(world.dev_approver), nomination_id=approved.id,
                                     verdict=Verdict.APPROVE, reason="Fine by us.", reason_shared=True)  # fmt: skip
    assert decision_reason(admin, first.decision) is None and first.decision.reason_shared is False
    withdrawn = await world.nominate(partner, start=40 * DAY)
    withdrawn = await coselection.withdraw(actor=world.dev_nominator, nomination_id=withdrawn.id, reason="Wrong team.")
    assert reason_for(admin, withdrawn, []) is None and reason_for(world.gov_member, withdrawn, []) == "Wrong team."
    withdrawn.state, withdrawn.outcome_reason = NominationState.LAPSED.value, "lapsed: not decided in time"
    assert reason_for(admin, withdrawn, []) == "lapsed: not decided in time"
    await world.rollback()


async def test_a_nominations_history_gives_the_partner_only_the_reasons_it_may_read(world):
    """The trail told on a nomination's page: the partner reads the shared rejection's reason on its decision, never
    an internal one, nor the outcome event's copy of either; staff read every reason."""
    for shared in (False, True):
        _, admin, nomination = await rejected(world, shared=shared)
        events = await Queries(world.unit).history(world.gov_member, nomination_id=nomination.id)
        said = {(e.action, event_reason(admin, e)) for e in events if e.reason}
        assert said == {("decision.recorded", SHARED if shared else None), ("nomination.rejected", None)}
        assert {event_reason(world.dev_nominator, e) for e in events if e.reason} == {SHARED if shared else INTERNAL}


# ---- asking -----------------------------------------------------------------------------------------------------


async def test_the_partner_asks_and_the_nominator_is_told(world):
    _, admin, nomination = await rejected(world)
    asked = await Reconsiderations(world.unit).ask(actor=admin, nomination_id=nomination.id,
                                                   note="  We renewed the licence last week.  ")  # fmt: skip
    assert (asked.state, asked.note, asked.requested_by) == ("open", "We renewed the licence last week.", admin.user_id)
    assert (asked.model_id, asked.organisation_id, asked.created_at) == (world.model.id, nomination.organisation_id,
                                                                         world.now)  # fmt: skip
    assert await events(world, "reconsideration.requested") == [("reconsideration.requested", admin.label)]
    assert await told(world, "reconsideration.requested") == [user(world.dev_nominator)]


async def test_a_member_may_ask_about_a_nomination_that_lapsed_undecided(world):
    partner, _ = await world.partner()
    member = await world.person(partner, "pat", [Role.MEMBER])
    nomination = await world.nominate(partner, start=timedelta(hours=2))
    world.clock.advance(timedelta(hours=3))
    assert await Reconsiderations(world.unit).asking(member, nomination)
    asked = await Reconsiderations(world.unit).ask(actor=member, nomination_id=nomination.id, note="Please decide.")
    assert asked.state == "open"
    assert not await Reconsiderations(world.unit).asking(member, nomination)  # one open at a time


async def test_asking_is_refused_to_anyone_else_and_for_anything_but_a_refusal(world, leaves_nothing):
    partner, admin, nomination = await rejected(world)
    other, stranger = await world.partner()
    auditor = await world.person(partner, "aud", [Role.AUDITOR])
    _, _, rival, _ = await rival_developer(world)
    reconsiderations = Reconsiderations(world.unit)

    def ask(actor, nomination_id=nomination.id, note="Please."):
        return reconsiderations.ask(actor=actor, nomination_id=nomination_id, note=note)

    for nobody in (stranger, rival):
        caught = await leaves_nothing(NotFound, ask(nobody))
        assert caught.message == f"nomination {nomination.id} not found"
    await leaves_nothing(NotFound, ask(admin, uuid.uuid4()))
    for staff in (world.dev_nominator, world.gov_admin):
        caught = await leaves_nothing(Forbidden, ask(staff))
        assert "only the nominated partner asks" in caught.message
    caught = await leaves_nothing(Forbidden, ask(auditor))
    assert "admins and members" in caught.message
    for note, words in (("", "required"), ("  ", "required"), ("x" * (NOTE_LIMIT + 1), "at most 2000"),
                        ("Hi\x00", "control character"), ("Hi\x1b[2J", "control character")):  # fmt: skip
        caught = await leaves_nothing(Invalid, ask(admin, note=note))
        assert caught.field == "note" and words in caught.message
    waiting = await world.nominate(other, start=3 * DAY)
    caught = await leaves_nothing(Conflict, ask(stranger, waiting.id))
    assert "this nomination is pending" in caught.message
    await world.approve_both(waiting)
    caught = await leaves_nothing(Conflict, ask(stranger, waiting.id))
    assert "this nomination is approved" in caught.message


async def test_one_open_request_per_nomination(world, leaves_nothing):
    partner, admin, nomination = await rejected(world)
    member = await world.person(partner, "pat", [Role.MEMBER])
    reconsiderations = Reconsiderations(world.unit)
    await reconsiderations.ask(actor=admin, nomination_id=nomination.id, note="First.")
    caught = await leaves_nothing(ReconsiderationOpen, reconsiderations.ask(actor=member, nomination_id=nomination.id,
                                                                            note="Second."))  # fmt: skip
    assert caught.code == "reconsideration_open" and "already asked" in caught.message


async def test_nothing_is_reconsidered_on_a_switched_off_model_nor_an_extension(world, leaves_nothing):
    _, admin, nomination = await rejected(world)
    reconsiderations = Reconsiderations(world.unit)
    await FrontierModels(world.unit).switch_off(actor=world.dev_admin, model_id=world.model.id, reason="Withdrawn.")
    await leaves_nothing(ModelSwitchedOff, reconsiderations.ask(actor=admin, nomination_id=nomination.id, note="?"))

    beta = await world.new_model("beta")
    partner, partner_admin = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, model=beta))
    extension = await CoSelection(world.unit).request_extension(actor=world.dev_nominator, grant_id=grant.id,
                                                                ends_at=grant.ends_at + 5 * DAY, justification="More.")  # fmt: skip
    await CoSelection(world.unit).decide(actor=world.fresh(world.gov_approver), nomination_id=extension.id,
                                         verdict=Verdict.REJECT, reason="No.")  # fmt: skip
    caught = await leaves_nothing(Conflict, reconsiderations.ask(actor=partner_admin, nomination_id=extension.id,
                                                                 note="?"))  # fmt: skip
    assert "an extension is not reconsidered" in caught.message


# ---- answering --------------------------------------------------------------------------------------------------


async def test_the_nominator_takes_it_up_and_a_new_round_opens_for_the_same_access(world):
    partner, admin, nomination = await rejected(world, start=3 * DAY, days=20, actions=["evaluate", "invoke"])
    reconsiderations = Reconsiderations(world.unit)
    asked = await reconsiderations.ask(actor=admin, nomination_id=nomination.id, note="Renewed.")
    world.clock.advance(5 * DAY)  # the refused window's start has passed: the new one starts a day from now
    taken, new = await reconsiderations.take_up(actor=world.dev_nominator, reconsideration_id=asked.id,
                                                response="Let us look again.")  # fmt: skip
    assert (taken.state, taken.response, taken.decided_by, taken.decided_at) == (
        "taken_up", "Let us look again.", world.dev_nominator.user_id, world.now)
    assert taken.new_nomination_id == new.id and new.reconsiders_id == nomination.id
    assert (new.state, new.model_id, new.organisation_id) == ("pending", world.model.id, partner.id)
    assert (new.actions, new.justification, new.nominated_by) == (nomination.actions, nomination.justification,
                                                                  world.dev_nominator.user_id)  # fmt: skip
    assert (new.starts_at, new.ends_at) == (world.now + LEAD, world.now + LEAD + 20 * DAY)
    assert (await events(world, "nomination.created", "reconsideration.taken_up"))[-2:] == [
        ("nomination.created", "nora@acme.test"), ("reconsideration.taken_up", "nora@acme.test")]
    created = (await world.unit.session.exec(select(AuditEvent).where(AuditEvent.subject_id == str(new.id)))).one()
    assert created.after["reconsiders_id"] == str(nomination.id)
    assert await told(world, "reconsideration.taken_up") == [user(admin)]  # the nominator answered: not told
    approvers = (await world.unit.session.exec(select(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"nomination.created:{new.id}"))).one()  # fmt: skip
    assert approvers.recipient == f"model:{world.model.id}:approvers"
    [row] = (await reconsiderations.listing(admin)).items
    assert row.state == ReconsiderationState.TAKEN_UP and not row.may.take_up


async def test_by_default_the_new_round_keeps_a_window_that_has_not_started(world):
    _, _, nomination = await rejected(world, start=10 * DAY, days=30)
    assert default_window(nomination, world.now) == (nomination.starts_at, nomination.ends_at)


async def test_a_colleague_takes_it_up_in_a_window_of_their_choosing_and_the_nominator_is_told(world, leaves_nothing):
    _, admin, nomination = await rejected(world)
    reconsiderations = Reconsiderations(world.unit)
    asked = await reconsiderations.ask(actor=admin, nomination_id=nomination.id, note="Renewed.")
    start = world.now + 4 * DAY
    _, new = await reconsiderations.take_up(actor=world.dev_approver, reconsideration_id=asked.id, starts_at=start)
    assert (new.starts_at, new.ends_at) == (start, start + (nomination.ends_at - nomination.starts_at))
    assert await told(world, "reconsideration.taken_up") == sorted([user(admin), user(world.dev_nominator)])
    caught = await leaves_nothing(Conflict, reconsiderations.ask(actor=admin, nomination_id=nomination.id,
                                                                 note="Again."))  # fmt: skip
    assert "already reconsidered" in caught.message


async def test_declined_with_a_response_the_partner_may_ask_again(world, leaves_nothing):
    _, admin, nomination = await rejected(world, shared=True)
    reconsiderations = Reconsiderations(world.unit)
    asked = await reconsiderations.ask(actor=admin, nomination_id=nomination.id, note="Renewed.")
    caught = await leaves_nothing(Invalid, reconsiderations.decline(actor=world.dev_nominator,
                                                                    reconsideration_id=asked.id, response=" "))  # fmt: skip
    assert caught.field == "response"
    declined = await reconsiderations.decline(actor=world.dev_admin, reconsideration_id=asked.id,
                                              response="The licence must be on file first.")  # fmt: skip
    assert (declined.state, declined.response, declined.new_nomination_id) == (
        "declined", "The licence must be on file first.", None)
    assert await events(world, "reconsideration.declined") == [("reconsideration.declined", "dana@acme.test")]
    assert await told(world, "reconsideration.declined") == sorted([user(admin), user(world.dev_nominator)])
    [row] = (await reconsiderations.listing(admin)).items
    assert row.reconsideration.response == "The licence must be on file first." and row.refusal_reason == SHARED
    again = await reconsiderations.ask(actor=admin, nomination_id=nomination.id, note="It is on file now.")
    assert again.state == "open"


async def test_answering_is_refused_to_the_partner_the_other_side_and_anyone_else(world, leaves_nothing):
    partner, admin, nomination = await rejected(world)
    _, stranger = await world.partner()
    _, _, rival, _ = await rival_developer(world)
    dev_member = await world.person(world.developer, "max", [Role.MEMBER])
    reconsiderations = Reconsiderations(world.unit)
    asked = await reconsiderations.ask(actor=admin, nomination_id=nomination.id, note="Renewed.")

    def take_up(actor, reconsideration_id=asked.id, **kw):
        return reconsiderations.take_up(actor=actor, reconsideration_id=reconsideration_id, **kw)

    def decline(actor, reconsideration_id=asked.id):
        return reconsiderations.decline(actor=actor, reconsideration_id=reconsideration_id, response="No.")

    for answer in (take_up, decline):
        for nobody in (stranger, rival):
            caught = await leaves_nothing(NotFound, answer(nobody))
            assert caught.message == f"reconsideration {asked.id} not found"
        await leaves_nothing(NotFound, answer(world.dev_nominator, uuid.uuid4()))
        caught = await leaves_nothing(Forbidden, answer(admin))
        assert "not the partner" in caught.message
        for other_side in (world.gov_admin, world.gov_approver):
            caught = await leaves_nothing(Forbidden, answer(other_side))
            assert "only the side that nominated" in caught.message
        caught = await leaves_nothing(Forbidden, answer(dev_member))
        assert "only nominators, approvers and admins" in caught.message
    caught = await leaves_nothing(Invalid, take_up(world.dev_nominator, starts_at=world.now - DAY))
    assert caught.field == "starts_at"
    caught = await leaves_nothing(Invalid, take_up(world.dev_nominator, starts_at=world.now + DAY,
                                                   ends_at=world.now + 200 * DAY))  # fmt: skip
    assert caught.field == "ends_at" and "at most 90 days" in caught.message
    other = await world.nominate(partner, start=3 * DAY, days=5)  # the default window would overlap it
    caught = await leaves_nothing(Overlap, take_up(world.dev_nominator))
    assert caught.subject_id == other.id
    await leaves_nothing(Invalid, take_up(world.dev_nominator, starts_at=world.now.replace(tzinfo=None)))
    await reconsiderations.decline(actor=world.dev_nominator, reconsideration_id=asked.id, response="No.")
    for answer in (take_up, decline):
        caught = await leaves_nothing(AlreadyDecided, answer(world.dev_admin))
        assert "already answered: declined" in caught.message


async def test_each_reader_finds_the_requests_that_are_theirs(world):
    partner, admin, nomination = await rejected(world)
    _, stranger = await world.partner()
    _, _, rival, _ = await rival_developer(world)
    government_partner, government_partner_admin = await world.partner()
    by_government = await world.nominate(government_partner, by=world.gov_approver2)
    await CoSelection(world.unit).decide(actor=world.fresh(world.dev_approver), nomination_id=by_government.id,
                                         verdict=Verdict.REJECT, reason="Not now.")  # fmt: skip
    reconsiderations = Reconsiderations(world.unit)
    ours = await reconsiderations.ask(actor=admin, nomination_id=nomination.id, note="Renewed.")
    theirs = await reconsiderations.ask(actor=government_partner_admin, nomination_id=by_government.id, note="Why?")

    async def listed(actor, **kw) -> set:
        return {row.reconsideration.id for row in (await reconsiderations.listing(actor, **kw)).items}

    assert await listed(admin) == {ours.id}
    assert await listed(government_partner_admin) == {theirs.id}
    assert await listed(stranger) == set() and await listed(rival) == set()
    assert await listed(world.dev_nominator) == {ours.id} == await listed(world.dev_admin)
    assert await listed(world.gov_approver) == {theirs.id}
    assert await listed(world.dev_nominator, state=ReconsiderationState.DECLINED) == set()
    assert await listed(world.dev_nominator, nomination_id=by_government.id) == set()
    # The other side reads a request about a nomination it sees, but does not answer it.
    row = await reconsiderations.one(world.gov_approver, ours.id)
    assert (row.refusal_reason, row.may.take_up, row.requested_by) == (INTERNAL, False, "Admin (admin@" + partner.slug + ".test)")
    assert (await reconsiderations.one(world.dev_nominator, ours.id)).may.decline
    for nobody in (stranger, rival):
        with pytest.raises(NotFound):
            await reconsiderations.one(nobody, ours.id)
    [mine] = await reconsiderations.of_nomination(admin, nomination.id)
    assert mine.refusal_reason is None and mine.model_name == "Atlas"
    with pytest.raises(NotFound):
        await reconsiderations.of_nomination(stranger, nomination.id)
