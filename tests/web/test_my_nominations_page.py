"""``/console/nominations?mine=1``: the nominations the signed-in person made (where the Slack Home's "your
nominations" link leads)."""

from __future__ import annotations

from tests.support.console import sign_in


async def test_mine_lists_only_the_signed_in_persons_nominations(api, world):
    northwind, _ = await world.partner(name="northwind")
    contoso, _ = await world.partner(name="contoso")
    await world.nominate(northwind)
    await world.nominate(contoso, by=world.dev_approver)
    await sign_in(api, world.dev_nominator)
    mine = await api.get("/console/nominations?mine=1")
    assert mine.status_code == 200
    assert ">Northwind</a>" in mine.text and ">Contoso</a>" not in mine.text
    everything = await api.get("/console/nominations")
    assert ">Northwind</a>" in everything.text and ">Contoso</a>" in everything.text
    # The filter form keeps it: the box is ticked, so filtering again does not drop it.
    assert 'name="mine" value="1" checked' in mine.text and 'name="mine" value="1" checked' not in everything.text
