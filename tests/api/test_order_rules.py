"""The order's rules as a new user meets them through the JSON API (issue 10's findings, each reproduced first):
government first, designation gates, vetting decided by the government only, and one answer on every surface."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.vocabulary import Designation, Verdict
from tests.support.api import API, assert_problem
from tests.support.scenes import decided, iso, partner, rival_developer

GRANTS, NOMINATIONS, MODELS, ORGS = f"{API}/grants", f"{API}/nominations", f"{API}/models", f"{API}/organisations"
DAY = timedelta(days=1)


async def nomination_body(world, organisation, model, starts_at, days=30):
    return {"model_id": str(model.id), "organisation_id": str(organisation.id), "starts_at": iso(starts_at),
            "ends_at": iso(starts_at + days * DAY), "actions": ["invoke"], "justification": "Pre-release evaluation."}  # fmt: skip


async def approved(api, world, bearer, organisation, model, starts_at):
    """Nominated by the developer's nominator, approved by one approver of each side, through the API."""
    body = await nomination_body(world, organisation, model, starts_at)
    created = await api.post(NOMINATIONS, headers=await bearer(world.dev_nominator), json=body)
    assert created.status_code == 201, created.text
    nomination_id = created.json()["id"]
    for approver in (world.dev_approver, world.gov_approver):
        outcome = await api.post(f"{NOMINATIONS}/{nomination_id}/decisions", headers=await bearer(approver),
                                 json={"verdict": "approve"})  # fmt: skip
        assert outcome.status_code == 201, outcome.text
    return nomination_id, outcome.json()["grant_id"]


