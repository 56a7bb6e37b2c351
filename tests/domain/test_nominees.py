"""The organisations a person may nominate, found by name as they type: partners and governments only, names that
start with the text first, any case, never more than asked for, nothing at all for someone who may not nominate."""

from __future__ import annotations

import pytest

from accessdesk.domain.errors import Forbidden
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.nominees import nominees
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.queries import Queries
from accessdesk.domain.vocabulary import OrgKind
from tests.world import OPERATOR


async def organisation(world, name: str, *, kind: OrgKind = OrgKind.PARTNER) -> None:
    slug = "".join(c if c.isalnum() else "-" for c in name.lower())
    await Organisations(world.unit).create(actor=OPERATOR, kind=kind, name=name, slug=slug)


async def names(world, matching: str = "", *, limit: int = 100, actor=None) -> list[str]:
    found = await nominees(world.unit, actor or world.dev_nominator, matching=matching, limit=limit)
    return [o.name for o in found]


async def test_names_starting_with_the_text_come_first_then_those_containing_it_in_any_case(world):
    for name in ["Northwind Labs", "labrador analytics", "Lab One", "Collaborative AI", "Acme Labs Foundation"]:
        await organisation(world, name)
    await organisation(world, "Lab Developer", kind=OrgKind.DEVELOPER)  # access is never granted to a developer
    assert await names(world, "LAB") == ["Lab One", "labrador analytics", "Acme Labs Foundation", "Collaborative AI",
                                         "Northwind Labs"]  # fmt: skip
    assert await names(world, "  lab   one ") == ["Lab One"]
    assert await names(world, "security") == ["AI Security Office"]  # governments too
    assert await names(world, "acme") == ["Acme Labs Foundation"]  # not Acme AI, the developer


async def test_nothing_typed_lists_every_partner_and_government_alphabetically(world):
    await organisation(world, "Zeta Research")
    await organisation(world, "beta Institute")
    assert await names(world) == ["AI Security Office", "beta Institute", "Zeta Research"]


async def test_like_wildcards_typed_are_only_text(world):
    await organisation(world, "Lab One")
    for typed in ["%", "_", "\\", "/", "lab%one", "l_b"]:
        assert await names(world, typed) == [], typed


async def test_never_more_than_asked_for_yet_every_organisation_can_be_found(world):
    for n in range(120):
        await organisation(world, f"Partner {n:03d}")
    first = await names(world, limit=100)
    assert len(first) == 100
    assert first[:2] == ["AI Security Office", "Partner 000"] and first[-1] == "Partner 098"
    assert await names(world, "partner 11", limit=100) == [f"Partner 11{n}" for n in range(10)]
    assert await names(world, "119") == ["Partner 119"]


@pytest.mark.parametrize("who", ["gov_member", "partner admin"])
async def test_someone_who_may_not_nominate_is_offered_nothing(world, who):
    partner, admin = await world.partner(name="lab-one")
    actor = admin if who == "partner admin" else world.gov_member
    with pytest.raises(Forbidden):
        await nominees(world.unit, actor, matching="lab")



async def test_the_models_offered_are_those_seen_that_take_nominations_by_name(world):
    zeta = await world.new_model("zeta")
    await world.new_model("beta")
    await FrontierModels(world.unit).switch_off(actor=world.dev_admin, model_id=zeta.id, reason="Incident.")
    models = await Queries(world.unit).nominable_models(world.dev_nominator)
    assert [m.name for m in models] == ["Atlas", "Beta"]
