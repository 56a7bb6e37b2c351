"""The set-based forms of co-selection: :meth:`CoSelection.nominate_all`, :meth:`CoSelection.decide_all` and
:func:`gates.evaluate_all`. Each answers per member, in order, as the single path would one after the other: a
refusal about one member is answered in its place and writes nothing for it; a refusal of what all share is raised
and writes nothing at all. They ask the database a fixed number of times however many members there are, and what
they store is what the single path stores."""

from __future__ import annotations

import difflib
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, AuditEvent, Decision, Nomination, OutboxMessage
from accessdesk.domain import gates
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.coselection import CoSelection, Outcome
from accessdesk.domain.errors import (
    AlreadyDecided,
    Invalid,
    NotFound,
    NotPending,
    Overlap,
    SelfDecision,
    StepUpRequired,
)
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.vocabulary import Area, GrantState, NominationState, OrgKind, Role, Tier, Verdict
from tests.support.domain import counting
from tests.world import OPERATOR

JUSTIFICATION = "Needed for pre-release evaluation."
DAY = timedelta(days=1)


# ---- what a call wrote ---------------------------------------------------------------------------------------


async def _head(world) -> int:
    return (await world.unit.session.exec(select(sa.func.coalesce(sa.func.max(AuditEvent.seq), 0)))).one()


async def _messages(world) -> set[uuid.UUID]:
    return set((await world.unit.session.exec(select(OutboxMessage.id))).all())


class Writes:
    """What was written since :meth:`start`: rows counted per table (:meth:`rows`), audit events (action,
    subject id: :meth:`events`) and outbox messages (topic, nomination id: :meth:`outbox`)."""

    def __init__(self, world) -> None:
        self.world = world

    async def counts(self) -> dict[str, int]:
        return {"nominations": await self.world.count(Nomination), "decisions": await self.world.count(Decision),
                "grants": await self.world.count(AccessGrant), "audit events": await self.world.audit_count(),
                "outbox messages": await self.world.count(OutboxMessage)}  # fmt: skip

    async def start(self) -> Writes:
        self.before, self.head = await self.counts(), await _head(self.world)
        self.messages = await _messages(self.world)
        return self

    async def rows(self) -> dict[str, int]:
        after = await self.counts()
        return {table: after[table] - self.before[table] for table in after}

    async def events(self) -> list[tuple[str, str]]:
        rows = await self.world.unit.session.exec(select(AuditEvent.action, AuditEvent.subject_id)
                                                  .where(AuditEvent.seq > self.head).order_by(col(AuditEvent.seq)))  # fmt: skip
        return [(action, subject_id) for action, subject_id in rows.all()]

    async def outbox(self) -> list[tuple[str, Any]]:
        new = (await _messages(self.world)) - self.messages
        if not new:
            return []
        rows = await self.world.unit.session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(new)))
        return sorted(((m.topic, m.payload.get("nomination_id")) for m in rows.all()), key=str)


def nothing() -> dict[str, int]:
    return {"nominations": 0, "decisions": 0, "grants": 0, "audit events": 0, "outbox messages": 0}


def shape(statement: str) -> str:
    """A statement on one line, its lists of parameters shortened: the same statement for 2 members or 12."""
    return re.sub(r"\((?:\$\d+::\w+|\?)(?:, (?:\$\d+::\w+|\?))*\)", "(…)", " ".join(statement.split()))[:160]


async def statements_for(world, engine: AsyncEngine, call) -> list[str]:
    await world.commit()  # each measured call starts its own transaction
    with counting(engine) as statements:
        await call
    return statements


async def nominate_all(world, organisation_ids, *, model=None, by=None, actions=("invoke",),
                       justification=JUSTIFICATION, start: timedelta = DAY, days: int = 30):  # fmt: skip
    starts_at = world.now + start
    return await CoSelection(world.unit).nominate_all(
        actor=by or world.dev_nominator, model_id=(model or world.model).id, organisation_ids=list(organisation_ids),
        starts_at=starts_at, ends_at=starts_at + timedelta(days=days), actions=list(actions),
        justification=justification)  # fmt: skip


