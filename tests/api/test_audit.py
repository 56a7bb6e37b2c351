"""The audit trail over the API: every change leaves an event, newest first, filterable, and the chain verifies."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.api import API, assert_problem, count_rows
from tests.support.scenes import partner

EVENTS = f"{API}/audit/events"


async def test_a_change_through_the_api_is_audited_with_who_and_what(api, world, bearer):
    response = await api.post(f"{API}/organisations", headers=await bearer(world.gov_admin),
                              json={"name": "Audited Ltd", "slug": "audited"})  # fmt: skip
    organisation_id = response.json()["id"]
    events = (await api.get(EVENTS, params={"subject_id": organisation_id}, headers=await bearer(world.gov_admin))).json()
    [event] = events["items"]
    assert (event["action"], event["subject_type"], event["actor"]) == ("organisation.created", "organisations",
                                                                        "gail@aiso.test")  # fmt: skip
    assert event["actor_id"] == str(world.gov_admin.user_id)
    assert event["after"]["slug"] == "audited"
    assert len(event["hash"]) == 64 and len(event["prev_hash"]) == 64


async def test_events_come_newest_first_and_page_by_sequence(api, world, bearer, engine):
    await partner(world)
    headers = await bearer(world.dev_admin)
    total = await count_rows(engine, "audit_events")
    first = (await api.get(EVENTS, params={"limit": 5}, headers=headers)).json()
    seqs = [e["seq"] for e in first["items"]]
    assert seqs == list(range(total, total - 5, -1))
    assert first["next_before_seq"] == seqs[-1]
    walked = seqs
    before = first["next_before_seq"]
    while before is not None:
        page = (await api.get(EVENTS, params={"limit": 5, "before_seq": before}, headers=headers)).json()
        walked += [e["seq"] for e in page["items"]]
        before = page["next_before_seq"]
    assert walked == list(range(total, 0, -1))


async def test_events_filter_by_action_and_subject_type(api, world, bearer):
    await partner(world)
    headers = await bearer(world.gov_admin)
    vetted = (await api.get(EVENTS, params={"action": "organisation.vetting_vetted"}, headers=headers)).json()["items"]
    assert len(vetted) == 1
    models = (await api.get(EVENTS, params={"subject_type": "frontier_models"}, headers=headers)).json()["items"]
    assert {e["action"] for e in models} == {"model.registered", "model.designated"}
    assert (await api.get(EVENTS, params={"action": "nothing.happened"}, headers=headers)).json()["items"] == []


async def test_the_chain_verifies(api, world, bearer, engine):
    await partner(world)
    response = await api.get(f"{API}/audit/verification", headers=await bearer(world.gov_admin))
    assert response.status_code == 200, response.text
    total = await count_rows(engine, "audit_events")
    assert response.json() == {"ok": True, "checked": total, "head_seq": total, "broken_seq": None,
                               "broken_id": None, "problem": None,
                               "description": f"audit chain intact: {total} events verified, up to the head (#{total})"}  # fmt: skip


@pytest.mark.postgres_only
async def test_a_missing_tail_is_named_with_its_first_missing_event(api, world, bearer, engine):
    """Deleting the newest events (as a superuser can) leaves a chain that still links: only the head tells."""
    await partner(world)
    headers = await bearer(world.gov_admin)
    total = await count_rows(engine, "audit_events")
    async with engine.begin() as connection:
        await connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        await connection.execute(sa.text("DELETE FROM audit_events WHERE seq > :keep"), {"keep": total - 2})
    body = (await api.get(f"{API}/audit/verification", headers=headers)).json()
    assert (body["ok"], body["head_seq"], body["broken_seq"], body["broken_id"]) == (False, total, total - 1, None)
    assert f"#{total - 1}" in body["description"] and "missing" in body["description"]


async def test_only_auditors_and_admins_read_the_trail(api, world, bearer, unchanged):
    _, partner_admin = await partner(world)
    approver, partner_ = await bearer(world.dev_approver), await bearer(partner_admin)
    async with unchanged():
        for headers in (approver, partner_):
            assert_problem(await api.get(EVENTS, headers=headers), 403, "forbidden")
            assert_problem(await api.get(f"{API}/audit/verification", headers=headers), 403, "forbidden")
