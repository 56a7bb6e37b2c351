"""Nominations: the full co-selection path, reading one with its tally, lists with filters and pages, withdrawal."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.vocabulary import Verdict
from tests.support.api import API, assert_problem, count_rows, outbox_topics
from tests.support.scenes import decided, government_grant, iso, partner, pending

NOMINATIONS = f"{API}/nominations"


def proposal(world, organisation, *, start=timedelta(days=1), days=30, **overrides):
    starts_at = world.now + start
    return {"model_id": str(world.model.id), "organisation_id": str(organisation.id), "starts_at": iso(starts_at),
            "ends_at": iso(starts_at + timedelta(days=days)), "actions": ["invoke", "evaluate"],
            "justification": "Pre-release safety evaluation.", **overrides}  # fmt: skip


async def test_nominated_then_approved_by_both_sides_the_partner_gets_a_grant_scoped_to_the_model(api, world, bearer,
                                                                                                 engine):  # fmt: skip
    await government_grant(world)
    organisation, admin = await partner(world)

    created = await api.post(NOMINATIONS, headers=await bearer(world.dev_nominator), json=proposal(world, organisation))
    assert created.status_code == 201, created.text
    nomination = created.json()
    assert (nomination["state"], nomination["kind"], nomination["grant_id"]) == ("pending", "grant", None)
    assert nomination["tally"] == {"developer": {"approvals": 0, "quorum": 1}, "government": {"approvals": 0, "quorum": 1}}
    assert nomination["actions"] == ["evaluate", "invoke"]
    assert nomination["decisions"] == []
    decisions = f"{NOMINATIONS}/{nomination['id']}/decisions"

    first = await api.post(decisions, headers=await bearer(world.dev_approver), json={"verdict": "approve"})
    assert first.status_code == 201, first.text
    assert (first.json()["decision"]["side"], first.json()["nomination"]["state"]) == ("developer", "pending")
    assert first.json()["grant_id"] is None

    world.clock.advance(timedelta(minutes=5))
    second = await api.post(decisions, headers=await bearer(world.gov_approver),
                            json={"verdict": "approve", "reason": "Cleared by the security office."})  # fmt: skip
    assert second.status_code == 201, second.text
    outcome = second.json()
    assert outcome["decision"]["side"] == "government"
    assert outcome["nomination"]["state"] == "approved"
    assert outcome["nomination"]["tally"]["government"] == {"approvals": 1, "quorum": 1}
    grant_id = outcome["grant_id"]
    assert grant_id is not None and outcome["nomination"]["grant_id"] == grant_id  # the nomination names its grant

    read = (await api.get(f"{NOMINATIONS}/{nomination['id']}", headers=await bearer(admin))).json()
    assert (read["state"], read["decided_at"]) == ("approved", iso(world.now))
    assert [(d["side"], d["verdict"]) for d in read["decisions"]] == [("developer", "approve"), ("government", "approve")]

    grant = await api.get(f"{API}/grants/{grant_id}", headers=await bearer(admin))
    assert grant.status_code == 200, grant.text
    assert grant.json()["scopes"] == ["model:atlas:evaluate", "model:atlas:invoke"]
    assert (grant.json()["state"], grant.json()["usable"]) == ("scheduled", False)
    assert [p["code"] for p in grant.json()["problems"]] == ["window_not_started"]
    assert grant.json()["starts_at"] == nomination["starts_at"]
    listed = (await api.get(f"{API}/grants", headers=await bearer(admin))).json()["items"]
    assert [g["id"] for g in listed] == [grant_id]

    audit = await bearer(world.gov_admin)
    trail = (await api.get(f"{API}/audit/events", params={"subject_id": nomination["id"]}, headers=audit)).json()
    assert [e["action"] for e in reversed(trail["items"])] == ["nomination.created", "nomination.tallied",
                                                               "nomination.approved"]  # fmt: skip
    created = (await api.get(f"{API}/audit/events", params={"subject_id": grant_id}, headers=audit)).json()
    assert [e["action"] for e in created["items"]] == ["grant.created"]
    assert await count_rows(engine, "decisions") == 2 + 2  # the government's own grant took two decisions too
    assert (await outbox_topics(engine)).count("nomination.approved") == 2  # the government's, then the partner's


async def test_a_rejection_with_its_reason_closes_the_nomination(api, world, bearer):
    organisation, _ = await partner(world)
    nomination = await pending(world, organisation)
    response = await api.post(f"{NOMINATIONS}/{nomination.id}/decisions", headers=await bearer(world.gov_approver),
                              json={"verdict": "reject", "reason": "Export controls."})  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["nomination"]["state"] == "rejected"
    assert response.json()["nomination"]["outcome_reason"] == "Export controls."
    assert response.json()["grant_id"] is None


async def _cases(world):
    """Nominations in every state: one partner across non-overlapping windows, another model, another partner."""
    first, _ = await partner(world)
    second, _ = await partner(world)
    beta = await world.new_model("beta")
    cases = {
        "lapsing": await pending(world, first, start=timedelta(hours=2), days=1),
        "pending": await pending(world, first, start=timedelta(days=2), days=1),
        "awaiting_government": await pending(world, first, start=timedelta(days=4), days=1),
        "approved": await pending(world, first, start=timedelta(days=6), days=1),
        "rejected": await pending(world, first, start=timedelta(days=8), days=1),
        "withdrawn": await pending(world, first, start=timedelta(days=10), days=1),
        "other_model": await pending(world, first, start=timedelta(days=2), days=1, model=beta),
        "other_partner": await pending(world, second, start=timedelta(days=2), days=1),
    }
    await decided(world, cases["awaiting_government"], world.dev_approver)
    await decided(world, cases["approved"], world.dev_approver, world.gov_approver)
    await decided(world, cases["rejected"], world.gov_approver, verdict=Verdict.REJECT, reason="no")
    await CoSelection(world.unit).withdraw(actor=world.dev_nominator, nomination_id=cases["withdrawn"].id)
    world.clock.advance(timedelta(hours=3))
    return {name: str(n.id) for name, n in cases.items()}, first, second, beta


async def test_nominations_are_filtered_by_state_model_organisation_and_queue(api, world, bearer):
    ids, first, second, beta = await _cases(world)
    gov = await bearer(world.gov_admin)

    async def names(headers, **params):
        response = await api.get(NOMINATIONS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        by_id = {v: k for k, v in ids.items()}
        return {by_id[n["id"]]: n["state"] for n in response.json()["items"]}

    waiting = {"pending", "awaiting_government", "other_model", "other_partner"}
    assert set(await names(gov, state="pending")) == waiting
    assert await names(gov, state="lapsed") == {"lapsing": "lapsed"}
    assert await names(gov, state="approved") == {"approved": "approved"}
    assert await names(gov, state="rejected") == {"rejected": "rejected"}
    assert await names(gov, state="withdrawn") == {"withdrawn": "withdrawn"}
    assert set(await names(gov, model_id=str(beta.id))) == {"other_model"}
    assert set(await names(gov, organisation_id=str(second.id))) == {"other_partner"}
    assert set(await names(gov, state="pending", model_id=str(world.model.id), organisation_id=str(first.id))) == {
        "pending", "awaiting_government"}  # fmt: skip
    assert set(await names(gov, awaiting="government")) == waiting
    assert set(await names(gov, awaiting="developer")) == waiting - {"awaiting_government"}
    assert set(await names(await bearer(world.dev_approver), for_me="true")) == waiting - {"awaiting_government"}
    assert set(await names(await bearer(world.dev_approver2), for_me="true")) == waiting - {"awaiting_government"}
    assert set(await names(await bearer(world.gov_approver), for_me="true")) == waiting
    assert set(await names(await bearer(world.dev_nominator))) == set(ids)


async def test_nominations_page_newest_first_without_gaps_or_repeats(api, world, bearer):
    ids, *_ = await _cases(world)
    headers = await bearer(world.gov_admin)
    everything = (await api.get(NOMINATIONS, params={"limit": 200}, headers=headers)).json()
    assert everything["next_cursor"] is None
    in_order = [n["id"] for n in everything["items"]]
    assert set(in_order) == set(ids.values())
    walked, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(NOMINATIONS, params=params, headers=headers)).json()
        walked += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == in_order
    created = [n["created_at"] for n in everything["items"]]
    assert created == sorted(created, reverse=True)


async def test_a_partner_lists_only_its_own_nominations_and_has_no_queue(api, world, bearer, unchanged):
    ids, *_ = await _cases(world)
    organisation, admin = await partner(world)
    await pending(world, organisation, start=timedelta(days=1))
    headers = await bearer(admin)
    listed = (await api.get(NOMINATIONS, headers=headers)).json()["items"]
    assert {n["organisation_id"] for n in listed} == {str(organisation.id)}
    assert_problem(await api.get(f"{NOMINATIONS}/{ids['other_partner']}", headers=headers), 404, "not_found")
    async with unchanged():
        queue = await api.get(NOMINATIONS, params={"for_me": "true"}, headers=headers)
    assert_problem(queue, 403, "forbidden")


async def test_the_nominator_or_an_admin_of_their_organisation_withdraws(api, world, bearer):
    organisation, _ = await partner(world)
    own = await pending(world, organisation, start=timedelta(days=1), days=5)
    colleague = await pending(world, organisation, start=timedelta(days=10), days=5)
    by_nominator = await api.post(f"{NOMINATIONS}/{own.id}/withdrawal", headers=await bearer(world.dev_nominator),
                                  json={"reason": "Wrong window."})  # fmt: skip
    assert by_nominator.status_code == 200, by_nominator.text
    assert (by_nominator.json()["state"], by_nominator.json()["outcome_reason"]) == ("withdrawn", "Wrong window.")
    by_admin = await api.post(f"{NOMINATIONS}/{colleague.id}/withdrawal", headers=await bearer(world.dev_admin), json={})
    assert by_admin.status_code == 200, by_admin.text


async def test_withdrawal_refusals_change_nothing(api, world, bearer, unchanged):
    organisation, partner_admin = await partner(world)
    nomination = await pending(world, organisation)
    closed = await pending(world, organisation, start=timedelta(days=40), days=5)
    path = f"{NOMINATIONS}/{nomination.id}/withdrawal"
    gov, partner_, nominator = await bearer(world.gov_admin), await bearer(partner_admin), await bearer(world.dev_nominator)
    assert (await api.post(f"{NOMINATIONS}/{closed.id}/withdrawal", headers=nominator, json={})).status_code == 200
    async with unchanged():
        by_the_other_side = await api.post(path, headers=gov, json={})
        by_the_partner = await api.post(path, headers=partner_, json={})
        twice = await api.post(f"{NOMINATIONS}/{closed.id}/withdrawal", headers=nominator, json={})
    assert_problem(by_the_other_side, 403, "forbidden")
    assert_problem(by_the_partner, 403, "forbidden")
    assert_problem(twice, 409, "not_pending")