def approving(nominations) -> list[tuple[uuid.UUID, Verdict, str | None]]:
    return [(n.id, Verdict.APPROVE, None) for n in nominations]


def overlap_message(starts_at: datetime, ends_at: datetime, what: str) -> str:
    return (f"this organisation already has {what} for this model overlapping that window "
            f"({starts_at:%Y-%m-%d %H:%M} → {ends_at:%Y-%m-%d %H:%M} UTC)")  # fmt: skip


def kinds(answers) -> list[str]:
    return [type(answer).__name__ for answer in answers]


# ---- nominate_all ----------------------------------------------------------------------------------------------


async def test_nominate_all_answers_each_organisation_in_place_and_writes_only_the_nominations(world):
    (north, _), (south, _) = await world.partner(), await world.partner()
    unknown = uuid.uuid4()
    writes = await Writes(world).start()

    answers = await nominate_all(world, [north.id, unknown, world.developer.id, south.id, north.id])

    assert kinds(answers) == ["Nomination", "NotFound", "Invalid", "Nomination", "Overlap"]
    made_north, not_found, developer, made_south, again = answers
    assert isinstance(made_north, Nomination) and isinstance(made_south, Nomination)
    assert (made_north.organisation_id, made_south.organisation_id) == (north.id, south.id)
    assert isinstance(not_found, NotFound) and not_found.message == f"organisation {unknown} not found"
    assert isinstance(developer, Invalid) and (developer.field, developer.message) == (
        "organisation_id", "access is granted to partner or government organisations only")  # fmt: skip
    # The same organisation again overlaps the nomination made for its first place in the list.
    assert isinstance(again, Overlap) and (again.kind, again.subject_id) == ("nomination", made_north.id)
    assert again.message == overlap_message(made_north.starts_at, made_north.ends_at, "a pending nomination")

    assert await writes.rows() == {**nothing(), "nominations": 2, "audit events": 2, "outbox messages": 2}
    assert await writes.events() == [("nomination.created", str(made_north.id)),
                                     ("nomination.created", str(made_south.id))]  # fmt: skip
    assert await writes.outbox() == sorted([("nomination.created", str(made_north.id)),
                                            ("nomination.created", str(made_south.id))], key=str)  # fmt: skip
    for made in (made_north, made_south):
        stored = await world.get(Nomination, made.id)
        assert (stored.state, stored.actions, stored.justification) == ("pending", ["invoke"], JUSTIFICATION)
    stored_for = (await world.unit.session.exec(select(Nomination.organisation_id))).all()
    assert Counter(stored_for) == {north.id: 1, south.id: 1}


async def test_nominate_all_over_organisations_none_of_which_may_be_nominated_writes_nothing(world):
    writes = await Writes(world).start()
    answers = await nominate_all(world, [uuid.uuid4(), world.developer.id], justification="  ")
    # Nothing can be nominated, so what all would share is never asked: each answer is about its organisation.
    assert kinds(answers) == ["NotFound", "Invalid"]
    assert await writes.rows() == nothing()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"justification": "   "}, "justification", "a justification is required"),
        ({"actions": ("invoke", "fly")}, "actions",
         "unknown action(s): fly; known: evaluate, fine_tune, invoke, red_team"),
        ({"actions": ()}, "actions", "ask for at least one action"),
        ({"days": 200}, "ends_at", "the window may last at most 90 days for this model"),
    ],
)  # fmt: skip
async def test_what_all_share_refuses_every_organisation_and_writes_nothing(world, refused, change, field, message):
    (north, _), (south, _), (east, _) = await world.partner(), await world.partner(), await world.partner()
    error = await refused(Invalid, nominate_all(world, [north.id, uuid.uuid4(), south.id, east.id], **change))
    assert (error.field, error.message) == (field, message)
    assert await world.count(Nomination) == 0


