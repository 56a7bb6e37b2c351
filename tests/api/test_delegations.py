"""Delegations through the JSON API: naming a delegate (by id or e-mail), the list each person sees, ending one; the
refusals as problems that change nothing."""

from __future__ import annotations

from datetime import timedelta

from tests.support.api import API, assert_problem, outbox_topics
from tests.support.scenes import iso, partner

DELEGATIONS = f"{API}/delegations"
DAY = timedelta(days=1)


def body(world, taker=None, *, start=timedelta(0), days=7, **overrides):
    fields = {"delegate_id": str((taker or world.dev_approver2).user_id), "starts_at": iso(world.now + start),
              "ends_at": iso(world.now + start + days * DAY), "note": "On leave."}  # fmt: skip
    return {**fields, **overrides}


async def test_an_approver_names_a_delegate_by_id_or_e_mail_and_both_see_it(api, world, bearer, engine):
    made = await api.post(DELEGATIONS, headers=await bearer(world.dev_approver), json=body(world))
    assert made.status_code == 201, made.text
    given = made.json()
    assert (given["delegator"], given["delegate"], given["state"]) == ("dev1@acme.test", "dev2@acme.test", "active")
    assert (given["starts_at"], given["ends_at"], given["note"]) == (iso(world.now), iso(world.now + 7 * DAY), "On leave.")
    assert given["revoked_at"] is None and given["organisation_id"] == str(world.developer.id)
    assert "delegation.created" in await outbox_topics(engine)

    by_mail = await api.post(DELEGATIONS, headers=await bearer(world.gov_approver),
                             json={"delegate": " GOV2@aiso.test", "ends_at": iso(world.now + 3 * DAY)})  # fmt: skip
    assert by_mail.status_code == 201, by_mail.text
    assert (by_mail.json()["delegate"], by_mail.json()["starts_at"]) == ("gov2@aiso.test", iso(world.now))

    held = (await api.get(DELEGATIONS, headers=await bearer(world.dev_approver2))).json()["items"]
    assert [d["id"] for d in held] == [given["id"]]
    assert [d["id"] for d in (await api.get(DELEGATIONS, headers=await bearer(world.dev_admin))).json()["items"]] == [
        given["id"]]
    _, partner_admin = await partner(world)
    assert (await api.get(DELEGATIONS, headers=await bearer(partner_admin))).json() == {"items": []}


async def test_the_delegator_ends_it_and_nobody_else_but_their_admin(api, world, bearer, unchanged):
    made = (await api.post(DELEGATIONS, headers=await bearer(world.dev_approver), json=body(world))).json()
    revocation = f"{DELEGATIONS}/{made['id']}/revocation"
    for person in (world.dev_approver2, world.gov_admin, world.dev_nominator, world.dev_admin):
        await bearer(person)  # minting a token is audited: before, not inside, the unchanged blocks
    async with unchanged():
        assert_problem(await api.post(revocation, headers=await bearer(world.dev_approver2)), 403, "forbidden")
        for stranger in (world.gov_admin, world.dev_nominator):
            assert_problem(await api.post(revocation, headers=await bearer(stranger)), 404, "not_found")
        assert_problem(await api.post(f"{DELEGATIONS}/{world.model.id}/revocation",
                                      headers=await bearer(world.dev_approver)), 404, "not_found")  # fmt: skip
    ended = await api.post(revocation, headers=await bearer(world.dev_approver))
    assert ended.status_code == 200, ended.text
    assert (ended.json()["state"], ended.json()["revoked_by"]) == ("revoked", str(world.dev_approver.user_id))
    async with unchanged():
        assert_problem(await api.post(revocation, headers=await bearer(world.dev_admin)), 409, "already_revoked")


async def test_the_rules_refusals_name_their_field_and_change_nothing(api, world, bearer, unchanged):
    _, partner_admin = await partner(world)
    headers = await bearer(world.dev_approver)
    await bearer(partner_admin), await bearer(world.dev_nominator)
    async with unchanged():
        for fields, status, code, field in [
            (body(world, world.gov_approver), 422, "invalid", "delegate_id"),
            (body(world, world.dev_approver), 422, "invalid", "delegate_id"),
            (body(world, world.dev_nominator), 422, "invalid", "delegate_id"),
            (body(world, days=91), 422, "invalid", "ends_at"),
            (body(world, start=-3 * DAY, days=2), 422, "invalid", "ends_at"),
            ({**body(world), "delegate_id": None, "delegate": "gov2@aiso.test"}, 422, "invalid", "delegate"),
            ({**body(world), "ends_at": iso(world.now - DAY)}, 422, "invalid", "ends_at"),
        ]:
            assert_problem(await api.post(DELEGATIONS, headers=headers, json=fields), status, code, field=field)
        for fields in [{**body(world), "delegate": "dev2@acme.test"}, {k: v for k, v in body(world).items()
                                                                       if k != "delegate_id"},
                       {**body(world), "note": "a\x00b"}, {**body(world), "note": "x" * 1001},
                       {**body(world), "ends_at": "2026-12-09T12:00:00"}, {**body(world), "color": "red"}]:  # fmt: skip
            assert_problem(await api.post(DELEGATIONS, headers=headers, json=fields), 400, "validation_error")
        assert_problem(await api.post(DELEGATIONS, headers=await bearer(partner_admin),
                                      json={**body(world), "delegate_id": None, "delegate": "x@partner.test"}),
                       403, "forbidden")  # fmt: skip
        assert_problem(await api.post(DELEGATIONS, headers=await bearer(world.dev_nominator), json=body(world)),
                       403, "forbidden")  # fmt: skip
