"""Designation consultations: the developer's request or the government's opening, a thread either side writes in,
the government's decision with the reference of its assessment, and the designation's effect on grants (rule 4).
"In consultation" and "an open round" stay one fact on every path, the one-step designation included; need-to-know
keeps partners and other developers out (404); every refusal leaves nothing behind; and on PostgreSQL two decisions
at once make exactly one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import (
    AccessGrant,
    AuditEvent,
    Consultation,
    ConsultationMessage,
    FrontierModel,
    OutboxMessage,
)
from accessdesk.domain import audit
from accessdesk.domain.consultations import DEFAULT_NOTE, ConsultationOpen, Consultations
from accessdesk.domain.errors import (
    AlreadyDecided,
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    ModelSwitchedOff,
    NotFound,
)
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import ConsultationState, Designation, GrantState, Role
from tests.support.scenes import partner, partner_grant, partner_member, rival_developer


async def one_fact(world) -> None:
    """The invariant: every model is ``in_consultation`` exactly when it has one open round."""
    models = (await world.unit.session.exec(select(FrontierModel))).all()
    rounds = (await world.unit.session.exec(select(Consultation))).all()
    for model in models:
        open_rounds = [c for c in rounds if c.model_id == model.id and c.state == ConsultationState.OPEN.value]
        assert len(open_rounds) == (1 if model.designation == Designation.IN_CONSULTATION.value else 0), model.slug


async def rows(world, table, **where):
    stmt = select(table)
    for name, value in where.items():
        stmt = stmt.where(getattr(table, name) == value)
    return list((await world.unit.session.exec(stmt)).all())


async def events_of(world, subject_id) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.subject_id == str(subject_id)).order_by(col(AuditEvent.seq))
    return list((await world.unit.session.exec(stmt)).all())


async def fresh_model(world, slug="vela", **kw):
    return await world.new_model(slug, designation=Designation.NOT_ASSESSED, **kw)


async def requested(world, model=None, **kw):
    model = model or await fresh_model(world)
    args = {"note": "Checkpoint 7 is near release; please assess.", "contacts": ["Dana <dana@acme.test>"],
            "capabilities": ["cyber offence", "autonomy"], **kw}  # fmt: skip
    return await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, **args), model


async def nothing_written(world, refused, error, call):
    """``refused`` (no audit event, outbox message, grant…) and no round nor message either."""
    before = (await world.count(Consultation), await world.count(ConsultationMessage))
    caught = await refused(error, call)
    assert (await world.count(Consultation), await world.count(ConsultationMessage)) == before
    return caught


async def test_the_developer_asks_and_the_model_is_in_consultation_with_one_open_round(world):
    model = await fresh_model(world, release_in=timedelta(days=50))
    audit_before = await world.audit_count()

    consultation, _ = await requested(world, model, contacts=[" Dana <dana@acme.test> ", "Dana <dana@acme.test>", ""])

    await world.reload(model)
    assert model.designation == Designation.IN_CONSULTATION.value
    assert (consultation.round, consultation.state, consultation.requested_side) == (1, "open", "developer")
    assert consultation.reopens_id is None and consultation.requested_by == world.dev_admin.user_id
    assert consultation.contacts == ["Dana <dana@acme.test>"]  # stripped, blanks and repeats left out
    assert consultation.capabilities == ["cyber offence", "autonomy"]
    assert consultation.planned_release_at == model.planned_release_at
    assert await world.audit_count() == audit_before + 2
    steps = await events_of(world, consultation.id)
    assert [e.action for e in steps] == ["consultation.requested"]
    assert "Checkpoint" not in str(steps[0].after) and (steps[0].after or {})["note_length"] == len(consultation.note)
    assert [e.action for e in await events_of(world, model.id)][-1] == "model.designated"
    notices = await rows(world, OutboxMessage, topic="consultation.requested")
    assert [n.recipient for n in notices] == [f"model:{model.id}:approvers"]
    assert notices[0].payload["consultation_id"] == str(consultation.id)
    await one_fact(world)


async def test_the_government_opens_decides_and_reopens_each_round_after_the_last(world):
    model = await fresh_model(world)
    consultations = Consultations(world.unit)
    first = await consultations.open(actor=world.gov_approver, model_id=model.id, note="We assess it ourselves.")
    decided = await consultations.decide(actor=world.gov_approver, consultation_id=first.id, outcome="not_covered",
                                         assessment_ref="OAIS-A-1")  # fmt: skip
    assert (decided.state, decided.outcome, decided.assessment_ref) == ("decided", "not_covered", "OAIS-A-1")
    assert decided.decided_by == world.gov_approver.user_id and decided.decided_at == world.now
    await world.reload(model)
    assert (model.designation, model.designation_ref) == ("not_covered", "OAIS-A-1")

    # not covered: the developer may ask again after a new checkpoint
    second, _ = await requested(world, model)
    assert (second.round, second.reopens_id) == (2, first.id)
    await consultations.decide(actor=world.gov_admin, consultation_id=second.id, outcome="covered",
                               assessment_ref="OAIS-A-2")  # fmt: skip
    third = await consultations.open(actor=world.gov_admin, model_id=model.id, note="A new checkpoint.")
    assert (third.round, third.reopens_id) == (3, second.id)
    assert [e.action for e in await events_of(world, third.id)] == ["consultation.reopened"]
    assert [e.action for e in await events_of(world, first.id)] == ["consultation.opened", "consultation.decided"]
    await one_fact(world)


async def test_reopening_a_covered_model_blocks_its_partners_until_it_is_covered_again(world):
    await world.government_ready()
    government = await world.government_grant()
    organisation, _, grant = await partner_grant(world)
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.SCHEDULED.value
    consultations = Consultations(world.unit)

    reopened = await consultations.open(actor=world.gov_approver, model_id=world.model.id, note="Checkpoint 8.")

    assert (await world.get(AccessGrant, grant.id)).state == GrantState.BLOCKED.value
    assert (await world.get(AccessGrant, government.id)).state != GrantState.BLOCKED.value  # it evaluates the model
    blocked = await rows(world, OutboxMessage, topic="model.designated")
    assert blocked and blocked[-1].payload["blocked_grants"] == [str(grant.id)]

    await consultations.decide(actor=world.gov_approver, consultation_id=reopened.id, outcome="covered",
                               assessment_ref="OAIS-A-9")  # fmt: skip
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.SCHEDULED.value
    assert organisation is not None
    await one_fact(world)


async def test_not_covered_blocks_even_the_government(world):
    await world.government_ready()
    government = await world.government_grant()
    reopened = await Consultations(world.unit).open(actor=world.gov_admin, model_id=world.model.id, note="Again.")
    await Consultations(world.unit).decide(actor=world.gov_admin, consultation_id=reopened.id, outcome="not_covered",
                                           assessment_ref="R-2")  # fmt: skip
    assert (await world.get(AccessGrant, government.id)).state == GrantState.BLOCKED.value


async def test_the_one_step_designation_opens_and_decides_rounds(world):
    model = await fresh_model(world)
    models = FrontierModels(world.unit)

    await models.designate(actor=world.gov_admin, model_id=model.id, designation=Designation.IN_CONSULTATION)
    [opened] = await rows(world, Consultation, model_id=model.id)
    assert (opened.state, opened.requested_side, opened.note) == ("open", "government", DEFAULT_NOTE)
    await one_fact(world)

    await models.designate(actor=world.gov_admin, model_id=model.id, designation=Designation.COVERED, reference="R-1")
    await world.reload(opened)
    assert (opened.state, opened.outcome, opened.assessment_ref) == ("decided", "covered", "R-1")
    await one_fact(world)


async def test_either_side_writes_in_the_thread_and_its_words_stay_there(world, clock):
    consultation, model = await requested(world)
    consultations = Consultations(world.unit)
    asked = await consultations.message(actor=world.dev_nominator, consultation_id=consultation.id,
                                        body="  Is the red-team report enough?  ")  # fmt: skip
    clock.advance(timedelta(minutes=5))
    answered = await consultations.message(actor=world.gov_approver, consultation_id=consultation.id,
                                           body="Send the eval logs too.")  # fmt: skip

    assert (asked.author_side, asked.body) == ("developer", "Is the red-team report enough?")
    assert answered.author_side == "government"
    found = await consultations.round(world.dev_approver, consultation.id)
    assert [m.body for m in found.messages] == ["Is the red-team report enough?", "Send the eval logs too."]
    steps = [e for e in await events_of(world, consultation.id) if e.action == "consultation.message_added"]
    assert [e.after for e in steps] == [
        {"message_id": str(asked.id), "side": "developer", "length": len(asked.body)},
        {"message_id": str(answered.id), "side": "government", "length": len(answered.body)},
    ]
    notices = await rows(world, OutboxMessage, topic="consultation.message")
    assert len(notices) == 2 and all("red-team" not in str(n.payload) for n in notices)
    assert model is not None


async def test_what_each_reader_may_see_and_do(world):
    consultation, model = await requested(world)
    organisation, partner_admin = await partner(world)
    _, rival_admin, _, _ = await rival_developer(world)
    dev_auditor = await world.person(world.developer, "audrey", [Role.AUDITOR])
    gov_auditor = await world.person(world.government, "gabe", [Role.AUDITOR])
    dev_member = await world.person(world.developer, "mo", [Role.MEMBER])
    consultations = Consultations(world.unit)

    for reader in (world.dev_admin, world.dev_nominator, dev_auditor, world.gov_approver, gov_auditor):
        assert (await consultations.round(reader, consultation.id)).consultation.id == consultation.id
    for stranger in (partner_admin, rival_admin, dev_member, world.gov_member):
        with pytest.raises(NotFound):
            await consultations.round(stranger, consultation.id)
        with pytest.raises(NotFound):
            await consultations.rounds(stranger, model.id)
        assert (await consultations.queue(stranger)).items == []
    may = {who: (await consultations.round(actor, consultation.id)).may for who, actor in
           {"dev_admin": world.dev_admin, "dev_auditor": dev_auditor, "gov": world.gov_approver}.items()}  # fmt: skip
    assert (may["dev_admin"].message, may["dev_admin"].decide) == (True, False)
    assert (may["dev_auditor"].message, may["dev_auditor"].decide) == (False, False)
    assert (may["gov"].message, may["gov"].decide) == (True, True)
    assert organisation is not None


@pytest.mark.parametrize("case", [
    "approver", "nominator", "government", "partner", "rival", "member", "no_note", "long_note", "nul_note",
    "note_not_text", "many_contacts", "long_contact", "contact_newline", "contacts_not_a_list", "many_capabilities",
    "long_capability", "already_open", "covered", "switched_off", "unknown_model",
])  # fmt: skip
async def test_a_refused_request_writes_nothing(world, refused, case):
    model = await fresh_model(world)
    _, partner_admin = await partner(world)
    call = {"actor": world.dev_admin, "model_id": model.id, "note": "Please assess.", "contacts": [],
            "capabilities": []}  # fmt: skip
    expected: tuple[type[DomainError], str | None] = (Invalid, None)
    match case:
        case "approver":
            call["actor"], expected = world.dev_approver, (Forbidden, None)
        case "nominator":
            call["actor"], expected = world.dev_nominator, (Forbidden, None)
        case "government":
            call["actor"], expected = world.gov_admin, (Forbidden, None)
        case "partner":
            call["actor"], expected = partner_admin, (NotFound, None)
        case "rival":
            call["actor"], expected = (await rival_developer(world))[1], (NotFound, None)
        case "member":
            call["actor"], expected = await world.person(world.developer, "mo", [Role.MEMBER]), (NotFound, None)
        case "no_note":
            call["note"], expected = "   ", (Invalid, "note")
        case "long_note":
            call["note"], expected = "x" * 4001, (Invalid, "note")
        case "nul_note":
            call["note"], expected = "a\x00b", (Invalid, "note")
        case "note_not_text":
            call["note"], expected = 42, (Invalid, "note")
        case "many_contacts":
            call["contacts"], expected = [f"c{i}" for i in range(11)], (Invalid, "contacts")
        case "long_contact":
            call["contacts"], expected = ["x" * 201], (Invalid, "contacts")
        case "contact_newline":
            call["contacts"], expected = ["a\nb"], (Invalid, "contacts")
        case "contacts_not_a_list":
            call["contacts"], expected = "dana@acme.test", (Invalid, "contacts")
        case "many_capabilities":
            call["capabilities"], expected = [f"c{i}" for i in range(21)], (Invalid, "capabilities")
        case "long_capability":
            call["capabilities"], expected = ["x" * 101], (Invalid, "capabilities")
        case "already_open":
            await requested(world, model)
            expected = (ConsultationOpen, None)
        case "covered":
            call["model_id"], expected = world.model.id, (Conflict, None)
        case "switched_off":
            await FrontierModels(world.unit).switch_off(actor=world.dev_admin, model_id=model.id, reason="incident")
            expected = (ModelSwitchedOff, None)
        case "unknown_model":
            call["model_id"], expected = uuid.uuid4(), (NotFound, None)
    error = await nothing_written(world, refused, expected[0], Consultations(world.unit).request(**call))
    if expected[1] is not None:
        assert isinstance(error, Invalid) and error.field == expected[1], error
    assert error.message
    await one_fact(world)


async def test_refusals_say_why_in_the_domains_words(world, refused):
    consultation, model = await requested(world)
    again = await refused(ConsultationOpen, Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id,
                                                                             note="Again?"))  # fmt: skip
    assert again.message == "vela is already in consultation: write in its open round instead"
    covered = await refused(Conflict, Consultations(world.unit).request(actor=world.dev_admin, model_id=world.model.id,
                                                                       note="Again?"))  # fmt: skip
    assert covered.message == ("atlas is designated covered: only the government reopens its consultation (after a new "
                               "checkpoint, say)")  # fmt: skip
    await Consultations(world.unit).decide(actor=world.gov_admin, consultation_id=consultation.id, outcome="covered",
                                           assessment_ref="R")  # fmt: skip
    twice = await refused(AlreadyDecided, Consultations(world.unit).decide(
        actor=world.gov_approver, consultation_id=consultation.id, outcome="not_covered", assessment_ref="R2"))  # fmt: skip
    assert twice.message == "round 1 of vela's consultation was already decided (covered); reopen it for a new assessment"


@pytest.mark.parametrize("case", ["developer", "auditor", "partner", "rival", "no_ref", "long_ref", "ref_newline",
                                  "bad_outcome", "in_consultation", "decided", "unknown"])  # fmt: skip
async def test_a_refused_decision_writes_nothing(world, refused, case):
    consultation, model = await requested(world)
    call = {"actor": world.gov_approver, "consultation_id": consultation.id, "outcome": "covered",
            "assessment_ref": "OAIS-1"}  # fmt: skip
    expected: tuple[type[DomainError], str | None]
    match case:
        case "developer":
            call["actor"], expected = world.dev_admin, (Forbidden, None)
        case "auditor":
            call["actor"], expected = await world.person(world.government, "gabe", [Role.AUDITOR]), (Forbidden, None)
        case "partner":
            call["actor"], expected = (await partner(world))[1], (NotFound, None)
        case "rival":
            call["actor"], expected = (await rival_developer(world))[1], (NotFound, None)
        case "no_ref":
            call["assessment_ref"], expected = " ", (Invalid, "assessment_ref")
        case "long_ref":
            call["assessment_ref"], expected = "R" * 201, (Invalid, "assessment_ref")
        case "ref_newline":
            call["assessment_ref"], expected = "R\n1", (Invalid, "assessment_ref")
        case "bad_outcome" | "in_consultation":
            call["outcome"], expected = ("maybe" if case == "bad_outcome" else "in_consultation"), (Invalid, "outcome")
        case "decided":
            await Consultations(world.unit).decide(**call)
            expected = (AlreadyDecided, None)
        case "unknown":
            call["consultation_id"], expected = uuid.uuid4(), (NotFound, None)
    error = await nothing_written(world, refused, expected[0], Consultations(world.unit).decide(**call))
    if expected[1] is not None:
        assert isinstance(error, Invalid) and error.field == expected[1], error
    assert model is not None
    await one_fact(world)


@pytest.mark.parametrize("case", ["auditor", "gov_auditor", "partner", "partner_member", "rival", "member", "empty",
                                  "long", "nul", "not_text", "decided"])  # fmt: skip
async def test_a_refused_message_writes_nothing(world, refused, case):
    consultation, _ = await requested(world)
    call = {"actor": world.dev_approver, "consultation_id": consultation.id, "body": "Hello."}
    expected: tuple[type[DomainError], str | None]
    match case:
        case "auditor":
            call["actor"], expected = await world.person(world.developer, "audrey", [Role.AUDITOR]), (Forbidden, None)
        case "gov_auditor":
            call["actor"], expected = await world.person(world.government, "gabe", [Role.AUDITOR]), (Forbidden, None)
        case "partner":
            call["actor"], expected = (await partner(world))[1], (NotFound, None)
        case "partner_member":
            organisation, _ = await partner(world)
            call["actor"], expected = await partner_member(world, organisation), (NotFound, None)
        case "rival":
            call["actor"], expected = (await rival_developer(world))[2], (NotFound, None)
        case "member":
            call["actor"], expected = world.gov_member, (NotFound, None)
        case "empty":
            call["body"], expected = "  \n ", (Invalid, "body")
        case "long":
            call["body"], expected = "x" * 4001, (Invalid, "body")
        case "nul":
            call["body"], expected = "x\x00", (Invalid, "body")
        case "not_text":
            call["body"], expected = ["x"], (Invalid, "body")
        case "decided":
            await Consultations(world.unit).decide(actor=world.gov_admin, consultation_id=consultation.id,
                                                   outcome="covered", assessment_ref="R")  # fmt: skip
            expected = (AlreadyDecided, None)
    error = await nothing_written(world, refused, expected[0], Consultations(world.unit).message(**call))
    if expected[1] is not None:
        assert isinstance(error, Invalid) and error.field == expected[1], error


@pytest.mark.parametrize("case", ["developer", "auditor", "open", "switched_off", "no_note"])
async def test_a_refused_opening_writes_nothing(world, refused, case):
    model = await fresh_model(world)
    call = {"actor": world.gov_approver, "model_id": model.id, "note": "We assess it."}
    expected: type[DomainError]
    match case:
        case "developer":
            call["actor"], expected = world.dev_admin, Forbidden
        case "auditor":
            call["actor"], expected = await world.person(world.government, "gabe", [Role.AUDITOR]), Forbidden
        case "open":
            await requested(world, model)
            expected = ConsultationOpen
        case "switched_off":
            await FrontierModels(world.unit).switch_off(actor=world.gov_admin, model_id=model.id, reason="incident")
            expected = ModelSwitchedOff
        case "no_note":
            call["note"], expected = "", Invalid
    await nothing_written(world, refused, expected, Consultations(world.unit).open(**call))
    await one_fact(world)


async def test_the_queue_is_the_open_rounds_longest_waiting_first_a_page_at_a_time(world, clock):
    first, _ = await requested(world, await fresh_model(world, "one"))
    clock.advance(timedelta(days=2))
    second, _ = await requested(world, await fresh_model(world, "two"))
    clock.advance(timedelta(days=1))
    third, _ = await requested(world, await fresh_model(world, "three"))
    await Consultations(world.unit).decide(actor=world.gov_admin, consultation_id=third.id, outcome="covered",
                                           assessment_ref="R")  # fmt: skip
    _, rival_admin, _, rival_model = await rival_developer(world)
    rival = await Consultations(world.unit).request(actor=rival_admin, model_id=rival_model.id, note="Ours.")
    consultations = Consultations(world.unit)

    page = await consultations.queue(world.gov_approver, limit=2)
    assert [w.consultation.id for w in page.items] == [first.id, second.id]
    assert [w.waited for w in page.items] == [timedelta(days=3), timedelta(days=1)]
    rest = await consultations.queue(world.gov_approver, cursor=page.next_cursor, limit=2)
    assert [w.consultation.id for w in rest.items] == [rival.id] and rest.next_cursor is None
    assert [w.consultation.id for w in (await consultations.queue(world.dev_admin)).items] == [first.id, second.id]
    assert [w.consultation.id for w in (await consultations.queue(rival_admin)).items] == [rival.id]


async def test_a_models_rounds_and_history_tell_its_designation(world):
    consultation, model = await requested(world)
    consultations = Consultations(world.unit)
    await consultations.message(actor=world.gov_approver, consultation_id=consultation.id, body="Received.")
    await consultations.decide(actor=world.gov_approver, consultation_id=consultation.id, outcome="covered",
                               assessment_ref="R-7")  # fmt: skip
    reopened = await consultations.open(actor=world.gov_admin, model_id=model.id, note="Checkpoint 9.")

    _, rounds = await consultations.rounds(world.dev_admin, model.id)
    assert [(r.consultation.round, len(r.messages)) for r in rounds] == [(2, 0), (1, 1)]
    assert (await consultations.open_round_of(world.dev_admin, model.id)) == reopened
    actions = [e.action for e in await consultations.history(world.dev_admin, model.id)]
    assert actions == ["consultation.requested", "model.designated", "consultation.message_added",
                       "consultation.decided", "model.designated", "consultation.reopened", "model.designated"]


@pytest.mark.postgres_only
async def test_two_decisions_at_once_make_exactly_one(world, sessionmaker, clock):
    await world.government_ready()
    await world.government_grant()
    _, _, grant = await partner_grant(world)
    reopened = await Consultations(world.unit).open(actor=world.gov_admin, model_id=world.model.id, note="Again.")
    await world.commit()

    async def decide(actor, outcome):
        async with sessionmaker() as session:
            try:
                return await Consultations(Unit(session, clock)).decide(
                    actor=actor, consultation_id=reopened.id, outcome=outcome, assessment_ref=f"R-{outcome}")
            except DomainError as exc:
                return exc

    for _ in range(3):
        results = await asyncio.gather(decide(world.gov_admin, "covered"), decide(world.gov_approver, "not_covered"))
        decided = [r for r in results if isinstance(r, Consultation)]
        assert len(decided) <= 1 and all(isinstance(r, Consultation | AlreadyDecided) for r in results), results
        if decided:
            break
    assert len(decided) == 1
    row = await world.get(Consultation, reopened.id)
    model = await world.get(FrontierModel, world.model.id)
    assert row.state == "decided" and model.designation == row.outcome
    assert [e.action for e in await events_of(world, reopened.id)].count("consultation.decided") == 1
    expected = GrantState.SCHEDULED.value if row.outcome == "covered" else GrantState.BLOCKED.value
    assert (await world.get(AccessGrant, grant.id)).state == expected
    assert (await audit.verify(world.unit.session)).ok
