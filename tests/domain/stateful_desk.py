"""The product as the stateful test (test_stateful.py) drives it: the domain services, named people and things, the
check that a refused call changed nothing, and that every nomination and decision (a cohort's members' included, and
one made in someone's name under a delegation) was refused or made as the oracle's forecast says."""

from __future__ import annotations

import hashlib
import typing
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import FrozenClock
from accessdesk.db.tables import (
    AccessGrant,
    Attestation,
    AuditEvent,
    Consultation,
    Delegation,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
)
from accessdesk.domain.actor import Actor
from accessdesk.domain.cohorts import CohortRefused, Cohorts
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.errors import DomainError
from accessdesk.domain.findings import Findings
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.grants import Grants
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.organisations import Organisations, actor_for
from accessdesk.domain.transitions import sweep
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Area, Designation, OrgKind, Role, Tier, Verdict, Vetting
from tests.domain.stateful_oracle import (
    Reads,
    Rows,
    broken,
    cohort_decision,
    cohort_nomination,
    load,
    nomination_refusals,
    single_decision,
)

T = TypeVar("T")
OPERATOR = Actor.system("test operator")
NDA_TEXT = "The recipient keeps everything about the model confidential, version {}.\n"
STAFF = {
    "acme": (OrgKind.DEVELOPER, {"admin": Role.ADMIN, "approver": Role.APPROVER, "approver2": Role.APPROVER,
                                 "nominator": Role.NOMINATOR}),
    "beta": (OrgKind.DEVELOPER, {"admin": Role.ADMIN, "approver": Role.APPROVER, "approver2": Role.APPROVER,
                                 "nominator": Role.NOMINATOR}),
    "gov": (OrgKind.GOVERNMENT, {"admin": Role.ADMIN, "approver": Role.APPROVER, "approver2": Role.APPROVER,
                                 "nominator": Role.NOMINATOR, "member": Role.MEMBER}),
}  # fmt: skip
MOST_MODELS, MOST_PARTNERS = 4, 3
# The tables who may read a finding depends on (its audience, recipients, reporter; people and their organisations),
# beside the models' grantees (organisations holding a grant neither revoked nor ended): while no such table changes
# and no grantee comes or goes, the read paths' answers are not asked again (they were most of a check's cost), and
# the invariant holds them against the oracle's audience as it is then.
FINDING_READ_INPUTS = frozenset({"findings", "finding_recipients", "finding_updates", "organisations", "users",
                                 "user_roles"})  # fmt: skip
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
JUSTIFICATION = "Pre-release evaluation."
# Every nomination asks to evaluate too: a grantee whose grant is usable may then report findings (issue 17).
ACTIONS = ["evaluate", "invoke"]
# The code's refusals in the oracle's words, by (code, field at fault): a nomination's (a cohort's as a whole too), a
# cohort member's, and a decision's (a cohort's as a whole, or a member's). A refusal not listed is unforeseen.
NOMINATION_REFUSALS = {
    ("forbidden", None): "may not nominate", ("not_found", None): "may not nominate",
    ("model_switched_off", None): "switched off", ("not_designated", None): "designation",
    ("invalid", "starts_at"): "window", ("invalid", "ends_at"): "window", ("outside_window", "starts_at"): "window",
    ("overlap", None): "overlap", ("invalid", "organisation_id"): "not a grantee", ("invalid", "name"): "name taken",
    ("cohort_refused", "members"): "members refused",
}  # fmt: skip
MEMBER_REFUSALS = {("overlap", None): "overlap", ("invalid", "organisation_id"): "not a partner",
                   ("not_found", None): "names nobody"}  # fmt: skip
DECISION_REFUSALS = {
    ("forbidden", None): "may not decide", ("not_found", None): "may not decide", ("wrong_side", None): "may not decide",
    ("not_pending", None): "not pending", ("self_decision", None): "own nomination",
    ("already_decided", None): "decided already", ("model_switched_off", None): "switched off",
    ("invalid", "reject"): "bad rejection",
}  # fmt: skip


def span(text: str) -> timedelta:
    """``"90m"``, ``"-10d"``, ``"2w"``: durations as the printed steps show them."""
    sign = -1 if text.startswith("-") else 1
    return sign * int(text.strip("+-")[:-1]) * UNITS[text[-1]]


async def table_columns(session: AsyncSession) -> dict[str, list[str]]:
    """Every table of the schema (the audit trail and its head included) and its columns, found once."""
    connection = await session.connection()

    def read(sync: sa.Connection) -> dict[str, list[str]]:
        inspector = sa.inspect(sync)
        return {name: [c["name"] for c in inspector.get_columns(name)]
                for name in sorted(inspector.get_table_names()) if name != "alembic_version"}  # fmt: skip

    return await connection.run_sync(read)


async def fingerprint(session: AsyncSession, tables: dict[str, list[str]]) -> dict[str, str]:
    """A digest of every row of every table, by table: equal fingerprints, equal contents. One query, the rows
    rendered as JSON by the database (a round trip per table was most of a step's cost on SQLite)."""
    connection = await session.connection()
    array = "json_array" if connection.dialect.name == "sqlite" else "json_build_array"
    cast = "" if connection.dialect.name == "sqlite" else "::text"
    query = " UNION ALL ".join(
        f"SELECT '{table}' AS t, {array}({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}){cast} AS r "
        f'FROM "{table}"' for table, columns in tables.items())  # fmt: skip
    rows: dict[str, list[str]] = {table: [] for table in tables}
    # Two text columns: the stubs type a driver-level result's rows as one-element tuples of Any.
    for table, row in typing.cast("Sequence[tuple[str, str]]", (await connection.exec_driver_sql(query)).all()):
        rows[table].append(row)
    return {table: hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest() for table, found in rows.items()}


