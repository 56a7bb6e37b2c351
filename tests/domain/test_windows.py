"""Access windows (DESIGN.md §3 rule 3): government at most 30 days before the planned release, partners never
before the government, bounded length, re-checked when the planned release moves."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.db.tables import AccessGrant
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import Conflict, Invalid, OutsideWindow, Overlap
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.vocabulary import GrantState, NominationState, Verdict

DAY = timedelta(days=1)


async def nominate_at(world, organisation, starts_at, ends_at, model=None):
    return await CoSelection(world.unit).nominate(
        actor=world.dev_nominator, model_id=(model or world.model).id, organisation_id=organisation.id,
        starts_at=starts_at, ends_at=ends_at, actions=["invoke"], justification="evaluation",
    )  # fmt: skip


async def test_government_may_start_exactly_30_days_before_release(world):
    model = await world.new_model("far", release_in=timedelta(days=45))
    floor = model.planned_release_at - timedelta(days=30)
    nomination = await nominate_at(world, world.government, floor, floor + 10 * DAY, model=model)
    assert nomination.state == NominationState.PENDING


async def test_government_may_not_start_a_microsecond_earlier(world, refused):
    model = await world.new_model("far", release_in=timedelta(days=45))
    floor = model.planned_release_at - timedelta(days=30)
    error = await refused(OutsideWindow, nominate_at(world, world.government, floor - timedelta(microseconds=1),
                                                     floor + 10 * DAY, model=model))  # fmt: skip
    assert error.field == "starts_at" and "30 days before the planned release" in error.message


async def test_a_window_must_end_after_it_starts_and_start_in_the_future(world, refused):
    start = world.now + DAY
    assert (await refused(Invalid, nominate_at(world, world.government, start, start))).field == "ends_at"
    assert (await refused(Invalid, nominate_at(world, world.government, world.now, start))).field == "starts_at"


async def test_a_window_may_last_the_models_maximum_and_no_longer(world, refused):
    start = world.now + DAY
    await nominate_at(world, world.government, start, start + timedelta(days=90))
    error = await refused(Invalid, nominate_at(world, world.government, start + DAY,
                                               start + DAY + timedelta(days=90, seconds=1)))  # fmt: skip
    assert error.field == "ends_at" and "90 days" in error.message


async def test_a_partner_may_not_start_before_the_government(world, refused):
    partner, _ = await world.partner()
    await world.government_ready()
    government = await world.government_grant(start=timedelta(days=2))
    error = await refused(OutsideWindow, nominate_at(world, partner, government.starts_at - timedelta(seconds=1),
                                                     government.starts_at + 5 * DAY))  # fmt: skip
    assert "before the government" in error.message
    same_moment = await nominate_at(world, partner, government.starts_at, government.starts_at + 5 * DAY)
    assert same_moment.state == NominationState.PENDING


async def test_a_partner_grant_without_any_government_grant_is_blocked_until_there_is_one(world):
    partner, _ = await world.partner()
    grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=3)))
    assert grant.state == GrantState.BLOCKED and grant.window_problems == ["window_before_government"]

    await world.government_ready()
    await world.government_grant(start=timedelta(days=1))
    grant = await world.get(AccessGrant, grant.id)
    assert grant.state == GrantState.SCHEDULED and grant.window_problems == []


async def test_overlapping_requests_for_the_same_partner_are_refused(world, refused):
    partner, _ = await world.partner()
    held = await world.nominate(partner, start=timedelta(days=2), days=10)
    overlap = await refused(Overlap, world.nominate(partner, start=timedelta(days=5), days=10))
    assert (overlap.kind, overlap.subject_id) == ("nomination", held.id)
    assert isinstance(overlap, Conflict)  # 409 wherever a conflict is

    granted = await world.approve_both(held)
    overlap = await refused(Overlap, world.nominate(partner, start=timedelta(days=11), days=10))
    assert (overlap.kind, overlap.subject_id) == ("grant", granted.id)
    starts, ends = granted.starts_at, granted.ends_at
    assert overlap.message.endswith(f"({starts:%Y-%m-%d %H:%M} → {ends:%Y-%m-%d %H:%M} UTC)")


async def test_moving_the_release_later_blocks_government_grants_that_now_start_too_early(world):
    await world.government_ready()
    partner, _ = await world.partner()
    government = await world.government_grant(start=timedelta(days=1))
    partner_grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=2)))
    assert government.state == partner_grant.state == GrantState.SCHEDULED

    later = world.model.planned_release_at + timedelta(days=20)
    blocked = await FrontierModels(world.unit).move_release(actor=world.dev_admin, model_id=world.model.id,
                                                            planned_release_at=later, reason="slipped")  # fmt: skip
    # The partner's grant relied on the government's access, which has not begun now (rule 3: government first).
    assert {g.id for g in blocked} == {government.id, partner_grant.id}
    government = await world.get(AccessGrant, government.id)
    assert government.state == GrantState.BLOCKED and government.window_problems == ["window_too_early"]
    usability = await Grants(world.unit).usability(government.id, at=government.starts_at)
    assert not usability.usable and "window_too_early" in usability.reasons
    stored = await world.get(AccessGrant, partner_grant.id)
    assert stored.state == GrantState.BLOCKED and stored.rule_problems == ["government_not_begun"]
    for at in (partner_grant.starts_at, partner_grant.starts_at + timedelta(days=5)):
        answer = await Grants(world.unit).usability(partner_grant.id, at=at)
        assert not answer.usable and answer.reasons == ("government_not_begun",)


async def test_moving_the_release_back_unblocks_them(world):
    await world.government_ready()
    government = await world.government_grant(start=timedelta(days=1))
    models = FrontierModels(world.unit)
    original = world.model.planned_release_at
    await models.move_release(actor=world.dev_admin, model_id=world.model.id, planned_release_at=original + 20 * DAY)
    await models.move_release(actor=world.dev_admin, model_id=world.model.id, planned_release_at=original)
    assert (await world.get(AccessGrant, government.id)).state == GrantState.SCHEDULED


async def test_grants_already_started_are_not_rechecked(world, clock):
    await world.government_ready()
    government = await world.government_grant(start=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    blocked = await FrontierModels(world.unit).move_release(
        actor=world.dev_admin, model_id=world.model.id, planned_release_at=world.model.planned_release_at + 40 * DAY
    )
    assert blocked == []
    assert (await Grants(world.unit).usability(government.id)).usable


async def test_moving_the_release_notifies_the_approvers(world):
    from sqlmodel import select

    from accessdesk.db.tables import OutboxMessage

    await world.government_ready()
    await world.government_grant(start=timedelta(days=1))
    await FrontierModels(world.unit).move_release(actor=world.dev_admin, model_id=world.model.id,
                                                  planned_release_at=world.model.planned_release_at + 20 * DAY)  # fmt: skip
    topics = (await world.unit.session.exec(select(OutboxMessage.topic))).all()
    assert "model.release_moved" in topics


async def test_an_extension_is_a_new_round_by_both_sides(world):
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1), days=30)
    coselection = CoSelection(world.unit)
    extension = await coselection.request_extension(actor=world.dev_nominator, grant_id=grant.id,
                                                    ends_at=grant.ends_at + 20 * DAY, justification="more evals")  # fmt: skip
    await coselection.decide(actor=world.dev_approver, nomination_id=extension.id, verdict=Verdict.APPROVE)
    assert (await world.get(AccessGrant, grant.id)).ends_at == grant.ends_at  # one side is not enough
    outcome = await coselection.decide(actor=world.gov_approver, nomination_id=extension.id, verdict=Verdict.APPROVE)
    assert outcome.grant is not None and outcome.grant.id == grant.id
    assert (await world.get(AccessGrant, grant.id)).ends_at == extension.ends_at


async def test_an_extension_may_not_exceed_the_maximum_window(world, refused):
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1), days=80)
    error = await refused(Invalid, CoSelection(world.unit).request_extension(
        actor=world.dev_nominator, grant_id=grant.id, ends_at=grant.starts_at + 91 * DAY, justification="more"))  # fmt: skip
    assert error.field == "ends_at"


async def test_the_preview_of_a_move_names_the_partners_that_would_follow_the_government_out(world):
    await world.government_ready()
    partner, _ = await world.partner()
    government = await world.government_grant(start=timedelta(days=1))
    partner_grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=2)))
    later = world.model.planned_release_at + timedelta(days=20)
    preview = await FrontierModels(world.unit).blocked_by_release(actor=world.dev_admin, model_id=world.model.id,
                                                                  planned_release_at=later)  # fmt: skip
    assert {g.id: problems for g, problems in preview} == {government.id: ["window_too_early"],
                                                           partner_grant.id: ["government_not_begun"]}  # fmt: skip
    assert (await world.get(AccessGrant, partner_grant.id)).state == GrantState.SCHEDULED  # a preview changes nothing
