"""Co-selection (DESIGN.md §3 rule 1): both sides approve, any side vetoes, nobody decides twice or on their own
nomination, partners never decide. Every refusal leaves no decision, no grant and no audit event behind."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import (
    AlreadyDecided,
    Forbidden,
    Invalid,
    ModelSwitchedOff,
    NotFound,
    NotPending,
    SelfDecision,
)
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.vocabulary import GrantState, NominationState, OrgKind, Role, Verdict
from tests.world import OPERATOR


async def test_both_sides_approve_and_a_grant_exists(world):
    partner, _ = await world.partner()
    await world.government_ready()
    await world.government_grant()
    nomination = await world.nominate(partner, start=timedelta(days=2), actions=["invoke", "evaluate"])
    coselection = CoSelection(world.unit)

    first = await coselection.decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    assert first.grant is None and first.nomination.state == NominationState.PENDING
    assert (first.nomination.developer_approvals, first.nomination.government_approvals) == (1, 0)

    second = await coselection.decide(actor=world.gov_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    assert second.nomination.state == NominationState.APPROVED
    grant = second.grant
    assert grant is not None and grant.state == GrantState.SCHEDULED
    assert sorted(grant.scopes) == ["model:atlas:evaluate", "model:atlas:invoke"]
    assert (grant.starts_at, grant.ends_at) == (nomination.starts_at, nomination.ends_at)


async def test_one_side_alone_never_creates_a_grant(world):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    coselection = CoSelection(world.unit)
    await coselection.decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    await coselection.decide(actor=world.dev_approver2, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    assert (await world.get(Nomination, nomination.id)).state == NominationState.PENDING
    assert await world.count(AccessGrant) == 0


async def test_quorum_of_two_needs_two_distinct_approvers_on_that_side(world):
    model = await world.new_model("quorum-two", developer_quorum=1, government_quorum=2)
    await world.government_ready()
    nomination = await world.nominate(world.government, start=timedelta(hours=1), model=model)
    coselection = CoSelection(world.unit)
    await coselection.decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    once = await coselection.decide(actor=world.gov_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    assert once.grant is None and once.nomination.government_approvals == 1
    twice = await coselection.decide(actor=world.gov_approver2, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    assert twice.grant is not None and twice.nomination.state == NominationState.APPROVED


@pytest.mark.parametrize("vetoer", ["dev_approver", "gov_approver"])
async def test_either_side_vetoes_even_after_the_other_approved(world, vetoer):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    coselection = CoSelection(world.unit)
    other = "gov_approver" if vetoer == "dev_approver" else "dev_approver"
    await coselection.decide(actor=getattr(world, other), nomination_id=nomination.id, verdict=Verdict.APPROVE)
    outcome = await coselection.decide(actor=getattr(world, vetoer), nomination_id=nomination.id,
                                       verdict=Verdict.REJECT, reason="Not a fit for this model.")  # fmt: skip
    assert outcome.nomination.state == NominationState.REJECTED
    assert outcome.nomination.outcome_reason == "Not a fit for this model."
    assert await world.count(AccessGrant) == 0


async def test_a_reject_needs_a_reason(world, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    error = await refused(Invalid, CoSelection(world.unit).decide(
        actor=world.gov_approver, nomination_id=nomination.id, verdict=Verdict.REJECT, reason="   "))  # fmt: skip
    assert error.field == "reason"


async def test_the_nominator_never_decides_on_their_own_nomination(world, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, by=world.dev_approver)
    error = await refused(SelfDecision, CoSelection(world.unit).decide(
        actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE))  # fmt: skip
    assert "nominated this" in error.message


async def test_a_partner_never_decides(world, refused):
    partner, admin = await world.partner()
    nomination = await world.nominate(partner)
    error = await refused(Forbidden, CoSelection(world.unit).decide(
        actor=admin, nomination_id=nomination.id, verdict=Verdict.APPROVE))  # fmt: skip
    assert "partners never decide" in error.message


async def test_a_member_without_the_approver_role_cannot_decide(world, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    await refused(Forbidden, CoSelection(world.unit).decide(
        actor=world.gov_member, nomination_id=nomination.id, verdict=Verdict.APPROVE))  # fmt: skip


async def test_an_approver_decides_once(world, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    coselection = CoSelection(world.unit)
    await coselection.decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    await refused(AlreadyDecided, coselection.decide(
        actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.REJECT, reason="changed my mind"))  # fmt: skip


async def test_a_decided_nomination_takes_no_more_decisions(world, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    await world.approve_both(nomination)
    error = await refused(NotPending, CoSelection(world.unit).decide(
        actor=world.gov_approver2, nomination_id=nomination.id, verdict=Verdict.REJECT, reason="late"))  # fmt: skip
    assert "approved" in error.message


async def test_another_developers_staff_cannot_see_the_nomination(world, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    rival = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Rival", slug="rival")
    outsider = await world.person(rival, "rita", [Role.APPROVER])
    await refused(NotFound, CoSelection(world.unit).decide(
        actor=outsider, nomination_id=nomination.id, verdict=Verdict.APPROVE))  # fmt: skip


async def test_a_nomination_lapses_when_its_start_passes_undecided(world, clock, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner, start=timedelta(days=1))
    clock.advance(timedelta(days=1))
    error = await refused(NotPending, CoSelection(world.unit).decide(
        actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE))  # fmt: skip
    assert "lapsed" in error.message


async def test_withdraw_by_the_nominator_only_and_only_while_pending(world, refused):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    coselection = CoSelection(world.unit)
    await refused(Forbidden, coselection.withdraw(actor=world.dev_approver, nomination_id=nomination.id))
    withdrawn = await coselection.withdraw(actor=world.dev_nominator, nomination_id=nomination.id, reason="dup")
    assert withdrawn.state == NominationState.WITHDRAWN
    await refused(NotPending, coselection.withdraw(actor=world.dev_nominator, nomination_id=nomination.id))


async def test_nominations_for_a_switched_off_model_are_refused(world, refused):
    partner, _ = await world.partner()
    pending = await world.nominate(partner)
    await FrontierModels(world.unit).switch_off(actor=world.gov_admin, model_id=world.model.id, reason="incident")
    assert (await world.get(Nomination, pending.id)).state == NominationState.WITHDRAWN
    assert (await world.get(FrontierModel, world.model.id)).killed_at is not None
    await refused(ModelSwitchedOff, world.nominate(partner, start=timedelta(days=3)))
