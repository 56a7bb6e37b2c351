"""Co-selection refused: nominations that break a window or visibility rule, and decisions nobody may take.

Every refusal is checked three ways: the status, the problem body (detail and code, and the field for 422), and
that nothing changed anywhere (no nomination, decision, grant, audit event or outbox message)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.support.api import API, assert_problem
from tests.support.scenes import decided, government_grant, iso, partner, pending, rival_developer

NOMINATIONS = f"{API}/nominations"


def proposal(world, organisation, *, model=None, start=timedelta(days=1), days=30, **overrides):
    starts_at = world.now + start
    return {"model_id": str((model or world.model).id), "organisation_id": str(organisation.id),
            "starts_at": iso(starts_at), "ends_at": iso(starts_at + timedelta(days=days)), "actions": ["invoke"],
            "justification": "Pre-release evaluation.", **overrides}  # fmt: skip


@pytest.fixture
async def nominator(bearer, world):
    return await bearer(world.dev_nominator)


async def test_a_window_must_end_after_it_starts_and_last_at_most_the_models_maximum(api, world, nominator, unchanged):
    organisation, _ = await partner(world)
    starts_at = world.now + timedelta(days=2)
    async with unchanged():
        ends_first = await api.post(NOMINATIONS, headers=nominator, json=proposal(
            world, organisation, starts_at=iso(starts_at), ends_at=iso(starts_at - timedelta(hours=1))))
        zero_length = await api.post(NOMINATIONS, headers=nominator, json=proposal(
            world, organisation, starts_at=iso(starts_at), ends_at=iso(starts_at)))
        too_long = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, days=91))
        in_the_past = await api.post(NOMINATIONS, headers=nominator,
                                     json=proposal(world, organisation, start=-timedelta(minutes=1)))  # fmt: skip
    assert_problem(ends_first, 422, "invalid", field="ends_at")
    assert_problem(zero_length, 422, "invalid", field="ends_at")
    body = assert_problem(too_long, 422, "invalid", field="ends_at")
    assert "90 days" in body["detail"]
    assert_problem(in_the_past, 422, "invalid", field="starts_at")
    exactly_the_maximum = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, days=90))
    assert exactly_the_maximum.status_code == 201, exactly_the_maximum.text


async def test_government_access_starts_no_earlier_than_30_days_before_the_planned_release(api, world, nominator,
                                                                                           unchanged):  # fmt: skip
    model = await world.new_model("distant", release_in=timedelta(days=60))
    floor = model.planned_release_at - timedelta(days=30)
    early = proposal(world, world.government, model=model, starts_at=iso(floor - timedelta(seconds=1)),
                     ends_at=iso(floor + timedelta(days=10)))  # fmt: skip
    async with unchanged():
        too_early = await api.post(NOMINATIONS, headers=nominator, json=early)
    body = assert_problem(too_early, 422, "outside_window", field="starts_at")
    assert "30 days" in body["detail"]
    on_the_day = proposal(world, world.government, model=model, starts_at=iso(floor),
                          ends_at=iso(floor + timedelta(days=10)))  # fmt: skip
    accepted = await api.post(NOMINATIONS, headers=nominator, json=on_the_day)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["starts_at"] == iso(floor)


async def test_a_partner_may_not_start_before_the_government(api, world, nominator, unchanged):
    grant = await government_grant(world, start=timedelta(days=3))
    organisation, _ = await partner(world)
    async with unchanged():
        before = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, start=timedelta(days=2)))
    assert_problem(before, 422, "outside_window", field="starts_at")
    assert grant.starts_at == world.now + timedelta(days=3)


async def test_nominating_what_one_cannot_see_is_404(api, world, nominator, unchanged):
    organisation, _ = await partner(world)
    _, _, _, rival_model = await rival_developer(world)
    async with unchanged():
        unknown_model = await api.post(NOMINATIONS, headers=nominator,
                                       json=proposal(world, organisation, model_id=str(uuid.uuid4())))  # fmt: skip
        rivals_model = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, model=rival_model))
        unknown_organisation = await api.post(
            NOMINATIONS, headers=nominator, json=proposal(world, organisation, organisation_id=str(uuid.uuid4())))
    assert_problem(unknown_model, 404, "not_found")
    assert_problem(rivals_model, 404, "not_found")
    assert_problem(unknown_organisation, 404, "not_found")


async def test_other_nominations_that_are_refused(api, world, bearer, nominator, unchanged):
    organisation, partner_admin = await partner(world)
    held = await pending(world, organisation, start=timedelta(days=1), days=30)
    killed = await world.new_model("retired")
    gov_admin, partner_, member = await bearer(world.gov_admin), await bearer(partner_admin), await bearer(world.gov_member)
    switched = await api.post(f"{API}/models/{killed.id}/switch-off", headers=gov_admin, json={"reason": "retired"})
    in_5_days, in_40_days = timedelta(days=5), timedelta(days=40)
    assert switched.status_code == 200
    async with unchanged():
        overlapping = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, start=in_5_days))
        a_developer = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, world.developer))
        switched_off = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, model=killed))
        by_the_partner = await api.post(NOMINATIONS, headers=partner_, json=proposal(world, organisation, start=in_40_days))
        by_a_member = await api.post(NOMINATIONS, headers=member, json=proposal(world, organisation, start=in_40_days))
        blank_reason = await api.post(NOMINATIONS, headers=nominator,
                                      json=proposal(world, organisation, start=in_40_days, justification="  "))  # fmt: skip
    assert_problem(overlapping, 409, "overlap")
    # It names what it overlaps, so that the nominator can go and look.
    assert overlapping.json()["conflicting"] == {"kind": "nomination", "id": str(held.id),
                                                 "href": f"{NOMINATIONS}/{held.id}"}
    assert "pending nomination" in overlapping.json()["detail"] and " UTC)" in overlapping.json()["detail"]
    assert_problem(a_developer, 422, "invalid", field="organisation_id")
    assert_problem(switched_off, 409, "model_switched_off")
    assert_problem(by_the_partner, 403, "forbidden")
    assert_problem(by_a_member, 403, "forbidden")
    assert_problem(blank_reason, 422, "invalid", field="justification")


async def test_malformed_nominations_are_400(api, world, nominator, unchanged):
    organisation, _ = await partner(world)
    async with unchanged():
        naive = await api.post(NOMINATIONS, headers=nominator,
                               json=proposal(world, organisation, starts_at="2026-12-05T09:00:00"))  # fmt: skip
        no_actions = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, actions=[]))
        unknown_action = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, actions=["own"]))
        not_a_uuid = await api.post(NOMINATIONS, headers=nominator, json=proposal(world, organisation, model_id="atlas"))
        a_string_for_a_list = await api.post(NOMINATIONS, headers=nominator,
                                             json=proposal(world, organisation, actions="invoke"))  # fmt: skip
        not_json = await api.post(NOMINATIONS, headers={**nominator, "Content-Type": "application/json"}, content=b"{nope")
        an_array = await api.post(NOMINATIONS, headers=nominator, json=[proposal(world, organisation)])
    assert_problem(naive, 400, "validation_error", field="starts_at")
    assert_problem(no_actions, 400, "validation_error", field="actions")
    assert_problem(unknown_action, 400, "validation_error", field="actions[0]")
    assert_problem(not_a_uuid, 400, "validation_error", field="model_id")
    assert_problem(a_string_for_a_list, 400, "validation_error", field="actions")
    assert_problem(not_json, 400, "malformed_body")
    assert_problem(an_array, 400, "validation_error")


async def test_the_nominator_never_decides_on_their_own_nomination(api, world, bearer, unchanged):
    organisation, _ = await partner(world)
    nomination = await pending(world, organisation, by=world.dev_admin)
    headers = await bearer(world.dev_admin)
    async with unchanged():
        response = await api.post(f"{NOMINATIONS}/{nomination.id}/decisions", headers=headers, json={"verdict": "approve"})
    body = assert_problem(response, 403, "self_decision")
    assert "nominated" in body["detail"]


async def test_a_partner_never_decides(api, world, bearer, unchanged):
    organisation, admin = await partner(world)
    nomination = await pending(world, organisation)
    headers = await bearer(admin)
    async with unchanged():
        own = await api.post(f"{NOMINATIONS}/{nomination.id}/decisions", headers=headers, json={"verdict": "approve"})
    assert_problem(own, 403, "forbidden")


async def test_an_approver_of_another_developer_cannot_even_see_the_nomination(api, world, bearer, unchanged):
    organisation, _ = await partner(world)
    nomination = await pending(world, organisation)
    _, _, rival_approver, _ = await rival_developer(world)
    headers = await bearer(rival_approver)
    async with unchanged():
        decision = await api.post(f"{NOMINATIONS}/{nomination.id}/decisions", headers=headers, json={"verdict": "approve"})
        read = await api.get(f"{NOMINATIONS}/{nomination.id}", headers=headers)
    assert_problem(decision, 404, "not_found")
    assert_problem(read, 404, "not_found")


async def test_an_approver_decides_once(api, world, bearer, unchanged):
    organisation, _ = await partner(world)
    nomination = await pending(world, organisation)
    await decided(world, nomination, world.dev_approver)
    headers = await bearer(world.dev_approver)
    async with unchanged():
        again = await api.post(f"{NOMINATIONS}/{nomination.id}/decisions", headers=headers,
                               json={"verdict": "reject", "reason": "changed my mind"})  # fmt: skip
    assert_problem(again, 409, "already_decided")


async def test_no_decision_after_the_outcome(api, world, bearer, unchanged):
    organisation, _ = await partner(world)
    approved = await pending(world, organisation, start=timedelta(days=1), days=5)
    await decided(world, approved, world.dev_approver, world.gov_approver)
    lapsing = await pending(world, organisation, start=timedelta(hours=1), days=0.5)
    world.clock.advance(timedelta(hours=2))
    latecomer = await bearer(world.dev_approver2)
    async with unchanged():
        after_approval = await api.post(f"{NOMINATIONS}/{approved.id}/decisions", headers=latecomer,
                                        json={"verdict": "approve"})  # fmt: skip
        after_lapse = await api.post(f"{NOMINATIONS}/{lapsing.id}/decisions", headers=latecomer, json={"verdict": "approve"})
    assert_problem(after_approval, 409, "not_pending")
    assert_problem(after_lapse, 409, "not_pending")


async def test_other_decisions_that_are_refused(api, world, bearer, unchanged):
    organisation, _ = await partner(world)
    nomination = await pending(world, organisation)
    approver, member = await bearer(world.gov_approver), await bearer(world.gov_member)
    nominator = await bearer(world.dev_nominator)
    path = f"{NOMINATIONS}/{nomination.id}/decisions"
    async with unchanged():
        reject_without_reason = await api.post(path, headers=approver, json={"verdict": "reject"})
        reject_with_blank_reason = await api.post(path, headers=approver, json={"verdict": "reject", "reason": "   "})
        by_a_member = await api.post(path, headers=member, json={"verdict": "approve"})
        by_a_nominator = await api.post(path, headers=nominator, json={"verdict": "approve"})
        unknown_nomination = await api.post(f"{NOMINATIONS}/{uuid.uuid4()}/decisions", headers=approver,
                                            json={"verdict": "approve"})  # fmt: skip
        unknown_verdict = await api.post(path, headers=approver, json={"verdict": "abstain"})
        reason_not_text = await api.post(path, headers=approver, json={"verdict": "reject", "reason": 7})
    assert_problem(reject_without_reason, 422, "invalid", field="reason")
    assert_problem(reject_with_blank_reason, 422, "invalid", field="reason")
    assert_problem(by_a_member, 403, "forbidden")
    assert_problem(by_a_nominator, 403, "forbidden")
    assert_problem(unknown_nomination, 404, "not_found")
    assert_problem(unknown_verdict, 400, "validation_error", field="verdict")
    assert_problem(reason_not_text, 400, "validation_error", field="reason")
