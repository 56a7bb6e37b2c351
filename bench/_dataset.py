"""A realistic population of accessdesk rows, generated in bulk and loaded straight into the tables.

Not through the services: 100k grants through the domain layer would take far longer than the benchmark itself.
The rows obey the same rules the services would give them (states derived with domain.grant_state, scopes from
vocabulary.scope_for, two decisions per approved nomination, …). Loading uses COPY on PostgreSQL
(asyncpg ``copy_records_to_table``) and SQLAlchemy Core executemany on SQLite.

Shape for ``grants`` = N:

- 3 developers with 4 models each, 1 government, max(20, N // 50) partners, each organisation with an e-mail
  domain; staff (admin, 2 approvers, nominator per developer; admin, 2 approvers for the government), one admin
  per partner; an API token for every user.
- N approved nominations, each with its grant and two decisions (developer approver, government approver),
  windows spread over the past two years and the next two months; ~1 % government grants, ~2 % revoked.
- ``pending`` pending nominations, created in the last few days, starting 2–6 weeks from now, all awaiting the
  government side. Of these, 10 % were nominated by the benchmark's government approver and 20 % need a second
  government approval that this approver has already given: both kinds are in ``?awaiting=government`` but not
  in the approver's ``?for_me=true`` queue.

Only when asked (the approval queue's population stays as above, row for row):

- ``ending``: that many more approved nominations and grants, ending evenly over the next 7 days — the same
  number of grants about to end whatever N is (N grants alone give about N / 110 ending in a week);
- ``compliance``: one NDA per developer (all its models, a year's term), and for every grantee organisation (the
  government and each partner) an acceptance of each and the six attestations, renewed yearly for two years back,
  each renewal up to 25 days before the last one lapsed. The current ones of the first ``expiring`` partners lapse
  evenly over the next 30 days, the others' at random within the year. Drawn from a random stream of their own,
  so that the grants are the same with or without them.
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlmodel import SQLModel

import accessdesk.db.tables as t
from accessdesk.db.engine import make_engine
from accessdesk.db.types import JSONList
from accessdesk.domain.compliance import text_hash
from accessdesk.domain.gates import series_key
from accessdesk.domain.grant_state import GrantFacts, derive_state, next_transition
from accessdesk.domain.sessions import session_id
from accessdesk.domain.tokens import PREFIX, digest
from accessdesk.domain.vocabulary import Area, scope_for
from bench._common import plain

CHUNK = 20_000
ACTIONS = (["invoke"], ["invoke", "evaluate"], ["evaluate"], ["invoke", "red_team"])
TERM = timedelta(days=365)  # of an NDA acceptance and of an attestation


@dataclass
class Population:
    """What the benchmark needs to know about a loaded database."""

    approver_token: str = ""
    # A console session of the same approver (the cookie's value), for the console's pages.
    approver_session: str = ""
    approver_id: uuid.UUID | None = None
    pending_awaiting_government: int = 0
    pending_for_me: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class Builder:
    def __init__(self, grants: int, pending: int, now: datetime, seed: int = 20261128) -> None:
        self.n, self.pending, self.now, self.seed = grants, pending, now, seed
        self.rng = random.Random(seed)
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.population = Population()

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _add(self, table: str, **row: Any) -> dict[str, Any]:
        self.tables.setdefault(table, []).append(row)
        return row

    # --- the small, fixed part: organisations, people, tokens, models -------------------------------------
    def _org(self, kind: str, slug: str, name: str, **kw: Any) -> uuid.UUID:
        oid = self._uuid()
        self._add("organisations", id=oid, kind=kind, name=name, slug=slug, created_at=self.now - timedelta(days=800),
                  **kw)  # fmt: skip
        self._add("organisation_domains", domain=f"{slug}.test", organisation_id=oid)
        return oid

    def _user(self, org: uuid.UUID, slug: str, local: str, roles: list[str]) -> tuple[uuid.UUID, str]:
        uid = self._uuid()
        self._add("users", id=uid, organisation_id=org, email=f"{local}@{slug}.test", name=local.title(),
                  created_at=self.now - timedelta(days=700))  # fmt: skip
        for role in roles:
            self._add("user_roles", user_id=uid, role=role)
        token = PREFIX + secrets.token_urlsafe(32)
        self._add("api_tokens", id=self._uuid(), user_id=uid, name="bench", token_hash=digest(token),
                  created_at=self.now - timedelta(days=30))  # fmt: skip
        return uid, token

    def people_and_models(self) -> None:
        now = self.now
        self.government = self._org("government", "aiso", "AI Security Office")
        self.gov_admin, _ = self._user(self.government, "aiso", "gail", ["admin"])
        self.gov_approver, token = self._user(self.government, "aiso", "gov1", ["approver"])
        self.gov_approver2, _ = self._user(self.government, "aiso", "gov2", ["approver"])
        self.population.approver_token, self.population.approver_id = token, self.gov_approver
        cookie = secrets.token_urlsafe(32)
        # Far ends: the benchmark's server runs on the wall clock, and its session must not lapse mid-run.
        self._add("web_sessions", id=session_id(cookie), user_id=self.gov_approver, csrf_token=secrets.token_urlsafe(32),
                  created_at=now, authenticated_at=now, last_seen_at=now + timedelta(days=365),
                  expires_at=now + timedelta(days=366))  # fmt: skip
        self.population.approver_session = cookie
        self.models: list[dict[str, Any]] = []
        self.dev_staff: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
        for d in range(3):
            slug = f"dev{d}"
            developer = self._org("developer", slug, f"Developer {d}")
            self._user(developer, slug, "admin", ["admin"])
            approver, _ = self._user(developer, slug, "approver", ["approver"])
            self._user(developer, slug, "approver2", ["approver"])
            nominator, _ = self._user(developer, slug, "nominator", ["nominator"])
            self.dev_staff[developer] = (approver, nominator)
            for m in range(4):
                mslug = f"{slug}-model-{m}"
                self.models.append(self._add(
                    "frontier_models", id=self._uuid(), slug=mslug, name=mslug.title(), codename=f"CODE-{d}{m}",
                    developer_id=developer, tier="high" if m == 0 else "standard",
                    planned_release_at=now + timedelta(days=60 + 30 * m), resource=f"https://api.{slug}.test/{mslug}",
                    slack_channels=[f"#{mslug}"], designation="covered", designation_ref=f"REF-{d}{m}",
                    designated_by=self.gov_approver, designated_at=now - timedelta(days=400), developer_quorum=1,
                    government_quorum=1, max_window_days=90, created_at=now - timedelta(days=750),
                    updated_at=now - timedelta(days=400),
                ))  # fmt: skip
        self.partners = []
        self.admins = {self.government: self.gov_admin}
        for p in range(max(20, self.n // 50)):
            slug = f"partner-{p}"
            org = self._org("partner", slug, f"Partner {p}", sector="research", country="US",
                            vetting_state="vetted", vetting_changed_at=now - timedelta(days=600))  # fmt: skip
            self.admins[org], _ = self._user(org, slug, "admin", ["admin"])
            self.partners.append(org)

    # --- the big part: nominations, decisions, grants, in chunks -----------------------------------------
    def _case(self, grantee: uuid.UUID, grantee_kind: str,
              ends_at: datetime | None = None) -> Iterator[tuple[str, dict[str, Any]]]:  # fmt: skip
        rng, now = self.rng, self.now
        model = rng.choice(self.models)
        dev_approver, nominator = self.dev_staff[model["developer_id"]]
        if ends_at is None:
            starts_at = now + timedelta(days=rng.uniform(-700, 60))
            ends_at = starts_at + timedelta(days=rng.choice((30, 60, 90)))
        else:
            starts_at = ends_at - timedelta(days=rng.choice((30, 60, 90)))
        created_at = starts_at - timedelta(days=rng.uniform(3, 20), seconds=rng.uniform(0, 86400))
        decided_at = created_at + timedelta(hours=rng.uniform(2, 48))
        actions = rng.choice(ACTIONS)
        nid, gid = self._uuid(), self._uuid()
        yield "nominations", dict(
            id=nid, kind="grant", model_id=model["id"], organisation_id=grantee, grant_id=None, starts_at=starts_at,
            ends_at=ends_at, actions=actions, justification="Pre-release evaluation of capabilities and safeguards.",
            nominated_by=nominator, state="approved", developer_quorum=1, government_quorum=1, developer_approvals=1,
            government_approvals=1, outcome_reason=None, created_at=created_at, decided_at=decided_at,
        )  # fmt: skip
        gov = self.gov_approver if rng.random() < 0.5 else self.gov_approver2
        for approver, side, at in ((dev_approver, "developer", decided_at - timedelta(hours=1)),
                                   (gov, "government", decided_at)):  # fmt: skip
            yield "decisions", dict(id=self._uuid(), nomination_id=nid, approver_id=approver, side=side,
                                    verdict="approve", reason=None, created_at=at)  # fmt: skip
        revoked = rng.random() < 0.02 and starts_at < now
        facts = GrantFacts(starts_at=starts_at, ends_at=ends_at, revoked=revoked, has_problems=False,
                           gates_valid_until=now + timedelta(days=rng.uniform(30, 300)))  # fmt: skip
        yield "access_grants", dict(
            id=gid, nomination_id=nid, model_id=model["id"], organisation_id=grantee, grantee_kind=grantee_kind,
            starts_at=starts_at, ends_at=ends_at, actions=actions, scopes=[scope_for(model["slug"], a) for a in actions],
            state=derive_state(facts, now).value, state_changed_at=min(now, max(starts_at, decided_at)),
            next_transition_at=next_transition(facts, now), window_problems=[], missing_gates=[], has_problems=False,
            gates_valid_until=facts.gates_valid_until, revoked_at=now - timedelta(days=1) if revoked else None,
            revoked_by=self.gov_admin if revoked else None, revoke_reason="Bench revocation." if revoked else None,
            created_at=decided_at,
        )  # fmt: skip

    def cases(self) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """Approved nominations with their decisions and grants, ``CHUNK`` grants at a time."""
        done = 0
        while done < self.n:
            chunk: dict[str, list[dict[str, Any]]] = {"nominations": [], "decisions": [], "access_grants": []}
            for _ in range(min(CHUNK, self.n - done)):
                government = self.rng.random() < 0.01
                grantee = self.government if government else self.rng.choice(self.partners)
                for table, row in self._case(grantee, "government" if government else "partner"):
                    chunk[table].append(row)
            done += len(chunk["access_grants"])
            yield chunk

    def ending_cases(self, count: int) -> dict[str, list[dict[str, Any]]]:
        """``count`` more approved nominations with their grants, to partners, ending evenly over the next 7 days."""
        out: dict[str, list[dict[str, Any]]] = {"nominations": [], "decisions": [], "access_grants": []}
        for i in range(count):
            ends_at = self.now + timedelta(days=7) * (i + 0.5) / count
            for table, row in self._case(self.rng.choice(self.partners), "partner", ends_at):
                out[table].append(row)
        return out

    def compliance(self, expiring: int) -> dict[str, list[dict[str, Any]]]:
        """NDA templates, acceptances and attestations (see the module's docstring)."""
        rng, now = random.Random(self.seed + 1), self.now
        out: dict[str, list[dict[str, Any]]] = {"nda_templates": [], "nda_acceptances": [], "attestations": []}
        templates = []
        for developer in self.dev_staff:
            body = f"Confidentiality terms of developer {developer}.\n"
            templates.append(dict(
                id=uuid.UUID(int=rng.getrandbits(128), version=4), series=series_key(developer, None),
                developer_id=developer, model_id=None, title="Pre-release access NDA", body=body, version_major=1,
                version_minor=0, sha256=text_hash(body), term_days=TERM.days, created_at=now - timedelta(days=800),
            ))  # fmt: skip
        out["nda_templates"] = templates
        soon = self.partners[:expiring]
        # The current acceptance's or attestation's end: evenly over the next 30 days for the ``soon`` partners.
        soon_ndas, soon_attestations = len(soon) * len(templates), len(soon) * len(Area)
        lapses = {"nda": iter(now + timedelta(days=30) * (i + 0.5) / soon_ndas for i in range(soon_ndas)),
                  "attestation": iter(now + timedelta(days=30) * (i + 0.5) / soon_attestations
                                      for i in range(soon_attestations))}  # fmt: skip

        def renewals(org: uuid.UUID, what: str) -> Iterator[tuple[datetime, datetime]]:
            """(start, end) of each year's acceptance or attestation, the current one first."""
            end = next(lapses[what]) if org in soon else now + timedelta(days=rng.uniform(0, 365))
            while end - TERM > now - timedelta(days=790):
                yield end - TERM, end
                end = end - TERM + timedelta(days=rng.uniform(0, 25))

        for org in [self.government, *self.partners]:
            signer = self.admins[org]
            for template in templates:
                for accepted_at, expires_at in renewals(org, "nda"):
                    out["nda_acceptances"].append(dict(
                        id=uuid.UUID(int=rng.getrandbits(128), version=4), organisation_id=org,
                        template_id=template["id"], series=template["series"], version_major=1, version="1.0",
                        sha256=template["sha256"], signer_id=signer, accepted_at=accepted_at, expires_at=expires_at,
                    ))  # fmt: skip
            for area in Area:
                for attested_at, valid_until in renewals(org, "attestation"):
                    out["attestations"].append(dict(
                        id=uuid.UUID(int=rng.getrandbits(128), version=4), organisation_id=org, area=area.value,
                        statement="We comply.", attested_by=signer, attested_at=attested_at, valid_until=valid_until,
                    ))  # fmt: skip
        return out

    def pending_cases(self) -> dict[str, list[dict[str, Any]]]:
        rng, now = self.rng, self.now
        out: dict[str, list[dict[str, Any]]] = {"nominations": [], "decisions": []}
        for i in range(self.pending):
            model = rng.choice(self.models)
            dev_approver, nominator = self.dev_staff[model["developer_id"]]
            own = i % 10 == 0  # nominated by our approver: never in their own queue
            second_round = i % 5 == 1  # quorum 2, our approver gave the first approval: not in their queue
            starts_at = now + timedelta(days=rng.uniform(14, 42))
            nid = self._uuid()
            dev_done = rng.random() < 0.5
            out["nominations"].append(dict(
                id=nid, kind="grant", model_id=model["id"], organisation_id=rng.choice(self.partners), grant_id=None,
                starts_at=starts_at, ends_at=starts_at + timedelta(days=60), actions=["invoke", "evaluate"],
                justification="Pre-release evaluation of capabilities and safeguards.",
                nominated_by=self.gov_approver if own else nominator, state="pending", developer_quorum=1,
                government_quorum=2 if second_round else 1, developer_approvals=1 if dev_done else 0,
                government_approvals=1 if second_round else 0, outcome_reason=None,
                created_at=now - timedelta(hours=rng.uniform(1, 120)), decided_at=None,
            ))  # fmt: skip
            if dev_done:
                out["decisions"].append(dict(id=self._uuid(), nomination_id=nid, approver_id=dev_approver,
                                             side="developer", verdict="approve", reason=None,
                                             created_at=now - timedelta(minutes=30)))  # fmt: skip
            if second_round:
                out["decisions"].append(dict(id=self._uuid(), nomination_id=nid, approver_id=self.gov_approver,
                                             side="government", verdict="approve", reason=None,
                                             created_at=now - timedelta(minutes=20)))  # fmt: skip
            if not own and not second_round:
                self.population.pending_for_me += 1
        self.population.pending_awaiting_government = self.pending
        return out


MODELS: dict[str, type[SQLModel]] = {
    m.__tablename__: m  # type: ignore[misc]
    for m in (t.Organisation, t.OrganisationDomain, t.User, t.UserRole, t.ApiToken, t.WebSession, t.FrontierModel,
              t.Nomination, t.Decision, t.AccessGrant, t.NdaTemplate, t.NdaAcceptance, t.Attestation, t.Reminder,
              t.OutboxMessage)  # fmt: skip
}
ORDER = ("organisations", "organisation_domains", "users", "user_roles", "api_tokens", "web_sessions", "frontier_models",
         "nominations", "decisions", "access_grants")  # fmt: skip


class Loader:
    """COPY into PostgreSQL, or executemany into SQLite; every column given (defaults filled from the model)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = "sqlite" if url.startswith("sqlite") else "postgresql"

    async def __aenter__(self) -> Loader:
        if self.kind == "postgresql":
            self.pg = await asyncpg.connect(plain(self.url))
        else:
            self.engine = make_engine(self.url)
            self.connection = await self.engine.connect()
            self.sqlite_tx = await self.connection.begin()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.kind == "postgresql":
            await self.pg.close()
        else:
            if exc[0] is None:
                await self.sqlite_tx.commit()
            await self.connection.close()
            await self.engine.dispose()

    @staticmethod
    def _complete(model: type[SQLModel], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fill the columns a row leaves out with the model's defaults (every row here carries its own id)."""
        defaults = {name: info.get_default(call_default_factory=True)
                    for name, info in model.model_fields.items() if not info.is_required()}  # fmt: skip
        return [{**defaults, **row} for row in rows]

    async def load(self, table_name: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        model = MODELS[table_name]
        table: sa.Table = model.__table__  # type: ignore[attr-defined]
        rows = self._complete(model, rows)
        if self.kind == "sqlite":
            await self.connection.execute(sa.insert(table), rows)
            return
        columns = [c.name for c in table.columns]
        json_columns = {c.name for c in table.columns if isinstance(c.type, JSONList)}
        records = [
            tuple(json.dumps(row[c]) if c in json_columns else row[c] for c in columns)
            for row in rows
        ]
        await self.pg.copy_records_to_table(table_name, records=records, columns=columns)

    async def analyze(self) -> None:
        if self.kind == "postgresql":
            await self.pg.execute("ANALYZE")
        else:
            await self.connection.execute(sa.text("ANALYZE"))

    async def counts(self) -> dict[str, int]:
        out = {}
        for name in ("organisations", "users", "nominations", "decisions", "access_grants"):
            if self.kind == "postgresql":
                out[name] = await self.pg.fetchval(f"SELECT count(*) FROM {name}")
            else:
                out[name] = (await self.connection.execute(sa.text(f"SELECT count(*) FROM {name}"))).scalar_one()
        return out


async def populate(url: str, grants: int, pending: int, *, now: datetime | None = None, ending: int = 0,
                   compliance: bool = False, expiring: int = 0) -> Population:
    """Load the population (see the module's docstring) as of ``now`` (default: the wall clock)."""
    builder = Builder(grants, pending, now or datetime.now(UTC))
    builder.people_and_models()
    async with Loader(url) as loader:
        for name in ORDER[:7]:  # everything but the cases
            await loader.load(name, builder.tables.get(name, []))
        for chunk in builder.cases():
            for name in ("nominations", "decisions", "access_grants"):
                await loader.load(name, chunk[name])
        queue = builder.pending_cases()
        await loader.load("nominations", queue["nominations"])
        await loader.load("decisions", queue["decisions"])
        if ending:
            for name, rows in builder.ending_cases(ending).items():
                await loader.load(name, rows)
        if compliance:
            for name, rows in builder.compliance(expiring).items():
                await loader.load(name, rows)
        await loader.analyze()
        builder.population.counts = await loader.counts()
    return builder.population

