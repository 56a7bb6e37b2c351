"""Grants: lists by state, who sees which, "usable at t?", revocation, and extension as a new decision round."""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

from accessdesk.db.tables import Nomination
from tests.support.api import API, assert_problem
from tests.support.scenes import decided, government_grant, iso, partner_grant, partner_member, rival_developer

GRANTS = f"{API}/grants"


async def test_grants_are_listed_by_their_state_at_this_moment(api, world, bearer):
    government = await government_grant(world)
    _, _, scheduled = await partner_grant(world)
    _, _, blocked = await partner_grant(world, nda=False)
    _, _, revoked = await partner_grant(world)
    gov = await bearer(world.gov_admin)
    assert (await api.post(f"{GRANTS}/{revoked.id}/revocation", headers=gov, json={"reason": "breach"})).status_code == 200

    async def ids(state):
        response = await api.get(GRANTS, params={"state": state}, headers=gov)
        assert response.status_code == 200, response.text
        return {g["id"] for g in response.json()["items"]}

    assert await ids("scheduled") == {str(government.id), str(scheduled.id)}
    assert await ids("blocked") == {str(blocked.id)}
    assert await ids("revoked") == {str(revoked.id)}
    assert await ids("active") == set()
    blocked_read = (await api.get(f"{GRANTS}/{blocked.id}", headers=gov)).json()
    assert "nda_missing" in [p["code"] for p in blocked_read["problems"]]
    world.clock.advance(timedelta(days=1, hours=1))
    assert await ids("active") == {str(government.id), str(scheduled.id)}
    assert await ids("scheduled") == set()
    world.clock.advance(timedelta(days=60))
    assert await ids("expired") == {str(government.id), str(scheduled.id), str(blocked.id)}
    assert await ids("revoked") == {str(revoked.id)}
    ended = (await api.get(f"{GRANTS}/{blocked.id}", headers=gov)).json()
    assert [p["code"] for p in ended["problems"]] == ["window_ended"]  # what stops it now


async def test_grants_filter_by_model_and_organisation(api, world, bearer):
    await government_grant(world)
    organisation, _, grant = await partner_grant(world)
    gov = await bearer(world.gov_admin)
    by_org = (await api.get(GRANTS, params={"organisation_id": str(organisation.id)}, headers=gov)).json()["items"]
    assert [g["id"] for g in by_org] == [str(grant.id)]
    by_model = (await api.get(GRANTS, params={"model_id": str(world.model.id)}, headers=gov)).json()["items"]
    assert len(by_model) == 2
    other_model = await world.new_model("nobody-has-it")
    assert (await api.get(GRANTS, params={"model_id": str(other_model.id)}, headers=gov)).json()["items"] == []


async def test_a_partner_sees_only_its_own_grants(api, world, bearer, unchanged):
    government = await government_grant(world)
    _, admin, mine = await partner_grant(world)
    _, _, theirs = await partner_grant(world)
    headers = await bearer(admin)
    listed = (await api.get(GRANTS, headers=headers)).json()["items"]
    assert [g["id"] for g in listed] == [str(mine.id)]
    async with unchanged():
        for grant_id in (theirs.id, government.id, uuid.uuid4()):
            assert_problem(await api.get(f"{GRANTS}/{grant_id}", headers=headers), 404, "not_found")
            assert_problem(await api.get(f"{GRANTS}/{grant_id}/usability", headers=headers), 404, "not_found")


