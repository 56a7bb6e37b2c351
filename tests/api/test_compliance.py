"""NDAs (publish, read, accept the exact text) and attestations to the six requirement areas."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from tests.support.api import API, assert_problem
from tests.support.scenes import iso, partner, partner_member, rival_developer
from tests.world import NDA_TEXT

NDAS = f"{API}/ndas"
ORGS = f"{API}/organisations"


async def test_a_developer_publishes_a_new_nda_version_with_the_hash_of_its_text(api, world, bearer):
    body = "Version two of the terms.\n"
    response = await api.post(NDAS, headers=await bearer(world.dev_admin),
                              json={"title": "Acme NDA", "body": body, "version": "2.0", "term_days": 30})  # fmt: skip
    assert response.status_code == 201, response.text
    published = response.json()
    assert (published["version"], published["term_days"]) == ("2.0", 30)
    assert published["sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert published["body"] == body
    listed = (await api.get(NDAS, headers=await bearer(world.dev_approver))).json()
    assert [t["version"] for t in listed] == ["2.0", "1.0"]
    assert all(t["body"] is None for t in listed)
    read = (await api.get(f"{NDAS}/{published['id']}", headers=await bearer(world.gov_member))).json()
    assert read["body"] == body


async def test_a_model_specific_nda_is_listed_for_that_model(api, world, bearer):
    response = await api.post(NDAS, headers=await bearer(world.dev_admin),
                              json={"title": "Atlas NDA", "body": "Atlas only.", "version": "1.0",
                                    "model_id": str(world.model.id)})  # fmt: skip
    assert response.status_code == 201, response.text
    for_model = (await api.get(NDAS, params={"model_id": str(world.model.id)}, headers=await bearer(world.gov_admin))).json()
    assert {t["title"] for t in for_model} == {"Atlas NDA", "Acme NDA"}


async def test_publishing_an_nda_is_refused_without_changing_anything(api, world, bearer, unchanged):
    dev, gov = await bearer(world.dev_admin), await bearer(world.gov_admin)
    text = {"title": "T", "body": "B"}
    async with unchanged():
        not_newer = await api.post(NDAS, headers=dev, json={**text, "version": "1.0"})
        by_the_government = await api.post(NDAS, headers=gov, json={**text, "version": "3.0"})
        leading_zero = await api.post(NDAS, headers=dev, json={**text, "version": "01.0"})
        not_a_version = await api.post(NDAS, headers=dev, json={**text, "version": "two"})
        blank_body = await api.post(NDAS, headers=dev, json={**text, "body": "   ", "version": "3.0"})
        unknown_model = await api.post(NDAS, headers=dev, json={**text, "version": "3.0", "model_id": str(uuid.uuid4())})
    assert_problem(not_newer, 409, "conflict")
    assert_problem(by_the_government, 403, "forbidden")
    assert_problem(leading_zero, 422, "invalid", field="version")
    assert_problem(not_a_version, 400, "validation_error", field="version")
    assert_problem(blank_body, 422, "invalid", field="body")
    assert_problem(unknown_model, 404, "not_found")


async def test_a_partner_admin_accepts_the_nda_text_it_was_shown(api, world, bearer):
    organisation, admin = await partner(world, nda=False)
    response = await api.post(f"{NDAS}/{world.nda.id}/acceptances", headers={**await bearer(admin), "User-Agent": "ua/1"},
                              json={"sha256": hashlib.sha256(NDA_TEXT.encode()).hexdigest().upper()})  # fmt: skip
    assert response.status_code == 201, response.text
    acceptance = response.json()
    assert (acceptance["organisation_id"], acceptance["version"]) == (str(organisation.id), "1.0")
    assert acceptance["signer_id"] == str(admin.user_id)
    assert acceptance["signer_user_agent"] == "ua/1"
    assert acceptance["expires_at"] == iso(world.now + timedelta(days=365))
    listed = (await api.get(f"{ORGS}/{organisation.id}/nda-acceptances", headers=await bearer(world.dev_approver))).json()
    assert [a["id"] for a in listed] == [acceptance["id"]]


async def test_accepting_an_nda_is_refused_without_changing_anything(api, world, bearer, unchanged):
    organisation, admin = await partner(world, nda=False)
    member = await partner_member(world, organisation)
    newer = await api.post(NDAS, headers=await bearer(world.dev_admin),
                           json={"title": "Acme NDA", "body": "New terms.", "version": "1.1"})  # fmt: skip
    assert newer.status_code == 201
    sha = world.nda.sha256
    partner_admin, partner_member_, dev = await bearer(admin), await bearer(member), await bearer(world.dev_admin)
    path = f"{NDAS}/{world.nda.id}/acceptances"
    async with unchanged():
        wrong_text = await api.post(f"{NDAS}/{newer.json()['id']}/acceptances", headers=partner_admin, json={"sha256": sha})
        superseded = await api.post(path, headers=partner_admin, json={"sha256": sha})
        by_a_member = await api.post(path, headers=partner_member_, json={"sha256": sha})
        by_the_developer = await api.post(path, headers=dev, json={"sha256": sha})
        not_a_hash = await api.post(path, headers=partner_admin, json={"sha256": "abc"})
        unknown_nda = await api.post(f"{NDAS}/{uuid.uuid4()}/acceptances", headers=partner_admin, json={"sha256": sha})
    assert_problem(wrong_text, 422, "invalid", field="sha256")
    assert_problem(superseded, 409, "conflict")
    assert_problem(by_a_member, 403, "forbidden")
    assert_problem(by_the_developer, 403, "forbidden")
    assert_problem(not_a_hash, 400, "validation_error", field="sha256")
    assert_problem(unknown_nda, 404, "not_found")


async def test_a_developer_sees_only_its_own_ndas(api, world, bearer):
    _, rival_admin, _, _ = await rival_developer(world)
    assert (await api.get(NDAS, headers=await bearer(rival_admin))).json() == []
    assert_problem(await api.get(f"{NDAS}/{world.nda.id}", headers=await bearer(rival_admin)), 404, "not_found")


async def test_a_partner_attests_to_an_area_for_itself(api, world, bearer):
    organisation, admin = await partner(world, attested=False)
    response = await api.post(f"{ORGS}/{organisation.id}/attestations", headers=await bearer(admin), json={
        "area": "cybersecurity", "statement": "We run an ISO 27001 programme.", "evidence_ref": "CERT-1",
        "valid_until": iso(world.now + timedelta(days=365)),
    })  # fmt: skip
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["area"], made["attested_by"], made["evidence_ref"]) == ("cybersecurity", str(admin.user_id), "CERT-1")
    listed = (await api.get(f"{ORGS}/{organisation.id}/attestations", headers=await bearer(admin))).json()
    assert [a["id"] for a in listed] == [made["id"]]


async def test_attesting_is_refused_without_changing_anything(api, world, bearer, unchanged):
    organisation, admin = await partner(world, attested=False)
    other, _ = await partner(world)
    member = await partner_member(world, organisation)
    mine, staff, member_ = await bearer(admin), await bearer(world.dev_admin), await bearer(member)
    later = iso(world.now + timedelta(days=30))

    def body(**overrides):
        return {"area": "use", "statement": "We comply.", "valid_until": later, **overrides}

    async with unchanged():
        for_another_partner = await api.post(f"{ORGS}/{other.id}/attestations", headers=mine, json=body())
        by_developer_staff = await api.post(f"{ORGS}/{world.developer.id}/attestations", headers=staff, json=body())
        staff_for_a_partner = await api.post(f"{ORGS}/{organisation.id}/attestations", headers=staff, json=body())
        by_a_member = await api.post(f"{ORGS}/{organisation.id}/attestations", headers=member_, json=body())
        already_lapsed = await api.post(f"{ORGS}/{organisation.id}/attestations", headers=mine,
                                        json=body(valid_until=iso(world.now - timedelta(days=1))))  # fmt: skip
        too_far_ahead = await api.post(f"{ORGS}/{organisation.id}/attestations", headers=mine,
                                       json=body(valid_until=iso(world.now + timedelta(days=731))))  # fmt: skip
        blank_statement = await api.post(f"{ORGS}/{organisation.id}/attestations", headers=mine, json=body(statement=" "))
        unknown_area = await api.post(f"{ORGS}/{organisation.id}/attestations", headers=mine, json=body(area="vibes"))
        naive = await api.post(f"{ORGS}/{organisation.id}/attestations", headers=mine,
                               json=body(valid_until="2027-01-01T00:00:00"))  # fmt: skip
    assert_problem(for_another_partner, 404, "not_found")
    assert_problem(by_developer_staff, 403, "forbidden")
    assert_problem(staff_for_a_partner, 403, "forbidden")
    assert_problem(by_a_member, 403, "forbidden")
    assert_problem(already_lapsed, 422, "invalid", field="valid_until")
    assert_problem(too_far_ahead, 422, "invalid", field="valid_until")
    assert_problem(blank_statement, 422, "invalid", field="statement")
    assert_problem(unknown_area, 400, "validation_error", field="area")
    assert_problem(naive, 400, "validation_error", field="valid_until")


async def test_partners_cannot_read_each_others_compliance_records(api, world, bearer):
    _, admin = await partner(world)
    other, _ = await partner(world)
    headers = await bearer(admin)
    assert_problem(await api.get(f"{ORGS}/{other.id}/attestations", headers=headers), 404, "not_found")
    assert_problem(await api.get(f"{ORGS}/{other.id}/nda-acceptances", headers=headers), 404, "not_found")
