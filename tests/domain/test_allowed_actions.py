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

PEPPER = b"p" * 32


async def agree(refused, allowed: bool, call, error: type[Exception] | None) -> None:  # type: ignore[no-untyped-def]
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

    def extend(actor):  # type: ignore[no-untyped-def]
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
