"""Designation consultations through the JSON API: the developer's request, the government's queue, a message each
way, the decision; the government's reopening. Every refusal: its status, its problem body, and that nothing changed
anywhere."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from accessdesk.domain.consultations import Consultations
from accessdesk.domain.vocabulary import Designation, Role
from tests.support.api import API, assert_problem, outbox_topics
from tests.support.scenes import partner, rival_developer


async def vela(world):
    return await world.new_model("vela", designation=Designation.NOT_ASSESSED, release_in=timedelta(days=40))


async def test_from_request_to_covered(api, world, bearer, engine, clock):
    model = await vela(world)
    asked = await api.post(f"{API}/models/{model.id}/consultations", headers=await bearer(world.dev_admin),
                           json={"note": "Checkpoint 7 is near release.", "contacts": ["dana@acme.test"],
                                 "capabilities": ["cyber offence"]})  # fmt: skip
    assert asked.status_code == 201, asked.text
    round_ = asked.json()
    assert (round_["round"], round_["state"], round_["requested_side"]) == (1, "open", "developer")
    assert round_["model"]["slug"] == "vela" and round_["contacts"] == ["dana@acme.test"]
    assert round_["may"] == {"message": True, "decide": False}
    clock.advance(timedelta(days=3))

    queue = await api.get(f"{API}/consultations", headers=await bearer(world.gov_approver))
    assert queue.status_code == 200, queue.text
    [waiting] = queue.json()["items"]
    assert (waiting["id"], waiting["waited_seconds"], waiting["href"]) == (
        round_["id"], 3 * 86400, f"{API}/consultations/{round_['id']}")  # fmt: skip

    for who, body in ((world.gov_approver, "Please send the eval logs."), (world.dev_nominator, "Sent.")):
        written = await api.post(f"{API}/consultations/{round_['id']}/messages", headers=await bearer(who),
                                 json={"body": body})  # fmt: skip
        assert written.status_code == 201, written.text
        clock.advance(timedelta(hours=1))
    decided = await api.post(f"{API}/consultations/{round_['id']}/decision", headers=await bearer(world.gov_approver),
                             json={"outcome": "covered", "assessment_ref": "OAIS-DA-7"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["state"], body["outcome"], body["assessment_ref"]) == ("decided", "covered", "OAIS-DA-7")
    assert [(m["side"], m["body"]) for m in body["messages"]] == [("government", "Please send the eval logs."),
                                                                  ("developer", "Sent.")]  # fmt: skip
    assert body["may"] == {"message": False, "decide": False}
    model_now = await api.get(f"{API}/models/{model.id}", headers=await bearer(world.dev_admin))
    assert model_now.json()["designation"] == "covered"
    topics = await outbox_topics(engine)
    assert {"consultation.requested", "consultation.message", "consultation.decided"} <= set(topics)
    empty = await api.get(f"{API}/consultations", headers=await bearer(world.gov_approver))
    assert empty.json() == {"items": [], "next_cursor": None}


async def test_the_government_reopens_and_a_model_lists_its_rounds(api, world, bearer):
    reopened = await api.post(f"{API}/models/{world.model.id}/consultations", headers=await bearer(world.gov_admin),
                              json={"note": "A new checkpoint."})  # fmt: skip
    assert reopened.status_code == 201, reopened.text
    assert (reopened.json()["round"], reopened.json()["requested_side"]) == (2, "government")
    rounds = await api.get(f"{API}/models/{world.model.id}/consultations", headers=await bearer(world.dev_approver))
    assert [r["round"] for r in rounds.json()["items"]] == [2, 1]
    assert rounds.json()["items"][0]["reopens_id"] == rounds.json()["items"][1]["id"]


async def test_the_queue_pages_oldest_first(api, world, bearer, clock):
    ids = []
    for slug in ("one", "two", "three"):
        model = await world.new_model(slug, designation=Designation.NOT_ASSESSED)
        ids.append((await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go.")).id)
        clock.advance(timedelta(hours=1))
    first = await api.get(f"{API}/consultations", params={"limit": 2}, headers=await bearer(world.gov_admin))
    rest = await api.get(f"{API}/consultations", params={"limit": 2, "cursor": first.json()["next_cursor"]},
                         headers=await bearer(world.gov_admin))  # fmt: skip
    assert [w["id"] for w in first.json()["items"] + rest.json()["items"]] == [str(i) for i in ids]
    assert rest.json()["next_cursor"] is None
    assert_problem(await api.get(f"{API}/consultations", params={"cursor": "nonsense"},
                                 headers=await bearer(world.gov_admin)), 400, "validation_error", field="cursor")  # fmt: skip


@pytest.mark.parametrize("case", ["partner", "rival", "member", "approver", "covered", "open", "empty_note",
                                  "long_note", "nul_note", "many_contacts", "unknown_field", "unknown_model"])  # fmt: skip
async def test_refused_requests_change_nothing(api, world, bearer, unchanged, case):
    model = await vela(world)
    who, path = world.dev_admin, f"{API}/models/{model.id}/consultations"
    body: dict[str, object] = {"note": "Please assess."}
    expected: tuple[int, str, str | None]
    match case:
        case "partner":
            who, expected = (await partner(world))[1], (404, "not_found", None)
        case "rival":
            who, expected = (await rival_developer(world))[1], (404, "not_found", None)
        case "member":
            who, expected = await world.person(world.developer, "mo", [Role.MEMBER]), (404, "not_found", None)
        case "approver":
            who, expected = world.dev_approver, (403, "forbidden", None)
        case "covered":
            path, expected = f"{API}/models/{world.model.id}/consultations", (409, "conflict", None)
        case "open":
            await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="First.")
            expected = (409, "consultation_open", None)
        case "empty_note":
            body, expected = {"note": ""}, (400, "validation_error", "note")
        case "long_note":
            body, expected = {"note": "x" * 4001}, (400, "validation_error", "note")
        case "nul_note":
            body, expected = {"note": "a\x00b"}, (400, "validation_error", "note")
        case "many_contacts":
            body, expected = {"note": "n", "contacts": [str(i) for i in range(11)]}, (400, "validation_error", "contacts")
        case "unknown_field":
            body, expected = {"note": "n", "designation": "covered"}, (400, "validation_error", None)
        case "unknown_model":
            path, expected = f"{API}/models/{uuid.uuid4()}/consultations", (404, "not_found", None)
    headers = await bearer(who)
    async with unchanged():
        refused = await api.post(path, headers=headers, json=body)
    problem = assert_problem(refused, expected[0], expected[1])
    if expected[2] is not None:
        assert problem["errors"][0]["field"] == expected[2], problem


@pytest.mark.parametrize("case", ["partner", "rival", "developer_decides", "auditor_writes", "decided", "bad_outcome",
                                  "no_ref", "empty_body"])  # fmt: skip
async def test_refused_messages_and_decisions_change_nothing(api, world, bearer, unchanged, case):
    model = await vela(world)
    opened = await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go.")
    message, decision = f"{API}/consultations/{opened.id}/messages", f"{API}/consultations/{opened.id}/decision"
    who, path, body = world.gov_approver, decision, {"outcome": "covered", "assessment_ref": "R"}
    expected: tuple[int, str]
    match case:
        case "partner":
            who, path, body, expected = (await partner(world))[1], message, {"body": "hi"}, (404, "not_found")
        case "rival":
            who, expected = (await rival_developer(world))[1], (404, "not_found")
        case "developer_decides":
            who, expected = world.dev_admin, (403, "forbidden")
        case "auditor_writes":
            who = await world.person(world.developer, "audrey", [Role.AUDITOR])
            path, body, expected = message, {"body": "hi"}, (403, "forbidden")
        case "decided":
            await Consultations(world.unit).decide(actor=world.gov_admin, consultation_id=opened.id, outcome="covered",
                                                   assessment_ref="R0")  # fmt: skip
            expected = (409, "already_decided")
        case "bad_outcome":
            body, expected = {"outcome": "in_consultation", "assessment_ref": "R"}, (400, "validation_error")
        case "no_ref":
            body, expected = {"outcome": "covered", "assessment_ref": ""}, (400, "validation_error")
        case "empty_body":
            path, body, expected = message, {"body": ""}, (400, "validation_error")
    headers = await bearer(who)
    async with unchanged():
        refused = await api.post(path, headers=headers, json=body)
    assert_problem(refused, *expected)


async def test_strangers_find_no_consultation_and_an_empty_queue(api, world, bearer):
    model = await vela(world)
    opened = await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go.")
    for stranger in ((await partner(world))[1], (await rival_developer(world))[1]):
        headers = await bearer(stranger)
        assert_problem(await api.get(f"{API}/consultations/{opened.id}", headers=headers), 404, "not_found")
        assert_problem(await api.get(f"{API}/models/{model.id}/consultations", headers=headers), 404, "not_found")
        assert (await api.get(f"{API}/consultations", headers=headers)).json()["items"] == []
