from accessdesk.domain.grants import Grants
from accessdesk.domain.vocabulary import GrantState


async def test_world_builds_and_a_grant_flows(world, clock):
    await world.government_ready()
    grant = await world.government_grant()
    assert grant.state == GrantState.SCHEDULED
    usable = await Grants(world.unit).usability(grant.id, at=grant.starts_at)
    assert usable.usable, usable.reasons