async def test_usability_is_answered_for_any_instant_with_reasons(api, world, bearer):
    await government_grant(world)
    _, admin, grant = await partner_grant(world)
    headers = await bearer(admin)
    path = f"{GRANTS}/{grant.id}/usability"

    now = (await api.get(path, headers=headers)).json()
    assert (now["usable"], now["state"], now["at"]) == (False, "scheduled", iso(world.now))
    assert [r["code"] for r in now["reasons"]] == ["window_not_started"]

    inside_at = grant.starts_at + timedelta(days=1)
    inside = (await api.get(path, params={"at": iso(inside_at)}, headers=headers)).json()
    assert (inside["usable"], inside["state"], inside["reasons"]) == (True, "active", [])
    assert inside["scopes"] == ["model:atlas:invoke"]

    in_new_york = (grant.starts_at + timedelta(days=1)).astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert (await api.get(path, params={"at": in_new_york}, headers=headers)).json()["at"] == iso(inside_at)

    after = (await api.get(path, params={"at": iso(grant.ends_at)}, headers=headers)).json()
    assert (after["usable"], after["state"], [r["code"] for r in after["reasons"]]) == (False, "expired", ["window_ended"])


async def test_usability_refuses_a_malformed_instant(api, world, bearer, unchanged):
    await government_grant(world)
    _, admin, grant = await partner_grant(world)
    headers = await bearer(admin)
    path = f"{GRANTS}/{grant.id}/usability"
    async with unchanged():
        naive = await api.get(path, params={"at": "2026-12-05T09:00:00"}, headers=headers)
        beyond_utc = await api.get(path, params={"at": "0001-01-01T00:30:00+01:00"}, headers=headers)
        not_a_time = await api.get(path, params={"at": "tomorrow"}, headers=headers)
    assert_problem(naive, 422, "invalid", field="at")
    assert_problem(beyond_utc, 422, "invalid", field="at")
    assert_problem(not_a_time, 400, "validation_error", field="at")


async def test_either_side_revokes_at_once(api, world, bearer):
    await government_grant(world)
    _, admin, grant = await partner_grant(world)
    world.clock.advance(timedelta(days=2))
    response = await api.post(f"{GRANTS}/{grant.id}/revocation", headers=await bearer(world.dev_approver),
                              json={"reason": "Suspected key leak."})  # fmt: skip
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["revoke_reason"]) == ("revoked", "Suspected key leak.")
    assert response.json()["revoked_at"] == iso(world.now)
    usability = (await api.get(f"{GRANTS}/{grant.id}/usability", headers=await bearer(admin))).json()
    assert (usability["usable"], [r["code"] for r in usability["reasons"]]) == (False, ["revoked"])


async def test_revocation_refusals_change_nothing(api, world, bearer, unchanged):
    await government_grant(world)
    organisation, partner_admin, grant = await partner_grant(world)
    _, _, rival_approver, _ = await rival_developer(world)
    member = await partner_member(world, organisation)
    path = f"{GRANTS}/{grant.id}/revocation"
    gov_member, partner_, rival = await bearer(world.gov_member), await bearer(partner_admin), await bearer(rival_approver)
    nominator, member_, gov_admin = await bearer(world.dev_nominator), await bearer(member), await bearer(world.gov_admin)
    async with unchanged():
        by_a_government_member = await api.post(path, headers=gov_member, json={"reason": "r"})
        by_a_nominator = await api.post(path, headers=nominator, json={"reason": "r"})
        by_the_partner = await api.post(path, headers=partner_, json={"reason": "r"})
        by_a_partner_member = await api.post(path, headers=member_, json={"reason": "r"})
        by_a_rival_developer = await api.post(path, headers=rival, json={"reason": "r"})
        blank_reason = await api.post(path, headers=gov_admin, json={"reason": ""})
        spaces_for_a_reason = await api.post(path, headers=gov_admin, json={"reason": "   "})
    assert_problem(by_a_government_member, 403, "forbidden")
    assert_problem(by_a_nominator, 403, "forbidden")
    assert_problem(by_the_partner, 403, "forbidden")
    assert_problem(by_a_partner_member, 403, "forbidden")
    assert_problem(by_a_rival_developer, 404, "not_found")
    assert_problem(blank_reason, 400, "validation_error", field="reason")
    assert_problem(spaces_for_a_reason, 422, "invalid", field="reason")


