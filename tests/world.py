"""A small world to test in: a developer, a government, their staff, a model and its NDA, and partners made to
order with named traits (``await world.partner(vetted=True, nda=False)``). Everything goes through the domain
services, so factories obey the same rules as the product."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from accessdesk.clock import FrozenClock
from accessdesk.db.tables import AccessGrant, AuditEvent, FrontierModel, NdaTemplate, Nomination, Organisation, User
from accessdesk.domain.actor import Actor
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations, actor_for
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Area, Designation, OrgKind, Role, Tier, Verdict, Vetting

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # where the test's frozen clock starts (the fixture ``clock``)
OPERATOR = Actor.system("test operator")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # the suite's frozen instant
NDA_TEXT = "The recipient keeps everything about the model confidential.\n"
_seq = itertools.count(1)


@dataclass
class World:
    unit: Unit
    clock: FrozenClock
    developer: Organisation = field(init=False)
    government: Organisation = field(init=False)
    model: FrontierModel = field(init=False)
    nda: NdaTemplate = field(init=False)
    dev_admin: Actor = field(init=False)
    dev_approver: Actor = field(init=False)
    dev_approver2: Actor = field(init=False)
    dev_nominator: Actor = field(init=False)
    gov_admin: Actor = field(init=False)
    gov_approver: Actor = field(init=False)
    gov_approver2: Actor = field(init=False)
    gov_member: Actor = field(init=False)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @classmethod
    async def create(cls, unit: Unit, clock: FrozenClock) -> World:
        world = cls(unit, clock)
        orgs = Organisations(unit)
        world.developer = await orgs.create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Acme AI", slug="acme",
                                            domains=["acme.test"])  # fmt: skip
        world.government = await orgs.create(actor=OPERATOR, kind=OrgKind.GOVERNMENT, name="AI Security Office",
                                             slug="aiso", domains=["aiso.test"])  # fmt: skip
        world.dev_admin = await world.person(world.developer, "dana", [Role.ADMIN])
        world.dev_approver = await world.person(world.developer, "dev1", [Role.APPROVER])
        world.dev_approver2 = await world.person(world.developer, "dev2", [Role.APPROVER])
        world.dev_nominator = await world.person(world.developer, "nora", [Role.NOMINATOR])
        world.gov_admin = await world.person(world.government, "gail", [Role.ADMIN])
        world.gov_approver = await world.person(world.government, "gov1", [Role.APPROVER])
        world.gov_approver2 = await world.person(world.government, "gov2", [Role.APPROVER])
        world.gov_member = await world.person(world.government, "gus", [Role.MEMBER])
        world.model = await world.new_model("atlas")
        world.nda = await Compliance(unit).publish_nda(actor=world.dev_admin, title="Acme NDA", body=NDA_TEXT,
                                                       version="1.0")  # fmt: skip
        return world

    PEOPLE = {"dev_admin": "dana@acme.test", "dev_approver": "dev1@acme.test", "dev_approver2": "dev2@acme.test",
              "dev_nominator": "nora@acme.test", "gov_admin": "gail@aiso.test", "gov_approver": "gov1@aiso.test",
              "gov_approver2": "gov2@aiso.test", "gov_member": "gus@aiso.test"}  # fmt: skip

    @classmethod
    async def load(cls, unit: Unit, clock: FrozenClock) -> World:
        """The world :meth:`create` made, read back from a database that holds it (a copy of the suite's world
        snapshot, see ``tests/databases.py``): the same rows, found by their names, without building them again."""
        world = cls(unit, clock)
        session = unit.session
        world.developer = (await session.exec(select(Organisation).where(Organisation.slug == "acme"))).one()
        world.government = (await session.exec(select(Organisation).where(Organisation.slug == "aiso"))).one()
        world.model = (await session.exec(select(FrontierModel).where(FrontierModel.slug == "atlas"))).one()
        world.nda = (await session.exec(select(NdaTemplate))).one()
        users = {u.email: u for u in (await session.exec(select(User))).all()}
        for attribute, email in cls.PEOPLE.items():
            setattr(world, attribute, await actor_for(unit, users[email]))
        await session.commit()  # no transaction left open: on SQLite it would hold the write lock
        return world

    @classmethod
    async def seed(cls, url: str) -> None:
        """Build the world at :data:`T0` in the database at ``url`` (the suite's world snapshot is a copy of it)."""
        from accessdesk.db.engine import make_engine, make_sessionmaker

        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                clock = FrozenClock(T0)
                world = await cls.create(Unit(session, clock), clock)
                assert {name: getattr(world, name).label for name in cls.PEOPLE} == cls.PEOPLE
                await session.commit()
        finally:
            await engine.dispose()

    async def person(self, organisation: Organisation, name: str, roles: list[Role]) -> Actor:
        domain = {"acme": "acme.test", "aiso": "aiso.test"}.get(organisation.slug, f"{organisation.slug}.test")
        user = await Organisations(self.unit).add_user(
            actor=OPERATOR, organisation_id=organisation.id, email=f"{name}@{domain}", name=name.title(), roles=roles
        )
        return await actor_for(self.unit, user)

    async def new_model(self, slug: str, *, release_in: timedelta = timedelta(days=20),
                        designation: Designation = Designation.COVERED, **kw: Any) -> FrontierModel:  # fmt: skip
        """A model of the developer's, designated ``covered`` by the government unless told otherwise."""
        models = FrontierModels(self.unit)
        model = await models.register(
            actor=self.dev_admin, slug=slug, name=slug.title(), codename=f"CODE-{slug.upper()}",
            tier=kw.pop("tier", Tier.STANDARD), planned_release_at=self.now + release_in,
            resource=f"https://api.acme.test/models/{slug}", **kw,
        )  # fmt: skip
        if designation != Designation.NOT_ASSESSED:
            model = await models.designate(actor=self.gov_admin, model_id=model.id,
                                           designation=Designation.IN_CONSULTATION)  # fmt: skip
        if designation in (Designation.COVERED, Designation.NOT_COVERED):
            model = await models.designate(actor=self.gov_admin, model_id=model.id, designation=designation,
                                           reference=f"ASSESS-{slug.upper()}")  # fmt: skip
        return model

    async def comply(self, admin: Actor, *, nda: bool = True, attested: bool = True, valid_days: int = 180,
                     skip_areas: tuple[Area, ...] = ()) -> None:  # fmt: skip
        compliance = Compliance(self.unit)
        if nda:
            await compliance.accept_nda(actor=admin, template_id=self.nda.id, sha256=self.nda.sha256)
        if attested:
            for area in Area:
                if area not in skip_areas:
                    await compliance.attest(actor=admin, area=area, statement="We comply.",
                                            valid_until=self.now + timedelta(days=valid_days))  # fmt: skip

    async def partner(
        self, *, vetted: bool = True, nda: bool = True, attested: bool = True, valid_days: int = 180,
        name: str | None = None,
    ) -> tuple[Organisation, Actor]:  # fmt: skip
        """A partner organisation and its admin, with the named traits."""
        n = next(_seq)
        slug = name or f"partner-{n}"
        orgs = Organisations(self.unit)
        organisation = await orgs.create(actor=self.gov_admin, kind=OrgKind.PARTNER, name=slug.title(), slug=slug,
                                         domains=[f"{slug}.test"])  # fmt: skip
        admin = await self.person(organisation, "admin", [Role.ADMIN])
        if vetted:
            await orgs.submit_vetting(actor=admin, organisation_id=organisation.id, submission="About us.")
            await orgs.decide_vetting(actor=self.gov_admin, organisation_id=organisation.id,
                                      outcome=Vetting.VETTED, reason=None)  # fmt: skip
        await self.comply(admin, nda=nda, attested=attested, valid_days=valid_days)
        return await self.reload(organisation), admin

    async def government_ready(self, **traits: Any) -> None:
        await self.comply(self.gov_admin, **traits)

    async def nominate(
        self, organisation: Organisation, *, start: timedelta = timedelta(days=1), days: int = 30,
        actions: list[str] | None = None, by: Actor | None = None, model: FrontierModel | None = None,
    ) -> Nomination:  # fmt: skip
        starts_at = self.now + start
        return await CoSelection(self.unit).nominate(
            actor=by or self.dev_nominator, model_id=(model or self.model).id, organisation_id=organisation.id,
            starts_at=starts_at, ends_at=starts_at + timedelta(days=days), actions=actions or ["invoke"],
            justification="Needed for pre-release evaluation.",
        )  # fmt: skip

    async def approve_both(self, nomination: Nomination) -> AccessGrant:
        coselection = CoSelection(self.unit)
        await coselection.decide(actor=self.fresh(self.dev_approver), nomination_id=nomination.id,
                                 verdict=Verdict.APPROVE)
        outcome = await coselection.decide(actor=self.fresh(self.gov_approver), nomination_id=nomination.id,
                                           verdict=Verdict.APPROVE)
        assert outcome.grant is not None
        return outcome.grant

    def fresh(self, actor: Actor) -> Actor:
        """``actor`` as if they had just signed in (what approving access to a high-tier model asks for)."""
        return actor.signed_in_at(self.now)

    async def government_grant(self, *, start: timedelta = timedelta(hours=1), days: int = 60,
                               model: FrontierModel | None = None) -> AccessGrant:  # fmt: skip
        return await self.approve_both(await self.nominate(self.government, start=start, days=days, model=model))

    async def commit(self) -> None:
        """End the world session's transaction: what the test built becomes visible to every other connection, and
        on SQLite the write lock the transaction holds (every transaction there begins IMMEDIATE, a read too) is
        released. The app's test clients do this before each request (``tests.support.api.commit_world_first``);
        call it where something else reads the database: a worker or notifier on its own session, the bot's
        listeners after their ack, a server in another thread, another engine."""
        await self.unit.session.commit()

    async def rollback(self) -> None:
        """Roll back what a refused call left in the session, then reload every object the test still holds
        (a rollback expires them, and an async session cannot lazy-load)."""
        await self.unit.rollback()
        for row in list(self.unit.session.identity_map.values()):
            await self.unit.session.refresh(row)

    async def reload(self, row):
        await self.unit.session.refresh(row)
        return row

    async def audit_count(self) -> int:
        return len((await self.unit.session.exec(select(AuditEvent.seq))).all())

    async def count(self, table: type) -> int:
        return len((await self.unit.session.exec(select(table))).all())

    async def get(self, table: type, id_: uuid.UUID):
        """The row as the database has it now."""
        return await self.unit.session.get(table, id_, populate_existing=True)