async def test_a_partner_has_no_access_while_the_governments_is_blocked(api, world, bearer):
    """Finding 1: the release moves, the government grant becomes blocked (window_too_early); the partner's grant,
    which relied on it, stops at the same instant and says why, on every surface."""
    model = await world.new_model("orion", release_in=timedelta(days=40))
    await world.government_ready()
    firm, _ = await partner(world)
    government_start = model.planned_release_at - timedelta(days=30)
    _, government_id = await approved(api, world, bearer, world.government, model, government_start)
    _, partner_id = await approved(api, world, bearer, firm, model, government_start + DAY)
    staff = await bearer(world.gov_approver)
    during = iso(government_start + 2 * DAY)
    before = await api.get(f"{GRANTS}/{partner_id}/usability", params={"at": during}, headers=staff)
    assert before.json()["usable"] is True

    moved = await api.post(f"{MODELS}/{model.id}/release", headers=await bearer(world.dev_admin),
                           json={"planned_release_at": iso(model.planned_release_at + 5 * DAY), "reason": "slip"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert {g["id"] for g in moved.json()["blocked_grants"]} == {government_id, partner_id}

    government = (await api.get(f"{GRANTS}/{government_id}", headers=staff)).json()
    assert (government["state"], government["usable"]) == ("blocked", False)
    assert [p["code"] for p in government["problems"]] == ["window_too_early", "window_not_started"]
    grant = (await api.get(f"{GRANTS}/{partner_id}", headers=staff)).json()
    assert (grant["state"], grant["usable"]) == ("blocked", False)
    assert [p["code"] for p in grant["problems"]] == ["government_not_begun", "window_not_started"]
    answer = (await api.get(f"{GRANTS}/{partner_id}/usability", params={"at": during}, headers=staff)).json()
    assert answer["usable"] is False and [r["code"] for r in answer["reasons"]] == ["government_not_begun"]


async def test_designation_gates_nominations_and_grants(api, world, bearer, unchanged):
    """Finding 2: a model not yet assessed takes no government nomination, one in consultation no partner
    nomination; designating a model not covered blocks every grant of it, and designating it covered again
    re-evaluates them."""
    models = FrontierModels(world.unit)
    fresh = await world.new_model("vega", designation=Designation.NOT_ASSESSED)
    consulting = await world.new_model("lyra", designation=Designation.IN_CONSULTATION)
    await world.government_ready()
    firm, _ = await partner(world)
    nominator = await bearer(world.dev_nominator)
    async with unchanged():
        government_too_soon = await api.post(NOMINATIONS, headers=nominator, json=await nomination_body(
            world, world.government, fresh, world.now + DAY))  # fmt: skip
        partner_too_soon = await api.post(NOMINATIONS, headers=nominator, json=await nomination_body(
            world, firm, consulting, world.now + 2 * DAY))  # fmt: skip
    body = assert_problem(government_too_soon, 409, "not_designated")
    assert "has not yet assessed whether vega is a covered frontier model" in body["detail"]
    body = assert_problem(partner_too_soon, 409, "not_designated")
    assert "partners get access once the government designates it covered" in body["detail"]

    # The government may evaluate a model in consultation; once covered, partners follow.
    _, government_id = await approved(api, world, bearer, world.government, consulting, world.now + DAY)
    staff = await bearer(world.gov_admin)
    path = f"{MODELS}/{consulting.id}/designation"
    covered = await api.post(path, headers=staff, json={"designation": "covered", "reference": "A-7"})
    assert covered.status_code == 200, covered.text
    _, partner_id = await approved(api, world, bearer, firm, consulting, world.now + 2 * DAY)
    world.clock.advance(3 * DAY)
    for grant_id in (government_id, partner_id):
        assert (await api.get(f"{GRANTS}/{grant_id}", headers=staff)).json()["usable"] is True

    await api.post(path, headers=staff, json={"designation": "in_consultation"})
    partner_grant = (await api.get(f"{GRANTS}/{partner_id}", headers=staff)).json()
    assert [p["code"] for p in partner_grant["problems"]] == ["designation_in_consultation"]
    assert (await api.get(f"{GRANTS}/{government_id}", headers=staff)).json()["usable"] is True

    not_covered = await api.post(path, headers=staff, json={"designation": "not_covered", "reference": "A-8"})
    assert not_covered.status_code == 200, not_covered.text
    for grant_id in (government_id, partner_id):
        grant = (await api.get(f"{GRANTS}/{grant_id}", headers=staff)).json()
        assert grant["state"] == "blocked" and grant["usable"] is False
        assert "designation_not_covered" in [p["code"] for p in grant["problems"]]

    await models.designate(actor=world.gov_admin, model_id=consulting.id, designation=Designation.IN_CONSULTATION)
    await models.designate(actor=world.gov_admin, model_id=consulting.id, designation=Designation.COVERED,
                           reference="A-9")  # fmt: skip
    for grant_id in (government_id, partner_id):
        assert (await api.get(f"{GRANTS}/{grant_id}", headers=staff)).json()["usable"] is True


async def test_vetting_is_decided_by_the_government_only(api, world, bearer, unchanged):
    """Finding 3: the admin of another developer declined a partner's vetting, and the partner's grant on the first
    developer's model stopped. Vetting is the government's screening; no developer decides it, nor manages a
    partner's people."""
    _, rival_admin, _, _ = await rival_developer(world)
    firm, _ = await partner(world)
    decision = f"{ORGS}/{firm.id}/vetting/decision"
    rival, developer = await bearer(rival_admin), await bearer(world.dev_admin)
    async with unchanged():
        by_the_rival = await api.post(decision, headers=rival, json={"outcome": "declined", "reason": "competitor"})
        by_the_developer = await api.post(decision, headers=developer, json={"outcome": "declined", "reason": "no"})
        adding_a_person = await api.post(f"{ORGS}/{firm.id}/users", headers=rival,
                                         json={"email": "mole@" + firm.slug + ".test", "name": "Mole",
                                               "roles": ["admin"]})  # fmt: skip
    for refused in (by_the_rival, by_the_developer):
        body = assert_problem(refused, 403, "forbidden")
        assert "vetting is the government's screening" in body["detail"]
    assert_problem(adding_a_person, 403, "forbidden")
    by_an_approver = await api.post(decision, headers=await bearer(world.gov_approver),
                                    json={"outcome": "declined", "reason": "failed screening"})  # fmt: skip
    assert by_an_approver.status_code == 200 and by_an_approver.json()["vetting_state"] == "declined"


async def test_one_answer_on_every_surface(api, world, bearer):
    """Finding 4: the nomination carries the grant it made, and a suspended grant names what lapsed, as the token
    endpoint does (both ask the same function)."""
    await world.government_ready(valid_days=400)
    await world.government_grant(start=timedelta(hours=1), days=60)
    firm, _ = await partner(world, valid_days=10)
    nomination_id, grant_id = await approved(api, world, bearer, firm, world.model, world.now + DAY)
    staff = await bearer(world.gov_approver)
    nomination = (await api.get(f"{NOMINATIONS}/{nomination_id}", headers=staff)).json()
    assert nomination["state"] == "approved" and nomination["grant_id"] == grant_id
    listed = (await api.get(NOMINATIONS, params={"state": "approved"}, headers=staff)).json()["items"]
    assert [n["grant_id"] for n in listed if n["id"] == nomination_id] == [grant_id]

    world.clock.advance(11 * DAY)  # inside the window; the partner's attestations lapsed a day ago
    grant = (await api.get(f"{GRANTS}/{grant_id}", headers=staff)).json()
    answer = (await api.get(f"{GRANTS}/{grant_id}/usability", headers=staff)).json()
    assert grant["state"] == answer["state"] == "suspended"
    assert grant["problems"] == answer["reasons"]
    assert [p["code"] for p in grant["problems"]] == [f"attestation_expired:{a}" for a in sorted((
        "confidentiality", "cybersecurity", "insider_risk", "ip_protection", "use", "nondisclosure"))]  # fmt: skip
    listed_grant = [g for g in (await api.get(GRANTS, headers=staff)).json()["items"] if g["id"] == grant_id]
    assert listed_grant[0]["problems"] == grant["problems"]


async def test_a_rejected_nomination_carries_no_grant(api, world, bearer):
    firm, _ = await partner(world)
    nomination = await world.nominate(firm)
    await decided(world, nomination, world.dev_approver, verdict=Verdict.REJECT, reason="not now")
    body = (await api.get(f"{NOMINATIONS}/{nomination.id}", headers=await bearer(world.gov_approver))).json()
    assert body["state"] == "rejected" and body["grant_id"] is None
