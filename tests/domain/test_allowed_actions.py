""""What may this actor do here": each answer is the rule its use case applies, so a surface that offers only the
allowed actions never offers one the use case then refuses, and never hides one it would carry out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.credentials import Credentials
from accessdesk.domain.errors import AlreadyDecided, AlreadyRevoked, Conflict, Forbidden, SelfDecision
from accessdesk.domain.grants import Grants
from accessdesk.domain.queries import Queries
from accessdesk.domain.vocabulary import Role, Verdict
from tests.world import OPERATOR

PEPPER = b"p" * 32


async def agree(refused, allowed: bool, call, error: type[Exception] | None) -> None:
    """The answer was ``allowed``, and the use case agrees: it is carried out, or refused with ``error``."""
    if allowed:
        assert error is None
        await call
    else:
        assert error is not None
        await refused(error, call)


@pytest.mark.parametrize(("who", "allowed", "error"), [
    ("dev_nominator", True, None),  # the nominator
    ("dev_admin", True, None),  # an admin of the nominator's organisation
    ("gov_admin", False, Forbidden),  # an admin, but of another organisation: the console used to offer it
    ("dev_approver", False, Forbidden),
])  # fmt: skip
async def test_withdraw_is_offered_exactly_when_the_use_case_would_withdraw(world, refused, who, allowed, error):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    actor = getattr(world, who)
    coselection = CoSelection(world.unit)
    _, decisions = await Queries(world.unit).nomination(actor, nomination.id)

    assert (await coselection.allowed(actor, nomination, decisions)).withdraw is allowed
    await agree(refused, allowed, coselection.withdraw(actor=actor, nomination_id=nomination.id), error)
    if allowed:  # and once withdrawn, it is offered to nobody
        assert not (await coselection.allowed(actor, nomination, decisions)).withdraw


@pytest.mark.parametrize(("who", "allowed", "error"), [
    ("gov_approver", True, None),
    ("dev_nominator", False, Forbidden),  # no approver
    ("nominating_approver", False, SelfDecision),  # an approver, but this is their own nomination
    ("partner_admin", False, Forbidden),
])  # fmt: skip
async def test_decide_is_offered_exactly_when_the_use_case_would_record_it(world, refused, who, allowed, error):
    partner, partner_admin = await world.partner()
    nominating_approver = await world.person(world.developer, "nia", [Role.APPROVER, Role.NOMINATOR])
    actor = {"partner_admin": partner_admin, "nominating_approver": nominating_approver}.get(who) or getattr(world, who)
    nomination = await world.nominate(partner, by=nominating_approver)
    coselection = CoSelection(world.unit)

    assert (await coselection.allowed(actor, nomination, [])).decide is allowed
    decided = coselection.decide(actor=actor, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    await agree(refused, allowed, decided, error)
    if allowed:
        _, decisions = await Queries(world.unit).nomination(actor, nomination.id)
        assert not (await coselection.allowed(actor, nomination, decisions)).decide
        await refused(AlreadyDecided, coselection.decide(actor=actor, nomination_id=nomination.id,
                                                         verdict=Verdict.APPROVE))  # fmt: skip


async def test_revoke_is_offered_exactly_when_the_use_case_would_revoke(world, refused):
    partner, partner_admin = await world.partner()
    await world.government_ready()
    await world.government_grant()
    grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=2)))
    grants = Grants(world.unit)

    assert not (await grants.allowed(partner_admin, grant)).revoke
    await refused(Forbidden, grants.revoke(actor=partner_admin, grant_id=grant.id, reason="ours"))
    assert (await grants.allowed(world.gov_approver, grant)).revoke
    await grants.revoke(actor=world.gov_approver, grant_id=grant.id, reason="no longer needed")
    assert not (await grants.allowed(world.gov_approver, grant)).revoke
    await refused(AlreadyRevoked, grants.revoke(actor=world.gov_approver, grant_id=grant.id, reason="twice"))


async def test_extend_is_offered_exactly_when_the_use_case_would_open_a_round(world, clock, refused):
    """The console used to offer Extend to any staff member while the window ran, even with a round already
    waiting; the partner was never offered it (and the rule agrees)."""
    partner, partner_admin = await world.partner()
    await world.government_ready()
    await world.government_grant()
    grant = await world.approve_both(await world.nominate(partner, start=timedelta(days=2)))
    grants, coselection = Grants(world.unit), CoSelection(world.unit)
    later = grant.ends_at + timedelta(days=5)

    def extend(actor):
        return coselection.request_extension(actor=actor, grant_id=grant.id, ends_at=later,
                                             justification="The evaluation needs longer.")  # fmt: skip

    assert not (await grants.allowed(partner_admin, grant)).extend
    await refused(Forbidden, extend(partner_admin))
    assert (await grants.allowed(world.dev_nominator, grant)).extend
    await extend(world.dev_nominator)
    # One round at a time: with it pending, no one is offered another, and the use case refuses one.
    assert not (await grants.allowed(world.gov_admin, grant)).extend
    await refused(Conflict, extend(world.gov_admin))


async def test_a_revoked_grants_credential_offers_no_rotation_and_refuses_one(world, clock, refused):
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    credentials = Credentials(world.unit, pepper=PEPPER)
    client = (await credentials.create(actor=world.gov_admin, grant_id=grant.id, name="cluster")).client

    [answer] = credentials.allowed(world.gov_admin, [client], grant=grant).values()
    assert answer.rotate and answer.revoke
    [staff] = credentials.allowed(world.dev_approver, [client], grant=grant).values()
    assert not staff.rotate and staff.revoke  # staff may cut a credential off in an incident, never see a secret
    await refused(Forbidden, credentials.rotate_secret(actor=world.dev_approver, client_pk=client.id))

    await Grants(world.unit).revoke(actor=world.gov_approver, grant_id=grant.id, reason="incident")
    [answer] = credentials.allowed(world.gov_admin, [client], grant=grant).values()
    assert not answer.rotate and answer.revoke
    await refused(Conflict, credentials.rotate_secret(actor=world.gov_admin, client_pk=client.id))
    await credentials.revoke(actor=world.gov_admin, client_pk=client.id, reason="its grant is gone")
    assert credentials.allowed(world.gov_admin, [client], grant=grant)[client.id].revoke is False


async def test_a_grants_credential_form_is_offered_exactly_when_the_use_case_would_create_one(world, clock, refused):
    """The console used to offer New credential while the grant's state was "active", a second statement of the
    rule: now the grantee's admins are offered it while the grant is usable, and told why not otherwise."""
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1))
    credentials = Credentials(world.unit, pepper=PEPPER)

    def create(actor):
        return credentials.create(actor=actor, grant_id=grant.id, name="cluster")

    not_yet = await credentials.creation(world.gov_admin, grant)  # the window has not begun
    assert not_yet.why_not is not None
    assert not not_yet.allowed and not_yet.manages and "credentials are created for a usable grant" in not_yet.why_not
    await refused(Conflict, create(world.gov_admin))
    clock.advance(timedelta(hours=2))
    assert (await credentials.creation(world.gov_admin, grant)).allowed
    await create(world.gov_admin)
    for outsider in (world.gov_member, world.dev_admin):  # no admin; an admin of another organisation
        answer = await credentials.creation(outsider, grant)
        assert not answer.allowed and not answer.manages and answer.why_not is None
        await refused(Forbidden, create(outsider))


