""""Is my access ready?" (domain.readiness): one stage per grant, what holds it and whose move that is, and the
self-test of a credential, which asks what the token endpoint asks."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from accessdesk.db.tables import AccessGrant, OAuthClient
from accessdesk.domain.credentials import Credentials, count_issuance
from accessdesk.domain.errors import NotFound
from accessdesk.domain.grants import Grants
from accessdesk.domain.readiness import (
    Check,
    Readiness,
    Stage,
    Whose,
    live_credentials_sql,
    stage_of,
    stage_sql,
    whose,
)
from accessdesk.domain.vocabulary import Tier, Vetting
from tests.support.oauth import SETTINGS
from tests.support.scenes import partner_member, rival_developer


@pytest.fixture
def readiness(world) -> Readiness:
    return Readiness(world.unit, pepper=SETTINGS.pepper)


@pytest.fixture
def credentials(world) -> Credentials:
    return Credentials(world.unit, pepper=SETTINGS.pepper)


async def started(world):
    """The government's access begun, and a partner's grant (starting a day later) made: the clock is then two days
    on, inside the partner's window."""
    await world.government_ready()
    await world.government_grant()
    organisation, admin = await world.partner(name="northwind")
    grant = await world.approve_both(await world.nominate(organisation, start=timedelta(days=1)))
    world.clock.advance(timedelta(days=2))
    return organisation, admin, grant


def stages(found) -> list[tuple[str, Stage]]:
    return [(row.model_name, row.stage) for row in found.grants] + [(n.model_name, n.stage) for n in found.nominations]


async def same_in_sql(world, found) -> None:
    """Each grant's stage as the database counts it (readiness.stage_sql, the programme's counts) is the one
    stage_of gives it."""
    credentials = live_credentials_sql()
    stage = stage_sql(world.now, live_credentials=sa.func.coalesce(credentials.c.live, 0),
                      last_token_at=credentials.c.last_used_at)  # fmt: skip
    for row in found.grants:
        stmt = (select(stage).select_from(AccessGrant).outerjoin(credentials, credentials.c.grant_id == AccessGrant.id)
                .where(AccessGrant.id == row.grant.id))  # fmt: skip
        assert Stage((await world.unit.session.exec(stmt)).one()) == row.stage


async def test_a_grant_walks_the_path_from_nominated_to_ready(world, readiness, credentials):
    await world.government_ready()
    await world.government_grant()
    organisation, admin = await world.partner(name="northwind")
    nomination = await world.nominate(organisation, start=timedelta(days=1))
    assert stages(await readiness.of_organisation(admin)) == [("Atlas", Stage.NOMINATED)]

    grant = await world.approve_both(nomination)
    found = await readiness.of_organisation(admin)
    assert stages(found) == [("Atlas", Stage.APPROVED)]
    await same_in_sql(world, found)
    assert [(r.code, r.whose) for r in found.grants[0].reasons] == [("window_not_started", Whose.TIME)]

    world.clock.advance(timedelta(days=2))
    assert stages(found := await readiness.of_organisation(admin)) == [("Atlas", Stage.READY_TO_PROVISION)]
    await same_in_sql(world, found)

    issued = await credentials.create(actor=admin, grant_id=grant.id, name="ci")
    assert stages(found := await readiness.of_organisation(admin)) == [("Atlas", Stage.CREDENTIALS_ISSUED)]
    await same_in_sql(world, found)

    await count_issuance(world.unit, issued.client.id, at=world.now)
    await world.unit.commit()
    [row] = (found := await readiness.of_organisation(admin)).grants
    assert (row.stage, row.live_credentials, row.last_token_at) == (Stage.READY, 1, world.now)
    assert row.words == "ready: tokens are being issued"
    await same_in_sql(world, found)

    await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=grant.id, reason="Ended early.")
    assert stages(found := await readiness.of_organisation(admin)) == [("Atlas", Stage.ENDED)]
    await same_in_sql(world, found)


async def test_a_blocked_grant_says_what_the_grantee_owes_and_what_it_waits_for(world, readiness):
    await world.government_ready()
    await world.government_grant()
    organisation, admin = await world.partner(name="westwind", nda=False)
    await world.approve_both(await world.nominate(organisation, start=timedelta(days=1)))
    world.clock.advance(timedelta(days=2))
    [row] = (found := await readiness.of_organisation(admin)).grants
    assert row.stage == Stage.BLOCKED
    await same_in_sql(world, found)
    assert [(r.code, r.whose) for r in row.reasons] == [("nda_missing", Whose.GRANTEE)]
    assert [r.code for r in row.owed_by_grantee] == ["nda_missing"]
    assert row.reasons[0].words == "the current major version of the NDA has not been accepted"


async def test_a_partner_grant_waiting_for_the_government_is_the_governments_move(world, readiness):
    organisation, admin = await world.partner(name="eastwind")
    await world.government_ready()
    government = await world.government_grant(start=timedelta(days=3))
    await world.approve_both(await world.nominate(organisation, start=timedelta(days=3)))
    await Grants(world.unit).revoke(actor=world.gov_admin, grant_id=government.id, reason="Paused.")
    world.clock.advance(timedelta(days=4))
    [row] = (found := await readiness.of_organisation(admin)).grants
    assert row.stage == Stage.BLOCKED
    await same_in_sql(world, found)
    assert {(r.code, r.whose) for r in row.reasons} >= {("government_not_begun", Whose.GOVERNMENT)}


