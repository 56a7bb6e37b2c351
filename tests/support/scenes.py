"""Situations the API, console and hostile tests start from, built through the world (and so through the domain's
own rules where there is one). The app's test clients commit the world before each request
(``tests.support.api``); a test that serves the app otherwise (a browser, a server thread) commits it itself."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select

from accessdesk.clock import FrozenClock
from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination, Organisation, OutboxMessage, Reminder
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.reminders import TOPIC, ReminderKind
from accessdesk.domain.slack_links import SlackLinks
from accessdesk.domain.vocabulary import OrgKind, Role, Tier, Verdict
from tests.world import OPERATOR, World

SLACK_USER = "U0GAIL123"  # who asks for a Slack link in link_request


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def partner(world: World, **traits: Any) -> tuple[Organisation, Actor]:
    """A partner organisation and its admin (vetted, NDA accepted, attested unless told otherwise)."""
    found = await world.partner(**traits)
    return found


async def partner_member(world: World, organisation: Organisation, name: str = "pat") -> Actor:
    member = await world.person(organisation, name, [Role.MEMBER])
    return member


async def pending(world: World, organisation: Organisation, **kw: Any) -> Nomination:
    nomination = await world.nominate(organisation, **kw)
    return nomination


async def decided(world: World, nomination: Nomination, *deciders: Actor, verdict: Verdict = Verdict.APPROVE,
                  reason: str | None = None) -> None:  # fmt: skip
    for actor in deciders:
        await CoSelection(world.unit).decide(actor=world.fresh(actor), nomination_id=nomination.id, verdict=verdict, reason=reason)


async def government_grant(world: World, **kw: Any) -> AccessGrant:
    """The government's own grant to the world's model (starting in an hour, for 60 days)."""
    await world.government_ready()
    grant = await world.government_grant(**kw)
    return grant


async def partner_grant(world: World, **traits: Any) -> tuple[Organisation, Actor, AccessGrant]:
    """A partner with a scheduled grant that starts a day after the government's access."""
    organisation, admin = await partner(world, **traits)
    grant = await world.approve_both(await world.nominate(organisation, start=timedelta(days=1), days=30))
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
    return organisation, admin, approver, model


async def usable_grant(world: World, clock: FrozenClock, **kw: Any) -> AccessGrant:
    """The government's grant on the world's model (or ``model``), started an hour ago: usable now."""
    await world.government_ready()
    grant = await world.government_grant(start=timedelta(hours=1), **kw)
    clock.advance(timedelta(hours=2))
    return grant


async def remind(world: World, kind: str, subject_id: uuid.UUID, *, organisation_id: uuid.UUID,
                 model_id: uuid.UUID | None = None, recipients: Sequence[str] = (),
                 deadline: datetime | None = None, at: datetime | None = None) -> Reminder:  # fmt: skip
    """A reminder row and one outbox message per recipient, written as ``Reminders.sweep`` writes them."""
    reminder_id, at = uuid.uuid4(), at or world.now
    keys = [f"reminder:{reminder_id}:{recipient}" for recipient in recipients]
    for recipient, key in zip(recipients, keys, strict=True):
        world.unit.notify(topic=TOPIC[ReminderKind(kind)], recipient=recipient, dedupe_key=key, payload={})
    reminder = Reminder(id=reminder_id, kind=kind, subject_id=subject_id, organisation_id=organisation_id,
                        model_id=model_id, deadline=deadline or at + timedelta(days=30), due_at=at, created_at=at,
                        messages=keys)  # fmt: skip
    world.unit.session.add(reminder)
    await world.unit.commit()
    return reminder


async def outbox(world: World, key_or_id: uuid.UUID | str) -> OutboxMessage:
    """An outbox message by id or dedupe key, as the database has it now."""
    if isinstance(key_or_id, uuid.UUID):
        row = await world.get(OutboxMessage, key_or_id)
    else:
        row = (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == key_or_id)
                                             .execution_options(populate_existing=True))).one()  # fmt: skip
    return row


async def set_delivery(world: World, key: str, **values: object) -> None:
    """Set how far the delivery of the message with dedupe key ``key`` got (attempts, delivered_at, dead_at, ...)."""
    row = await outbox(world, key)
    for name, value in values.items():
        setattr(row, name, value)
    world.unit.session.add(row)
    await world.unit.commit()


async def link_request(world: World, *, slack_user_id: str = SLACK_USER) -> str:
    """What ``/accessdesk link`` does: a one-time token, DMed to the Slack user."""
    token = await SlackLinks(world.unit).request(slack_user_id=slack_user_id, team_id="T0AISO", slack_name="gail.s")
    return token