@pytest.mark.parametrize(("who", "change", "designate", "switch_off", "nominate", "see_gateways", "manage_gateways"), [
    ("dev_admin", True, False, True, True, True, True),
    ("dev_approver", False, False, False, True, True, False),
    ("gov_admin", False, True, True, True, True, False),
    ("gov_member", False, False, False, False, True, False),
    ("other_developer_admin", False, False, False, True, True, False),  # an admin, but not of this model's developer
])  # fmt: skip
async def test_a_models_actions_are_offered_exactly_when_their_use_cases_would_act(
    world, refused, who, change, designate, switch_off, nominate, see_gateways, manage_gateways
):  # fmt: skip
    from accessdesk.db.tables import FrontierModel
    from accessdesk.domain.credentials import gateway_management_refused
    from accessdesk.domain.frontier_models import FrontierModels
    from accessdesk.domain.organisations import Organisations
    from accessdesk.domain.vocabulary import Designation, OrgKind

    other = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Other Lab",
                                                   slug="other", domains=["other.test"])  # fmt: skip
    actor = await world.person(other, "olga", [Role.ADMIN]) if who == "other_developer_admin" else getattr(world, who)
    model = world.model
    models, credentials = FrontierModels(world.unit), Credentials(world.unit, pepper=PEPPER)
    answer = FrontierModels.allowed(actor, model)
    assert (answer.change, answer.designate, answer.switch_off, answer.nominate, answer.see_gateways,
            answer.manage_gateways) == (change, designate, switch_off, nominate, see_gateways, manage_gateways)  # fmt: skip

    if who == "other_developer_admin":  # rules answered without the page: the use cases also hide the model
        assert gateway_management_refused(actor, model) is not None
        return
    later = model.planned_release_at + timedelta(days=1)
    calls = [
        (change, lambda: models.update(actor=actor, model_id=model.id, changes={"name": "Atlas 2"}), Forbidden),
        (change, lambda: models.move_release(actor=actor, model_id=model.id, planned_release_at=later), Forbidden),
        (manage_gateways, lambda: credentials.create_gateway(actor=actor, model_id=model.id, name="gw"), Forbidden),
    ]
    for allowed, call, error in calls:
        await agree(refused, allowed, call(), None if allowed else error)
    if not designate:
        await refused(Forbidden, models.designate(actor=actor, model_id=model.id,
                                                  designation=Designation.NOT_COVERED, reference="R"))  # fmt: skip
    await agree(refused, switch_off, models.switch_off(actor=actor, model_id=model.id, reason="incident"),
                None if switch_off else Forbidden)  # fmt: skip
    if switch_off:  # once off, nobody is offered it again, nor a nomination
        model = await world.get(FrontierModel, model.id)
        again = FrontierModels.allowed(actor, model)
        assert not again.switch_off and not again.nominate


