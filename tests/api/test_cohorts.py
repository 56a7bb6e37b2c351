"""Cohorts through the JSON API: created with a result per entry, listed and read with need-to-know, decided in one
request with a result per member. Every refusal: its status, its problem body, and that nothing changed anywhere."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import AccessGrant, Nomination
from accessdesk.domain.frontier_models import FrontierModels
from tests.support.api import API, assert_problem, count_rows, outbox_topics
from tests.support.scenes import government_grant, iso, partner, pending, rival_developer

COHORTS = f"{API}/cohorts"


def proposal(world, organisations, *, start=timedelta(days=2), days=30, **overrides):
    starts_at = world.now + start
    return {"model": "atlas", "name": "Wave one", "members": organisations, "starts_at": iso(starts_at),
            "ends_at": iso(starts_at + timedelta(days=days)), "actions": ["invoke", "evaluate"],
            "justification": "Pre-release evaluation.", **overrides}  # fmt: skip


async def members_of(world, prefix="member", count=3):
    return [(await partner(world, name=f"{prefix}-{i}"))[0] for i in range(count)]


async def test_a_cohort_is_created_with_a_result_for_every_entry(api, world, bearer, engine):
    await government_grant(world)
    first, second, third = await members_of(world)
    busy, _ = await partner(world, name="busy")
    await pending(world, busy, start=timedelta(days=3), days=5)
    entries = [str(first.id), "member-1", "member-2.test", "contact@member-2.test", "busy", "aiso", "nobody"]

    created = await api.post(COHORTS, headers=await bearer(world.dev_nominator), json=proposal(world, entries))

    assert created.status_code == 201, created.text
    body = created.json()
    cohort = body["cohort"]
    assert (cohort["name"], cohort["model_slug"], cohort["size"], cohort["actions"]) == (
        "Wave one", "atlas", 3, ["evaluate", "invoke"])  # fmt: skip
    assert cohort["states"] == {"pending": 3, "approved": 0, "rejected": 0, "withdrawn": 0, "lapsed": 0}
    assert cohort["sides"] == {"developer": {"approved": 0, "awaiting": 3}, "government": {"approved": 0, "awaiting": 3}}
    assert cohort["awaiting_my_side"] is None and cohort["members"] is None  # a nominator decides on nothing
    outcomes = {m["entry"]: (m["outcome"], m["refusal"]["code"] if m["refusal"] else None) for m in body["members"]}
    assert outcomes == {str(first.id): ("nominated", None), "member-1": ("nominated", None),
                        "member-2.test": ("nominated", None), "busy": ("refused", "overlap"),
                        "aiso": ("refused", "invalid"), "nobody": ("refused", "not_found")}  # fmt: skip
    assert body["duplicates"] == ["contact@member-2.test"]
    overlap = next(m for m in body["members"] if m["entry"] == "busy")
    assert overlap["organisation"]["slug"] == "busy"
    assert overlap["refusal"]["conflicting"]["href"].startswith(f"{API}/nominations/")
    nominated = next(m for m in body["members"] if m["entry"] == "member-1")
    assert nominated["organisation"] == {"id": str(second.id), "name": "Member-1", "slug": "member-1"}
    assert nominated["nomination"]["state"] == "pending" and nominated["nomination"]["organisation_id"] == str(second.id)
    rows = (await world.unit.session.exec(select(Nomination).where(Nomination.cohort_id == uuid.UUID(cohort["id"])))).all()
    assert {n.organisation_id for n in rows} == {first.id, second.id, third.id}
    await world.commit()  # the outbox is read on a connection of its own
    topics = await outbox_topics(engine)
    assert topics.count("cohort.created") == 1


async def test_all_or_nothing_refused_is_a_422_naming_every_entry_and_writes_nothing(api, world, bearer, unchanged):
    first, second, _ = await members_of(world)
    await pending(world, second, start=timedelta(days=3), days=5)
    headers = await bearer(world.dev_nominator)
    async with unchanged():
        refused = await api.post(COHORTS, headers=headers, json=proposal(
            world, ["member-0", "member-1", "ghost.test"], all_or_nothing=True))  # fmt: skip
        nobody = await api.post(COHORTS, headers=headers, json=proposal(world, ["ghost", "aiso"]))
    body = assert_problem(refused, 422, "cohort_refused", field="members")
    assert body["detail"].startswith("nothing was nominated: 2 of the 3 organisations cannot be nominated")
    assert [(e["entry"], e["code"]) for e in body["errors"]] == [("member-1", "overlap"), ("ghost.test", "not_found")]
    assert [(m["entry"], m["outcome"]) for m in body["members"]] == [
        ("member-0", "nominated"), ("member-1", "refused"), ("ghost.test", "refused")]  # fmt: skip
    assert body["members"][0]["nomination"] is None or body["members"][0]["nomination"]["id"]
    assert assert_problem(nobody, 422, "cohort_refused")["detail"].startswith("no organisation could be nominated")


async def test_refusals_of_the_cohort_as_a_whole(api, world, bearer, unchanged):
    await members_of(world, count=1)
    asker, partner_admin = await partner(world, name="asker")
    await pending(world, asker, start=timedelta(days=60))  # it knows the model, and still nominates nobody
    _, rival_admin, _, _ = await rival_developer(world)
    switched_off = await world.new_model("dark")
    await FrontierModels(world.unit).switch_off(actor=world.gov_admin, model_id=switched_off.id, reason="incident")
    nominator = await bearer(world.dev_nominator)
    taken = await api.post(COHORTS, headers=nominator, json=proposal(world, ["member-0"], name="Taken"))
    assert taken.status_code == 201, taken.text
    partner_headers, rival_headers = await bearer(partner_admin), await bearer(rival_admin)
    good = proposal(world, ["member-0"], start=timedelta(days=40))
    async with unchanged():
        answers = {
            "partner": await api.post(COHORTS, headers=partner_headers, json=good),
            "rival": await api.post(COHORTS, headers=rival_headers, json=good),
            "no_model": await api.post(COHORTS, headers=nominator, json={**good, "model": "nope"}),
            "switched_off": await api.post(COHORTS, headers=nominator, json={**good, "model": "dark"}),
            "name_taken": await api.post(COHORTS, headers=nominator, json={**good, "name": "Taken"}),
            "window": await api.post(COHORTS, headers=nominator, json=proposal(world, ["member-0"], days=200)),
            "too_many": await api.post(COHORTS, headers=nominator,
                                       json={**good, "members": [f"org-{i}" for i in range(501)]}),
            "empty": await api.post(COHORTS, headers=nominator, json={**good, "members": []}),
            "unknown_field": await api.post(COHORTS, headers=nominator, json={**good, "size": 3}),
            "no_token": await api.post(COHORTS, json=good),
        }
    assert "only nominators" in assert_problem(answers["partner"], 403, "forbidden")["detail"]
    assert assert_problem(answers["rival"], 404, "not_found")["detail"] == "model atlas not found"
    assert_problem(answers["no_model"], 404, "not_found")
    assert "switched off" in assert_problem(answers["switched_off"], 409, "model_switched_off")["detail"]
    assert "already has a cohort named 'Taken'" in assert_problem(answers["name_taken"], 422, "invalid", field="name")["detail"]
    assert "90 days" in assert_problem(answers["window"], 422, "invalid", field="ends_at")["detail"]
    too_many = assert_problem(answers["too_many"], 422, "invalid", field="members")
    assert too_many["detail"].startswith("a cohort has at most 500 organisations; this list names 501")
    assert_problem(answers["empty"], 400, "validation_error")
    assert_problem(answers["unknown_field"], 400, "validation_error")
    assert_problem(answers["no_token"], 401, "http_401")


async def test_lists_and_reads_keep_need_to_know(api, world, bearer):
    first, second, _ = await members_of(world)
    _, first_admin = await partner(world, name="outsider")
    _, rival_admin, _, _ = await rival_developer(world)
    created = await api.post(COHORTS, headers=await bearer(world.dev_nominator),
                             json=proposal(world, ["member-0", "member-1"]))  # fmt: skip
    cohort_id = created.json()["cohort"]["id"]
    member_admin = await world.person(first, "ada", [])

    listed = await api.get(COHORTS, params={"model": "atlas"}, headers=await bearer(world.gov_approver))
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["id"], item["size"], item["awaiting_my_side"]) == (cohort_id, 2, 2)
    by_id = await api.get(COHORTS, params={"model": str(world.model.id)}, headers=await bearer(world.dev_admin))
    assert [i["id"] for i in by_id.json()["items"]] == [cohort_id]

    read = (await api.get(f"{COHORTS}/{cohort_id}", headers=await bearer(world.dev_approver))).json()
    assert [m["organisation"]["slug"] for m in read["members"]] == ["member-0", "member-1"]
    assert all(m["may_decide"] for m in read["members"])

    own = await api.get(f"{COHORTS}/{cohort_id}", headers=await bearer(member_admin))
    assert own.status_code == 200, own.text
    assert own.json()["size"] == 1 and [m["organisation"]["id"] for m in own.json()["members"]] == [str(first.id)]
    assert own.json()["sides"]["developer"]["awaiting"] == 1
    assert [i["size"] for i in (await api.get(COHORTS, headers=await bearer(member_admin))).json()["items"]] == [1]

    for outsider in (first_admin, rival_admin):
        headers = await bearer(outsider)
        assert_problem(await api.get(f"{COHORTS}/{cohort_id}", headers=headers), 404, "not_found")
        assert (await api.get(COHORTS, headers=headers)).json()["items"] == []
    assert_problem(await api.get(COHORTS, params={"model": "atlas"}, headers=await bearer(rival_admin)), 404,
                   "not_found")  # fmt: skip
    assert_problem(await api.get(f"{COHORTS}/{uuid.uuid4()}", headers=await bearer(world.gov_admin)), 404, "not_found")


async def test_a_cohort_is_decided_in_one_request_with_a_result_per_member(api, world, bearer, engine):
    await government_grant(world)
    first, second, third = await members_of(world)
    created = (await api.post(COHORTS, headers=await bearer(world.dev_nominator),
                              json=proposal(world, ["member-0", "member-1", "member-2"]))).json()  # fmt: skip
    cohort_id = created["cohort"]["id"]
    decisions = f"{COHORTS}/{cohort_id}/decisions"

    developer = await api.post(decisions, headers=await bearer(world.dev_approver),
                               json={"reject": {str(second.id): "Export controls."}})  # fmt: skip
    assert developer.status_code == 200, developer.text
    assert [(m["organisation_name"], m["verdict"], m["result"]) for m in developer.json()["members"]] == [
        ("Member-0", "approve", "approved"), ("Member-1", "reject", "rejected"), ("Member-2", "approve", "approved")]
    rejected = developer.json()["members"][1]
    assert rejected["decision"]["reason"] == "Export controls." and rejected["state"] == "rejected"
    assert developer.json()["cohort"]["awaiting_my_side"] == 0

    government = await api.post(decisions, headers=await bearer(world.gov_approver), json={})
    assert government.status_code == 200, government.text
    members = government.json()["members"]
    assert [(m["result"], m["refusal"]["code"] if m["refusal"] else None) for m in members] == [
        ("granted", None), ("refused", "not_pending"), ("granted", None)]  # fmt: skip
    assert "rejected" in members[1]["refusal"]["message"]
    assert government.json()["cohort"]["states"]["approved"] == 2
    for member in (members[0], members[2]):
        grant = await api.get(f"{API}/grants/{member['grant_id']}", headers=await bearer(world.gov_admin))
        assert grant.status_code == 200 and grant.json()["nomination_id"] == member["nomination_id"]
    assert await count_rows(engine, "access_grants") == 1 + 2
    again = await api.post(decisions, headers=await bearer(world.gov_approver2), json={})
    assert {m["refusal"]["code"] for m in again.json()["members"]} == {"not_pending"}


async def test_refusals_of_a_cohort_decision_change_nothing(api, world, bearer, unchanged):
    first, second = await members_of(world, count=2)
    _, partner_admin = await partner(world, name="asker")
    created = (await api.post(COHORTS, headers=await bearer(world.dev_approver),
                              json=proposal(world, ["member-0", "member-1"]))).json()  # fmt: skip
    decisions = f"{COHORTS}/{created['cohort']['id']}/decisions"
    gov, nominator, partner_headers = (await bearer(world.gov_approver), await bearer(world.dev_approver),
                                       await bearer(partner_admin))  # fmt: skip
    async with unchanged():
        answers = {
            "partner": await api.post(decisions, headers=partner_headers, json={}),
            "no_reason": await api.post(decisions, headers=gov, json={"reject": {str(first.id): "  "}}),
            "not_a_member": await api.post(decisions, headers=gov, json={"reject": {str(world.government.id): "x"}}),
            "not_an_id": await api.post(decisions, headers=gov, json={"reject": {"member-0": "x"}}),
            "unknown": await api.post(f"{COHORTS}/{uuid.uuid4()}/decisions", headers=gov, json={}),
            "own": await api.post(decisions, headers=nominator, json={}),
        }
    assert "partners never decide" in assert_problem(answers["partner"], 403, "forbidden")["detail"]
    body = assert_problem(answers["no_reason"], 422, "invalid", field="reject")
    assert body["detail"] == "Member-0: a reason for rejecting is required"
    assert "is no member of the cohort" in assert_problem(answers["not_a_member"], 422, "invalid", field="reject")["detail"]
    assert_problem(answers["not_an_id"], 400, "validation_error")
    assert_problem(answers["unknown"], 404, "not_found")
    own = answers["own"]
    assert own.status_code == 200, own.text  # reported per member: the nominator decides on none of them
    assert {(m["result"], m["refusal"]["code"]) for m in own.json()["members"]} == {("refused", "self_decision")}
    assert await world.count(AccessGrant) == 0


async def test_the_schema_documents_the_cohort_endpoints(api):
    document = (await api.get("/schema/openapi.json")).json()
    assert {"/api/v1/cohorts", "/api/v1/cohorts/{cohort_id}", "/api/v1/cohorts/{cohort_id}/decisions"} <= set(
        document["paths"])  # fmt: skip
    assert set(document["paths"]["/api/v1/cohorts"]) >= {"get", "post"}