async def test_nominate_all_names_the_pending_nomination_or_grant_each_organisation_overlaps(world):
    await world.government_ready()
    await world.government_grant()
    (pending, _), (granted, _), (fresh, _), (later, _), (turned_down, _) = [await world.partner() for _ in range(5)]
    earlier = await world.nominate(pending, start=3 * DAY, days=10)
    grant = await world.approve_both(await world.nominate(granted, start=DAY, days=30))
    await world.nominate(later, start=40 * DAY, days=10)  # pending, but outside the window
    rejected = await world.nominate(turned_down, start=3 * DAY, days=10)  # overlapping, but no longer pending
    await CoSelection(world.unit).decide(actor=world.gov_approver, nomination_id=rejected.id, verdict=Verdict.REJECT,
                                         reason="Not now.")  # fmt: skip
    writes = await Writes(world).start()

    answers = await nominate_all(world, [pending.id, granted.id, fresh.id, later.id, turned_down.id], start=2 * DAY)

    assert kinds(answers) == ["Overlap", "Overlap", "Nomination", "Nomination", "Nomination"]
    on_nomination, on_grant = answers[0], answers[1]
    assert isinstance(on_nomination, Overlap) and isinstance(on_grant, Overlap)
    assert (on_nomination.kind, on_nomination.subject_id) == ("nomination", earlier.id)
    assert on_nomination.message == overlap_message(earlier.starts_at, earlier.ends_at, "a pending nomination")
    assert (on_grant.kind, on_grant.subject_id) == ("grant", grant.id)
    assert on_grant.message == overlap_message(grant.starts_at, grant.ends_at, "a grant")
    made = [a for a in answers if isinstance(a, Nomination)]
    assert [n.organisation_id for n in made] == [fresh.id, later.id, turned_down.id]
    assert await writes.rows() == {**nothing(), "nominations": 3, "audit events": 3, "outbox messages": 3}
    assert [action for action, _ in await writes.events()] == ["nomination.created"] * 3


# ---- decide_all ------------------------------------------------------------------------------------------------


async def test_decide_all_answers_each_nomination_in_place_and_records_only_what_it_may(world):
    (fine, _), (own, _), (decided, _), (closed, _), (high, _) = [await world.partner() for _ in range(5)]
    high_tier = await world.new_model("vault", tier=Tier.HIGH)
    coselection = CoSelection(world.unit)
    pending = await world.nominate(fine)
    mine = await world.nominate(own, by=world.dev_approver)
    already = await world.nominate(decided)
    await coselection.decide(actor=world.dev_approver, nomination_id=already.id, verdict=Verdict.APPROVE)
    rejected = await world.nominate(closed)
    await coselection.decide(actor=world.gov_approver, nomination_id=rejected.id, verdict=Verdict.REJECT,
                             reason="Not this one.")  # fmt: skip
    stale = await world.nominate(high, model=high_tier)  # the approver's sign-in is not fresh enough for it
    unknown = uuid.uuid4()
    before = {n.id: (n.state, n.developer_approvals, n.government_approvals)
              for n in [await world.get(Nomination, m.id) for m in (mine, already, rejected, stale)]}  # fmt: skip
    writes = await Writes(world).start()

    answers = await coselection.decide_all(actor=world.dev_approver, asked=approving([pending]) + [
        (unknown, Verdict.APPROVE, None), *approving([mine, already, rejected, stale])])  # fmt: skip

    assert kinds(answers) == ["Outcome", "NotFound", "SelfDecision", "AlreadyDecided", "NotPending", "StepUpRequired"]
    outcome, not_found, self_decision, already_decided, not_pending, step_up = answers
    assert isinstance(outcome, Outcome) and outcome.grant is None
    assert (outcome.nomination.id, outcome.nomination.state, outcome.nomination.developer_approvals) == (
        pending.id, NominationState.PENDING, 1)  # fmt: skip
    assert isinstance(not_found, NotFound) and not_found.message == f"nomination {unknown} not found"
    assert isinstance(self_decision, SelfDecision)
    assert self_decision.message == "you nominated this; someone else must decide on it"
    assert isinstance(already_decided, AlreadyDecided)
    assert already_decided.message == "you have already decided on this nomination"
    assert isinstance(not_pending, NotPending)
    assert not_pending.message == "this nomination is rejected; it no longer takes decisions"
    assert isinstance(step_up, StepUpRequired) and step_up.nomination_id == stale.id
    assert step_up.message == ("approving access to vault needs a sign-in within the last 15 minutes: sign in again "
                               "and approve in the console")  # fmt: skip

    assert await writes.rows() == {**nothing(), "decisions": 1, "audit events": 2, "outbox messages": 1}
    assert await writes.events() == [("decision.recorded", str(outcome.decision.id)),
                                     ("nomination.tallied", str(pending.id))]  # fmt: skip
    assert await writes.outbox() == [("nomination.decision", str(pending.id))]
    for nomination_id, was in before.items():
        now = await world.get(Nomination, nomination_id)
        assert (now.state, now.developer_approvals, now.government_approvals) == was
    stored = await world.get(Nomination, pending.id)
    assert (stored.state, stored.developer_approvals, stored.government_approvals) == ("pending", 1, 0)


