"""A model's grants counted by state and its nominations still pending, by the database, among what the person can
see: the same states as each grant's own answer, and a nomination whose start passed counted as lapsed."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.grants import stored_answer
from accessdesk.domain.model_tally import ModelTally, model_tally


async def test_grants_are_counted_by_their_state_and_pending_nominations_until_their_start(world):
    grant = await world.government_grant()
    partner, partner_admin = await world.partner()
    other, _ = await world.partner()
    await world.nominate(partner)
    await world.nominate(other, start=timedelta(hours=2))
    tally = await model_tally(world.unit, world.dev_admin, model_id=world.model.id)
    assert tally == ModelTally(grants={stored_answer(grant, world.now).state: 1}, pending=2)
    world.clock.advance(timedelta(hours=3))
    tally = await model_tally(world.unit, world.dev_admin, model_id=world.model.id)
    assert tally == ModelTally(grants={stored_answer(grant, world.now).state: 1}, pending=1)
    # A partner sees its own nominations only, and no one else's grant.
    assert await model_tally(world.unit, partner_admin, model_id=world.model.id) == ModelTally(grants={}, pending=1)
