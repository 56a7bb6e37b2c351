"""The read models every surface shows as they are: a grant's row and a person's home."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.gates import explain
from accessdesk.domain.grants import Grants, stored_answer
from accessdesk.domain.queries import ENDING_SOON, Queries
from accessdesk.domain.vocabulary import GrantState


async def test_a_grant_row_is_the_domains_answer_with_its_names(world):
    partner, _ = await world.partner(attested=False)
    await world.government_ready()
    await world.government_grant()
    grant = await world.approve_both(await world.nominate(partner))
    queries = Queries(world.unit)

    [row] = await queries.grant_rows([grant])
    assert row.answer == stored_answer(grant, world.now)
    assert (row.state, row.usable) == (GrantState.BLOCKED, False)
    assert row.explanations == [explain(code) for code in row.reasons] and row.reasons
    assert (row.model_name, row.organisation_name) == ("Atlas", partner.name)

    fresh = await queries.grant_row(world.gov_admin, grant.id)
    assert fresh.answer == await Grants(world.unit).usability(grant.id)


async def test_the_home_holds_the_queue_and_only_access_ending_soon(world, clock):
    await world.government_ready()
    soon = await world.government_grant(start=timedelta(hours=1), days=ENDING_SOON.days - 1)
    later = await world.government_grant(start=timedelta(days=ENDING_SOON.days), days=30)
    partner, admin = await world.partner()
    waiting = await world.nominate(partner, start=timedelta(days=2), days=5)
    clock.advance(timedelta(hours=2))
    queries = Queries(world.unit)

    home = await queries.home(world.gov_approver)
    assert [n.id for n in home.queue or []] == [waiting.id] and not home.more_queue
    assert home.names[waiting.organisation_id] == partner.name
    assert [row.grant.id for row in home.ending] == [soon.id] and later.id != soon.id
    assert home.ending[0].state == GrantState.ACTIVE and not home.more_ending

    assert (await queries.home(admin)).queue is None  # a partner has no approval queue at all
    assert (await queries.home(world.gov_approver, limit=1)).ending == home.ending


async def test_the_nominate_forms_choices_are_the_nominee_rules_uncut(world):
    partner, _ = await world.partner()
    switched_off = await world.new_model("borealis")
    switched_off.killed_at = world.now
    world.unit.session.add(switched_off)
    queries = Queries(world.unit)

    assert [m.id for m in await queries.nominable_models(world.dev_nominator)] == [world.model.id]
    assert {o.id for o in await queries.nominable_organisations(world.dev_nominator)} == {partner.id,
                                                                                          world.government.id}
    assert {m.id for m in await queries.own_models(world.dev_admin)} == {world.model.id, switched_off.id}
    assert await queries.own_models(world.gov_admin) == []
