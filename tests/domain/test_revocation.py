"""Revocation (DESIGN.md §3 rule 5): either side cuts access at once; the kill switch cuts all of a model's."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.db.tables import AccessGrant, Nomination
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import AlreadyRevoked, Conflict, Forbidden, Invalid, ModelSwitchedOff, NotFound
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.vocabulary import GrantState, NominationState


async def active_grant(world, clock):
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    assert (await Grants(world.unit).usability(grant.id)).usable
    return grant


async def test_either_side_alone_revokes_and_access_stops_at_once(world, clock):
    for revoker in ("dev_approver", "gov_approver"):
        grant = await active_grant(world, clock) if revoker == "dev_approver" else await world.government_grant(
            model=await world.new_model("other"), start=timedelta(hours=1))  # fmt: skip
        revoked = await Grants(world.unit).revoke(actor=getattr(world, revoker), grant_id=grant.id, reason="leak")
        assert revoked.state == GrantState.REVOKED and revoked.revoke_reason == "leak"
        answer = await Grants(world.unit).usability(grant.id)
        assert not answer.usable and answer.reasons == ("revoked",)


async def test_revocation_needs_a_reason_and_happens_once(world, clock, refused):
    grant = await active_grant(world, clock)
    grants = Grants(world.unit)
    assert (await refused(Invalid, grants.revoke(actor=world.gov_approver, grant_id=grant.id, reason=" "))).field == "reason"
    await grants.revoke(actor=world.gov_approver, grant_id=grant.id, reason="incident")
    await refused(AlreadyRevoked, grants.revoke(actor=world.dev_approver, grant_id=grant.id, reason="again"))


async def test_partners_members_and_strangers_cannot_revoke(world, clock, refused):
    grant = await active_grant(world, clock)
    _, partner_admin = await world.partner()
    grants = Grants(world.unit)
    await refused(NotFound, grants.revoke(actor=partner_admin, grant_id=grant.id, reason="x"))  # cannot see it
    await refused(Forbidden, grants.revoke(actor=world.gov_member, grant_id=grant.id, reason="x"))
    await refused(Forbidden, grants.revoke(actor=world.dev_nominator, grant_id=grant.id, reason="x"))
    assert (await Grants(world.unit).usability(grant.id)).usable


async def test_revoking_withdraws_a_pending_extension(world, clock, refused):
    grant = await active_grant(world, clock)
    coselection = CoSelection(world.unit)
    extension = await coselection.request_extension(actor=world.dev_nominator, grant_id=grant.id,
                                                    ends_at=grant.ends_at + timedelta(days=5), justification="more")  # fmt: skip
    await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=grant.id, reason="incident")
    assert (await world.get(Nomination, extension.id)).state == NominationState.WITHDRAWN
    await refused(Conflict, coselection.request_extension(actor=world.dev_nominator, grant_id=grant.id,
                                                          ends_at=grant.ends_at + timedelta(days=5),
                                                          justification="more"))  # fmt: skip


async def test_the_kill_switch_revokes_every_grant_of_the_model(world, clock, refused):
    grant = await active_grant(world, clock)
    partner, _ = await world.partner()
    partner_grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=1)))
    pending = await world.nominate((await world.partner())[0], start=timedelta(days=2))
    models = FrontierModels(world.unit)
    revoked = await models.switch_off(actor=world.dev_admin, model_id=world.model.id, reason="weights leaked")
    assert revoked == 2
    for g in (grant, partner_grant):
        assert (await world.get(AccessGrant, g.id)).state == GrantState.REVOKED
    assert (await world.get(Nomination, pending.id)).state == NominationState.WITHDRAWN
    await refused(ModelSwitchedOff, models.switch_off(actor=world.gov_admin, model_id=world.model.id, reason="x"))


async def test_only_admins_pull_the_kill_switch(world, refused):
    models = FrontierModels(world.unit)
    await refused(Forbidden, models.switch_off(actor=world.dev_approver, model_id=world.model.id, reason="x"))
    await refused(Forbidden, models.switch_off(actor=world.gov_approver, model_id=world.model.id, reason="x"))