def test_whose_move_vetting_is_depends_on_what_the_partner_has_done():
    assert whose("partner_not_vetted", vetting=Vetting.INVITED.value) == Whose.GRANTEE
    assert whose("partner_not_vetted", vetting=Vetting.DECLINED.value) == Whose.GRANTEE
    assert whose("partner_not_vetted", vetting=Vetting.SUBMITTED.value) == Whose.GOVERNMENT
    assert whose("attestation_expired:use", vetting=None) == Whose.GRANTEE
    assert whose("designation_in_consultation", vetting=None) == Whose.GOVERNMENT
    assert whose("nda_not_published", vetting=None) == Whose.DEVELOPER


async def test_stage_of_follows_the_answer_not_the_stored_state(world):
    organisation, _, grant = await started(world)
    answer = await Grants(world.unit).usability(grant.id, at=world.now)
    assert stage_of(answer, live_credentials=0, last_token_at=None, starts_at=grant.starts_at) == Stage.READY_TO_PROVISION
    before = grant.starts_at - timedelta(minutes=1)
    assert stage_of(answer, live_credentials=1, last_token_at=before, starts_at=grant.starts_at) == Stage.CREDENTIALS_ISSUED
    assert stage_of(answer, live_credentials=1, last_token_at=world.now, starts_at=grant.starts_at) == Stage.READY


async def test_need_to_know_staff_see_an_organisations_readiness_partners_only_their_own(world, readiness):
    organisation, admin, _ = await started(world)
    other, other_admin = await world.partner(name="southwind")
    member = await partner_member(world, organisation)
    for reader in (admin, member, world.dev_admin, world.gov_member):
        assert [r.stage for r in (await readiness.of_organisation(reader, organisation.id)).grants] == [Stage.READY_TO_PROVISION]
    with pytest.raises(NotFound):
        await readiness.of_organisation(other_admin, organisation.id)
    # Another developer sees the organisation (the registry is open to staff) but none of this model's access.
    _, rival_admin, _, _ = await rival_developer(world)
    found = await readiness.of_organisation(rival_admin, organisation.id)
    assert (found.grants, found.nominations) == ((), ())


async def test_the_self_test_passes_for_a_working_credential_and_checks_a_given_secret(world, readiness, credentials):
    _, admin, grant = await started(world)
    issued = await credentials.create(actor=admin, grant_id=grant.id, name="ci")
    test = await readiness.self_test(admin, issued.client.id)
    assert test.passed and test.first_failure is None
    assert [r.check for r in test.results] == [Check.CREDENTIAL, Check.AUTHENTICATION, Check.GRANT, Check.SCOPES]
    assert "model:atlas:invoke" in test.results[3].words

    right = await readiness.self_test(admin, issued.client.client_id, secret=issued.secret)
    assert right.passed and "is a live secret" in right.results[1].words
    wrong = await readiness.self_test(admin, issued.client.id, secret="adks_not-the-secret")
    assert not wrong.passed and wrong.first_failure is not None
    assert wrong.first_failure.check == Check.AUTHENTICATION
    assert wrong.first_failure.words.startswith("the secret given is not a live secret")


async def test_the_self_test_names_the_gate_that_fails(world, readiness, credentials):
    await world.government_ready()
    await world.government_grant()
    organisation, admin = await world.partner(name="northwind", valid_days=5)
    grant = await world.approve_both(await world.nominate(organisation, start=timedelta(days=1)))
    world.clock.advance(timedelta(days=2))
    issued = await credentials.create(actor=admin, grant_id=grant.id, name="ci")
    world.clock.advance(timedelta(days=4))  # the attestations lapse
    test = await readiness.self_test(admin, issued.client.id)
    assert test.first_failure is not None and test.first_failure.check == Check.GRANT
    assert test.first_failure.words.startswith("the grant cannot be used now: ")
    assert {r.code for r in test.first_failure.reasons} == {f"attestation_expired:{a}" for a in
                                                            ("confidentiality", "cybersecurity", "insider_risk",
                                                             "ip_protection", "use", "nondisclosure")}  # fmt: skip
    assert all(r.whose == Whose.GRANTEE for r in test.first_failure.reasons)


async def test_the_self_test_of_a_revoked_credential_fails_first_on_the_credential(world, readiness, credentials):
    _, admin, grant = await started(world)
    issued = await credentials.create(actor=admin, grant_id=grant.id, name="ci")
    await credentials.revoke(actor=admin, client_pk=issued.client.id, reason="Leaked.")
    test = await readiness.self_test(admin, issued.client.id)
    assert test.first_failure is not None
    assert (test.first_failure.check, test.first_failure.words) == (Check.CREDENTIAL, "this credential has been revoked")


async def test_a_high_tier_model_says_tokens_must_be_dpop_bound(world, readiness, credentials):
    model = await world.new_model("helios", tier=Tier.HIGH)
    await world.government_ready()
    grant = await world.government_grant(model=model)
    world.clock.advance(timedelta(hours=2))
    issued = await credentials.create(actor=world.gov_admin, grant_id=grant.id, name="gov")
    test = await readiness.self_test(world.gov_admin, issued.client.id)
    assert test.passed and test.results[-1].check == Check.DPOP
    assert "DPoP" in test.results[-1].words


async def test_the_self_test_of_someone_elses_credential_is_not_found(world, readiness, credentials, refused):
    _, admin, grant = await started(world)
    issued = await credentials.create(actor=admin, grant_id=grant.id, name="ci")
    _, other_admin = await world.partner(name="southwind")
    gateway = await credentials.create_gateway(actor=world.dev_admin, model_id=world.model.id, name="gw")
    for actor, credential in ((other_admin, issued.client.id), (world.dev_admin, issued.client.id),
                              (world.gov_admin, issued.client.client_id), (world.dev_admin, gateway.client.id),
                              (admin, "adk_c_unknown"), (admin, "x" * 5000)):  # fmt: skip
        error = await refused(NotFound, readiness.self_test(actor, credential))
        assert "not found" in str(error)
    assert await world.count(OAuthClient) == 2
