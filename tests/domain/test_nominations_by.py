"""``NominationFilter(nominated_by=…)``: one person's nominations, newest first, paged like any list, within what
the reader may see and together with the other filters."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.queries import NominationFilter, Queries
from accessdesk.domain.vocabulary import NominationState, OrgKind, Role
from tests.world import OPERATOR


async def test_a_persons_own_nominations_newest_first_however_many_others_are_newer(world):
    partner, _ = await world.partner()
    mine = []
    for n in range(5):
        mine.append(await world.nominate(partner, start=timedelta(days=1 + 2 * n), days=1))
        world.clock.advance(timedelta(minutes=1))
    for n in range(5, 30):  # newer, by someone else
        await world.nominate(partner, start=timedelta(days=1 + 2 * n), days=1, by=world.dev_approver)
        world.clock.advance(timedelta(minutes=1))
    queries = Queries(world.unit)
    by_nora = NominationFilter(nominated_by=world.dev_nominator.user_id)

    first = await queries.nominations(world.gov_admin, by_nora, limit=3)
    rest = await queries.nominations(world.gov_admin, by_nora, cursor=first.next_cursor, limit=3)
    assert [n.id for n in first.items + rest.items] == [n.id for n in reversed(mine)]
    assert first.next_cursor is not None and rest.next_cursor is None
    own = await queries.nominations(world.dev_nominator, by_nora, limit=20)
    assert ([n.id for n in own.items], own.next_cursor) == ([n.id for n in reversed(mine)], None)


async def test_combined_with_other_filters_and_never_beyond_what_the_reader_sees(world):
    partner, _ = await world.partner()
    kept = await world.nominate(partner, start=timedelta(days=1), days=1)
    withdrawn = await world.nominate(partner, start=timedelta(days=3), days=1)
    await CoSelection(world.unit).withdraw(actor=world.dev_nominator, nomination_id=withdrawn.id, reason="Typo.")
    other_developer = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Other AI",
                                                             slug="other-ai", domains=["other-ai.test"])  # fmt: skip
    outsider = await world.person(other_developer, "olga", [Role.ADMIN])
    queries = Queries(world.unit)
    by_nora = NominationFilter(nominated_by=world.dev_nominator.user_id)

    pending = await queries.nominations(world.gov_admin, NominationFilter(
        nominated_by=world.dev_nominator.user_id, state=NominationState.PENDING), limit=20)  # fmt: skip
    assert [n.id for n in pending.items] == [kept.id]
    assert (await queries.nominations(outsider, by_nora, limit=20)).items == []
    assert (await queries.nominations(world.gov_admin, NominationFilter(nominated_by=outsider.user_id),
                                      limit=20)).items == []  # fmt: skip
