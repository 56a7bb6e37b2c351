"""Reasons and re-requests through the JSON API: what a partner reads of a refusal (a shared reason, never an internal
one, nor a decision's delegation), its request to be reconsidered, and the nominator's side taking it up or declining
it; the refusals as problems that change nothing."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.cohorts import Cohorts
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.vocabulary import Verdict
from tests.support.api import API, assert_problem, outbox_topics
from tests.support.scenes import iso, partner, partner_member

INTERNAL = "Their export licence lapsed; do not tell them yet."
SHARED = "Your vetting is out of date."
DAY = timedelta(days=1)


async def rejected(world, *, shared=False):
    """A partner, its admin, and a nomination of it the government rejected (``shared``: saying why to it)."""
    organisation, admin = await partner(world)
    nomination = await world.nominate(organisation)
    await CoSelection(world.unit).decide(actor=world.fresh(world.gov_approver), nomination_id=nomination.id,
                                         verdict=Verdict.REJECT, reason=SHARED if shared else INTERNAL,
                                         reason_shared=shared)  # fmt: skip
    return organisation, admin, nomination


async def test_an_internal_reason_never_reaches_the_partner_but_staff_read_it(api, world, bearer):
    _, admin, nomination = await rejected(world)
    one = await api.get(f"{API}/nominations/{nomination.id}", headers=await bearer(admin))
    assert one.status_code == 200, one.text
    assert one.json()["state"] == "rejected" and one.json()["outcome_reason"] is None
    [decision] = one.json()["decisions"]
    assert decision["reason"] is None and decision["verdict"] == "reject"
    assert not {"reason_shared", "decided_by", "delegation_id"} & set(decision)
    listed = await api.get(f"{API}/nominations", headers=await bearer(admin))
    assert INTERNAL not in one.text and INTERNAL not in listed.text
    for staff in (world.dev_nominator, world.gov_member):
        read = (await api.get(f"{API}/nominations/{nomination.id}", headers=await bearer(staff))).json()
        assert read["outcome_reason"] == INTERNAL and read["decisions"][0]["reason"] == INTERNAL
        assert read["decisions"][0]["reason_shared"] is False
        assert (await api.get(f"{API}/nominations", headers=await bearer(staff))).json()["items"][0][
            "outcome_reason"] == INTERNAL


async def test_a_shared_reason_is_the_partners_to_read(api, world, bearer):
    _, admin, nomination = await rejected(world, shared=True)
    read = (await api.get(f"{API}/nominations/{nomination.id}", headers=await bearer(admin))).json()
    assert read["outcome_reason"] == SHARED and read["decisions"][0]["reason"] == SHARED


async def test_a_cohort_member_read_by_its_partner_keeps_an_internal_reason_out(api, world, bearer):
    organisation, admin = await partner(world)
    made = await Cohorts(world.unit).nominate_cohort(actor=world.dev_nominator, model_id=world.model.id, name="Wave 1",
                                              organisation_ids=[organisation.id], starts_at=world.now + DAY,
                                              ends_at=world.now + 20 * DAY, actions=["invoke"], justification="Why.")  # fmt: skip
    [member] = made.nominated
    assert member.nomination is not None
    await CoSelection(world.unit).decide(actor=world.fresh(world.gov_approver), nomination_id=member.nomination.id,
                                         verdict=Verdict.REJECT, reason=INTERNAL)  # fmt: skip
    read = await api.get(f"{API}/cohorts/{made.cohort.id}", headers=await bearer(admin))
    assert read.status_code == 200, read.text
    assert read.json()["members"][0]["nomination"]["state"] == "rejected" and INTERNAL not in read.text
    staff = (await api.get(f"{API}/cohorts/{made.cohort.id}", headers=await bearer(world.dev_nominator))).json()
    assert staff["members"][0]["nomination"]["outcome_reason"] == INTERNAL


async def test_the_partner_asks_and_the_nominator_takes_it_up_as_a_new_round(api, world, bearer, engine):
    organisation, admin, nomination = await rejected(world, shared=True)
    asked = await api.post(f"{API}/nominations/{nomination.id}/reconsideration", headers=await bearer(admin),
                           json={"note": "We renewed our vetting last week."})  # fmt: skip
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert (request["state"], request["note"], request["refusal_reason"]) == ("open", "We renewed our vetting last "
                                                                               "week.", SHARED)  # fmt: skip
    assert (request["model_name"], request["organisation_name"], request["may_answer"]) == ("Atlas", organisation.name,
                                                                                           False)  # fmt: skip
    assert "reconsideration.requested" in await outbox_topics(engine)

    queue = await api.get(f"{API}/reconsiderations", params={"state": "open"}, headers=await bearer(world.dev_nominator))
    [waiting] = queue.json()["items"]
    assert (waiting["id"], waiting["may_answer"]) == (request["id"], True)
    assert (await api.get(f"{API}/reconsiderations", headers=await bearer(world.gov_approver))).json()["items"] == []

    taken = await api.post(f"{API}/reconsiderations/{request['id']}/take-up", headers=await bearer(world.dev_nominator),
                           json={"response": "We will look again."})  # fmt: skip
    assert taken.status_code == 200, taken.text
    new = taken.json()["nomination"]
    assert (new["state"], new["reconsiders_id"], new["organisation_id"]) == ("pending", str(nomination.id),
                                                                             str(organisation.id))  # fmt: skip
    assert (new["starts_at"], new["ends_at"]) == (iso(nomination.starts_at), iso(nomination.ends_at))
    assert taken.json()["reconsideration"]["new_nomination_id"] == new["id"]
    mine = (await api.get(f"{API}/reconsiderations/{request['id']}", headers=await bearer(admin))).json()
    assert (mine["state"], mine["response"], mine["new_nomination_id"]) == ("taken_up", "We will look again.", new["id"])
    seen = await api.get(f"{API}/nominations/{new['id']}", headers=await bearer(admin))
    assert seen.status_code == 200 and seen.json()["reconsiders_id"] == str(nomination.id)
    assert "reconsideration.taken_up" in await outbox_topics(engine)


async def test_declined_with_a_response_in_a_window_nobody_chose(api, world, bearer):
    organisation, admin, nomination = await rejected(world)
    member = await partner_member(world, organisation)
    asked = (await api.post(f"{API}/nominations/{nomination.id}/reconsideration", headers=await bearer(member),
                            json={"note": "Please."})).json()  # fmt: skip
    assert asked["refusal_reason"] is None
    declined = await api.post(f"{API}/reconsiderations/{asked['id']}/decline", headers=await bearer(world.dev_admin),
                              json={"response": "Not this quarter."})  # fmt: skip
    assert declined.status_code == 200, declined.text
    assert (declined.json()["state"], declined.json()["response"]) == ("declined", "Not this quarter.")
    assert declined.json()["refusal_reason"] == INTERNAL  # staff read it
    read = (await api.get(f"{API}/reconsiderations", headers=await bearer(admin))).json()["items"]
    assert [(r["state"], r["response"], r["refusal_reason"]) for r in read] == [("declined", "Not this quarter.", None)]


async def test_hostile_requests_are_refused_and_change_nothing(api, world, bearer, unchanged):
    organisation, admin, nomination = await rejected(world)
    _, stranger = await partner(world)
    pending = await world.nominate(organisation, start=40 * DAY)
    asked = (await api.post(f"{API}/nominations/{nomination.id}/reconsideration", headers=await bearer(admin),
                            json={"note": "Please."})).json()  # fmt: skip
    take_up, decline = (f"{API}/reconsiderations/{asked['id']}/take-up", f"{API}/reconsiderations/{asked['id']}/decline")
    ask = f"{API}/nominations/{nomination.id}/reconsideration"
    people = {name: await bearer(who) for name, who in (("admin", admin), ("stranger", stranger),
                                                         ("nominator", world.dev_nominator),
                                                         ("government", world.gov_approver))}  # fmt: skip
    async with unchanged():
        assert_problem(await api.post(ask, headers=people["stranger"], json={"note": "Me too."}), 404, "not_found")
        assert_problem(await api.post(ask, headers=people["admin"], json={"note": "Again."}), 409,
                       "reconsideration_open")  # fmt: skip
        assert_problem(await api.post(ask, headers=people["nominator"], json={"note": "?"}), 403, "forbidden")
        assert_problem(await api.post(f"{API}/nominations/{pending.id}/reconsideration", headers=people["admin"],
                                      json={"note": "?"}), 409, "conflict")  # fmt: skip
        for body in ({}, {"note": ""}, {"note": "a\x00"}, {"note": "x" * 2001}, {"note": 5}, {"note": "n", "x": 1}):
            assert_problem(await api.post(ask, headers=people["admin"], json=body), 400, "validation_error")
        assert_problem(await api.post(take_up, headers=people["admin"], json={}), 403, "forbidden")
        assert_problem(await api.post(take_up, headers=people["stranger"], json={}), 404, "not_found")
        assert_problem(await api.post(take_up, headers=people["government"], json={}), 403, "forbidden")
        assert_problem(await api.post(decline, headers=people["admin"], json={"response": "No."}), 403, "forbidden")
        assert_problem(await api.post(decline, headers=people["stranger"], json={"response": "No."}), 404, "not_found")
        assert_problem(await api.post(decline, headers=people["nominator"], json={}), 400, "validation_error")
        assert_problem(await api.post(take_up, headers=people["nominator"],
                                      json={"starts_at": iso(world.now - DAY)}), 422, "invalid", field="starts_at")  # fmt: skip
        assert_problem(await api.get(f"{API}/reconsiderations/{asked['id']}", headers=people["stranger"]), 404,
                       "not_found")  # fmt: skip
        assert_problem(await api.get(f"{API}/reconsiderations", params={"state": "maybe"}, headers=people["admin"]),
                       400, "validation_error")  # fmt: skip
        assert (await api.get(f"{API}/reconsiderations", headers=people["stranger"])).json()["items"] == []
