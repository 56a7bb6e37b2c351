"""Situations the API tests start from, built through the world (and so through the domain's own rules).

Each ends with :func:`settle` so the app's requests never queue behind the world session (see conftest)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination, Organisation
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.vocabulary import OrgKind, Role, Tier, Verdict
from tests.api.conftest import settle
from tests.world import OPERATOR, World


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def partner(world: World, **traits: Any) -> tuple[Organisation, Actor]:
    """A partner organisation and its admin (vetted, NDA accepted, attested unless told otherwise)."""
    found = await world.partner(**traits)
    await settle(world)
    return found


async def partner_member(world: World, organisation: Organisation, name: str = "pat") -> Actor:
    member = await world.person(organisation, name, [Role.MEMBER])
    await settle(world)
    return member


async def pending(world: World, organisation: Organisation, **kw: Any) -> Nomination:
    nomination = await world.nominate(organisation, **kw)
    await settle(world)
    return nomination


async def decided(world: World, nomination: Nomination, *deciders: Actor, verdict: Verdict = Verdict.APPROVE,
                  reason: str | None = None) -> None:  # fmt: skip
    for actor in deciders:
        await CoSelection(world.unit).decide(actor=actor, nomination_id=nomination.id, verdict=verdict, reason=reason)
    await settle(world)


async def government_grant(world: World, **kw: Any) -> AccessGrant:
    """The government's own grant to the world's model (starting in an hour, for 60 days)."""
    await world.government_ready()
    grant = await world.government_grant(**kw)
    await settle(world)
    return grant


async def partner_grant(world: World, **traits: Any) -> tuple[Organisation, Actor, AccessGrant]:
    """A partner with a scheduled grant that starts a day after the government's access."""
    organisation, admin = await partner(world, **traits)
    grant = await world.approve_both(await world.nominate(organisation, start=timedelta(days=1), days=30))
    await settle(world)
    return organisation, admin, grant


async def rival_developer(world: World) -> tuple[Organisation, Actor, Actor, FrontierModel]:
    """Another AI lab: its organisation, admin, approver and a model of its own."""
    organisation = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Rival Labs",
                                                         slug="rival", domains=["rival.test"])  # fmt: skip
    admin = await world.person(organisation, "rhea", [Role.ADMIN])
    approver = await world.person(organisation, "remy", [Role.APPROVER])
    model = await FrontierModels(world.unit).register(
        actor=admin, slug="rival-one", name="Rival One", codename="R1", tier=Tier.HIGH,
        planned_release_at=world.now + timedelta(days=20), resource="https://api.rival.test/models/one",
    )  # fmt: skip
    await settle(world)
    return organisation, admin, approver, model
