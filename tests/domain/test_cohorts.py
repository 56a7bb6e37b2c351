"""Cohorts: many partners nominated and decided as one, each member a nomination of its own under every rule of
co-selection. A member the rules refuse leaves no trace and the others proceed; all-or-nothing, a refusal leaves
nothing at all; a partner knows only its own membership; and on PostgreSQL a cohort decided while single decisions
and the kill switch run on its members gives each member exactly one outcome."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, AuditEvent, Cohort, Decision, Nomination, OutboxMessage
from accessdesk.domain import audit
from accessdesk.domain.cohort_entries import MAX_MEMBERS, entries_in, entries_in_csv
from accessdesk.domain.cohorts import CohortRefused, Cohorts
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import (
    DomainError,
    Forbidden,
    Invalid,
    ModelSwitchedOff,
    NotDesignated,
    NotFound,
)
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Designation, NominationState, OrgKind, Role, Side, Tier, Verdict
from tests.world import OPERATOR


async def partners(world, count: int, prefix: str = "member"):
    return [await world.partner(name=f"{prefix}-{i}") for i in range(count)]


async def cohort_of(world, organisations, *, by=None, name="Wave one", start=timedelta(days=2), days=30,
                    model=None, entries=(), all_or_nothing=False, actions=("invoke", "evaluate")):  # fmt: skip
    starts_at = world.now + start
    return await Cohorts(world.unit).nominate_cohort(
        actor=by or world.dev_nominator, model_id=(model or world.model).id, name=name,
        organisation_ids=[o.id for o in organisations], entries=list(entries), starts_at=starts_at,
        ends_at=starts_at + timedelta(days=days), actions=list(actions), justification="  Pre-release evaluation. ",
        all_or_nothing=all_or_nothing,
    )  # fmt: skip


async def nothing_written(world, refused, error, call):
    """``refused`` (nothing in the usual tables) and no cohort either."""
    cohorts = await world.count(Cohort)
    caught = await refused(error, call)
    assert await world.count(Cohort) == cohorts
    return caught


async def actions_of(world, subject_id) -> list[str]:
    rows = await world.unit.session.exec(select(AuditEvent.action).where(AuditEvent.subject_id == str(subject_id))
                                         .order_by(col(AuditEvent.seq)))  # fmt: skip
    return list(rows.all())


def test_pasted_and_uploaded_lists_name_one_entry_per_line_or_cell():
    assert entries_in("northwind\n southwind.test, @eastwind.test;\t west  \n\n") == [
        "northwind", "southwind.test", "@eastwind.test", "west"]  # fmt: skip
    assert entries_in_csv("slug,name\nnorthwind,Northwind\n\n southwind.test ,x\n") == ["northwind", "southwind.test"]
    assert entries_in_csv("northwind\nsouthwind\n") == ["northwind", "southwind"]


async def test_each_member_is_a_nomination_of_its_own_audited_as_one_alone_would_be(world):
    await world.government_ready()
    await world.government_grant()
    (north, _), (south, _), (east, _) = await partners(world, 3)
    result = await cohort_of(world, [north], entries=["member-1", "member-2.test", f"someone@{'member-2.test'}"])

    assert [m.entry for m in result.members] == [str(north.id), "member-1", "member-2.test"]
    assert result.duplicates == ["someone@member-2.test"]  # the same organisation named twice is one member
    assert not result.refused and len(result.nominated) == 3
    cohort = await world.get(Cohort, result.cohort.id)
    assert (cohort.name, cohort.actions, cohort.justification) == ("Wave one", ["evaluate", "invoke"],
                                                                   "Pre-release evaluation.")  # fmt: skip
    for member in result.nominated:
        nomination = await world.get(Nomination, member.nomination.id)
        assert (nomination.cohort_id, nomination.state, nomination.kind) == (cohort.id, "pending", "grant")
        assert (nomination.starts_at, nomination.ends_at) == (cohort.starts_at, cohort.ends_at)
        assert nomination.actions == ["evaluate", "invoke"]
        assert await actions_of(world, nomination.id) == ["nomination.created"]
    assert await actions_of(world, cohort.id) == ["cohort.created"]
    outbox = (await world.unit.session.exec(select(OutboxMessage).where(
        col(OutboxMessage.topic).in_(["nomination.created", "cohort.created"])))).all()  # fmt: skip
    member_messages = [m for m in outbox if m.payload.get("cohort_id") == str(cohort.id)]
    # Announced once, as the cohort (its one card in each channel): its members announce nothing of their own.
    assert Counter(m.topic for m in member_messages) == {"cohort.created": 1}
    assert (await audit.verify(world.unit.session)).ok


async def test_members_the_rules_refuse_are_reported_and_leave_no_trace_while_the_rest_proceed(world):
    (ready, _), (busy, _), (fresh, _) = await partners(world, 3)
    earlier = await world.nominate(busy, start=timedelta(days=3), days=10)  # overlaps the cohort's window
    nominations, events = await world.count(Nomination), await world.audit_count()

    result = await cohort_of(world, [ready, busy, world.government], entries=["nobody-here", "ghost.test", "member-2"])

    outcome = {m.entry: (m.refusal.code if m.refusal else "nominated") for m in result.members}
    assert outcome == {str(ready.id): "nominated", str(busy.id): "overlap", str(world.government.id): "invalid",
                       "nobody-here": "not_found", "ghost.test": "not_found", "member-2": "nominated"}  # fmt: skip
    refusals = {m.entry: m.refusal.message for m in result.refused}
    assert "overlapping that window" in refusals[str(busy.id)]
    assert "a cohort is of partners" in refusals[str(world.government.id)]
    assert refusals["ghost.test"] == "no organisation has the e-mail domain 'ghost.test'"
    assert await world.count(Nomination) == nominations + 2
    members = (await world.unit.session.exec(select(Nomination.organisation_id)
                                             .where(Nomination.cohort_id == result.cohort.id))).all()  # fmt: skip
    assert set(members) == {ready.id, fresh.id}
    assert await world.audit_count() == events + 3  # the cohort, and its two members' nominations
    assert (await world.get(Nomination, earlier.id)).cohort_id is None
    assert (await audit.verify(world.unit.session)).ok


async def test_all_or_nothing_any_refusal_writes_nothing_at_all(world, refused):
    (ready, _), (busy, _) = await partners(world, 2)
    await world.nominate(busy, start=timedelta(days=3), days=10)
    error = await nothing_written(world, refused, CohortRefused,
                                  cohort_of(world, [ready, busy], entries=["ghost.test"], all_or_nothing=True))
    assert error.code == "cohort_refused" and error.field == "members"
    assert error.message.startswith("nothing was nominated: 2 of the 3 organisations cannot be nominated")
    assert [(m.entry, m.refusal.code if m.refusal else None) for m in error.members] == [
        (str(ready.id), None), (str(busy.id), "overlap"), ("ghost.test", "not_found")]  # fmt: skip
    assert error.members[1].organisation.name == "Member-1"  # readable after the rollback

    fine = await cohort_of(world, [ready], all_or_nothing=True)
    assert len(fine.nominated) == 1


async def test_a_cohort_of_nobody_nominable_is_refused(world, refused):
    error = await nothing_written(world, refused, CohortRefused,
                                  cohort_of(world, [world.government], entries=["ghost"]))
    assert error.message.startswith("no organisation could be nominated")


@pytest.mark.parametrize("case", ["window_past", "too_long", "no_actions", "no_justification", "not_covered",
                                  "switched_off", "partner_nominates", "rival_developer", "name_taken", "no_name",
                                  "nobody", "too_many"])  # fmt: skip
async def test_what_every_member_shares_refuses_the_whole_cohort(world, refused, case):
    (one, admin), (two, _) = await partners(world, 2)
    await cohort_of(world, [two], name="Taken")
    starts_at = world.now + timedelta(days=2)
    call = {"actor": world.dev_nominator, "model_id": world.model.id, "name": "Wave two", "organisation_ids": [one.id],
            "starts_at": starts_at, "ends_at": starts_at + timedelta(days=30), "actions": ["invoke"],
            "justification": "Evaluation."}  # fmt: skip
    expected: tuple[type[DomainError], str | None] = (Invalid, None)
    if case == "window_past":
        call["starts_at"], expected = world.now - timedelta(hours=1), (Invalid, "starts_at")
    elif case == "too_long":
        call["ends_at"], expected = starts_at + timedelta(days=200), (Invalid, "ends_at")
    elif case == "no_actions":
        call["actions"], expected = [], (Invalid, "actions")
    elif case == "no_justification":
        call["justification"], expected = "  ", (Invalid, "justification")
    elif case == "not_covered":
        model = await world.new_model("pending-designation", designation=Designation.IN_CONSULTATION)
        call["model_id"], expected = model.id, (NotDesignated, None)
    elif case == "switched_off":
        model = await world.new_model("off")
        await FrontierModels(world.unit).switch_off(actor=world.gov_admin, model_id=model.id, reason="incident")
        call["model_id"], expected = model.id, (ModelSwitchedOff, None)
    elif case == "partner_nominates":
        call["actor"], expected = admin, (Forbidden, None)
    elif case == "rival_developer":
        rival = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Rival",
                                                       slug="rival", domains=["rival.test"])  # fmt: skip
        call["actor"], expected = await world.person(rival, "rhea", [Role.ADMIN]), (NotFound, None)
    elif case == "name_taken":
        call["name"], expected = "Taken", (Invalid, "name")
    elif case == "no_name":
        call["name"], expected = " ", (Invalid, "name")
    elif case == "nobody":
        call["organisation_ids"], expected = [], (Invalid, "members")
    elif case == "too_many":
        call["entries"], expected = [f"org-{i}" for i in range(MAX_MEMBERS + 1)], (Invalid, "members")
    error = await nothing_written(world, refused, expected[0], Cohorts(world.unit).nominate_cohort(**call))
    assert not isinstance(error, CohortRefused)
    if expected[1] is not None:
        assert error.field == expected[1], error.message
    if case == "too_many":
        assert error.message.startswith(f"a cohort has at most {MAX_MEMBERS} organisations; this list names 502")


async def test_a_partner_knows_its_own_membership_only(world):
    (north, north_admin), (south, _) = await partners(world, 2)
    (outside, outside_admin), = await partners(world, 1, prefix="outside")
    result = await cohort_of(world, [north, south])
    cohorts = Cohorts(world.unit)
    north_nomination = next(m.nomination for m in result.nominated if m.organisation.id == north.id)
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=north_nomination.id,
                                         verdict=Verdict.REJECT, reason="Not this time.")  # fmt: skip

    seen = await cohorts.summary(north_admin, result.cohort.id)
    assert seen.size == 1 and seen.states[NominationState.REJECTED] == 1 and seen.pending == 0
    assert seen.awaiting_my_side is None
    assert [m.organisation.id for m in await cohorts.members(north_admin, result.cohort.id)] == [north.id]
    listed = (await cohorts.cohorts(north_admin)).items
    assert [(s.cohort.id, s.size) for s in listed] == [(result.cohort.id, 1)]

    with pytest.raises(NotFound):
        await cohorts.summary(outside_admin, result.cohort.id)
    with pytest.raises(NotFound):
        await cohorts.members(outside_admin, result.cohort.id)
    assert (await cohorts.cohorts(outside_admin)).items == []

    rival = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Rival",
                                                   slug="rival", domains=["rival.test"])  # fmt: skip
    rival_admin = await world.person(rival, "rhea", [Role.ADMIN])
    with pytest.raises(NotFound):
        await cohorts.summary(rival_admin, result.cohort.id)
    assert (await cohorts.cohorts(rival_admin)).items == []

    for staff in (world.gov_member, world.dev_admin):
        whole = await cohorts.summary(staff, result.cohort.id)
        assert (whole.size, whole.pending, whole.states[NominationState.REJECTED]) == (2, 1, 1)
    gov = await cohorts.summary(world.gov_approver, result.cohort.id)
    assert gov.my_side == Side.GOVERNMENT and gov.awaiting_my_side == 1
    assert gov.sides[Side.DEVELOPER].awaiting == 1 and gov.sides[Side.DEVELOPER].approved == 0


async def test_deciding_a_cohort_approves_all_but_those_rejected_each_decision_recorded_alone(world):
    await world.government_ready()
    await world.government_grant()
    members = [o for o, _ in await partners(world, 4)]
    result = await cohort_of(world, members)
    cohorts = Cohorts(world.unit)
    turned_down = members[1]
    by_org = {m.organisation.id: m.nomination for m in result.nominated}

    preview = await cohorts.decision_effect(actor=world.dev_approver, cohort_id=result.cohort.id,
                                            reject={turned_down.id: "Export controls."})  # fmt: skip
    assert [(e.organisation_name, e.verdict, e.effect.completes if e.effect else None) for e in preview] == [
        ("Member-0", Verdict.APPROVE, False), ("Member-1", Verdict.REJECT, False),
        ("Member-2", Verdict.APPROVE, False), ("Member-3", Verdict.APPROVE, False)]  # fmt: skip
    assert await world.count(Decision) == 2  # the government's own grant's; the preview wrote nothing

    developer = await cohorts.decide_cohort(actor=world.dev_approver, cohort_id=result.cohort.id,
                                            reject={by_org[turned_down.id].id: " Export controls. "})  # fmt: skip
    assert [(d.organisation_name, d.result) for d in developer.members] == [
        ("Member-0", "approved"), ("Member-1", "rejected"), ("Member-2", "approved"), ("Member-3", "approved")]
    assert developer.summary.states[NominationState.REJECTED] == 1 and developer.summary.pending == 3
    assert developer.summary.sides[Side.DEVELOPER].approved == 3 and developer.summary.awaiting_my_side == 0
    rejected = await world.get(Nomination, by_org[turned_down.id].id)
    assert (rejected.state, rejected.outcome_reason) == ("rejected", "Export controls.")

    government = await cohorts.decide_cohort(actor=world.gov_approver, cohort_id=result.cohort.id)
    assert [(d.organisation_name, d.result, d.refusal.code if d.refusal else None) for d in government.members] == [
        ("Member-0", "granted", None), ("Member-1", "refused", "not_pending"), ("Member-2", "granted", None),
        ("Member-3", "granted", None)]  # fmt: skip
    assert government.summary.states[NominationState.APPROVED] == 3 and government.summary.pending == 0
    for organisation in (members[0], members[2], members[3]):
        grants = (await world.unit.session.exec(select(AccessGrant).where(
            AccessGrant.nomination_id == by_org[organisation.id].id))).all()  # fmt: skip
        assert len(grants) == 1 and grants[0].scopes == ["model:atlas:evaluate", "model:atlas:invoke"]
        assert await actions_of(world, by_org[organisation.id].id) == ["nomination.created", "nomination.tallied",
                                                                        "nomination.approved"]  # fmt: skip
    assert await actions_of(world, by_org[turned_down.id].id) == ["nomination.created", "nomination.rejected"]
    assert await actions_of(world, result.cohort.id) == ["cohort.created", "cohort.decided", "cohort.decided"]
    assert (await audit.verify(world.unit.session)).ok


async def outcomes_told(world) -> list[tuple[str, str, dict]]:
    """The messages to people about a nomination's or a cohort's outcome: (topic, recipient, payload)."""
    rows = await world.unit.session.exec(select(OutboxMessage).where(
        col(OutboxMessage.topic).in_(["nomination.approved", "nomination.rejected", "cohort.outcome"]))
        .order_by(col(OutboxMessage.queued_seq)))  # fmt: skip
    return [(m.topic, m.recipient, m.payload) for m in rows.all()]


async def test_the_nominator_hears_of_a_cohort_decision_once_not_once_per_member(world):
    await world.government_ready()
    await world.government_grant()
    members = [o for o, _ in await partners(world, 4)]
    result = await cohort_of(world, members)
    cohorts = Cohorts(world.unit)
    earlier = len(await outcomes_told(world))  # the government's own grant
    await cohorts.decide_cohort(actor=world.dev_approver, cohort_id=result.cohort.id)
    assert (await outcomes_told(world))[earlier:] == []  # no member decided for good yet
    by_org = {m.organisation.id: m.nomination for m in result.nominated if m.nomination is not None}
    # One member decided on its own first: its nominator hears of it alone, as of any nomination.
    single = await CoSelection(world.unit).decide(actor=world.gov_approver2, nomination_id=by_org[members[3].id].id,
                                                  verdict=Verdict.APPROVE)  # fmt: skip
    assert single.grant is not None
    await cohorts.decide_cohort(actor=world.gov_approver, cohort_id=result.cohort.id,
                                reject={members[0].id: "Export controls."})  # fmt: skip
    told = (await outcomes_told(world))[earlier:]
    nominator = f"user:{world.dev_nominator.user_id}"
    assert [(topic, to) for topic, to, _ in told] == [("nomination.approved", nominator), ("cohort.outcome", nominator)]
    assert told[1][2] == {"cohort_id": str(result.cohort.id), "by": str(world.gov_approver.user_id), "granted": 2,
                          "rejected": 1}  # fmt: skip


async def test_members_no_longer_pending_or_already_decided_are_reported_and_the_rest_decided(world):
    members = [o for o, _ in await partners(world, 4)]
    result = await cohort_of(world, members)
    by_org = {m.organisation.id: m.nomination for m in result.nominated}
    coselection = CoSelection(world.unit)
    await coselection.decide(actor=world.gov_approver, nomination_id=by_org[members[0].id].id, verdict=Verdict.APPROVE)
    await coselection.withdraw(actor=world.dev_nominator, nomination_id=by_org[members[1].id].id)
    await coselection.decide(actor=world.dev_approver2, nomination_id=by_org[members[2].id].id,
                             verdict=Verdict.REJECT, reason="No.")  # fmt: skip
    decisions, grants = await world.count(Decision), await world.count(AccessGrant)

    decided = await Cohorts(world.unit).decide_cohort(actor=world.gov_approver, cohort_id=result.cohort.id)
    outcome = {d.organisation_name: (d.result, d.refusal.code if d.refusal else None) for d in decided.members}
    assert outcome == {"Member-0": ("refused", "already_decided"), "Member-1": ("refused", "not_pending"),
                       "Member-2": ("refused", "not_pending"), "Member-3": ("approved", None)}  # fmt: skip
    assert "withdrawn" in next(str(d.refusal) for d in decided.members if d.organisation_name == "Member-1")
    assert await world.count(Decision) == decisions + 1 and await world.count(AccessGrant) == grants


async def test_the_nominator_decides_on_no_member_and_nothing_is_written(world, refused):
    members = [o for o, _ in await partners(world, 2)]
    result = await cohort_of(world, members, by=world.dev_approver)
    before = await world.audit_count()
    decided = await Cohorts(world.unit).decide_cohort(actor=world.dev_approver, cohort_id=result.cohort.id)
    assert {(d.result, d.refusal.code if d.refusal else None) for d in decided.members} == {("refused", "self_decision")}
    assert await world.audit_count() == before and await world.count(Decision) == 0


async def test_quorums_apply_to_each_member(world):
    model = await world.new_model("two-keys", developer_quorum=2)
    members = [o for o, _ in await partners(world, 2)]
    result = await cohort_of(world, members, model=model)
    cohorts = Cohorts(world.unit)
    first = await cohorts.decide_cohort(actor=world.dev_approver, cohort_id=result.cohort.id)
    assert {d.result for d in first.members} == {"approved"}
    government = await cohorts.decide_cohort(actor=world.gov_approver, cohort_id=result.cohort.id)
    assert {d.result for d in government.members} == {"approved"}  # the developer side is one approval short
    assert government.summary.sides[Side.GOVERNMENT].approved == 2 and government.summary.sides[Side.DEVELOPER].awaiting == 2
    second = await cohorts.decide_cohort(actor=world.dev_approver2, cohort_id=result.cohort.id)
    assert {d.result for d in second.members} == {"granted"}
    assert await world.count(AccessGrant) == 2


@pytest.mark.parametrize("case", ["no_reason", "not_a_member", "partner", "rival", "unknown", "switched_off"])
async def test_a_cohort_decision_refused_as_a_whole_writes_nothing(world, refused, case):
    members = [o for o, admin in await partners(world, 2)]
    result = await cohort_of(world, members)
    first = result.nominated[0].nomination
    call = {"actor": world.gov_approver, "cohort_id": result.cohort.id, "reject": {first.id: "Fine reason."}}
    expected: type[DomainError] = Invalid
    if case == "no_reason":
        call["reject"] = {members[1].id: "   "}
    elif case == "not_a_member":
        call["reject"] = {world.government.id: "Not one of them."}
    elif case == "partner":
        (_, admin), = await partners(world, 1, prefix="other")
        call["actor"], expected = admin, Forbidden
    elif case == "rival":
        rival = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Rival",
                                                       slug="rival", domains=["rival.test"])  # fmt: skip
        call["actor"], expected = await world.person(rival, "remy", [Role.APPROVER]), NotFound
    elif case == "unknown":
        call["cohort_id"], expected = uuid.uuid4(), NotFound
    elif case == "switched_off":
        await FrontierModels(world.unit).switch_off(actor=world.gov_admin, model_id=world.model.id, reason="incident")
        expected = ModelSwitchedOff
    cohorts = Cohorts(world.unit)
    error = await refused(expected, cohorts.decide_cohort(**call))
    if case == "no_reason":
        assert (error.field, error.message) == ("reject", "Member-1: a reason for rejecting is required")
    if case == "not_a_member":
        assert error.message == f"{world.government.id} is no member of the cohort 'Wave one'"
    with pytest.raises(expected):
        await cohorts.decision_effect(**call)


async def test_cohort_lists_are_newest_first_per_model_and_page(world, clock):
    members = [o for o, _ in await partners(world, 3)]
    beta = await world.new_model("beta")
    first = await cohort_of(world, members[:2], name="First")
    clock.advance(timedelta(minutes=1))
    second = await cohort_of(world, members[2:], name="Second")
    clock.advance(timedelta(minutes=1))
    other = await cohort_of(world, members[:1], name="On beta", model=beta)
    cohorts = Cohorts(world.unit)
    assert [s.cohort.name for s in (await cohorts.cohorts(world.gov_admin)).items] == ["On beta", "Second", "First"]
    atlas = await cohorts.cohorts(world.dev_admin, model_id=world.model.id, limit=1)
    assert [s.cohort.id for s in atlas.items] == [second.cohort.id] and atlas.next_cursor
    rest = await cohorts.cohorts(world.dev_admin, model_id=world.model.id, cursor=atlas.next_cursor, limit=1)
    assert [(s.cohort.id, s.size) for s in rest.items] == [(first.cohort.id, 2)] and rest.next_cursor is None
    assert other.cohort.model_id == beta.id


# ---- races, where requests really run at the same time -------------------------------------------------------


async def in_own_session(sessionmaker, clock, work):
    async with sessionmaker() as session:
        try:
            return await work(Unit(session, clock))
        except DomainError as exc:
            return exc


async def one_outcome_each(world, cohort_id) -> list[Nomination]:
    """Every member decided once: approved with exactly one grant, or rejected with none; the chain holds."""
    nominations = (await world.unit.session.exec(select(Nomination).where(Nomination.cohort_id == cohort_id)
                                                 .execution_options(populate_existing=True))).all()  # fmt: skip
    for nomination in nominations:
        grants = (await world.unit.session.exec(select(AccessGrant).where(
            AccessGrant.nomination_id == nomination.id))).all()  # fmt: skip
        assert len(grants) == (1 if nomination.state == NominationState.APPROVED else 0), nomination.state
        decisions = (await world.unit.session.exec(select(Decision).where(
            Decision.nomination_id == nomination.id))).all()  # fmt: skip
        assert len({d.approver_id for d in decisions}) == len(decisions)
    assert (await audit.verify(world.unit.session)).ok
    return list(nominations)


@pytest.mark.postgres_only
async def test_a_cohort_decided_by_both_sides_beside_single_decisions_gives_each_member_one_outcome(
    world, sessionmaker, clock
):
    await world.government_ready()
    await world.government_grant()
    for round_ in range(3):
        members = [o for o, _ in await partners(world, 8, prefix=f"race{round_}")]
        result = await cohort_of(world, members, name=f"Race {round_}")
        ids = [m.nomination.id for m in result.nominated]
        await world.commit()

        def cohort(actor, reject=None, cohort_id=result.cohort.id):
            return lambda unit: Cohorts(unit).decide_cohort(actor=actor, cohort_id=cohort_id, reject=reject)

        def single(actor, nomination_id, verdict=Verdict.APPROVE):
            return lambda unit: CoSelection(unit).decide(actor=actor, nomination_id=nomination_id, verdict=verdict,
                                                         reason="Single veto." if verdict == Verdict.REJECT else None)

        work = [cohort(world.gov_approver), cohort(world.dev_approver, reject={ids[0]: "Cohort veto."}),
                *(single(world.dev_approver2, n) for n in ids[1:5]),  # the same side as the developer's cohort decision
                *(single(world.gov_approver2, n) for n in ids[3:7]),  # the same side as the government's
                single(world.gov_approver2, ids[7], Verdict.REJECT)]  # fmt: skip
        if round_ % 2:
            work.reverse()
        answers = await asyncio.gather(*[in_own_session(sessionmaker, clock, w) for w in work])
        unexpected = [a for a in answers if isinstance(a, DomainError) and a.code not in ("not_pending", "already_decided")]
        assert not unexpected, unexpected

        nominations = {n.id: n for n in await one_outcome_each(world, result.cohort.id)}
        assert all(n.state != NominationState.PENDING for n in nominations.values())
        assert nominations[ids[0]].state == NominationState.REJECTED
        # Only a veto can reject, and only the two vetoes were given: every other member is approved.
        assert all(nominations[n].state == NominationState.APPROVED for n in ids[1:7])
        cohort_answers = [a for a in answers if not isinstance(a, Exception) and hasattr(a, "members")]
        for answer in cohort_answers:
            assert len(answer.members) == 8 and len({d.nomination.id for d in answer.members}) == 8


@pytest.mark.postgres_only
async def test_a_cohort_decision_racing_the_kill_switch_leaves_nothing_usable(world, sessionmaker, clock):
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    for round_ in range(4):
        model = await world.new_model(f"cohort-kill-{round_}")
        await world.government_grant(model=model, start=timedelta(hours=1))
        members = [o for o, _ in await partners(world, 6, prefix=f"kill{round_}")]
        result = await cohort_of(world, members, model=model, name="Kill race")
        await Cohorts(world.unit).decide_cohort(actor=world.dev_approver, cohort_id=result.cohort.id)
        await world.commit()

        def approve(unit, cohort_id=result.cohort.id):
            return Cohorts(unit).decide_cohort(actor=world.gov_approver, cohort_id=cohort_id)

        def kill(unit, model_id=model.id):
            return FrontierModels(unit).switch_off(actor=world.gov_admin, model_id=model_id, reason="incident")

        answers = await asyncio.gather(*[in_own_session(sessionmaker, clock, w)
                                         for w in ([approve, kill], [kill, approve])[round_ % 2]])  # fmt: skip
        assert not [a for a in answers if isinstance(a, DomainError) and a.code != "model_switched_off"], answers
        nominations = await one_outcome_each(world, result.cohort.id)
        assert {n.state for n in nominations} <= {NominationState.APPROVED, NominationState.WITHDRAWN}
        assert len({n.state for n in nominations}) == 1  # all approved before the switch, or all closed by it
        for grant in (await world.unit.session.exec(select(AccessGrant).where(AccessGrant.model_id == model.id))).all():
            for at in (grant.starts_at, grant.starts_at + timedelta(days=1)):
                assert not (await Grants(world.unit).usability(grant.id, at=at)).usable


async def test_a_developer_of_another_model_never_sees_the_cohort_but_a_new_tier_model_is_its_own(world):
    """The rival's own model takes a cohort of its own; the world's developer sees nothing of it."""
    rival = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Rival",
                                                   slug="rival", domains=["rival.test"])  # fmt: skip
    rival_admin = await world.person(rival, "rhea", [Role.ADMIN])
    model = await FrontierModels(world.unit).register(
        actor=rival_admin, slug="rival-one", name="Rival One", codename="R1", tier=Tier.HIGH,
        planned_release_at=world.now + timedelta(days=20), resource="https://api.rival.test/one")  # fmt: skip
    models = FrontierModels(world.unit)
    await models.designate(actor=world.gov_admin, model_id=model.id, designation=Designation.IN_CONSULTATION)
    await models.designate(actor=world.gov_admin, model_id=model.id, designation=Designation.COVERED, reference="R")
    members = [o for o, _ in await partners(world, 1)]
    result = await cohort_of(world, members, by=rival_admin, model=model)
    with pytest.raises(NotFound):
        await Cohorts(world.unit).summary(world.dev_admin, result.cohort.id)
    assert (await Cohorts(world.unit).cohorts(world.dev_admin)).items == []
    assert [s.cohort.id for s in (await Cohorts(world.unit).cohorts(rival_admin)).items] == [result.cohort.id]
