"""Gates (DESIGN.md §3 rule 4) and the one function the OAuth layer asks: is grant G usable at t, and why not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accessdesk.db.tables import AccessGrant
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.errors import Conflict, Forbidden, Invalid, NotFound
from accessdesk.domain.grants import Grants
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.transitions import materialise_grants
from accessdesk.domain.vocabulary import Area, GrantState, Vetting

DAY = timedelta(days=1)


async def partner_grant(world, **traits):
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    partner, admin = await world.partner(**traits)
    grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=1), days=30))
    return partner, admin, grant


async def usable(world, grant, at):
    return await Grants(world.unit).usability(grant.id, at=at)


async def test_a_fully_prepared_grant_is_usable_exactly_inside_its_window(world):
    _, _, grant = await partner_grant(world)
    before = await usable(world, grant, grant.starts_at - timedelta(microseconds=1))
    assert not before.usable and before.state == GrantState.SCHEDULED and before.reasons == ("window_not_started",)
    at_start = await usable(world, grant, grant.starts_at)
    assert at_start.usable and at_start.reasons == () and at_start.scopes == ("model:atlas:invoke",)
    at_end = await usable(world, grant, grant.ends_at)
    assert not at_end.usable and at_end.state == GrantState.EXPIRED and at_end.reasons == ("window_ended",)


@pytest.mark.parametrize(
    ("traits", "reason"),
    [
        ({"vetted": False}, "partner_not_vetted"),
        ({"nda": False}, "nda_missing"),
        ({"attested": False}, "attestation_missing:cybersecurity"),
    ],
)
async def test_a_missing_gate_blocks_the_grant_and_says_which(world, traits, reason):
    _, _, grant = await partner_grant(world, **traits)
    assert grant.state == GrantState.BLOCKED
    answer = await usable(world, grant, grant.starts_at + DAY)
    assert not answer.usable and answer.state == GrantState.BLOCKED and reason in answer.reasons


async def test_fixing_the_missing_gate_unblocks_the_grant_at_once(world):
    partner, admin, grant = await partner_grant(world, nda=False)
    await Compliance(world.unit).accept_nda(actor=admin, template_id=world.nda.id, sha256=world.nda.sha256)
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.SCHEDULED
    assert (await usable(world, grant, grant.starts_at)).usable


async def test_an_attestation_lapsing_mid_window_suspends_the_grant_and_renewing_resumes_it(world, clock):
    _, admin, grant = await partner_grant(world, valid_days=10)  # attestations end mid-window
    lapse = world.now + timedelta(days=10)
    assert (await usable(world, grant, lapse - timedelta(seconds=1))).usable
    after = await usable(world, grant, lapse)
    assert not after.usable and after.state == GrantState.SUSPENDED
    assert "attestation_expired:confidentiality" in after.reasons

    clock.set(lapse + timedelta(hours=1))
    await materialise_grants(world.unit)
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.SUSPENDED

    await world.comply(admin, nda=False, valid_days=60)
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.ACTIVE
    assert (await usable(world, grant, world.now)).usable


async def test_a_new_major_nda_version_requires_acceptance_again(world):
    _, admin, grant = await partner_grant(world)
    compliance = Compliance(world.unit)
    minor = await compliance.publish_nda(actor=world.dev_admin, title="Acme NDA", body="v1.1 text", version="1.1")
    assert (await usable(world, grant, grant.starts_at)).usable  # a minor version changes nothing

    major = await compliance.publish_nda(actor=world.dev_admin, title="Acme NDA", body="v2 text", version="2.0")
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.BLOCKED
    assert "nda_missing" in (await usable(world, grant, grant.starts_at)).reasons

    with pytest.raises(Conflict):  # the superseded text cannot be accepted any more
        await compliance.accept_nda(actor=admin, template_id=minor.id, sha256=minor.sha256)
    await world.rollback()
    await compliance.accept_nda(actor=admin, template_id=major.id, sha256=major.sha256)
    # The government's own grant needs the new major version too, and the partner's access follows it (rule 3).
    assert (await usable(world, grant, grant.starts_at)).reasons == ("government_not_begun",)
    await compliance.accept_nda(actor=world.gov_admin, template_id=major.id, sha256=major.sha256)
    assert (await usable(world, grant, grant.starts_at)).usable


async def test_an_nda_acceptance_that_expires_before_the_moment_of_use_does_not_count(world, clock):
    _, admin, grant = await partner_grant(world)
    compliance = Compliance(world.unit)
    short = await compliance.publish_nda(actor=world.dev_admin, title="Acme NDA", body="short", version="3.0",
                                         term_days=5)  # fmt: skip
    await compliance.accept_nda(actor=admin, template_id=short.id, sha256=short.sha256)
    await compliance.accept_nda(actor=world.gov_admin, template_id=short.id, sha256=short.sha256)
    assert (await usable(world, grant, grant.starts_at + 3 * DAY)).usable
    answer = await usable(world, grant, grant.starts_at + 5 * DAY)
    # The government's acceptance expired at the same instant, and the partner's access follows the government's.
    assert not answer.usable and answer.reasons == ("nda_expired", "government_access_ended")


async def test_accepting_needs_the_exact_text_hash(world, refused):
    partner, admin = await world.partner(nda=False)
    error = await refused(Invalid, Compliance(world.unit).accept_nda(actor=admin, template_id=world.nda.id,
                                                                     sha256="0" * 64))  # fmt: skip
    assert error.field == "sha256"


async def test_a_models_own_nda_is_accepted_only_by_those_who_see_the_model(world, refused):
    model_nda = await Compliance(world.unit).publish_nda(actor=world.dev_admin, title="Atlas NDA", body="Atlas only.",
                                                         version="1.0", model_id=world.model.id)  # fmt: skip
    _, outsider = await world.partner(nda=False)
    await refused(NotFound, Compliance(world.unit).accept_nda(actor=outsider, template_id=model_nda.id,
                                                              sha256=model_nda.sha256))  # fmt: skip


async def test_only_grantee_admins_accept_and_attest(world, refused):
    await refused(Forbidden, Compliance(world.unit).accept_nda(actor=world.dev_admin, template_id=world.nda.id,
                                                               sha256=world.nda.sha256))  # fmt: skip
    await refused(Forbidden, Compliance(world.unit).attest(actor=world.gov_member, area=Area.USE, statement="x",
                                                           valid_until=world.now + DAY))  # fmt: skip


async def test_attestations_must_be_valid_for_a_future_bounded_time(world, refused):
    _, admin = await world.partner(attested=False)
    compliance = Compliance(world.unit)
    past = await refused(Invalid, compliance.attest(actor=admin, area=Area.USE, statement="x", valid_until=world.now))
    assert past.field == "valid_until"
    far = await refused(Invalid, compliance.attest(actor=admin, area=Area.USE, statement="x",
                                                   valid_until=world.now + timedelta(days=731)))  # fmt: skip
    assert far.field == "valid_until"


async def test_declining_a_vetted_partner_blocks_its_grants(world):
    partner, _, grant = await partner_grant(world)
    await Organisations(world.unit).decide_vetting(actor=world.gov_admin, organisation_id=partner.id,
                                                   outcome=Vetting.DECLINED, reason="sanctions screening hit")  # fmt: skip
    assert (await world.get(AccessGrant, grant.id)).state == GrantState.BLOCKED
    assert "partner_not_vetted" in (await usable(world, grant, grant.starts_at)).reasons


async def test_vetting_moves_only_along_its_lifecycle(world, refused):
    partner, admin = await world.partner(vetted=False)
    orgs = Organisations(world.unit)
    await refused(Conflict, orgs.decide_vetting(actor=world.gov_admin, organisation_id=partner.id,
                                                outcome=Vetting.VETTED, reason=None))  # fmt: skip
    await orgs.submit_vetting(actor=admin, organisation_id=partner.id, submission="Who we are.")
    await refused(Invalid, orgs.decide_vetting(actor=world.gov_admin, organisation_id=partner.id,
                                               outcome=Vetting.DECLINED, reason=""))  # fmt: skip
    await refused(Forbidden, orgs.decide_vetting(actor=admin, organisation_id=partner.id,
                                                 outcome=Vetting.VETTED, reason=None))  # fmt: skip
