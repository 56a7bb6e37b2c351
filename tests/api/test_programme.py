"""``GET /api/v1/models/{id}/programme``: the programme overview as JSON, with the console's need-to-know (the whole
programme for the staff who look after the model, a partner's own part, 404 for anyone else) and instants in UTC;
the findings counted as the caller may read them, the consultation for those who read it (null for a partner)."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.db.tables import Cohort
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.credentials import Credentials, count_issuance
from accessdesk.domain.vocabulary import Audience
from tests.support.api import API, assert_problem
from tests.support.finding_scenes import red, reported
from tests.support.oauth import SETTINGS
from tests.support.scenes import rival_developer

TOP_LEVEL = ["at", "scope", "model", "government", "cohorts", "nominations", "grants", "owed", "credentials", "windows",
             "tokens", "readiness", "findings", "consultation"]  # fmt: skip
NO_STATES = {"reported": 0, "acknowledged": 0, "mitigated": 0, "accepted_risk": 0, "disputed": 0}
NO_SEVERITIES = {"low": 0, "medium": 0, "high": 0, "critical": 0}


def url_of(world) -> str:
    return f"{API}/models/{world.model.id}/programme"


async def a_programme(world):
    """The government's access; Northwind in cohort "Wave 1" (active, 5 tokens today); Westwind without the NDA
    (blocked)."""
    await world.government_ready()
    government = await world.government_grant()
    north, north_admin = await world.partner(name="northwind")
    west, _ = await world.partner(name="westwind", nda=False)
    nomination = await world.nominate(north)
    cohort = Cohort(model_id=world.model.id, name="Wave 1", starts_at=nomination.starts_at, ends_at=nomination.ends_at,
                    actions=["invoke"], justification="Pre-release evaluation.", nominated_by=nomination.nominated_by,
                    created_at=world.now)  # fmt: skip
    world.unit.session.add(cohort)
    await world.unit.session.flush()
    nomination.cohort_id = cohort.id
    world.unit.session.add(nomination)
    await world.unit.session.commit()
    grant = await world.approve_both(nomination)
    blocked = await world.approve_both(await world.nominate(west, start=timedelta(days=2)))
    world.clock.advance(timedelta(days=2))
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=north_admin, grant_id=grant.id, name="c")
    await count_issuance(world.unit, issued.client.id, n=5, at=world.now)
    await world.unit.commit()
    return north_admin, cohort, government, grant, blocked


async def test_staff_get_the_whole_programme(api, bearer, world):
    _, cohort, government, grant, blocked = await a_programme(world)
    response = await api.get(url_of(world), headers=await bearer(world.dev_admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == TOP_LEVEL
    assert body["at"] == "2026-12-03T12:00:00Z" and body["scope"] == "programme"
    assert body["model"] == {"id": str(world.model.id), "slug": "atlas", "name": "Atlas", "tier": "standard",
                             "designation": "covered", "planned_release_at": "2026-12-21T12:00:00Z",
                             "earliest_government_start": "2026-11-21T12:00:00Z", "killed_at": None}  # fmt: skip
    [gov] = body["government"]
    assert (gov["grant_id"], gov["state"], gov["usable"], gov["reasons"]) == (str(government.id), "active", True, [])
    assert body["cohorts"] == [{"id": str(cohort.id), "name": "Wave 1", "starts_at": "2026-12-02T12:00:00Z",
                                "ends_at": "2027-01-01T12:00:00Z", "size": 1,
                                "nominations": {"pending": 0, "approved": 1, "rejected": 0, "withdrawn": 0,
                                                "lapsed": 0}}]  # fmt: skip
    assert body["nominations"]["total"] == 3 and body["nominations"]["outside_cohorts"]["approved"] == 2
    assert body["grants"]["by_state"] == {"scheduled": 0, "active": 2, "expired": 0, "blocked": 1, "suspended": 0,
                                          "revoked": 0}  # fmt: skip
    [attention] = body["grants"]["attention"]
    assert attention["grant_id"] == str(blocked.id) and attention["organisation_name"] == "Westwind"
    assert attention["reasons"] == [{"code": "nda_missing",
                                     "message": "the current major version of the NDA has not been accepted"}]  # fmt: skip
    assert body["grants"]["reasons"] == [{"code": "nda_missing", "message": attention["reasons"][0]["message"],
                                          "grants": 1}]  # fmt: skip
    assert body["owed"]["organisations"] == 3 and body["owed"]["nda"] == 1
    assert body["owed"]["by_organisation"] == [{"organisation_id": str(blocked.organisation_id),
                                                "organisation_name": "Westwind", "kind": "partner",
                                                "items": [{"requirement": "nda", "label": "Acme NDA 1.0",
                                                           "standing": "missing", "area": None}]}]  # fmt: skip
    assert body["credentials"] == {"issued": 1, "live": 1, "revoked": 0, "tokens_issued": 5}
    assert [(w["organisation_name"], w["cohort_id"], w["grants"], w["by_state"]) for w in body["windows"]] == [
        ("AI Security Office", None, 1, {"active": 1}), (None, str(cohort.id), 1, {"active": 1}),
        ("Westwind", None, 1, {"blocked": 1})]  # a cohort's window is one bar for all its members' grants
    assert body["tokens"] == {"first_day": "2026-12-01", "last_day": "2026-12-03", "total": 5,
                              "per_grant": [{"grant_id": str(grant.id), "organisation_name": "Northwind", "total": 5,
                                             "days": [{"day": "2026-12-03", "count": 5}]}]}  # fmt: skip
    # Every grant counted in the stage its grantee sees on "Is my access ready?"; the blocked ones listed, with whose
    # move each reason is.
    assert body["readiness"]["by_stage"] == {"approved": 0, "blocked": 1, "ready_to_provision": 1,
                                             "credentials_issued": 0, "ready": 1}  # fmt: skip
    assert [(r["organisation_name"], r["stage"], [x["whose"] for x in r["reasons"]], r["live_credentials"])
            for r in body["readiness"]["grants"]] == [("Westwind", "blocked", ["grantee"], 0)]  # fmt: skip
    assert body["findings"] == {"total": 0, "open": 0, "by_state": NO_STATES, "by_severity": NO_SEVERITIES}
    # The world's model was designated covered at T0 in one round.
    assert body["consultation"]["rounds"] == 1 and body["consultation"]["open"] is None
    assert body["consultation"]["last_decided"] == {
        "id": body["consultation"]["last_decided"]["id"], "round": 1, "requested_side": "government",
        "opened_at": "2026-12-01T12:00:00Z", "waited_days": 0, "waited_seconds": 0, "outcome": "covered",
        "assessment_ref": "ASSESS-ATLAS", "decided_at": "2026-12-01T12:00:00Z"}  # fmt: skip


async def test_findings_and_the_consultation_as_each_caller_may_know_them(api, bearer, world):
    north_admin, *_ = await a_programme(world)
    await red(world, world.gov_approver, severity="critical")  # named to dev1 and gov1 only
    await reported(world, world.gov_approver, audience=Audience.AMBER_STRICT.value, severity="high")
    await reported(world, world.gov_approver, audience=Audience.AMBER.value, severity="medium")
    reopened = await Consultations(world.unit).open(actor=world.gov_approver, model_id=world.model.id,
                                                    note="A new checkpoint.")  # fmt: skip
    world.clock.advance(timedelta(days=2, hours=3))
    staff = (await api.get(url_of(world), headers=await bearer(world.dev_admin))).json()
    assert staff["findings"] == {"total": 2, "open": 2, "by_state": {**NO_STATES, "reported": 2},
                                 "by_severity": {**NO_SEVERITIES, "high": 1, "medium": 1}}  # fmt: skip
    named = (await api.get(url_of(world), headers=await bearer(world.dev_approver))).json()
    assert named["findings"]["total"] == 3 and named["findings"]["by_severity"]["critical"] == 1
    opened = staff["consultation"]["open"]
    assert (opened["id"], opened["round"], opened["requested_side"], opened["waited_days"], opened["outcome"]) == (
        str(reopened.id), 2, "government", 2, None)  # fmt: skip
    assert opened["waited_seconds"] == (2 * 24 + 3) * 3600 and staff["consultation"]["last_decided"]["round"] == 1
    # A partner counts the TLP:AMBER finding it holds a grant for, and knows nothing of the consultation.
    response = await api.get(url_of(world), headers=await bearer(north_admin))
    partner = response.json()
    assert partner["findings"] == {"total": 1, "open": 1, "by_state": {**NO_STATES, "reported": 1},
                                   "by_severity": {**NO_SEVERITIES, "medium": 1}}  # fmt: skip
    assert partner["consultation"] is None and str(reopened.id) not in response.text
    # So does a government member who neither acts on designations nor audits.
    assert (await api.get(url_of(world), headers=await bearer(world.gov_member))).json()["consultation"] is None


async def test_a_partner_gets_its_own_part_only(api, bearer, world):
    north_admin, *_ = await a_programme(world)
    response = await api.get(url_of(world), headers=await bearer(north_admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "own" and body["government"] == [] and body["grants"]["attention"] == []
    assert body["grants"]["by_state"]["active"] == 1 and body["nominations"]["total"] == 1
    assert body["readiness"]["by_stage"] == {"approved": 0, "blocked": 0, "ready_to_provision": 0,
                                             "credentials_issued": 0, "ready": 1} and body["readiness"]["grants"] == []  # fmt: skip
    for other in ("Westwind", "AI Security Office"):
        assert other not in response.text


async def test_strangers_and_the_anonymous_are_refused(api, bearer, world, unchanged):
    await a_programme(world)
    _, stranger = await world.partner(name="stranger")
    _, rival_admin, _, _ = await rival_developer(world)
    for person in (stranger, rival_admin):
        headers = await bearer(person)
        async with unchanged():
            response = await api.get(url_of(world), headers=headers)
        body = assert_problem(response, 404, "not_found")
        assert body["detail"] == f"model {world.model.id} not found"
    async with unchanged():
        response = await api.get(url_of(world))
    assert_problem(response, 401, "http_401")
    response = await api.get(f"{API}/models/not-a-uuid/programme", headers=await bearer(world.dev_admin))
    assert response.status_code in (400, 404)


async def test_the_endpoint_is_documented(api):
    document = (await api.get("/schema/openapi.json")).json()
    operation = document["paths"]["/api/v1/models/{model_id}/programme"]["get"]
    assert set(operation["responses"]) >= {"200", "401", "404"}