async def test_decide_all_with_a_reject_missing_its_reason_refuses_every_member_and_writes_nothing(world, refused):
    (north, _), (south, _), (east, _) = [await world.partner() for _ in range(3)]
    nominations = [await world.nominate(p) for p in (north, south, east)]
    asked = [*approving(nominations[:2]), (nominations[2].id, Verdict.REJECT, "   ")]
    error = await refused(Invalid, CoSelection(world.unit).decide_all(actor=world.gov_approver, asked=asked))
    assert (error.field, error.message) == ("reason", "a reason for rejecting is required")
    for nomination in nominations:
        stored = await world.get(Nomination, nomination.id)
        assert (stored.state, stored.developer_approvals, stored.government_approvals) == ("pending", 0, 0)


async def test_decide_all_asked_twice_about_one_nomination_refuses_the_call_and_writes_nothing(world, refused):
    """A person decides on a nomination once: a call that asks about one twice is a wrong request, refused whole
    (no member decided), not a race to settle in the database."""
    (north, _), (south, _) = await world.partner(), await world.partner()
    first, second = await world.nominate(north), await world.nominate(south)
    error = await refused(Invalid, CoSelection(world.unit).decide_all(actor=world.dev_approver,
                                                                      asked=approving([first, second, first])))  # fmt: skip
    assert (error.field, error.message) == (
        "nominations", "a nomination is asked about more than once; a person decides on it once")
    for nomination in (first, second):
        assert (await world.get(Nomination, nomination.id)).developer_approvals == 0


# ---- a fixed number of queries -------------------------------------------------------------------------------


STEPS = ["nominate_all", "decide_all: the developer's approvals", "decision_effects: the government's, previewed",
         "decide_all: the government's approvals, grants made"]


@pytest.mark.parametrize("measured", STEPS)
async def test_the_number_of_statements_does_not_grow_with_the_number_of_members(world, engine, measured):
    """The same steps for 2 partners and for 12 (each on a model of its own, so that nothing overlaps), the one
    named measured: as many statements for 12 as for 2."""
    await world.government_ready()
    partners = [organisation for organisation, _ in [await world.partner(name=f"count-{i}") for i in range(12)]]
    coselection = CoSelection(world.unit)
    statements: dict[int, list[str]] = {}
    for size in (2, 12):
        model = await world.new_model(f"count-{size}")
        await world.government_grant(model=model)  # partner grants are made with the government's access in place
        nominated: list[Any] = []
        outcomes: list[Any] = []

        async def nominate(size: int = size, model: Any = model, nominated: list[Any] = nominated) -> None:
            nominated.extend(await nominate_all(world, [p.id for p in partners[:size]], model=model))

        async def developer(nominated: list[Any] = nominated, outcomes: list[Any] = outcomes) -> None:
            outcomes.extend(await coselection.decide_all(actor=world.dev_approver, asked=approving(nominated)))

        async def preview(nominated: list[Any] = nominated, size: int = size) -> None:
            effects = await coselection.decision_effects(actor=world.gov_approver, asked=approving(nominated))
            assert [(type(e).__name__, getattr(e, "completes", None)) for e in effects] == [("DecisionEffect", True)] * size

        async def government(nominated: list[Any] = nominated, outcomes: list[Any] = outcomes) -> None:
            outcomes.extend(await coselection.decide_all(actor=world.gov_approver, asked=approving(nominated)))

        steps: list[Callable[[], Awaitable[None]]] = [nominate, developer, preview, government]
        for step, call in zip(STEPS, steps, strict=True):
            if step == measured:
                statements[size] = await statements_for(world, engine, call())
            else:
                await call()
        assert kinds(nominated) == ["Nomination"] * size
        assert kinds(outcomes) == ["Outcome"] * 2 * size
        grants = [o.grant for o in outcomes if o.grant is not None]
        assert len(grants) == size
        assert {(await world.get(AccessGrant, g.id)).state for g in grants} == {GrantState.SCHEDULED}

    few, many = ([shape(s) for s in statements[size]] for size in (2, 12))
    difference = "\n".join(difflib.unified_diff(few, many, "2 members", "12 members", lineterm=""))
    assert len(few) == len(many), f"statements for 2 members and for 12 differ:\n{difference}"


