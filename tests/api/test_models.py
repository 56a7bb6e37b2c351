"""Frontier models: registration, reading, changes, the planned release, designation and the kill switch."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.support.api import API, assert_problem
from tests.support.scenes import government_grant, iso, partner, partner_grant, pending, rival_developer

MODELS = f"{API}/models"


def new_model(world, **overrides):
    return {"slug": "hermes", "name": "Hermes", "codename": "HX", "tier": "high",
            "planned_release_at": iso(world.now + timedelta(days=45)), "resource": "https://api.acme.test/models/hermes",
            "slack_channels": ["C0123456789"], **overrides}  # fmt: skip


async def test_a_developer_admin_registers_a_model(api, world, bearer):
    response = await api.post(MODELS, headers=await bearer(world.dev_admin), json=new_model(world, developer_quorum=2))
    assert response.status_code == 201, response.text
    model = response.json()
    assert model["developer_id"] == str(world.developer.id)
    assert model["designation"] == "not_assessed"
    assert model["developer_quorum"] == 2 and model["government_quorum"] == 1
    assert model["planned_release_at"] == iso(world.now + timedelta(days=45))
    by_slug = await api.get(f"{MODELS}/by-slug/hermes", headers=await bearer(world.gov_member))
    assert by_slug.json()["id"] == model["id"]


async def test_registering_a_model_is_refused_without_changing_anything(api, world, bearer, unchanged):
    dev, gov = await bearer(world.dev_admin), await bearer(world.gov_admin)
    approver = await bearer(world.dev_approver)
    async with unchanged():
        by_government = await api.post(MODELS, headers=gov, json=new_model(world))
        by_an_approver = await api.post(MODELS, headers=approver, json=new_model(world))
        taken_slug = await api.post(MODELS, headers=dev, json=new_model(world, slug="atlas"))
        plain_http = await api.post(MODELS, headers=dev, json=new_model(world, resource="http://api.acme.test/m"))
        released_already = await api.post(MODELS, headers=dev,
                                          json=new_model(world, planned_release_at=iso(world.now - timedelta(days=1))))
        bad_channel = await api.post(MODELS, headers=dev, json=new_model(world, slack_channels=["#general"]))
        naive_release = await api.post(MODELS, headers=dev, json=new_model(world, planned_release_at="2027-01-01T00:00:00"))
        beyond_utc = await api.post(MODELS, headers=dev,
                                    json=new_model(world, planned_release_at="9999-12-31T23:30:00-01:00"))  # fmt: skip
        codename_too_long = await api.post(MODELS, headers=dev, json=new_model(world, codename="C" * 101))
        no_quorum = await api.post(MODELS, headers=dev, json=new_model(world, developer_quorum=0))
        unknown_tier = await api.post(MODELS, headers=dev, json=new_model(world, tier="medium"))
        slug_with_a_newline = await api.post(MODELS, headers=dev, json=new_model(world, slug="hermes\n"))
    assert_problem(by_government, 403, "forbidden")
    assert_problem(by_an_approver, 403, "forbidden")
    assert_problem(taken_slug, 409, "conflict")
    assert_problem(plain_http, 422, "invalid", field="resource")
    assert_problem(released_already, 422, "invalid", field="planned_release_at")
    assert_problem(bad_channel, 422, "invalid", field="slack_channels")
    assert_problem(naive_release, 400, "validation_error", field="planned_release_at")
    assert_problem(beyond_utc, 400, "validation_error", field="planned_release_at")
    assert_problem(codename_too_long, 400, "validation_error", field="codename")
    assert_problem(no_quorum, 400, "validation_error", field="developer_quorum")
    assert_problem(unknown_tier, 400, "validation_error", field="tier")
    assert_problem(slug_with_a_newline, 400, "validation_error", field="slug")


async def test_who_sees_which_model(api, world, bearer):
    _, _, _, rival_model = await rival_developer(world)
    involved, involved_admin = await partner(world)
    await pending(world, involved)
    _, bystander = await partner(world)

    def slugs(response):
        return sorted(m["slug"] for m in response.json()["items"])

    assert slugs(await api.get(MODELS, headers=await bearer(world.gov_member))) == ["atlas", "rival-one"]
    assert slugs(await api.get(MODELS, headers=await bearer(world.dev_approver))) == ["atlas"]
    assert slugs(await api.get(MODELS, headers=await bearer(involved_admin))) == ["atlas"]
    assert slugs(await api.get(MODELS, headers=await bearer(bystander))) == []
    dev = await bearer(world.dev_admin)
    assert_problem(await api.get(f"{MODELS}/{rival_model.id}", headers=dev), 404, "not_found")
    assert_problem(await api.get(f"{MODELS}/by-slug/rival-one", headers=dev), 404, "not_found")
    assert_problem(await api.get(f"{MODELS}/{world.model.id}", headers=await bearer(bystander)), 404, "not_found")
    assert_problem(await api.get(f"{MODELS}/{uuid.uuid4()}", headers=dev), 404, "not_found")
    assert (await api.get(f"{MODELS}/{world.model.id}", headers=await bearer(involved_admin))).status_code == 200


async def test_models_page_with_a_cursor(api, world, bearer):
    for n in range(3):
        world.clock.advance(timedelta(seconds=1))
        await api.post(MODELS, headers=await bearer(world.dev_admin), json=new_model(world, slug=f"m{n}"))
    headers = await bearer(world.gov_admin)
    first = (await api.get(MODELS, params={"limit": 3}, headers=headers)).json()
    assert [m["slug"] for m in first["items"]] == ["m2", "m1", "m0"]
    rest = (await api.get(MODELS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers)).json()
    assert [m["slug"] for m in rest["items"]] == ["atlas"]
    assert rest["next_cursor"] is None


async def test_the_developer_changes_its_model(api, world, bearer):
    response = await api.patch(f"{MODELS}/{world.model.id}", headers=await bearer(world.dev_admin),
                               json={"name": "Atlas 2", "tier": "high", "max_window_days": 30})  # fmt: skip
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["tier"], response.json()["max_window_days"]) == ("Atlas 2", "high", 30)


async def test_changing_a_model_is_refused_without_changing_anything(api, world, bearer, unchanged):
    _, rival_admin, _, _ = await rival_developer(world)
    dev, rival, approver = await bearer(world.dev_admin), await bearer(rival_admin), await bearer(world.dev_approver)
    async with unchanged():
        by_a_rival = await api.patch(f"{MODELS}/{world.model.id}", headers=rival, json={"name": "Mine now"})
        by_an_approver = await api.patch(f"{MODELS}/{world.model.id}", headers=approver, json={"name": "Renamed"})
        not_editable = await api.patch(f"{MODELS}/{world.model.id}", headers=dev, json={"slug": "renamed"})
        blank_name = await api.patch(f"{MODELS}/{world.model.id}", headers=dev, json={"name": "  "})
        same_as_before = await api.patch(f"{MODELS}/{world.model.id}", headers=dev, json={"name": "Atlas"})
    assert_problem(by_a_rival, 404, "not_found")
    assert_problem(by_an_approver, 403, "forbidden")
    assert_problem(not_editable, 400, "validation_error")
    assert_problem(blank_name, 422, "invalid", field="name")
    assert same_as_before.status_code == 200


async def test_moving_the_release_later_blocks_a_government_grant_that_now_starts_too_early(api, world, bearer):
    grant = await government_grant(world)
    later = iso(world.now + timedelta(days=60))
    response = await api.post(f"{MODELS}/{world.model.id}/release", headers=await bearer(world.dev_admin),
                              json={"planned_release_at": later, "reason": "slipped"})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["planned_release_at"] == iso(world.now + timedelta(days=60))
    assert [g["id"] for g in body["blocked_grants"]] == [str(grant.id)]
    assert body["blocked_grants"][0]["state"] == "blocked"
    assert [p["code"] for p in body["blocked_grants"][0]["problems"]] == ["window_too_early", "window_not_started"]


async def test_moving_the_release_is_refused_without_changing_anything(api, world, bearer, unchanged):
    dev, approver = await bearer(world.dev_admin), await bearer(world.dev_approver)
    path = f"{MODELS}/{world.model.id}/release"
    async with unchanged():
        into_the_past = await api.post(path, headers=dev, json={"planned_release_at": iso(world.now - timedelta(hours=1))})
        by_an_approver = await api.post(path, headers=approver,
                                        json={"planned_release_at": iso(world.now + timedelta(days=9))})  # fmt: skip
        naive = await api.post(path, headers=dev, json={"planned_release_at": "2027-02-01T00:00:00"})
    assert_problem(into_the_past, 422, "invalid", field="planned_release_at")
    assert_problem(by_an_approver, 403, "forbidden")
    assert_problem(naive, 400, "validation_error", field="planned_release_at")


async def test_the_government_records_a_designation_by_reference(api, world, bearer):
    headers = await bearer(world.gov_approver)
    path = f"{MODELS}/{world.model.id}/designation"
    consulting = await api.post(path, headers=headers, json={"designation": "in_consultation"})
    assert consulting.status_code == 200, consulting.text
    covered = await api.post(path, headers=headers, json={"designation": "covered", "reference": "ASSESS-2026-17"})
    assert covered.status_code == 200, covered.text
    assert (covered.json()["designation"], covered.json()["designation_ref"]) == ("covered", "ASSESS-2026-17")
    assert covered.json()["designated_at"] == iso(world.now)


async def test_designation_refusals_change_nothing(api, world, bearer, unchanged):
    gov, dev = await bearer(world.gov_approver), await bearer(world.dev_admin)
    member = await bearer(world.gov_member)
    path = f"{MODELS}/{world.model.id}/designation"
    async with unchanged():
        by_the_developer = await api.post(path, headers=dev, json={"designation": "in_consultation"})
        by_a_member = await api.post(path, headers=member, json={"designation": "in_consultation"})
        skipping_consultation = await api.post(path, headers=gov, json={"designation": "covered", "reference": "A-1"})
        outcome_without_reference = await api.post(path, headers=gov, json={"designation": "not_covered"})
        unknown = await api.post(path, headers=gov, json={"designation": "maybe"})
        unknown_model = await api.post(f"{MODELS}/{uuid.uuid4()}/designation", headers=gov,
                                       json={"designation": "in_consultation"})  # fmt: skip
    assert_problem(by_the_developer, 403, "forbidden")
    assert_problem(by_a_member, 403, "forbidden")
    assert_problem(skipping_consultation, 409, "conflict")
    assert_problem(outcome_without_reference, 422, "invalid", field="reference")
    assert_problem(unknown, 400, "validation_error", field="designation")
    assert_problem(unknown_model, 404, "not_found")


async def test_the_kill_switch_revokes_every_grant_and_closes_nominations(api, world, bearer):
    await government_grant(world)
    organisation, admin, grant = await partner_grant(world)
    waiting, _ = await partner(world)
    nomination = await pending(world, waiting, start=timedelta(days=2))
    response = await api.post(f"{MODELS}/{world.model.id}/switch-off", headers=await bearer(world.gov_admin),
                              json={"reason": "weights exfiltrated"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["grants_revoked"] == 2
    assert response.json()["model"]["switch_off_reason"] == "weights exfiltrated"
    seen = (await api.get(f"{API}/grants/{grant.id}", headers=await bearer(admin))).json()
    assert (seen["state"], seen["revoke_reason"]) == ("revoked", "weights exfiltrated")
    closed = (await api.get(f"{API}/nominations/{nomination.id}", headers=await bearer(world.gov_admin))).json()
    assert closed["state"] == "withdrawn"
    assert organisation


async def test_kill_switch_refusals_change_nothing(api, world, bearer, unchanged):
    _, rival_admin, _, _ = await rival_developer(world)
    gov, approver, rival = await bearer(world.gov_admin), await bearer(world.gov_approver), await bearer(rival_admin)
    path = f"{MODELS}/{world.model.id}/switch-off"
    async with unchanged():
        by_an_approver = await api.post(path, headers=approver, json={"reason": "panic"})
        by_a_rival = await api.post(path, headers=rival, json={"reason": "sabotage"})
        blank_reason = await api.post(path, headers=gov, json={"reason": "   "})
        no_reason = await api.post(path, headers=gov, json={})
    assert_problem(by_an_approver, 403, "forbidden")
    assert_problem(by_a_rival, 404, "not_found")
    assert_problem(blank_reason, 422, "invalid", field="reason")
    assert_problem(no_reason, 400, "validation_error", field="reason")

    assert (await api.post(path, headers=gov, json={"reason": "incident"})).status_code == 200
    async with unchanged():
        again = await api.post(path, headers=gov, json={"reason": "incident again"})
    assert_problem(again, 409, "model_switched_off")


async def test_a_partner_sees_its_model_without_the_staff_only_details(api, world, bearer):
    from accessdesk.domain.frontier_models import FrontierModels
    from accessdesk.domain.vocabulary import Designation

    models = FrontierModels(world.unit)
    await models.update(actor=world.dev_admin, model_id=world.model.id, changes={"slack_channels": ["C0123456789"]})
    await models.designate(actor=world.gov_admin, model_id=world.model.id, designation=Designation.IN_CONSULTATION)
    await models.designate(actor=world.gov_admin, model_id=world.model.id, designation=Designation.COVERED,
                           reference="CLASSIFIED-REF-7")  # fmt: skip
    organisation, admin = await world.partner()
    await world.nominate(organisation)
    seen_by_partner = (await api.get(f"{MODELS}/{world.model.id}", headers=await bearer(admin))).json()
    assert seen_by_partner["designation"] == "covered"
    assert seen_by_partner["designation_ref"] is None and seen_by_partner["slack_channels"] == []
    seen_by_staff = (await api.get(f"{MODELS}/{world.model.id}", headers=await bearer(world.gov_member))).json()
    assert seen_by_staff["designation_ref"] == "CLASSIFIED-REF-7"
    assert seen_by_staff["slack_channels"] == ["C0123456789"]
