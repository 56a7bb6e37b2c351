"""Government first (DESIGN.md §3 rule 3): a partner's grant is usable at t only while the government's own access
to the model is in force at t — a blocked, lapsed, ended or revoked government grant gives none."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.db.tables import AccessGrant
from accessdesk.domain.grant_state import GrantFacts, derive_state
from accessdesk.domain.grants import Grants, usable_by_facts
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.transitions import materialise_grants
from accessdesk.domain.vocabulary import GrantState, Vetting

DAY = timedelta(days=1)


async def answer(world, grant, at=None):
    return await Grants(world.unit).usability(grant.id, at=at)


async def stored(world, grant):
    return await world.get(AccessGrant, grant.id)


async def test_a_partner_follows_the_governments_access_through_a_gap(world, clock):
    """Two government grants with a gap between them: the partner's access stops in the gap and resumes with the
    second, in the live answer and, once the worker has swept, in the stored state and the token endpoint's."""
    model = await world.new_model("gap", release_in=timedelta(days=25))
    await world.government_ready(valid_days=400)
    first = await world.government_grant(start=DAY, days=9, model=model)  # days 1–10
    second = await world.government_grant(start=20 * DAY, days=30, model=model)  # days 20–50
    partner, _ = await world.partner(valid_days=400)
    grant = await world.approve_both(await world.nominate(partner, start=2 * DAY, days=40, model=model))
    start = world.now
    assert (await answer(world, grant, start + 5 * DAY)).usable
    # In the gap the government's next access has not begun.
    gap = await answer(world, grant, start + 12 * DAY)
    assert not gap.usable and gap.state == GrantState.BLOCKED and gap.reasons == ("government_not_begun",)

    clock.advance(12 * DAY)
    # Before the worker's sweep the stored facts know only that the first access ended: not usable either.
    assert usable_by_facts(await stored(world, grant), world.now) is None
    assert (await stored(world, grant)).gate_lapses["government_access_ended"] == first.ends_at.isoformat()
    await materialise_grants(world.unit)
    row = await stored(world, grant)
    assert row.state == GrantState.BLOCKED and usable_by_facts(row, world.now) is None
    assert row.government_from == second.starts_at  # the worker found the government's next access

    clock.advance(10 * DAY)  # day 22: the second government grant is in force
    assert (await answer(world, grant)).usable
    assert derive_state(GrantFacts.of(await stored(world, grant)), world.now) == GrantState.ACTIVE
    await materialise_grants(world.unit)
    assert (await stored(world, grant)).state == GrantState.ACTIVE
    assert first.id != second.id


async def test_revoking_the_governments_grant_stops_the_partners_at_once(world, clock):
    await world.government_ready()
    government = await world.government_grant(start=timedelta(hours=1))
    partner, _ = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, start=DAY, days=20))
    clock.advance(2 * DAY)
    assert (await answer(world, grant)).usable
    await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=government.id, reason="incident")
    now = await answer(world, grant)
    assert not now.usable and now.reasons == ("government_access_ended",)
    row = await stored(world, grant)
    assert row.state == GrantState.SUSPENDED and usable_by_facts(row, world.now) is None


async def test_a_government_lapse_suspends_partners_and_renewing_resumes_them(world, clock):
    await world.government_ready(valid_days=5)
    await world.government_grant(start=timedelta(hours=1))
    partner, _ = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, start=DAY, days=20))
    clock.advance(6 * DAY)
    lapsed = await answer(world, grant)
    assert not lapsed.usable and lapsed.reasons == ("government_access_ended",)
    await world.government_ready(nda=False, valid_days=100)  # the government attests again
    assert (await answer(world, grant)).usable
    assert (await stored(world, grant)).state == GrantState.ACTIVE


async def test_a_partner_grant_with_no_government_grant_at_all_is_blocked(world):
    partner, _ = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, start=DAY, days=20))
    assert grant.state == GrantState.BLOCKED and "government_not_begun" in grant.rule_problems
    assert "government_not_begun" in (await answer(world, grant, world.now + 2 * DAY)).reasons
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    assert (await stored(world, grant)).state == GrantState.SCHEDULED  # the partner followed at once
    assert (await answer(world, grant, world.now + 2 * DAY)).usable


async def test_a_government_grant_that_starts_later_holds_the_partner_back_until_then(world, clock):
    """Both grants under way; the government's is revoked and replaced by one starting in three days: the
    partner's access (its window not re-checked, it has started) waits for the new one, blocked, and resumes."""
    await world.government_ready()
    early = await world.government_grant(start=timedelta(hours=1))
    partner, _ = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, start=DAY, days=20))
    clock.advance(2 * DAY)
    await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=early.id, reason="replaced")
    late = await world.government_grant(start=3 * DAY, days=30)
    between = await answer(world, grant)
    assert not between.usable and between.state == GrantState.BLOCKED
    assert between.reasons == ("government_not_begun",)
    row = await stored(world, grant)
    assert row.government_from == late.starts_at and row.state == GrantState.BLOCKED
    assert (await answer(world, grant, late.starts_at)).usable
    clock.advance(3 * DAY)
    await materialise_grants(world.unit)
    assert (await stored(world, grant)).state == GrantState.ACTIVE


async def test_declining_the_governments_screening_of_a_partner_changes_only_that_partner(world):
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    first, _ = await world.partner()
    second, _ = await world.partner()
    a = await world.approve_both(await world.nominate(first, start=DAY, days=20))
    b = await world.approve_both(await world.nominate(second, start=DAY, days=20))
    await Organisations(world.unit).decide_vetting(actor=world.gov_approver, organisation_id=first.id,
                                                   outcome=Vetting.DECLINED, reason="failed screening")  # fmt: skip
    assert "partner_not_vetted" in (await answer(world, a, world.now + 2 * DAY)).reasons
    assert (await answer(world, b, world.now + 2 * DAY)).usable