async def test_a_grant_is_revoked_once(api, world, bearer, unchanged):
    await government_grant(world)
    _, _, grant = await partner_grant(world)
    gov, dev = await bearer(world.gov_approver), await bearer(world.dev_approver)
    assert (await api.post(f"{GRANTS}/{grant.id}/revocation", headers=gov, json={"reason": "first"})).status_code == 200
    async with unchanged():
        again = await api.post(f"{GRANTS}/{grant.id}/revocation", headers=dev, json={"reason": "second"})
        unknown = await api.post(f"{GRANTS}/{uuid.uuid4()}/revocation", headers=dev, json={"reason": "?"})
    assert_problem(again, 409, "already_revoked")
    assert_problem(unknown, 404, "not_found")


async def test_an_extension_is_a_new_decision_round_by_both_sides(api, world, bearer):
    await government_grant(world)
    _, admin, grant = await partner_grant(world)
    new_end = grant.ends_at + timedelta(days=20)
    response = await api.post(f"{GRANTS}/{grant.id}/extensions", headers=await bearer(world.dev_nominator),
                              json={"ends_at": iso(new_end), "justification": "The evaluation needs longer."})  # fmt: skip
    assert response.status_code == 201, response.text
    extension = response.json()
    assert (extension["kind"], extension["state"], extension["grant_id"]) == ("extension", "pending", str(grant.id))
    assert (extension["starts_at"], extension["ends_at"]) == (iso(grant.ends_at), iso(new_end))
    nomination = await world.get(Nomination, uuid.UUID(extension["id"]))
    await decided(world, nomination, world.dev_approver, world.gov_approver)
    extended = (await api.get(f"{GRANTS}/{grant.id}", headers=await bearer(admin))).json()
    assert extended["ends_at"] == iso(new_end)


async def test_extension_refusals_change_nothing(api, world, bearer, unchanged):
    await government_grant(world)
    _, partner_admin, grant = await partner_grant(world)
    _, _, revoked = await partner_grant(world)
    gov = await bearer(world.gov_admin)
    assert (await api.post(f"{GRANTS}/{revoked.id}/revocation", headers=gov, json={"reason": "gone"})).status_code == 200
    nominator, partner_ = await bearer(world.dev_nominator), await bearer(partner_admin)
    later = iso(grant.ends_at + timedelta(days=10))
    body = {"ends_at": later, "justification": "More time."}
    async with unchanged():
        of_a_revoked_grant = await api.post(f"{GRANTS}/{revoked.id}/extensions", headers=nominator,
                                            json={**body, "ends_at": iso(revoked.ends_at + timedelta(days=10))})  # fmt: skip
        shorter = await api.post(f"{GRANTS}/{grant.id}/extensions", headers=nominator,
                                 json={**body, "ends_at": iso(grant.ends_at - timedelta(days=1))})  # fmt: skip
        too_long = await api.post(f"{GRANTS}/{grant.id}/extensions", headers=nominator,
                                  json={**body, "ends_at": iso(grant.starts_at + timedelta(days=91))})  # fmt: skip
        by_the_partner = await api.post(f"{GRANTS}/{grant.id}/extensions", headers=partner_, json=body)
        naive = await api.post(f"{GRANTS}/{grant.id}/extensions", headers=nominator,
                               json={**body, "ends_at": "2027-03-01T00:00:00"})  # fmt: skip
    assert_problem(of_a_revoked_grant, 409, "conflict")
    assert_problem(shorter, 422, "invalid", field="ends_at")
    assert_problem(too_long, 422, "invalid", field="ends_at")
    assert_problem(by_the_partner, 403, "forbidden")
    assert_problem(naive, 400, "validation_error", field="ends_at")

    first = await api.post(f"{GRANTS}/{grant.id}/extensions", headers=nominator, json=body)
    assert first.status_code == 201, first.text
    async with unchanged():
        second = await api.post(f"{GRANTS}/{grant.id}/extensions", headers=nominator, json=body)
    assert_problem(second, 409, "conflict")