async def test_an_organisations_actions_are_offered_exactly_when_their_use_cases_would_act(world, refused):
    """Managing people, vetting and disabling were decided in the console from a permission, the state machine and
    "not yourself" restated there; each is now the rule its use case applies."""
    from accessdesk.domain.organisations import Organisations
    from accessdesk.domain.vocabulary import Vetting

    partner_org, partner_admin = await world.partner(vetted=False)
    organisations = Organisations(world.unit)
    gov = Organisations.allowed(world.gov_admin, partner_org)
    assert gov.manage and gov.vetting_outcomes == ()  # invited: the partner submits first
    await refused(Conflict, organisations.decide_vetting(actor=world.gov_admin, organisation_id=partner_org.id,
                                                         outcome=Vetting.VETTED, reason=None))  # fmt: skip
    await organisations.submit_vetting(actor=partner_admin, organisation_id=partner_org.id, submission="About us.")
    partner_org = await world.reload(partner_org)
    assert Organisations.allowed(world.gov_admin, partner_org).vetting_outcomes == (Vetting.DECLINED, Vetting.VETTED)
    assert Organisations.allowed(world.gov_member, partner_org).vetting_outcomes == ()  # no vetting permission
    await refused(Forbidden, organisations.decide_vetting(actor=world.gov_member, organisation_id=partner_org.id,
                                                          outcome=Vetting.VETTED, reason=None))  # fmt: skip
    own = Organisations.allowed(partner_admin, partner_org)
    assert own.manage and own.vetting_outcomes == () and not own.may_disable(partner_admin.person_id)
    await refused(Forbidden, organisations.update_user(actor=partner_admin, user_id=partner_admin.person_id,
                                                       disabled=True))  # fmt: skip
    colleague = await world.person(partner_org, "pat", [Role.MEMBER])
    assert own.may_disable(colleague.person_id)
    await organisations.update_user(actor=partner_admin, user_id=colleague.person_id, disabled=True)
    developer = Organisations.allowed(world.dev_admin, partner_org)  # another organisation's admin
    assert not developer.manage and not developer.may_disable(colleague.person_id)