# ---- the same facts as the single path ---------------------------------------------------------------------


def stored_facts(grant: AccessGrant) -> tuple[Any, ...]:
    return (grant.state, tuple(grant.window_problems), tuple(grant.rule_problems), tuple(grant.missing_gates),
            tuple(sorted((grant.gate_lapses or {}).items())), grant.gates_valid_until, grant.government_from,
            grant.next_transition_at, grant.has_problems, grant.state_changed_at, grant.starts_at, grant.ends_at,
            tuple(grant.scopes))  # fmt: skip


async def test_grants_made_by_one_decide_all_store_what_single_decisions_store(world):
    situations: dict[str, dict[str, Any]] = {"fine": {}, "unvetted": {"vetted": False}, "no NDA": {"nda": False},
                                             "lapsing in the window": {"valid_days": 10}, "unattested": {"attested": False},
                                             "attestations expired": {"valid_days": 5}}  # fmt: skip
    by_situation: dict[str, list[Any]] = {}
    for situation in ["attestations expired", *(s for s in situations if s != "attestations expired")]:
        by_situation[situation] = [(await world.partner(**situations[situation]))[0] for _ in range(4)]
        if situation == "attestations expired":
            world.clock.advance(6 * DAY)  # their attestations (5 days) have lapsed before anything is decided
    await world.government_ready()
    await world.government_grant()
    coselection = CoSelection(world.unit)
    together = [o for partners in by_situation.values() for o in partners[:2]]
    alone = [o for partners in by_situation.values() for o in partners[2:]]

    batch = await nominate_all(world, [o.id for o in together])
    assert all(isinstance(n, Nomination) for n in batch)
    singles = [await world.nominate(o) for o in alone]
    assert all(isinstance(o, Outcome) for o in await coselection.decide_all(actor=world.dev_approver,
                                                                            asked=approving(batch)))  # fmt: skip
    for nomination in singles:
        await coselection.decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    made_together = await coselection.decide_all(actor=world.gov_approver, asked=approving(batch))
    made_alone = [await coselection.decide(actor=world.gov_approver, nomination_id=n.id, verdict=Verdict.APPROVE)
                  for n in singles]  # fmt: skip

    facts: dict[uuid.UUID, tuple[Any, ...]] = {}
    for outcome in [*made_together, *made_alone]:
        assert isinstance(outcome, Outcome) and outcome.grant is not None, outcome
        facts[outcome.grant.organisation_id] = stored_facts(await world.get(AccessGrant, outcome.grant.id))
    per_situation = {}
    for situation, partners in by_situation.items():
        batch_facts = {facts[o.id] for o in partners[:2]}
        single_facts = {facts[o.id] for o in partners[2:]}
        assert batch_facts == single_facts, situation
        assert len(single_facts) == 1, situation
        per_situation[situation] = single_facts.pop()
    assert len(set(per_situation.values())) == len(situations), per_situation  # the situations do differ
    assert per_situation["fine"][0] == GrantState.SCHEDULED and not per_situation["fine"][8]
    assert "partner_not_vetted" in per_situation["unvetted"][3]
    assert "nda_missing" in per_situation["no NDA"][3]
    assert any(code.startswith("attestation_expired:") for code, _ in per_situation["attestations expired"][4])


