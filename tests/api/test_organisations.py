"""Organisations, their e-mail domains and people, partner vetting, and changing a user."""

from __future__ import annotations

import uuid

from tests.support.api import API, assert_problem
from tests.support.scenes import partner, partner_member

ORGS = f"{API}/organisations"


async def test_staff_list_every_organisation_and_filter_by_kind_and_vetting(api, world, bearer):
    vetted, _ = await partner(world)
    invited, _ = await partner(world, vetted=False)
    headers = await bearer(world.dev_approver)

    everyone = (await api.get(ORGS, headers=headers)).json()["items"]
    assert {o["slug"] for o in everyone} == {"acme", "aiso", vetted.slug, invited.slug}
    partners = (await api.get(ORGS, params={"kind": "partner"}, headers=headers)).json()["items"]
    assert {o["slug"] for o in partners} == {vetted.slug, invited.slug}
    waiting = (await api.get(ORGS, params={"vetting": "invited"}, headers=headers)).json()["items"]
    assert [o["slug"] for o in waiting] == [invited.slug]


async def test_a_partner_sees_only_itself(api, world, bearer):
    mine, admin = await partner(world)
    other, _ = await partner(world)
    headers = await bearer(admin)
    listed = (await api.get(ORGS, headers=headers)).json()["items"]
    assert [o["id"] for o in listed] == [str(mine.id)]
    assert (await api.get(f"{ORGS}/{mine.id}", headers=headers)).status_code == 200
    assert_problem(await api.get(f"{ORGS}/{other.id}", headers=headers), 404, "not_found")
    assert_problem(await api.get(f"{ORGS}/{world.developer.id}", headers=headers), 404, "not_found")


async def test_organisations_page_with_a_cursor(api, world, bearer):
    for _ in range(3):
        await partner(world, vetted=False, nda=False, attested=False)
    headers = await bearer(world.gov_admin)
    seen, cursor = [], None
    while True:
        page = (await api.get(ORGS, params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=headers)).json()
        assert len(page["items"]) <= 2
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


async def test_a_government_admin_registers_a_partner(api, world, bearer, engine):
    response = await api.post(ORGS, headers=await bearer(world.gov_admin), json={
        "name": "Frontier Evals", "slug": "frontier-evals", "domains": ["Evals.Example"], "sector": "research",
        "country": "GB", "contact_name": "Fran", "contact_email": "Fran@Evals.Example",
    })  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "partner"
    assert body["vetting_state"] == "invited"
    assert body["contact_email"] == "fran@evals.example"
    assert (await api.get(f"{ORGS}/{body['id']}", headers=await bearer(world.dev_admin))).json()["name"] == "Frontier Evals"


async def test_registering_an_organisation_is_refused_without_changing_anything(api, world, bearer, unchanged):
    taken, _ = await partner(world)
    gov, dev_approver = await bearer(world.gov_admin), await bearer(world.dev_approver)
    async with unchanged():
        as_developer_kind = await api.post(ORGS, headers=gov, json={"name": "Lab", "slug": "lab", "kind": "developer"})
        without_permission = await api.post(ORGS, headers=dev_approver, json={"name": "P", "slug": "p"})
        duplicate_slug = await api.post(ORGS, headers=gov, json={"name": "Again", "slug": taken.slug})
        claimed_domain = await api.post(ORGS, headers=gov, json={"name": "D", "slug": "d", "domains": ["acme.test"]})
        bad_domain = await api.post(ORGS, headers=gov, json={"name": "D", "slug": "d", "domains": ["not a domain"]})
        blank_name = await api.post(ORGS, headers=gov, json={"name": "   ", "slug": "blank"})
        bad_slug = await api.post(ORGS, headers=gov, json={"name": "Upper", "slug": "Upper Case"})
        slug_with_a_newline = await api.post(ORGS, headers=gov, json={"name": "Sly", "slug": "sly\n"})
        unknown_field = await api.post(ORGS, headers=gov, json={"name": "X", "slug": "x", "colour": "blue"})
        wrong_type = await api.post(ORGS, headers=gov, json={"name": 42, "slug": "x"})
        nul_in_name = await api.post(ORGS, headers=gov, json={"name": "a\u0000b", "slug": "nul"})
    assert_problem(as_developer_kind, 403, "forbidden")
    assert_problem(without_permission, 403, "forbidden")
    assert_problem(duplicate_slug, 409, "conflict")
    assert_problem(claimed_domain, 409, "conflict")
    assert_problem(bad_domain, 422, "invalid", field="domains")
    assert_problem(blank_name, 422, "invalid", field="name")
    assert_problem(bad_slug, 400, "validation_error", field="slug")
    assert_problem(slug_with_a_newline, 400, "validation_error", field="slug")
    assert_problem(unknown_field, 400, "validation_error")
    assert_problem(wrong_type, 400, "validation_error", field="name")
    assert_problem(nul_in_name, 400, "validation_error", field="name")


