"""Step-up for weighty approvals, in the domain (domain.step_up, checked by CoSelection.decide and decision_effect):
approving access to a high-tier model, or to any model whose ``approval_step_up_minutes`` asks for it, needs a
sign-in younger than that (15 minutes for a high-tier model unless it says otherwise). The one deciding proves it
(a delegate their own sign-in), a rejection never needs it, and a refused approval records nothing. The surfaces'
tests (console, API, Slack) follow the refusal to the page that completes the approval."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.errors import StepUpRequired
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.step_up import HIGH_TIER_STEP_UP, approval_step_up
from accessdesk.domain.vocabulary import Tier, Verdict

MINUTE = timedelta(minutes=1)
WHY = "approving access to atlas needs a sign-in within the last 15 minutes: sign in again and approve in the console"


async def high_tier(world):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id, changes={"tier": "high"})
    organisation, _ = await world.partner()
    return await world.nominate(organisation)


async def test_approving_for_a_high_tier_model_needs_a_sign_in_younger_than_15_minutes(world, refused):
    nomination = await high_tier(world)
    signed_in = world.dev_approver.signed_in_at(world.now - 15 * MINUTE - timedelta(seconds=1))
    for stale in (world.dev_approver, signed_in):  # no sign-in at all (a click, a token), or one too old
        error = await refused(StepUpRequired, CoSelection(world.unit).decide(
            actor=stale, nomination_id=nomination.id, verdict=Verdict.APPROVE))  # fmt: skip
        assert (str(error), error.code) == (WHY, "step_up_required")
        assert (error.nomination_id, error.within_minutes) == (nomination.id, 15)
    # decision_effect (what the console's confirmation page says) refuses the same way, before anything is asked.
    await refused(StepUpRequired, CoSelection(world.unit).decision_effect(
        actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE))  # fmt: skip
    just_in_time = world.dev_approver.signed_in_at(world.now - 15 * MINUTE)
    outcome = await CoSelection(world.unit).decide(actor=just_in_time, nomination_id=nomination.id,
                                                   verdict=Verdict.APPROVE)  # fmt: skip
    assert outcome.decision.verdict == Verdict.APPROVE.value


async def test_a_rejection_never_needs_a_recent_sign_in(world):
    nomination = await high_tier(world)
    outcome = await CoSelection(world.unit).decide(actor=world.gov_approver, nomination_id=nomination.id,
                                                   verdict=Verdict.REJECT, reason="Not this time.")  # fmt: skip
    assert outcome.nomination.state == "rejected"


@pytest.mark.parametrize(("tier", "minutes", "needs"), [
    (Tier.STANDARD, None, None), (Tier.STANDARD, 30, timedelta(minutes=30)), (Tier.HIGH, None, HIGH_TIER_STEP_UP),
    (Tier.HIGH, 120, timedelta(minutes=120)),
])  # fmt: skip
async def test_the_models_setting_or_its_tier_says_how_recent(world, tier, minutes, needs):
    model = await world.new_model("orion", tier=tier, approval_step_up_minutes=minutes)
    assert approval_step_up(model) == needs


async def test_a_standard_model_asking_for_it_refuses_an_old_sign_in_and_takes_a_recent_one(world, refused):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"approval_step_up_minutes": 5})  # fmt: skip
    organisation, _ = await world.partner()
    nomination = await world.nominate(organisation)
    old = world.gov_approver.signed_in_at(world.now - 6 * MINUTE)
    error = await refused(StepUpRequired, CoSelection(world.unit).decide(actor=old, nomination_id=nomination.id,
                                                                         verdict=Verdict.APPROVE))  # fmt: skip
    assert error.within_minutes == 5 and "within the last 5 minutes" in str(error)
    recent = world.gov_approver.signed_in_at(world.now - 4 * MINUTE)
    await CoSelection(world.unit).decide(actor=recent, nomination_id=nomination.id, verdict=Verdict.APPROVE)


async def test_a_delegate_proves_their_own_sign_in_not_the_approvers(world, refused):
    nomination = await high_tier(world)
    await Delegations(world.unit).create(actor=world.gov_approver, delegate_id=world.gov_approver2.user_id,
                                         starts_at=world.now, ends_at=world.now + timedelta(days=3))  # fmt: skip
    await refused(StepUpRequired, CoSelection(world.unit).decide(
        actor=world.gov_approver2, nomination_id=nomination.id, verdict=Verdict.APPROVE,
        on_behalf_of=world.gov_approver.user_id))  # fmt: skip
    outcome = await CoSelection(world.unit).decide(actor=world.fresh(world.gov_approver2), nomination_id=nomination.id,
                                                   verdict=Verdict.APPROVE, on_behalf_of=world.gov_approver.user_id)  # fmt: skip
    assert (outcome.decision.approver_id, outcome.decision.decided_by) == (world.gov_approver.user_id,
                                                                           world.gov_approver2.user_id)  # fmt: skip