# ---- gates.evaluate_all ----------------------------------------------------------------------------------------


def report_fields(report: gates.GateReport) -> tuple[Any, ...]:
    return (report.missing, report.lapsed, report.valid_until, report.lapses,
            report.nda_template.id if report.nda_template is not None else None)  # fmt: skip


async def test_evaluate_all_gives_each_organisation_what_evaluate_gives_it(world):
    await world.government_ready()
    fine, _ = await world.partner()
    unvetted, _ = await world.partner(vetted=False)
    no_nda, _ = await world.partner(nda=False)
    unattested, _ = await world.partner(attested=False)
    short, _ = await world.partner(valid_days=10)
    partly, partly_admin = await world.partner(nda=False, attested=False)
    await world.comply(partly_admin, nda=False, valid_days=10, skip_areas=(Area.USE, Area.CYBERSECURITY))
    # The longer of two attestations of one area counts.
    await Compliance(world.unit).attest(actor=partly_admin, area=Area.CONFIDENTIALITY, statement="Renewed.",
                                        valid_until=world.now + timedelta(days=400))  # fmt: skip
    rival = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Rival", slug="rival",
                                                   domains=["rival.test"])  # fmt: skip
    rival_admin = await world.person(rival, "rhea", [Role.ADMIN])
    no_nda_published = await FrontierModels(world.unit).register(
        actor=rival_admin, slug="rival-one", name="Rival One", codename="R1", tier=Tier.STANDARD,
        planned_release_at=world.now + timedelta(days=20), resource="https://api.rival.test/one")  # fmt: skip
    organisations = [fine, unvetted, no_nda, unattested, short, partly, world.government, world.developer]
    session = world.unit.session

    seen: set[str] = set()
    for model in (world.model, no_nda_published):
        # Before anything was on file; now; once the 10-day attestations lapsed; once the 180-day ones did; once
        # the NDA (365 days) did, the 400-day attestation still valid.
        for at in (world.now - DAY, world.now, world.now + 11 * DAY, world.now + 200 * DAY, world.now + 370 * DAY):
            together = await gates.evaluate_all(session, organisations=organisations, model=model, at=at)
            assert set(together) == {o.id for o in organisations}
            for organisation in organisations:
                alone = await gates.evaluate(session, organisation=organisation, model=model, at=at)
                assert report_fields(together[organisation.id]) == report_fields(alone), (organisation.name, at)
                seen.update(code.split(":")[0] for code in alone.problems)
    assert seen == {"partner_not_vetted", "nda_not_published", "nda_missing", "nda_expired", "attestation_missing",
                    "attestation_expired"}  # fmt: skip
    assert await gates.evaluate_all(session, organisations=[], model=world.model, at=world.now) == {}


async def test_evaluate_all_of_the_government_and_partners_at_once_is_not_mixed_up(world):
    """Reports are per organisation: one organisation's papers never count for another's."""
    await world.government_ready(valid_days=30)
    fine, _ = await world.partner(valid_days=60)
    bare, _ = await world.partner(vetted=False, nda=False, attested=False)
    reports = await gates.evaluate_all(world.unit.session, organisations=[bare, world.government, fine],
                                       model=world.model, at=world.now)  # fmt: skip
    assert reports[world.government.id].problems == [] and reports[fine.id].problems == []
    assert reports[world.government.id].valid_until == world.now + timedelta(days=30)
    assert reports[fine.id].valid_until == world.now + timedelta(days=60)
    assert reports[bare.id].missing == ["partner_not_vetted", "nda_missing",
                                        *(f"attestation_missing:{area.value}" for area in Area)]  # fmt: skip
