"""``GET /nominations?mine=true``: the nominations the caller made, newest first, within what they can see."""

from __future__ import annotations

from datetime import timedelta

from tests.support.api import API, assert_problem
from tests.support.scenes import partner

NOMINATIONS = f"{API}/nominations"


async def test_mine_lists_only_the_callers_own_nominations(api, world, bearer):
    organisation, _ = await partner(world)
    first = await world.nominate(organisation, start=timedelta(days=1), days=1)
    world.clock.advance(timedelta(minutes=1))
    by_approver = await world.nominate(organisation, start=timedelta(days=3), days=1, by=world.dev_approver)
    world.clock.advance(timedelta(minutes=1))
    second = await world.nominate(organisation, start=timedelta(days=5), days=1)

    async def mine(actor) -> list[str]:
        response = await api.get(NOMINATIONS, params={"mine": "true"}, headers=await bearer(actor))
        assert response.status_code == 200, response.text
        return [n["id"] for n in response.json()["items"]]

    assert await mine(world.dev_nominator) == [str(second.id), str(first.id)]
    assert await mine(world.dev_approver) == [str(by_approver.id)]
    assert await mine(world.gov_admin) == []
    everything = await api.get(NOMINATIONS, headers=await bearer(world.dev_nominator))
    assert len(everything.json()["items"]) == 3


async def test_a_mistyped_mine_is_400_naming_it(api, world, bearer):
    response = await api.get(NOMINATIONS, params={"mine": "perhaps"}, headers=await bearer(world.gov_admin))
    assert_problem(response, 400, "validation_error", field="mine")
