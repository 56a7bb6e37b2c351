"""``GET /api/v1/readiness`` and ``POST /api/v1/credentials/{id}/self-test``: a grantee's stages and a credential's
self-test as JSON, and the self-test agreeing with the token endpoint itself."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.credentials import Credentials
from tests.support.api import API, assert_problem
from tests.support.oauth import SETTINGS, basic
from tests.support.scenes import partner_member


async def started(world):
    await world.government_ready()
    await world.government_grant()
    organisation, admin = await world.partner(name="northwind")
    grant = await world.approve_both(await world.nominate(organisation, start=timedelta(days=1)))
    world.clock.advance(timedelta(days=2))
    return organisation, admin, grant


async def test_a_partner_reads_its_stages_with_whose_move_each_reason_is(api, bearer, world):
    organisation, admin, grant = await started(world)
    blocked_org, blocked_admin = await world.partner(name="westwind", nda=False)
    await world.approve_both(await world.nominate(blocked_org, start=timedelta(days=1)))
    response = await api.get(f"{API}/readiness", headers=await bearer(admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["organisation_id"] == str(organisation.id) and body["organisation"] == "Northwind"
    [row] = body["grants"]
    assert (row["grant_id"], row["stage"], row["reasons"], row["live_credentials"]) == (
        str(grant.id), "ready_to_provision", [], 0)
    assert row["stage_in_words"] == "ready to provision: create a credential"

    blocked = (await api.get(f"{API}/readiness", headers=await bearer(blocked_admin))).json()["grants"][0]
    assert blocked["stage"] == "blocked"
    assert blocked["reasons"] == [
        {"code": "nda_missing", "whose": "grantee", "message": "the current major version of the NDA has not been accepted"},
        {"code": "window_not_started", "whose": "time", "message": "the access window has not started"},
    ]  # fmt: skip


async def test_staff_read_any_organisations_readiness_partners_only_their_own(api, bearer, world):
    organisation, admin, _ = await started(world)
    _, other_admin = await world.partner(name="southwind")
    member = await partner_member(world, organisation)
    for reader in (world.gov_member, world.dev_approver, member):
        response = await api.get(f"{API}/readiness", params={"organisation_id": str(organisation.id)},
                                 headers=await bearer(reader))  # fmt: skip
        assert response.status_code == 200, response.text
        assert [g["stage"] for g in response.json()["grants"]] == ["ready_to_provision"]
    response = await api.get(f"{API}/readiness", params={"organisation_id": str(organisation.id)},
                             headers=await bearer(other_admin))  # fmt: skip
    body = assert_problem(response, 404, "not_found")
    assert "Northwind" not in response.text and body["detail"] == f"organisation {organisation.id} not found"


async def test_the_self_test_agrees_with_the_token_endpoint(api, bearer, world, unchanged):
    _, admin, grant = await started(world)
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=admin, grant_id=grant.id, name="ci")
    assert issued.secret is not None
    url = f"{API}/credentials/{issued.client.client_id}/self-test"
    headers = await bearer(admin)

    async with unchanged():  # a self-test issues nothing, counts nothing and records nothing
        response = await api.post(url, json={"client_secret": issued.secret}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["passed"], body["first_failure"], body["client_id"]) == (True, None, issued.client.client_id)
    assert [c["check"] for c in body["checks"]] == ["credential", "authentication", "grant", "scopes"]
    token = await api.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
    assert token.status_code == 200, token.text

    wrong = (await api.post(url, json={"client_secret": "adks_wrong"}, headers=headers)).json()
    assert (wrong["passed"], wrong["first_failure"]) == (False, "authentication")
    refused = await api.post("/oauth/token", data={"grant_type": "client_credentials"},
                             headers=basic(issued.client.client_id, "adks_wrong"))  # fmt: skip
    assert refused.status_code == 401

    world.clock.advance(timedelta(days=40))  # the window has ended
    ended = (await api.post(f"{API}/credentials/{issued.client.id}/self-test", headers=headers)).json()
    assert (ended["passed"], ended["first_failure"]) == (False, "grant")
    [grant_check] = [c for c in ended["checks"] if c["check"] == "grant"]
    token = await api.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(issued.client.client_id, issued.secret))  # fmt: skip
    assert token.status_code == 400 and token.json()["error_description"] == grant_check["message"]
    assert {"code": "window_ended", "whose": "time", "message": "the access window has ended"} in grant_check["reasons"]


async def test_a_self_test_of_someone_elses_credential_is_not_found(api, bearer, world, unchanged):
    _, admin, grant = await started(world)
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=admin, grant_id=grant.id, name="ci")
    _, other_admin = await world.partner(name="southwind")
    for reader, credential in ((other_admin, issued.client.client_id), (world.gov_admin, str(issued.client.id)),
                               (world.dev_admin, issued.client.client_id), (admin, "adk_c_nope")):  # fmt: skip
        headers = await bearer(reader)  # minting a token is audited: before the block
        async with unchanged():
            response = await api.post(f"{API}/credentials/{credential}/self-test", headers=headers)
        body = assert_problem(response, 404, "not_found")
        assert issued.client.name not in response.text and "credential" in body["detail"]


async def test_a_self_test_refuses_a_malformed_body(api, bearer, world, unchanged):
    _, admin, grant = await started(world)
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=admin, grant_id=grant.id, name="ci")
    url = f"{API}/credentials/{issued.client.id}/self-test"
    headers = await bearer(admin)
    for body in ({"client_secret": ""}, {"client_secret": "x" * 201}, {"client_secret": 5}, {"secret": "x"}, [1]):
        async with unchanged():
            response = await api.post(url, json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert issued.client.client_id not in response.text