def said(refusal: DomainError, words: dict[tuple[str, str | None], str]) -> str:
    """A refusal of the code in the oracle's words."""
    key = (refusal.code, getattr(refusal, "field", None))
    return words.get(key, f"unforeseen {key[0]}{f' of {key[1]}' if key[1] else ''} ({refusal.message})")


def agrees(what: str, forecast: frozenset[str] | set[str], refusal: DomainError | None,
           words: dict[tuple[str, str | None], str]) -> None:  # fmt: skip
    """The call was refused exactly when the oracle forecast a refusal, and for one of the reasons it gave."""
    rules = f"the rules refuse it ({', '.join(sorted(forecast))})" if forecast else "the rules allow it"
    if refusal is None:
        assert not forecast, f"calls_follow_the_rules: {what} was done, but {rules}"
    else:
        assert said(refusal, words) in forecast, (f"calls_follow_the_rules: {what} was refused "
                                                  f"({said(refusal, words)}), but {rules}")  # fmt: skip


async def audit_seq(session: AsyncSession) -> int:
    connection = await session.connection()
    return int((await connection.exec_driver_sql("SELECT seq FROM audit_head WHERE id = 1")).scalar_one())


async def moments_after(session: AsyncSession, at: datetime) -> list[datetime]:
    """The instants after ``at`` at which time alone may change an answer."""
    found: list[datetime] = []
    for column, *where in ((AccessGrant.starts_at,), (AccessGrant.ends_at,), (Attestation.valid_until,),
                           (NdaAcceptance.expires_at,), (Nomination.starts_at, Nomination.state == "pending"),
                           (Delegation.starts_at,), (Delegation.ends_at,)):  # fmt: skip
        found += (await session.exec(select(column).where(column > at, *where))).all()
    expiries = select(Nomination.expires_at).where(col(Nomination.expires_at) > at, Nomination.state == "pending")
    found += [moment for moment in (await session.exec(expiries)).all() if moment is not None]
    return sorted(found)


class Absent(Exception):
    """A step names a model, partner or person that does not exist (yet) in this sequence: it does nothing."""