async def test_a_missing_body_field_is_named(api, world, bearer, unchanged):
    headers = await bearer(world.gov_admin)
    async with unchanged():
        response = await api.post(ORGS, headers=headers, json={"name": "No slug"})
    assert_problem(response, 400, "validation_error", field="slug")


async def test_a_domain_is_added_once(api, world, bearer, unchanged):
    organisation, admin = await partner(world)
    headers = await bearer(admin)
    added = await api.post(f"{ORGS}/{organisation.id}/domains", headers=headers, json={"domain": "labs.example"})
    assert added.status_code == 201, added.text
    async with unchanged():
        again = await api.post(f"{ORGS}/{organisation.id}/domains", headers=headers, json={"domain": "labs.example"})
        someone_elses = await api.post(f"{ORGS}/{world.developer.id}/domains", headers=headers,
                                       json={"domain": "other.example"})  # fmt: skip
    assert_problem(again, 409, "conflict")
    assert_problem(someone_elses, 404, "not_found")


async def test_users_are_listed_and_added_with_roles(api, world, bearer, unchanged):
    organisation, admin = await partner(world)
    headers = await bearer(admin)
    created = await api.post(f"{ORGS}/{organisation.id}/users", headers=headers,
                             json={"email": "Ops@Example.org", "name": "Ops", "roles": ["member", "auditor"]})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "ops@example.org"
    assert created.json()["roles"] == ["auditor", "member"]
    listed = (await api.get(f"{ORGS}/{organisation.id}/users", headers=headers)).json()
    assert [u["email"] for u in listed] == sorted(u["email"] for u in listed)
    assert {u["email"] for u in listed} == {admin.label, "ops@example.org"}
    member = await bearer(await partner_member(world, organisation))
    async with unchanged():
        duplicate = await api.post(f"{ORGS}/{organisation.id}/users", headers=headers,
                                   json={"email": "ops@example.org", "name": "Twin"})  # fmt: skip
        bad_email = await api.post(f"{ORGS}/{organisation.id}/users", headers=headers,
                                   json={"email": "nobody", "name": "Nobody"})  # fmt: skip
        unknown_role = await api.post(f"{ORGS}/{organisation.id}/users", headers=headers,
                                      json={"email": "x@example.org", "name": "X", "roles": ["king"]})  # fmt: skip
        by_a_member = await api.post(f"{ORGS}/{organisation.id}/users", headers=member,
                                     json={"email": "y@example.org", "name": "Y"})  # fmt: skip
        other_org = await api.get(f"{ORGS}/{world.government.id}/users", headers=headers)
    assert_problem(duplicate, 409, "conflict")
    assert_problem(bad_email, 422, "invalid", field="email")
    assert_problem(unknown_role, 400, "validation_error", field="roles[0]")
    assert_problem(by_a_member, 403, "forbidden")
    assert_problem(other_org, 404, "not_found")


