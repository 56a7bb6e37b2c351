"""The JSON API's decision options (issue 18): a token proves no recent sign-in, so approving access to a high-tier
model (or one whose setting asks for it) is refused with 403 ``step_up_required`` naming the console page that
completes it; rejecting never needs one. ``on_behalf_of`` decides in the name of someone whose delegation is in
force, recorded with who took it; ``reason_shared`` shares a rejection's reason with the partner. Staff read both on
each decision; a partner reads the decisions as before. Every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import Decision, Delegation
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.vocabulary import Tier
from tests.support.api import API, assert_problem
from tests.support.scenes import partner, pending

NOMINATIONS = f"{API}/nominations"
CONSOLE = "http://127.0.0.1:8000"  # the base URL the api fixture's app runs with
PARTNERS_DECISION = {"id", "approver_id", "side", "verdict", "reason", "created_at"}


async def delegated(world, giver, taker) -> Delegation:
    return await Delegations(world.unit).create(actor=giver, delegate_id=taker.person_id, starts_at=world.now,
                                                ends_at=world.now + timedelta(days=7))  # fmt: skip


async def decisions_of(world, nomination_id) -> list[Decision]:
    stmt = select(Decision).where(Decision.nomination_id == nomination_id).execution_options(populate_existing=True)
    return list((await world.unit.session.exec(stmt)).all())


def decisions(nomination) -> str:
    return f"{NOMINATIONS}/{nomination.id}/decisions"


async def test_a_token_approving_a_high_tier_model_is_sent_to_the_console_and_rejecting_is_not(api, world, bearer,
                                                                                              unchanged):  # fmt: skip
    helios = await world.new_model("helios", tier=Tier.HIGH)
    nomination = await world.nominate(world.government, model=helios)
    approver = await bearer(world.dev_approver)
    async with unchanged():
        refused = await api.post(decisions(nomination), headers=approver, json={"verdict": "approve", "reason": "Fine."})
    body = assert_problem(refused, 403, "step_up_required")
    page = f"{CONSOLE}/console/nominations/{nomination.id}/approve"
    assert body["detail"] == ("approving access to helios needs a sign-in within the last 15 minutes: sign in again "
                              f"and approve in the console: {page}")  # fmt: skip
    assert (body["approve_url"], body["within_minutes"]) == (page, 15)

    rejected = await api.post(decisions(nomination), headers=await bearer(world.gov_approver),
                              json={"verdict": "reject", "reason": "Not this quarter."})  # fmt: skip
    assert rejected.status_code == 201, rejected.text
    assert rejected.json()["nomination"]["state"] == "rejected"


async def test_a_standard_model_needs_no_recent_sign_in_unless_its_setting_asks(api, world, bearer, unchanged):
    first = await world.nominate(world.government)
    approved = await api.post(decisions(first), headers=await bearer(world.dev_approver), json={"verdict": "approve"})
    assert approved.status_code == 201, approved.text
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"approval_step_up_minutes": 30})  # fmt: skip
    government = await bearer(world.gov_approver)
    async with unchanged():
        refused = await api.post(decisions(first), headers=government, json={"verdict": "approve"})
    body = assert_problem(refused, 403, "step_up_required")
    assert body["within_minutes"] == 30 and "within the last 30 minutes" in body["detail"]
    assert [d.approver_id for d in await decisions_of(world, first.id)] == [world.dev_approver.user_id]


async def test_a_delegate_decides_in_the_approvers_name_and_staff_read_who_did(api, world, bearer):
    delegation = await delegated(world, world.dev_approver, world.dev_approver2)
    organisation, partner_admin = await partner(world)
    nomination = await pending(world, organisation)
    response = await api.post(decisions(nomination), headers=await bearer(world.dev_approver2),
                              json={"verdict": "approve", "on_behalf_of": str(world.dev_approver.user_id)})  # fmt: skip
    assert response.status_code == 201, response.text
    decision = response.json()["decision"]
    assert (decision["approver_id"], decision["decided_by"], decision["delegation_id"], decision["reason_shared"]) == (
        str(world.dev_approver.user_id), str(world.dev_approver2.user_id), str(delegation.id), False)  # fmt: skip
    [row] = await decisions_of(world, nomination.id)
    assert (row.approver_id, row.decided_by, row.delegation_id) == (
        world.dev_approver.user_id, world.dev_approver2.user_id, delegation.id)  # fmt: skip

    staff = (await api.get(f"{NOMINATIONS}/{nomination.id}", headers=await bearer(world.gov_admin))).json()
    [read] = staff["decisions"]
    assert (read["decided_by"], read["delegation_id"]) == (str(world.dev_approver2.user_id), str(delegation.id))
    partners = (await api.get(f"{NOMINATIONS}/{nomination.id}", headers=await bearer(partner_admin))).json()
    [theirs] = partners["decisions"]
    assert set(theirs) == PARTNERS_DECISION  # a partner reads a decision as before: no delegation, no sharing


async def test_deciding_in_ones_own_name_through_on_behalf_of_is_no_delegation(api, world, bearer):
    nomination = await world.nominate(world.government)
    response = await api.post(decisions(nomination), headers=await bearer(world.dev_approver),
                              json={"verdict": "approve", "on_behalf_of": str(world.dev_approver.user_id)})  # fmt: skip
    assert response.status_code == 201, response.text
    assert (response.json()["decision"]["decided_by"], response.json()["decision"]["delegation_id"]) == (None, None)


async def test_a_delegation_never_lets_one_person_count_twice_nor_decide_their_own(api, world, bearer, unchanged):
    await delegated(world, world.dev_approver, world.dev_approver2)
    organisation, _ = await partner(world)
    nomination = await pending(world, organisation)
    own = await world.nominate(world.government, by=world.dev_approver2)
    delegate = await bearer(world.dev_approver2)
    giver = await bearer(world.dev_approver)
    as_giver = {"verdict": "approve", "on_behalf_of": str(world.dev_approver.user_id)}
    async with unchanged():
        own_nomination = await api.post(decisions(own), headers=delegate, json=as_giver)
        stranger = await api.post(decisions(nomination), headers=delegate,
                                  json={"verdict": "approve", "on_behalf_of": str(world.gov_approver.user_id)})  # fmt: skip
        undelegated = await api.post(decisions(nomination), headers=delegate, json={
            "verdict": "approve", "on_behalf_of": str(world.dev_admin.user_id)})  # fmt: skip
    body = assert_problem(own_nomination, 403, "self_decision")
    assert body["detail"] == "you nominated this; someone else must decide on it, in anyone's name"
    assert assert_problem(stranger, 403, "forbidden")["detail"] == "you hold no delegation in force from that person"
    assert assert_problem(undelegated, 403, "forbidden")["detail"] == "you hold no delegation in force from that person"

    assert (await api.post(decisions(nomination), headers=delegate, json=as_giver)).status_code == 201
    async with unchanged():
        again_as_self = await api.post(decisions(nomination), headers=delegate, json={"verdict": "approve"})
        again_as_giver = await api.post(decisions(nomination), headers=delegate, json=as_giver)
        giver_too = await api.post(decisions(nomination), headers=giver, json={"verdict": "reject", "reason": "No."})
    assert assert_problem(again_as_self, 409, "already_decided")["detail"] == "you have already decided on this nomination"
    assert assert_problem(again_as_giver, 409, "already_decided")
    assert assert_problem(giver_too, 409, "already_decided")  # the approver was counted, whoever decided for them
    assert len(await decisions_of(world, nomination.id)) == 1


async def test_a_delegates_token_approving_a_high_tier_model_is_sent_to_the_console_too(api, world, bearer, unchanged):
    await delegated(world, world.dev_approver, world.dev_approver2)
    helios = await world.new_model("helios", tier=Tier.HIGH)
    nomination = await world.nominate(world.government, model=helios)
    delegate = await bearer(world.dev_approver2)
    async with unchanged():
        refused = await api.post(decisions(nomination), headers=delegate,
                                 json={"verdict": "approve", "on_behalf_of": str(world.dev_approver.user_id)})  # fmt: skip
    assert assert_problem(refused, 403, "step_up_required")["approve_url"].endswith(
        f"/console/nominations/{nomination.id}/approve")  # fmt: skip


async def test_only_a_rejections_reason_is_shared_and_staff_read_whether_it_was(api, world, bearer):
    organisation, partner_admin = await partner(world)
    rejected = await pending(world, organisation)
    other, _ = await partner(world)
    approved = await pending(world, other)
    shared = await api.post(decisions(rejected), headers=await bearer(world.gov_approver),
                            json={"verdict": "reject", "reason": "Export controls.", "reason_shared": True})  # fmt: skip
    kept = await api.post(decisions(approved), headers=await bearer(world.gov_approver),
                          json={"verdict": "approve", "reason": "Fine.", "reason_shared": True})  # fmt: skip
    assert shared.status_code == kept.status_code == 201, (shared.text, kept.text)
    assert (shared.json()["decision"]["reason_shared"], kept.json()["decision"]["reason_shared"]) == (True, False)
    [shared_row], [kept_row] = await decisions_of(world, rejected.id), await decisions_of(world, approved.id)
    assert (shared_row.reason_shared, kept_row.reason_shared) == (True, False)

    internal_nomination = await pending(world, organisation, start=timedelta(days=40))
    internal = await api.post(decisions(internal_nomination), headers=await bearer(world.dev_approver),
                              json={"verdict": "reject", "reason": "Internal."})  # fmt: skip
    assert internal.json()["decision"]["reason_shared"] is False
    staff = (await api.get(f"{NOMINATIONS}/{rejected.id}", headers=await bearer(world.dev_admin))).json()
    assert staff["decisions"][0]["reason_shared"] is True
    partners = (await api.get(f"{NOMINATIONS}/{rejected.id}", headers=await bearer(partner_admin))).json()
    assert set(partners["decisions"][0]) == PARTNERS_DECISION