class Desk:
    """The product as the machine uses it: the domain services on a frozen clock, one session per call.

    Everything is named as the printed steps show it: models ``m1``…``m4`` (``m1`` is acme's, ``m2`` beta's, more
    are registered on the way), partners ``p1``…``p3``, the government ``gov``. People are ``<org>:<role>``
    (``acme:approver``, ``gov:admin``, ``p1:admin``) or named relative to what they act on: ``owner:…`` (the model's
    developer), ``other:…`` (the other developer), ``grantee:admin``, ``nominator`` (of the nomination), ``last
    decider`` (whoever decided last, on anything)."""

    def __init__(self, sessionmaker: Any, clock: FrozenClock) -> None:
        self.sessionmaker, self.clock = sessionmaker, clock
        self.actors: dict[str, Actor] = {}
        self.ids: dict[str, uuid.UUID] = {}  # organisations and models by name
        self.developer_of: dict[str, str] = {}  # model → its developer
        self.nominations: dict[tuple[str, str], uuid.UUID] = {}  # (model, grantee) → its latest nomination
        self.nominators: dict[uuid.UUID, str] = {}
        self.grants: dict[tuple[str, str], uuid.UUID] = {}  # (model, grantee) → its latest grant
        self.cohorts: list[tuple[str, uuid.UUID, str, str]] = []  # (model, id, name, nominator), oldest first
        self.last_decider = "gov:approver"
        self.delegations: list[tuple[str, str, uuid.UUID]] = []  # (delegator, delegate, id), oldest first
        self.findings: list[tuple[str, uuid.UUID, str]] = []  # (model, id, reporter), oldest first
        self.tables: dict[str, list[str]] = {}
        self._fingerprint: tuple[dict[str, str], int] | None = None
        self._rows: Rows | None = None  # the rows as the last check read them, while no row or time has changed
        self._reads: tuple[frozenset[tuple[uuid.UUID, uuid.UUID]], Reads] | None = None  # for these grantees
        self.refusal: DomainError | None = None  # the last call's, if it was refused
        self.changed: list[str] = []  # the tables the last call changed
        self.log: list[str] = []

    @classmethod
    async def open(cls, sessionmaker: Any, clock: FrozenClock) -> Desk:
        """Two developers, the government, their staff, two partners (invited) and each developer's NDA 1.0."""
        desk = cls(sessionmaker, clock)
        async with sessionmaker() as session:
            desk.tables = await table_columns(session)
        for slug, (kind, staff) in STAFF.items():
            await desk.organisation(slug, kind, by=OPERATOR)
            for name, role in staff.items():
                await desk.person(slug, name, role)
        for partner in ("p1", "p2"):
            await desk.organisation(partner, OrgKind.PARTNER, by=desk.actors["gov:admin"])
            await desk.person(partner, "admin", Role.ADMIN)
        for developer in ("acme", "beta"):
            await desk.publish_nda(developer, bump="major", term="365d", by=f"{developer}:admin")
        return desk

    def fork(self, sessionmaker: Any, clock: FrozenClock) -> Desk:
        """This desk, just opened, on a copy of its database."""
        twin = Desk(sessionmaker, clock)
        twin.actors, twin.ids, twin.tables, twin.log = dict(self.actors), dict(self.ids), self.tables, list(self.log)
        return twin

    @property
    def now(self) -> datetime:
        return self.clock.now()

    async def organisation(self, slug: str, kind: OrgKind, *, by: Actor) -> None:
        made = await self.must(lambda u: Organisations(u).create(actor=by, kind=kind, name=slug.title(), slug=slug,
                                                                 domains=[f"{slug}.test"]))  # fmt: skip
        self.ids[slug] = made.id

    async def person(self, slug: str, name: str, role: Role) -> None:
        user = await self.must(lambda u: Organisations(u).add_user(
            actor=OPERATOR, organisation_id=self.ids[slug], email=f"{name}@{slug}.test", name=name, roles=[role]))  # fmt: skip
        async with self.sessionmaker() as session:
            self.actors[f"{slug}:{name}"] = await actor_for(Unit(session, self.clock), user)

    def id(self, name: str) -> uuid.UUID:
        if name not in self.ids:
            raise Absent(name)
        return self.ids[name]

    def who(self, name: str, *, model: str | None = None, grantee: str | None = None,
            nominator: str | None = None) -> Actor:  # fmt: skip
        """The person a step names."""
        owner = self.developer_of.get(model or "", "acme")
        if name.startswith("owner:"):
            name = f"{owner}:{name[6:]}"
        elif name.startswith("other:"):
            name = f"{'beta' if owner == 'acme' else 'acme'}:{name[6:]}"
        elif name == "grantee:admin":
            name = f"{grantee}:admin"
        elif name == "nominator" and nominator:
            name = nominator
        elif name == "last decider":
            name = self.last_decider
        if name not in self.actors:
            raise Absent(name)
        return self.actors[name]

    def name_of(self, actor: Actor) -> str:
        return next(n for n, a in self.actors.items() if a.user_id == actor.user_id)

    async def call(self, what: str, step: Callable[[Unit], Awaitable[T]], *, audited: bool = True) -> T | None:
        """Run one call of a service in a unit of its own. Refused (DomainError): nothing may have changed, and the
        answer is None. Done: it must have written an audit event (``audited``)."""
        if self._fingerprint is None:
            async with self.sessionmaker() as session:
                self._fingerprint = await fingerprint(session, self.tables), await audit_seq(session)
        before, seq = self._fingerprint
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            try:
                result = await step(unit)
            except DomainError as error:
                await unit.rollback()
                refusal: DomainError | None = error
            else:
                refusal = None
        async with self.sessionmaker() as session:
            # Nothing else writes between two calls: what one call leaves is what the next one starts from.
            self._fingerprint = after, seq_after = await fingerprint(session, self.tables), await audit_seq(session)
        self.refusal, self.changed = refusal, [table for table in self.tables if before[table] != after[table]]
        if self.changed:  # else the rows the last check read are still the rows, and its verdict still holds
            self._rows = None
        if FINDING_READ_INPUTS & set(self.changed):
            self._reads = None
        if refusal is not None:
            self.log.append(f"{what}: refused ({refusal.code}: {refusal.message})")
            assert not self.changed, (f"refused_step_changes_nothing: {what} was refused ({refusal.code}) but changed "
                                      f"{', '.join(self.changed)}")  # fmt: skip
            return None
        self.log.append(f"{what}: done")
        assert not audited or seq_after > seq, f"successful_step_is_audited: {what} wrote no audit event"
        return result

    async def must(self, step: Callable[[Unit], Awaitable[T]]) -> T:
        """Setting the scene: a call that must succeed, not itself under test."""
        self._fingerprint, self._rows, self._reads = None, None, None
        async with self.sessionmaker() as session:
            return await step(Unit(session, self.clock))

    async def rows(self) -> Rows:
        """The rows as they are now, read once for the check after a step and the forecast before the next."""
        if self._rows is None or self._rows.at != self.now:
            async with self.sessionmaker() as session:
                grantees = frozenset((await session.exec(select(AccessGrant.organisation_id, AccessGrant.model_id).where(
                    col(AccessGrant.revoked_at).is_(None), AccessGrant.ends_at > self.now))).all())  # fmt: skip
                reads = self._reads[1] if self._reads is not None and self._reads[0] == grantees else None
                self._rows = await load(session, self.now, Unit(session, self.clock), reads=reads)
            self._reads = grantees, self._rows.reads
        return self._rows

    async def forecasting(self) -> Rows:
        """The rows as they are now, enough to forecast a call: those the last check read if nothing has happened
        since (a step of the machine), else read without the code's answers (a step of a scene)."""
        if self._rows is not None and self._rows.at == self.now:
            return self._rows
        async with self.sessionmaker() as session:
            return await load(session, self.now, Unit(session, self.clock), answers=False)

    async def check(self) -> None:
        """Every invariant of stateful_oracle against the rows as they are now."""
        problems = broken(await self.rows())
        assert not problems, "\n".join(problems)

    async def events_since(self, seq: int) -> list[tuple[str, str]]:
        """The audit events written after ``seq``: (action, subject id)."""
        async with self.sessionmaker() as session:
            found = await session.exec(select(AuditEvent).where(AuditEvent.seq > seq).order_by(col(AuditEvent.seq)))
            return [(event.action, event.subject_id) for event in found.all()]

    def slug_of(self, organisation_id: uuid.UUID) -> str:
        return next(name for name, known in self.ids.items() if known == organisation_id)

    async def _to_next_moment(self) -> timedelta:
        async with self.sessionmaker() as session:
            ahead = await moments_after(session, self.now)
        return ahead[0] - self.now if ahead else timedelta(days=1)

    async def scene(self, *, designation: str, release: str, m2_quorums: str, government_valid: str | None,
                    partner_valid: str | None, opening: str) -> None:  # fmt: skip
        """Where a sequence starts: m1 (acme's, quorums 1+1) and m2 (beta's, ``m2_quorums``) released after
        ``release`` and designated up to ``designation``; the government and p1 compliant, attested for
        ``*_valid`` (None: not compliant). ``opening``: ``nominations`` nominates the government for m1 from a day
        ahead (or its earliest start) for 30 days and p1 a day later, ``grants`` has both sides approve them too,
        ``cohort`` then nominates p1 and p2 for m1 from a week into p1's window as a cohort (p1 refused: it
        overlaps), ``none`` nothing."""
        for developer, quorums in (("acme", "1+1"), ("beta", m2_quorums)):
            model = await self.register_model(by=f"{developer}:admin", release=release, quorums=quorums)
            for step in {"not_assessed": [], "in_consultation": ["in_consultation"],
                         "covered": ["in_consultation", "covered"]}[designation]:  # fmt: skip
                # None when the registration was refused: designating it then raises Absent, which ends the scene.
                await self.designate(model, to=step, by="gov:approver")  # type: ignore[arg-type]
        for grantee, valid in (("gov", government_valid), ("p1", partner_valid)):
            if valid is not None:
                await self.complies(grantee, valid=valid)
        if opening == "none":
            return
        starts_at = max(self.now + timedelta(days=1), self.now + span(release) - timedelta(days=30))
        for grantee, later, by in (("gov", timedelta(0), "acme:nominator"), ("p1", timedelta(days=1), "gov:nominator")):
            at = starts_at + later
            made = await self._nominate("m1", grantee, at, at + timedelta(days=30), by=by)
            if made and opening in ("grants", "cohort"):
                for approver in ("gov:approver", "acme:approver"):
                    await self.decide("m1", grantee, verdict="approve", by=approver)
        if opening == "cohort":  # a week into p1's window, so that its members take a while to lapse
            at = starts_at + timedelta(days=8)
            await self._nominate_cohort("m1", ["p1", "p2"], at, at + timedelta(days=30), all_or_nothing=False,
                                        title="Cohort 1", by="acme:nominator")  # fmt: skip

    async def complies(self, grantee: str, *, valid: str) -> None:
        """Everything a grantee owes at once: vetted (a partner), both developers' NDAs accepted, all six attested."""
        admin = f"{grantee}:admin"
        if grantee != "gov":
            await self.submit_vetting(grantee, by=admin)
            await self.decide_vetting(grantee, outcome="vetted", by="gov:admin")
        for developer in ("acme", "beta"):
            await self.accept_nda(developer, version="current", by=admin)
        await self.attest(areas="all six", valid=valid, by=admin)

    async def register_model(self, *, by: str, release: str, quorums: str, expiry: int = 14) -> str | None:
        """``expiry``: how many days its pending nominations wait for both sides (escalated after a day)."""
        name, actor = f"m{len(self.developer_of) + 1}", self.who(by)
        developer_quorum, government_quorum = (int(q) for q in quorums.split("+"))
        what = f"{by} registers {name}{f' (nominations expire after {expiry} days)' if expiry != 14 else ''}"
        model = await self.call(what, lambda u: FrontierModels(u).register(
            actor=actor, slug=name, name=name.upper(), codename=f"CODE-{name}", tier=Tier.STANDARD,
            planned_release_at=self.now + span(release), resource=f"https://api.example.test/{name}",
            developer_quorum=developer_quorum, government_quorum=government_quorum, nomination_expiry_days=expiry,
            escalation_days=1 if expiry < 14 else 3))  # fmt: skip
        if model is None:
            return None
        self.ids[name], self.developer_of[name] = model.id, self.name_of(actor).split(":")[0]
        return name

    async def designate(self, model: str, *, to: str, by: str) -> None:
        model_id, actor = self.id(model), self.who(by, model=model)
        reference = "ASSESSMENT-1" if to in ("covered", "not_covered") else None
        await self.call(f"{by} designates {model} {to}", lambda u: FrontierModels(u).designate(
            actor=actor, model_id=model_id, designation=Designation(to), reference=reference))  # fmt: skip

    async def move_release(self, model: str, *, shift: str, by: str) -> None:
        model_id, actor = self.id(model), self.who(by, model=model)

        async def step(unit: Unit) -> object:
            planned = (await unit.get(FrontierModel, model_id)).planned_release_at
            return await FrontierModels(unit).move_release(actor=actor, model_id=model_id,
                                                           planned_release_at=planned + span(shift), reason="moved")  # fmt: skip

        await self.call(f"{by} moves the release of {model} {shift}", step)

    async def publish_nda(self, scope: str, *, bump: str, term: str, by: str) -> None:
        """``scope``: a model (its own NDA) or a developer (its NDA for all its models)."""
        model = self.id(scope) if scope.startswith("m") else None
        developer = self.id(self.developer_of[scope] if model else scope)
        actor = self.who(by, model=scope if model else None)

        async def step(unit: Unit) -> object:
            found = await self._series(unit, developer, model)
            major, minor = (found[-1].version_major, found[-1].version_minor) if found else (0, 0)
            version = {"major": f"{major + 1}.0", "minor": f"{major}.{minor + 1}", "same": f"{major}.{minor}"}[bump]
            return await Compliance(unit).publish_nda(actor=actor, title="NDA", body=NDA_TEXT.format(version),
                                                      version=version, model_id=model, term_days=span(term).days)  # fmt: skip

        await self.call(f"{by} publishes a {bump} version of {scope}'s NDA lasting {term}", step)

    async def accept_nda(self, scope: str, *, version: str, by: str) -> None:
        """Accept the latest (``current``) or the one before (``superseded``) of the NDA in force for a model (its
        own, else its developer's), or of a developer's NDA for all its models."""
        actor = self.who(by)
        model = self.id(scope) if scope.startswith("m") else None
        developer = self.id(self.developer_of[scope] if model else scope)

        async def step(unit: Unit) -> object:
            found = (model and await self._series(unit, developer, model)) or await self._series(unit, developer, None)
            template = found[-1] if version == "current" or len(found) < 2 else found[-2]
            return await Compliance(unit).accept_nda(actor=actor, template_id=template.id, sha256=template.sha256)

        await self.call(f"{by} accepts the {version} NDA of {scope}", step)

    @staticmethod
    async def _series(unit: Unit, developer: uuid.UUID, model: uuid.UUID | None) -> list[NdaTemplate]:
        return list((await unit.session.exec(
            select(NdaTemplate).where(NdaTemplate.developer_id == developer, NdaTemplate.model_id == model)
            .order_by(col(NdaTemplate.version_major), col(NdaTemplate.version_minor))
        )).all())  # fmt: skip

    async def attest(self, *, areas: str, valid: str, by: str) -> None:
        actor = self.who(by)
        for area in list(Area) if areas == "all six" else [Area(areas)]:
            def attest(u: Unit, a: Area = area) -> Awaitable[Attestation]:
                return Compliance(u).attest(actor=actor, area=a, statement="We comply.",
                                            valid_until=self.now + span(valid))  # fmt: skip

            await self.call(f"{by} attests {area.value} for {valid}", attest)

    async def add_partner(self, *, by: str) -> None:
        name, actor = f"p{sum(1 for n in self.ids if n.startswith('p')) + 1}", self.who(by)
        made = await self.call(f"{by} registers partner {name}", lambda u: Organisations(u).create(
            actor=actor, kind=OrgKind.PARTNER, name=name.upper(), slug=name, domains=[f"{name}.test"]))  # fmt: skip
        if made is not None:
            self.ids[name] = made.id
            await self.person(name, "admin", Role.ADMIN)

    async def submit_vetting(self, partner: str, *, by: str) -> None:
        partner_id, actor = self.id(partner), self.who(by, grantee=partner)
        await self.call(f"{by} submits {partner}'s vetting", lambda u: Organisations(u).submit_vetting(
            actor=actor, organisation_id=partner_id, submission="About us."))  # fmt: skip

    async def decide_vetting(self, partner: str, *, outcome: str, by: str) -> None:
        partner_id, actor = self.id(partner), self.who(by, grantee=partner)
        await self.call(f"{by} decides {partner} {outcome}", lambda u: Organisations(u).decide_vetting(
            actor=actor, organisation_id=partner_id, outcome=Vetting(outcome),
            reason="Not yet." if outcome == "declined" else None))  # fmt: skip

    async def window(self, model: str, start: str, length: str) -> tuple[datetime, datetime]:
        """``start``: ``now+1d``, ``release-30d``…: from now, or from the model's planned release."""
        async with self.sessionmaker() as session:
            planned = (await Unit(session, self.clock).get(FrontierModel, self.id(model))).planned_release_at
        anchor = "release" if start.startswith("release") else "now"
        starts_at = (planned if anchor == "release" else self.now) + span(start[len(anchor) :] or "0m")
        return starts_at, starts_at + span(length)

    async def nominate(self, model: str, grantee: str, *, start: str, length: str, by: str) -> uuid.UUID | None:
        starts_at, ends_at = await self.window(model, start, length)
        return await self._nominate(model, grantee, starts_at, ends_at, by=by,
                                    what=f"{by} nominates {grantee} for {model} from {start} for {length}")  # fmt: skip

    async def _nominate(self, model: str, grantee: str, starts_at: datetime, ends_at: datetime, *, by: str,
                        what: str | None = None) -> uuid.UUID | None:  # fmt: skip
        model_id, grantee_id, actor = self.id(model), self.id(grantee), self.who(by, model=model, grantee=grantee)
        what = what or f"{by} nominates {grantee} for {model}"
        forecast = nomination_refusals(await self.forecasting(), by=actor.person_id, model_id=model_id,
                                       organisation_id=grantee_id, starts_at=starts_at, ends_at=ends_at)  # fmt: skip
        made = await self.call(what, lambda u: CoSelection(u).nominate(
            actor=actor, model_id=model_id, organisation_id=grantee_id, starts_at=starts_at, ends_at=ends_at,
            actions=ACTIONS, justification=JUSTIFICATION))  # fmt: skip
        agrees(what, forecast, self.refusal, NOMINATION_REFUSALS)
        if made is None:
            return None
        self.nominations[(model, grantee)], self.nominators[made.id] = made.id, self.name_of(actor)
        return made.id

    async def nominate_cohort(self, model: str, members: list[str], *, start: str, length: str,
                              all_or_nothing: bool, name: str, by: str) -> None:  # fmt: skip
        """Nominate ``members`` (slugs; one that names nobody is a member refused) for ``model`` as a cohort named
        anew, or (``name="taken"``) as the model's latest cohort is. The code must nominate and refuse exactly the
        members the oracle's single nominations would, write nothing for a member refused, and nothing at all for
        a cohort refused."""
        starts_at, ends_at = await self.window(model, start, length)
        earlier = [title for of, _, title, _ in self.cohorts if of == model]
        title = earlier[-1] if name == "taken" and earlier else f"Cohort {len(self.cohorts) + 1}"
        await self._nominate_cohort(model, members, starts_at, ends_at, all_or_nothing=all_or_nothing, title=title,
                                    by=by, when=f" from {start} for {length}")  # fmt: skip

    async def _nominate_cohort(self, model: str, members: list[str], starts_at: datetime, ends_at: datetime, *,
                               all_or_nothing: bool, title: str, by: str, when: str = "") -> None:  # fmt: skip
        model_id, actor = self.id(model), self.who(by, model=model)
        before = await self.forecasting()
        forecast = cohort_nomination(before, by=actor.person_id, model_id=model_id, name=title, entries=members,
                                     starts_at=starts_at, ends_at=ends_at, all_or_nothing=all_or_nothing)  # fmt: skip
        what = (f"{by} nominates the cohort {title!r} of {', '.join(members)} for {model}{when}"
                f"{', all or nothing' if all_or_nothing else ''}")  # fmt: skip
        made = await self.call(what, lambda u: Cohorts(u).nominate_cohort(
            actor=actor, model_id=model_id, name=title, entries=members, starts_at=starts_at, ends_at=ends_at,
            actions=ACTIONS, justification=JUSTIFICATION, all_or_nothing=all_or_nothing))  # fmt: skip
        agrees(what, forecast.refused, self.refusal, NOMINATION_REFUSALS)
        refused_for_members = self.refusal.members if isinstance(self.refusal, CohortRefused) else None
        reported = made.members if made is not None else refused_for_members
        if reported is not None:  # the whole was refused only for its members, or it was made: each as forecast
            outcomes = {m.entry: m.refusal for m in reported}
            assert set(outcomes) == set(forecast.members), (f"calls_follow_the_rules: {what} reported "
                                                            f"{sorted(outcomes)}, not {sorted(forecast.members)}")  # fmt: skip
            for entry, refusal in outcomes.items():
                self.log.append(f"  member {entry}: {said(refusal, MEMBER_REFUSALS) if refusal else 'nominated'}")
                agrees(f"{what}: member {entry}", forecast.members[entry], refusal, MEMBER_REFUSALS)
        if made is None:
            return
        nominated = {m.nomination.id: m.entry for m in made.nominated if m.nomination is not None}
        after = await self.rows()
        written = {n.id for n in after.nominations.values() if n.cohort_id == made.cohort.id}
        assert written == set(nominated), (f"refused_member_writes_nothing: {what} wrote members {len(written)}, "
                                           f"reported {len(nominated)} nominated")  # fmt: skip
        subjects = {str(made.cohort.id), *map(str, nominated)}
        strays = [f"{action} of {subject}" for action, subject in await self.events_since(before.head_seq)
                  if subject not in subjects]  # fmt: skip
        assert not strays, f"refused_member_writes_nothing: {what} audited {', '.join(strays)}"
        self.cohorts.append((model, made.cohort.id, title, self.name_of(actor)))
        for nomination_id, entry in nominated.items():
            self.nominations[(model, entry)], self.nominators[nomination_id] = nomination_id, self.name_of(actor)

    async def decide_cohort(self, which: str, *, reject: str, reason: str, by: str) -> None:
        """Decide on the ``latest`` or ``earliest`` cohort (of any model): approve every member, but ``reject`` (a
        partner, or ``none``), rejected for ``reason``. Each member must be decided or refused exactly as the
        oracle's single decisions in the order of the members' ids are; a member refused (or a cohort refused)
        changes nothing of its own."""
        if not self.cohorts:
            raise Absent("no cohort")
        model, cohort_id, title, nominator = self.cohorts[-1 if which == "latest" else 0]
        actor = self.who(by, model=model, nominator=nominator)
        rejecting = {} if reject == "none" else {self.id(reject): reason}
        self.last_decider = self.name_of(actor)
        before = await self.forecasting()
        forecast = cohort_decision(before, by=actor.person_id, cohort_id=cohort_id, reject=rejecting)
        what = (f"{by} ({self.last_decider}) decides the cohort {title!r} of {model}: approve all"
                f"{f' but {reject}, rejected for {reason!r}' if rejecting else ''}")  # fmt: skip
        # Audited or not is checked below: a cohort all of whose members are refused writes nothing, and says so.
        done = await self.call(what, lambda u: Cohorts(u).decide_cohort(actor=actor, cohort_id=cohort_id,
                                                                         reject=rejecting), audited=False)  # fmt: skip
        agrees(what, forecast.refused, self.refusal, DECISION_REFUSALS)
        if done is None:
            return
        assert {d.nomination.id for d in done.members} == set(forecast.members), f"{what} decided other members"
        subjects = {str(cohort_id)}
        for member in done.members:
            expected = forecast.members[member.nomination.id]
            who = f"{what}: member {member.organisation_name}"
            self.log.append(f"  member {member.organisation_name}: {member.result}"
                            f"{f' ({said(member.refusal, DECISION_REFUSALS)})' if member.refusal else ''}")  # fmt: skip
            agrees(who, expected.refused, member.refusal, DECISION_REFUSALS)
            assert member.result == expected.result, (f"calls_follow_the_rules: {who} was {member.result}, the rules "
                                                      f"say {expected.result}")  # fmt: skip
            if member.outcome is not None:
                subjects |= {str(member.nomination.id), str(member.outcome.decision.id)}
                if member.outcome.grant is not None:
                    subjects.add(str(member.outcome.grant.id))
                    self.grants[(model, self.slug_of(member.nomination.organisation_id))] = member.outcome.grant.id
        after, events = await self.rows(), await self.events_since(before.head_seq)
        fields = ("state", "developer_approvals", "government_approvals", "decided_at", "grant_id")
        for member in done.members:
            if member.refusal is None:
                continue
            was, now = before.nominations[member.nomination.id], after.nominations[member.nomination.id]
            unchanged = [getattr(was, f) for f in fields] == [getattr(now, f) for f in fields]
            same_decisions = len(before.decisions[was.id]) == len(after.decisions[was.id])
            assert unchanged and same_decisions, (
                f"refused_member_writes_nothing: {what}: {member.organisation_name} changed"
            )
        strays = [f"{action} of {subject}" for action, subject in events if subject not in subjects]
        assert not strays, f"refused_member_writes_nothing: {what} audited {', '.join(strays)}"
        if all(member.outcome is None for member in done.members):
            assert not events and not self.changed, (f"refused_step_changes_nothing: {what} decided no member but "
                                                     f"changed {', '.join(self.changed) or 'the audit trail'}")  # fmt: skip
        else:
            assert events, f"successful_step_is_audited: {what} wrote no audit event"

    def nomination(self, model: str, grantee: str) -> tuple[uuid.UUID, str]:
        """The latest nomination (or extension request) of ``grantee`` for ``model``, and who made it."""
        if (model, grantee) not in self.nominations:
            raise Absent(f"no nomination of {grantee} for {model}")
        nomination = self.nominations[(model, grantee)]
        return nomination, self.nominators[nomination]

    def grant(self, model: str, grantee: str) -> uuid.UUID:
        if (model, grantee) not in self.grants:
            raise Absent(f"no grant of {grantee} for {model}")
        return self.grants[(model, grantee)]

    async def decide(self, model: str, grantee: str, *, verdict: str, by: str, for_: str | None = None) -> None:
        """Decide on the latest nomination of ``grantee`` for ``model``; ``for_``: in that person's name (under a
        delegation to ``by``, or none: then refused)."""
        nomination, nominator = self.nomination(model, grantee)
        actor = self.who(by, model=model, grantee=grantee, nominator=nominator)
        principal = self.who(for_, model=model, grantee=grantee, nominator=nominator) if for_ else None
        self.last_decider = self.name_of(actor)
        rows = await self.forecasting()
        forecast = single_decision(rows, by=actor.person_id, nomination=rows.nominations[nomination], verdict=verdict,
                                   for_=principal.person_id if principal else None)  # fmt: skip
        what = (f"{by} ({self.last_decider}) decides {verdict} on {grantee} for {model}"
                f"{f' in the name of {for_} ({self.name_of(principal)})' if principal else ''}")  # fmt: skip
        done = await self.call(what, lambda u: CoSelection(u).decide(
            actor=actor, nomination_id=nomination, verdict=Verdict(verdict),
            reason="Not this time." if verdict == "reject" else None,
            on_behalf_of=principal.person_id if principal else None))  # fmt: skip
        agrees(what, forecast.refused, self.refusal, DECISION_REFUSALS)
        if done is None:
            return
        result = "granted" if done.grant is not None else "rejected" if verdict == "reject" else "approved"
        assert result == forecast.result, f"calls_follow_the_rules: {what} was {result}, not {forecast.result}"
        approved_grant = done.nomination.kind == "grant" and done.nomination.state == "approved"
        assert not approved_grant or done.grant is not None, (
            "approved_grant_nominations_carry_their_grant: the decision approved the nomination but gave no grant"
        )
        if approved_grant:
            assert done.grant is not None  # as asserted above
            self.grants[(model, grantee)] = done.grant.id

    async def delegate(self, *, by: str, to: str, start: str, length: str) -> None:
        """``by`` names ``to`` their delegate from ``start`` (``+0m``, ``+1d``: from now) for ``length``."""
        actor, delegate = self.who(by), self.who(to)
        starts_at = self.now + span(start)
        made = await self.call(f"{by} delegates to {to} from now{start} for {length}", lambda u: Delegations(u).create(
            actor=actor, delegate_id=delegate.person_id, starts_at=starts_at, ends_at=starts_at + span(length),
            note="Out of office."))  # fmt: skip
        if made is not None:
            self.delegations.append((by, to, made.id))

    async def revoke_delegation(self, which: str, *, by: str) -> None:
        """End the ``latest`` or ``earliest`` delegation; ``by``: its ``delegator``, its ``delegate`` or anyone."""
        if not self.delegations:
            raise Absent("no delegation")
        delegator, delegate, delegation = self.delegations[-1 if which == "latest" else 0]
        actor = self.who({"delegator": delegator, "delegate": delegate}.get(by, by))
        await self.call(f"{by} ({self.name_of(actor)}) ends {delegator}'s {which} delegation to {delegate}",
                        lambda u: Delegations(u).revoke(actor=actor, delegation_id=delegation))  # fmt: skip

    async def set_expiry(self, model: str, *, days: int, by: str) -> None:
        """How long ``model``'s pending nominations wait for both sides (escalated after a day)."""
        model_id, actor = self.id(model), self.who(by, model=model)
        changes: dict[str, object] = {"nomination_expiry_days": days, "escalation_days": 1}
        async with self.sessionmaker() as session:
            found = await Unit(session, self.clock).get(FrontierModel, model_id)
            same = {f: getattr(found, f) for f in changes} == changes  # then nothing is written, nor audited
        await self.call(f"{by} has {model}'s nominations expire after {days} days", lambda u: FrontierModels(u).update(
            actor=actor, model_id=model_id, changes=changes), audited=not same)  # fmt: skip

    async def latest_round(self, model: str) -> uuid.UUID:
        async with self.sessionmaker() as session:
            found = (await session.exec(select(Consultation.id).where(Consultation.model_id == self.id(model))
                                        .order_by(col(Consultation.round).desc()).limit(1))).first()  # fmt: skip
        if found is None:
            raise Absent(f"no consultation on {model}")
        return found

    async def request_consultation(self, model: str, *, by: str) -> None:
        """The developer's people ask for a round; the government's open (or reopen) one themselves."""
        model_id, actor = self.id(model), self.who(by, model=model)
        consultations = Consultations.open if actor.kind == OrgKind.GOVERNMENT else Consultations.request
        await self.call(f"{by} asks for a consultation on {model}", lambda u: consultations(
            Consultations(u), actor=actor, model_id=model_id, note="Is it a covered frontier model?",
            contacts=["lead@acme.test"], capabilities=["cyber"]))  # fmt: skip

    async def consultation_message(self, model: str, *, by: str) -> None:
        consultation, actor = await self.latest_round(model), self.who(by, model=model)
        await self.call(f"{by} writes in {model}'s last round", lambda u: Consultations(u).message(
            actor=actor, consultation_id=consultation, body="A new checkpoint is ready."))  # fmt: skip

    async def decide_consultation(self, model: str, *, outcome: str, by: str) -> None:
        consultation, actor = await self.latest_round(model), self.who(by, model=model)
        await self.call(f"{by} decides {model}'s last round {outcome}", lambda u: Consultations(u).decide(
            actor=actor, consultation_id=consultation, outcome=outcome, assessment_ref="ASSESSMENT-2"))  # fmt: skip

    async def report_finding(self, model: str, *, audience: str, named: str, by: str) -> None:
        """``by`` reports a finding on ``model`` for ``audience`` (a TLP:RED one names the people of ``named``)."""
        model_id, actor = self.id(model), self.who(by, model=model)
        recipients = [self.who(n, model=model).person_id for n in named.split()] if audience == "tlp_red" else []
        title = f"Finding {len(self.findings) + 1}"
        made = await self.call(f"{by} reports {title!r} on {model} for {audience}"
                               f"{f' to {named}' if recipients else ''}", lambda u: Findings(u).report(
            actor=actor, model_id=model_id, title=title, body="What was found.", severity="high",
            category="safeguard_bypass", audience=audience, recipients=recipients))  # fmt: skip
        if made is not None:
            self.findings.append((model, made.id, self.name_of(actor)))

    async def update_finding(self, which: str, *, to: str, audience: str | None, by: str) -> None:
        """Move the ``latest`` or ``earliest`` finding ``to`` a state (with a note), or widen it to ``audience``;
        ``by``: anyone, or its ``reporter``."""
        if not self.findings:
            raise Absent("no finding")
        model, finding, reporter = self.findings[-1 if which == "latest" else 0]
        actor = self.who(reporter if by == "reporter" else by, model=model)
        what = f"{by} ({self.name_of(actor)}) {f'widens to {audience}' if audience else f'moves to {to}'}"
        await self.call(f"{what} the {which} finding", lambda u: Findings(u).update(
            actor=actor, finding_id=finding, note="Because.", to_state=None if audience else to,
            audience=audience))  # fmt: skip

    async def withdraw(self, model: str, grantee: str, *, by: str) -> None:
        nomination, nominator = self.nomination(model, grantee)
        actor = self.who(by, model=model, grantee=grantee, nominator=nominator)
        await self.call(f"{by} withdraws {grantee}'s nomination for {model}", lambda u: CoSelection(u).withdraw(
            actor=actor, nomination_id=nomination))  # fmt: skip

    async def revoke(self, model: str, grantee: str, *, by: str) -> None:
        grant, actor = self.grant(model, grantee), self.who(by, model=model, grantee=grantee)
        await self.call(f"{by} revokes {grantee}'s grant to {model}", lambda u: Grants(u).revoke(
            actor=actor, grant_id=grant, reason="Misuse."))  # fmt: skip

    async def request_extension(self, model: str, grantee: str, *, more: str, by: str) -> None:
        grant, actor = self.grant(model, grantee), self.who(by, model=model, grantee=grantee)

        async def step(unit: Unit) -> Nomination:
            ends_at = (await unit.get(AccessGrant, grant)).ends_at + span(more)
            return await CoSelection(unit).request_extension(actor=actor, grant_id=grant, ends_at=ends_at,
                                                             justification="More time.")  # fmt: skip

        made = await self.call(f"{by} asks to extend {grantee}'s grant to {model} by {more}", step)
        if made is not None:
            self.nominations[(model, grantee)], self.nominators[made.id] = made.id, self.name_of(actor)

    async def switch_off(self, model: str, *, by: str) -> None:
        model_id, actor = self.id(model), self.who(by, model=model)
        await self.call(f"{by} switches {model} off", lambda u: FrontierModels(u).switch_off(
            actor=actor, model_id=model_id, reason="Incident."))  # fmt: skip

    async def let_time_pass(self, by: str, *, worker: bool = True) -> None:
        """Time passes (``by`` a span, or ``next moment``: up to the next instant at which a window starts or ends,
        a nomination lapses or an NDA or attestation expires, the boundaries where rules go wrong), then the worker
        sweeps as in production (transitions, lapses, reminders, the outbox); or it is down (``worker=False``), and
        every answer must still be right."""
        self.clock.advance(await self._to_next_moment() if by == "next moment" else span(by))
        if worker:
            await self.call(f"{by} pass, the worker sweeps", lambda u: sweep(u, NullNotifier()), audited=False)
        else:
            self.log.append(f"{by} pass, the worker is down")