async def test_a_partner_is_vetted_submission_then_decision(api, world, bearer):
    organisation, admin = await partner(world, vetted=False)
    submitted = await api.post(f"{ORGS}/{organisation.id}/vetting/submission", headers=await bearer(admin),
                               json={"submission": "Who we are and how we protect model weights."})  # fmt: skip
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["vetting_state"] == "submitted"
    decided = await api.post(f"{ORGS}/{organisation.id}/vetting/decision", headers=await bearer(world.gov_admin),
                             json={"outcome": "vetted"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert decided.json()["vetting_state"] == "vetted"
    assert decided.json()["vetting_changed_at"] == "2026-12-01T12:00:00Z"


async def test_vetting_refusals_change_nothing(api, world, bearer, unchanged):
    invited, invited_admin = await partner(world, vetted=False)
    vetted, vetted_admin = await partner(world)
    gov, developer = await bearer(world.gov_admin), await bearer(world.dev_admin)
    other_partner = await bearer(vetted_admin)
    async with unchanged():
        decided_before_submission = await api.post(f"{ORGS}/{invited.id}/vetting/decision", headers=gov,
                                                   json={"outcome": "vetted"})  # fmt: skip
        declined_without_reason = await api.post(f"{ORGS}/{vetted.id}/vetting/decision", headers=gov,
                                                 json={"outcome": "declined"})  # fmt: skip
        outcome_not_a_decision = await api.post(f"{ORGS}/{vetted.id}/vetting/decision", headers=gov,
                                                json={"outcome": "invited"})  # fmt: skip
        by_the_developer = await api.post(f"{ORGS}/{vetted.id}/vetting/decision", headers=developer,
                                          json={"outcome": "declined", "reason": "no"})  # fmt: skip
        for_another_partner = await api.post(f"{ORGS}/{invited.id}/vetting/submission", headers=other_partner,
                                             json={"submission": "not ours"})  # fmt: skip
        unknown_outcome = await api.post(f"{ORGS}/{vetted.id}/vetting/decision", headers=gov,
                                         json={"outcome": "maybe"})  # fmt: skip
    assert_problem(decided_before_submission, 409, "conflict")
    assert_problem(declined_without_reason, 422, "invalid", field="reason")
    assert_problem(outcome_not_a_decision, 422, "invalid", field="outcome")
    assert_problem(by_the_developer, 403, "forbidden")  # vetting is the government's screening
    assert_problem(for_another_partner, 404, "not_found")
    assert_problem(unknown_outcome, 400, "validation_error", field="outcome")
    assert invited_admin  # the invited partner's admin exists but did not submit


async def test_an_admin_changes_roles_of_a_partner_user(api, world, bearer):
    organisation, _ = await partner(world)
    member = await partner_member(world, organisation)
    response = await api.patch(f"{API}/users/{member.user_id}", headers=await bearer(world.gov_admin),
                               json={"roles": ["admin", "member"]})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["admin", "member"]
    me = (await api.get(f"{API}/me", headers=await bearer(member))).json()
    assert "ndas:accept" in me["permissions"]


async def test_changing_a_user_is_refused_without_changing_anything(api, world, bearer, unchanged):
    organisation, admin = await partner(world)
    other, _ = await partner(world)
    stranger = await partner_member(world, other, "sam")
    mine, gov, dev = await bearer(admin), await bearer(world.gov_admin), await bearer(world.dev_admin)
    async with unchanged():
        myself = await api.patch(f"{API}/users/{admin.user_id}", headers=mine, json={"disabled": True})
        demote_myself = await api.patch(f"{API}/users/{admin.user_id}", headers=mine, json={"roles": ["member"]})
        other_partner = await api.patch(f"{API}/users/{stranger.user_id}", headers=mine, json={"disabled": True})
        developer_staff = await api.patch(f"{API}/users/{world.gov_member.user_id}", headers=dev,
                                          json={"disabled": True})  # fmt: skip
        unknown_user = await api.patch(f"{API}/users/{uuid.uuid4()}", headers=gov, json={"disabled": True})
        wrong_type = await api.patch(f"{API}/users/{stranger.user_id}", headers=gov, json={"disabled": "yes"})
    assert_problem(myself, 403, "forbidden")
    assert_problem(demote_myself, 403, "forbidden")
    assert_problem(other_partner, 404, "not_found")
    assert_problem(developer_staff, 403, "forbidden")
    assert_problem(unknown_user, 404, "not_found")
    assert_problem(wrong_type, 400, "validation_error", field="disabled")
    assert organisation
