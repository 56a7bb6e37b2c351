"""A cohort of 200 partners nominated and approved by both sides ÷ the same 200 as single nominations and 400 single
decisions (goal ≤ 0.1); and the programme overview at 200 members ÷ at 10 members (goal ≤ 1.5).

One fresh database is built with the real migrations: through the domain services a developer (admin, nominator,
approver), the government (admin, approver), covered models sharing the developer's NDA (one for the small
programme and a pair per round), the government's NDA and six attestations, and a personal API token for the
nominator and each approver; in bulk (as bench/_dataset.py loads rows) 200 vetted partners, each with an admin, the
NDA accepted and the six attestations, and a console session of the government approver. One
``uvicorn accessdesk.app:create_app --factory`` serves it (embedded worker off), and this process calls it over
HTTP, one request at a time, as the person each step needs:

- set-up (not timed): a government grant on each model, nominated and decided through the single API; a cohort of
  10 partners on the small programme's model, nominated and approved by both sides through the cohort API;
- the cohort path, on its round's first model: ``POST /api/v1/cohorts`` naming the 200 partners (the nominator),
  then ``POST /api/v1/cohorts/{id}/decisions`` approving all (the developer approver), then the same by the
  government approver, which makes the 200 grants;
- the single path, on its round's second model (so that no window overlaps the cohort's): 200
  ``POST /api/v1/nominations``, 200 developer ``POST /api/v1/nominations/{id}/decisions``, 200 government ones.

Both paths run ``--rounds`` times (3), alternating which goes first; each step's time is the median of its rounds,
and the ratio is of the median totals. Every answer is checked (each member nominated, approved, granted), and the
database is counted after each path (200 approved partner nominations, 200 partner grants). Then
``GET /console/models/{id}/programme`` (the console page, signed-in session) and ``GET /api/v1/models/{id}/programme``
(JSON) are called on the 10-member model and on round 1's 200-member one, alternating in batches as
bench/approval_queue.py alternates its two servers, with ``GET /healthz`` (the empty handler) beside them.

    .venv/bin/python -m bench.cohort [--db postgresql|sqlite] [--members 200] [--rounds 3] [--small 10]
                                     [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from accessdesk.clock import SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.tables import AccessGrant, Nomination, Organisation
from accessdesk.domain.actor import Actor
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations, actor_for
from accessdesk.domain.sessions import session_id
from accessdesk.domain.tokens import Tokens
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Area, Designation, NominationState, OrgKind, Role, Tier
from bench._common import db_argument, fresh_database, median, percentile, server, verdict
from bench._dataset import Loader

PATH_GOAL = 0.1
PAGE_GOAL = 1.5
OPERATOR = Actor.system("benchmark")
API = "/api/v1"
BATCH = 25  # requests per endpoint per model before switching to the other model
WARMUP = 20
GRANT_LINK = re.compile(r'href="/console/grants/([0-9a-f-]{36})"')
ACTIONS = ["invoke", "evaluate"]
JUSTIFICATION = "Pre-release evaluation of capabilities and safeguards."
SMALL = "cygnus"  # the small programme's model


def models(rounds: int) -> dict[str, str]:
    """Model keys → slugs: the small programme's, and a pair per round (the cohort's, the single path's)."""
    pairs = {f"{path}-{r}": f"{slug}-{r}" for r in range(1, rounds + 1)
             for path, slug in (("cohort", "atlas"), ("single", "borealis"))}  # fmt: skip
    return {"small": SMALL, **pairs}


PEOPLE = {"dev_admin": ("dana@acme.test", Role.ADMIN), "nominator": ("nora@acme.test", Role.NOMINATOR),
          "dev_approver": ("dev1@acme.test", Role.APPROVER), "gov_admin": ("gail@aiso.test", Role.ADMIN),
          "gov_approver": ("gov1@aiso.test", Role.APPROVER)}  # fmt: skip
STEPS = ("nominate", "developer", "government")
STEP_LABELS = {"nominate": "nominate", "developer": "developer approves all", "government": "government approves all"}


@dataclass
class World:
    """What the measuring part needs to know about the database."""

    tokens: dict[str, str] = field(default_factory=dict)
    session_cookie: str = ""
    models: dict[str, uuid.UUID] = field(default_factory=dict)
    slugs: dict[str, str] = field(default_factory=dict)
    government_id: uuid.UUID | None = None
    partners: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # (id, slug)
    starts_at: datetime = field(default_factory=lambda: datetime.now(UTC))


async def prepare(url: str, partners: int, rounds: int) -> World:
    """The people, models, NDA and government compliance through the domain; the partners in bulk."""
    world = World()
    now = datetime.now(UTC)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        unit = Unit(session, SystemClock())
        orgs = Organisations(unit)
        developer = await orgs.create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Acme AI", slug="acme",
                                      domains=["acme.test"])  # fmt: skip
        government = await orgs.create(actor=OPERATOR, kind=OrgKind.GOVERNMENT, name="AI Security Office",
                                       slug="aiso", domains=["aiso.test"])  # fmt: skip
        world.government_id = government.id
        people: dict[str, Actor] = {}
        for key, (email, role) in PEOPLE.items():
            org = developer if email.endswith("@acme.test") else government
            user = await orgs.add_user(actor=OPERATOR, organisation_id=org.id, email=email, name=key, roles=[role])
            people[key] = await actor_for(unit, user)
        registry = FrontierModels(unit)
        world.slugs = models(rounds)
        for key, slug in world.slugs.items():
            model = await registry.register(
                actor=people["dev_admin"], slug=slug, name=slug.title(), codename=f"CODE-{slug.upper()}",
                tier=Tier.STANDARD, planned_release_at=now + timedelta(days=20),
                resource=f"https://api.acme.test/models/{slug}",
            )  # fmt: skip
            await registry.designate(actor=people["gov_admin"], model_id=model.id,
                                     designation=Designation.IN_CONSULTATION)  # fmt: skip
            await registry.designate(actor=people["gov_admin"], model_id=model.id, designation=Designation.COVERED,
                                   reference=f"ASSESS-{slug.upper()}")  # fmt: skip
            world.models[key] = model.id
        compliance = Compliance(unit)
        nda = await compliance.publish_nda(actor=people["dev_admin"], title="Acme NDA", body="Confidential.\n",
                                           version="1.0")  # fmt: skip
        await compliance.accept_nda(actor=people["gov_admin"], template_id=nda.id, sha256=nda.sha256)
        for area in Area:
            await compliance.attest(actor=people["gov_admin"], area=area, statement="We comply.",
                                    valid_until=now + timedelta(days=180))  # fmt: skip
        for key in ("nominator", "dev_approver", "gov_approver"):
            world.tokens[key] = await Tokens(unit).create(actor=OPERATOR, email=PEOPLE[key][0], name="bench")
        gov_approver = people["gov_approver"].user_id
        nda_row = (nda.id, nda.series, nda.version_major, f"{nda.version_major}.{nda.version_minor}", nda.sha256)
        await session.commit()
    await engine.dispose()

    # The partners as _dataset.py loads them: vetted, an admin each, the NDA accepted and the six areas attested.
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in (
        "organisations", "organisation_domains", "users", "user_roles", "nda_acceptances", "attestations",
        "web_sessions")}  # fmt: skip
    template_id, series, major, version, sha256 = nda_row
    for p in range(partners):
        slug, oid, uid = f"partner-{p:03d}", uuid.uuid4(), uuid.uuid4()
        rows["organisations"].append(dict(id=oid, kind="partner", name=f"Partner {p:03d}", slug=slug, sector="research",
                                          country="US", vetting_state="vetted", vetting_decided_by=gov_approver,
                                          vetting_changed_at=now - timedelta(days=60), created_at=now - timedelta(days=90)))  # fmt: skip
        rows["organisation_domains"].append(dict(domain=f"{slug}.test", organisation_id=oid))
        rows["users"].append(dict(id=uid, organisation_id=oid, email=f"admin@{slug}.test", name="Admin",
                                  created_at=now - timedelta(days=90)))  # fmt: skip
        rows["user_roles"].append(dict(user_id=uid, role=Role.ADMIN.value))
        rows["nda_acceptances"].append(dict(id=uuid.uuid4(), organisation_id=oid, template_id=template_id, series=series,
                                            version_major=major, version=version, sha256=sha256, signer_id=uid,
                                            accepted_at=now - timedelta(days=10), expires_at=now + timedelta(days=355)))  # fmt: skip
        for area in Area:
            rows["attestations"].append(dict(id=uuid.uuid4(), organisation_id=oid, area=area.value, statement="We comply.",
                                             attested_by=uid, attested_at=now - timedelta(days=10),
                                             valid_until=now + timedelta(days=180)))  # fmt: skip
        world.partners.append((oid, slug))
    cookie = secrets.token_urlsafe(32)
    # Far ends: the server runs on the wall clock, and the session must not lapse mid-run.
    rows["web_sessions"].append(dict(id=session_id(cookie), user_id=gov_approver, csrf_token=secrets.token_urlsafe(32),
                                     created_at=now, authenticated_at=now, last_seen_at=now + timedelta(days=365),
                                     expires_at=now + timedelta(days=366)))  # fmt: skip
    world.session_cookie = cookie
    async with Loader(url) as loader:
        for name, table_rows in rows.items():
            await loader.load(name, table_rows)
        await loader.analyze()
    # Partners' windows: from tomorrow for 30 days, after the government's (which starts in an hour).
    world.starts_at = now + timedelta(days=1)
    return world


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ok(response: httpx.Response, what: str, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{what} answered {response.status_code}: {response.text[:500]}")
    return response.json()


@dataclass
class Run:
    """The timed steps of one path: wall time per step, and each request's time."""

    seconds: dict[str, float] = field(default_factory=dict)
    requests: dict[str, list[float]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


class Api:
    """One keep-alive client per person, on the one server."""

    def __init__(self, base: str, world: World) -> None:
        self.world = world
        self.clients = {key: httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300)
                        for key, token in world.tokens.items()}  # fmt: skip
        self.console = httpx.Client(base_url=base, cookies={"accessdesk_session": world.session_cookie}, timeout=60)

    def close(self) -> None:
        for client in [*self.clients.values(), self.console]:
            client.close()

    def timed(self, who: str, path: str, body: dict[str, Any], status: int) -> tuple[float, Any]:
        started = time.perf_counter()
        response = self.clients[who].post(path, json=body)
        elapsed = time.perf_counter() - started
        return elapsed, _ok(response, f"POST {path}", status)

    def window(self, starts_at: datetime, days: int) -> dict[str, str]:
        return {"starts_at": _iso(starts_at), "ends_at": _iso(starts_at + timedelta(days=days))}

    def government_grant(self, model: str) -> None:
        """The government's grant on a model, first: partners may be nominated only to start after it starts."""
        body = {"model_id": str(self.world.models[model]), "organisation_id": str(self.world.government_id),
                **self.window(datetime.now(UTC) + timedelta(hours=1), 60), "actions": ACTIONS,
                "justification": JUSTIFICATION}  # fmt: skip
        _, nomination = self.timed("nominator", f"{API}/nominations", body, 201)
        for who in ("dev_approver", "gov_approver"):
            _, outcome = self.timed(who, f"{API}/nominations/{nomination['id']}/decisions", {"verdict": "approve"}, 201)
        if outcome["grant_id"] is None:
            raise RuntimeError(f"the government's nomination on {model} made no grant: {outcome}")

    def cohort_path(self, model: str, members: list[tuple[uuid.UUID, str]], name: str) -> tuple[Run, uuid.UUID]:
        run = Run()
        body = {"model": self.world.slugs[model], "name": name, "members": [slug for _, slug in members],
                **self.window(self.world.starts_at, 30), "actions": ACTIONS, "justification": JUSTIFICATION}  # fmt: skip
        elapsed, created = self.timed("nominator", f"{API}/cohorts", body, 201)
        run.seconds["nominate"], run.requests["nominate"] = elapsed, [elapsed]
        nominated = [m for m in created["members"] if m["outcome"] == "nominated"]
        if len(nominated) != len(members) or created["cohort"]["size"] != len(members):
            refused = [(m["entry"], m["refusal"]) for m in created["members"] if m["outcome"] != "nominated"][:3]
            raise RuntimeError(f"the cohort nominated {len(nominated)} of {len(members)} partners: {refused}")
        cohort_id = uuid.UUID(created["cohort"]["id"])
        for step, who, result in (("developer", "dev_approver", "approved"), ("government", "gov_approver", "granted")):
            elapsed, decided = self.timed(who, f"{API}/cohorts/{cohort_id}/decisions", {}, 200)
            run.seconds[step], run.requests[step] = elapsed, [elapsed]
            results = [m["result"] for m in decided["members"]]
            if len(results) != len(members) or set(results) != {result}:
                raise RuntimeError(f"the {step} side's cohort decision: {sorted(set(results))} for {len(results)} "
                                   f"members, expected {result!r} for {len(members)}")  # fmt: skip
        return run, cohort_id

    def single_path(self, model: str, members: list[tuple[uuid.UUID, str]]) -> Run:
        run = Run()
        window = self.window(self.world.starts_at, 30)
        ids: list[str] = []
        times: list[float] = []
        started = time.perf_counter()
        for organisation_id, _ in members:
            body = {"model_id": str(self.world.models[model]), "organisation_id": str(organisation_id), **window,
                    "actions": ACTIONS, "justification": JUSTIFICATION}  # fmt: skip
            elapsed, nomination = self.timed("nominator", f"{API}/nominations", body, 201)
            times.append(elapsed)
            if nomination["state"] != "pending":
                raise RuntimeError(f"a single nomination is {nomination['state']}, expected pending")
            ids.append(nomination["id"])
        run.seconds["nominate"], run.requests["nominate"] = time.perf_counter() - started, times
        for step, who in (("developer", "dev_approver"), ("government", "gov_approver")):
            times = []
            started = time.perf_counter()
            for nomination_id in ids:
                elapsed, outcome = self.timed(who, f"{API}/nominations/{nomination_id}/decisions", {"verdict": "approve"}, 201)
                times.append(elapsed)
                granted = outcome["grant_id"] is not None
                if granted != (step == "government") or outcome["decision"]["verdict"] != "approve":
                    raise RuntimeError(f"a single {step} decision: {outcome}")
            run.seconds[step], run.requests[step] = time.perf_counter() - started, times
        return run


async def outcome(url: str, model_id: uuid.UUID) -> tuple[int, int]:
    """Counted in the database, independently of the API: the model's approved partner nominations and grants."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            approved = (await connection.execute(
                sa.select(sa.func.count()).select_from(Nomination)
                .join(Organisation, col(Organisation.id) == Nomination.organisation_id)
                .where(col(Nomination.model_id) == model_id, col(Nomination.state) == NominationState.APPROVED.value,
                       col(Organisation.kind) == OrgKind.PARTNER.value))).scalar_one()  # fmt: skip
            grants = (await connection.execute(
                sa.select(sa.func.count()).select_from(AccessGrant)
                .where(col(AccessGrant.model_id) == model_id,
                       col(AccessGrant.grantee_kind) == OrgKind.PARTNER.value))).scalar_one()  # fmt: skip
            await connection.rollback()
    finally:
        await engine.dispose()
    return int(approved), int(grants)


def _expect(url: str, model_id: uuid.UUID, members: int, path: str) -> None:
    approved, grants = asyncio.run(outcome(url, model_id))
    if (approved, grants) != (members, members):
        raise RuntimeError(f"after the {path} path: {approved} approved nominations and {grants} partner grants, "
                           f"expected {members} of each")  # fmt: skip
    print(f"  checked, {path} path: {approved} approved partner nominations, {grants} partner grants")


# --- the programme overview ---------------------------------------------------------------------------------

ENDPOINTS = {"page": "/console/models/{id}/programme", "json": API + "/models/{id}/programme", "empty": "/healthz"}
LABELS = {"page": "GET /console/models/{id}/programme (page)", "json": "GET /api/v1/models/{id}/programme (JSON)",
          "empty": "GET /healthz (empty handler)"}  # fmt: skip


@dataclass
class Size:
    label: str
    members: int
    model_id: uuid.UUID
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ENDPOINTS})


def _programme_call(api: Api, size: Size, endpoint: str) -> float:
    client = api.console if endpoint == "page" else api.clients["gov_approver"]
    path = ENDPOINTS[endpoint].format(id=size.model_id)
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{size.label}: {path} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def _programme_check(api: Api, size: Size) -> None:
    """Both forms show the whole programme: the government's grant and every member's, approved, in one cohort (the
    timeline: the government's bar and the cohort's, which counts every member's grant)."""
    body = _ok(api.clients["gov_approver"].get(ENDPOINTS["json"].format(id=size.model_id)), f"{size.label}: JSON")
    got = (body["scope"], body["nominations"]["in_cohorts"]["approved"], body["grants"]["total"],
           sum(w["grants"] for w in body["windows"]), [c["size"] for c in body["cohorts"]])  # fmt: skip
    want = ("programme", size.members, size.members + 1, size.members + 1, [size.members])
    if got != want:
        raise RuntimeError(f"{size.label}: the programme JSON says (scope, approved in cohorts, grants, windows, "
                           f"cohort sizes) = {got}, expected {want}")  # fmt: skip
    page = api.console.get(ENDPOINTS["page"].format(id=size.model_id), follow_redirects=False)
    linked = set(GRANT_LINK.findall(page.text))
    cohorts = {w["cohort_id"] for w in body["windows"] if w["grant_id"] is None}
    if (page.status_code != 200 or linked != {w["grant_id"] for w in body["windows"] if w["grant_id"]}
            or not all(f"/console/cohorts/{c}" in page.text for c in cohorts)):  # fmt: skip
        raise RuntimeError(f"{size.label}: the programme page answered {page.status_code} linking {len(linked)} "
                           f"grants, not the government's grant and the cohort of the JSON")  # fmt: skip


def measure_programme(api: Api, sizes: list[Size], requests: int) -> None:
    for size in sizes:
        _programme_check(api, size)
        for endpoint in ENDPOINTS:
            for _ in range(WARMUP):
                _programme_call(api, size, endpoint)
    rounds = -(-requests // BATCH)
    for r in range(rounds):
        n = min(BATCH, requests - r * BATCH)
        for endpoint in ENDPOINTS:
            for size in sizes if r % 2 == 0 else list(reversed(sizes)):
                size.latencies[endpoint].extend(_programme_call(api, size, endpoint) for _ in range(n))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:6.2f} ms"


def _s(seconds: float) -> str:
    return f"{seconds:7.3f} s"


def report_paths(cohorts: list[Run], singles: list[Run], members: int) -> float:
    """Per step, the median over the rounds of each path; the ratio is of the median totals."""
    cohort, single = Run(), Run()
    for step in STEPS:
        cohort.seconds[step] = median([r.seconds[step] for r in cohorts])
        single.seconds[step] = median([r.seconds[step] for r in singles])
        single.requests[step] = [t for r in singles for t in r.requests[step]]
    print()
    for i, (c, s) in enumerate(zip(cohorts, singles, strict=True), start=1):
        print(f"  round {i}: cohort path {_s(c.total).strip()}, single path {_s(s.total).strip()}, "
              f"ratio {c.total / s.total:.3f}")  # fmt: skip
    print(f"  medians of {len(cohorts)} rounds:")
    print(f"  {'':26s}{'cohort path':<24s}   {'single path':<44s}  cohort ÷ single")
    for step in STEPS:
        count = len(single.requests[step]) // len(singles)
        each = f"({count} requests, median {_ms(median(single.requests[step])).strip()})"
        print(f"  {STEP_LABELS[step]:26s}{_s(cohort.seconds[step])} {'(1 request)':>14s}   {_s(single.seconds[step])} "
              f"{each:34s}  {cohort.seconds[step] / single.seconds[step]:.3f}")  # fmt: skip
    ratio = median([r.total for r in cohorts]) / median([r.total for r in singles])
    cohort.seconds = {"total": median([r.total for r in cohorts])}
    single.seconds = {"total": median([r.total for r in singles])}
    print(f"  {'total':26s}{_s(cohort.total)} {'(3 requests)':>14s}   {_s(single.total)} "
          f"{f'({3 * members} requests)':34s}  {ratio:.3f}")  # fmt: skip
    print(f"  per member: cohort path {cohort.total / members * 1000:.2f} ms, single path "
          f"{single.total / members * 1000:.2f} ms")  # fmt: skip
    return ratio


def report_programme(small: Size, large: Size) -> dict[str, float]:
    print()
    print(f"{'':46s}{small.label:>22s}{large.label:>24s}")
    print(f"{'':46s}{'median':>11s}{'p95':>11s}{'median':>13s}{'p95':>11s}   large ÷ small")
    ratios = {}
    for endpoint in ENDPOINTS:
        a, b = small.latencies[endpoint], large.latencies[endpoint]
        ratios[endpoint] = median(b) / median(a)
        print(f"  {LABELS[endpoint]:44s}{_ms(median(a)):>11s}{_ms(percentile(a, 95)):>11s}"
              f"{_ms(median(b)):>13s}{_ms(percentile(b, 95)):>11s}   {ratios[endpoint]:.3f}")  # fmt: skip
    for size in (small, large):
        floor = median(size.latencies["empty"])
        over = "   ".join(f"{e} {median(size.latencies[e]) / floor:.1f}×" for e in ("page", "json"))
        print(f"  vs the empty handler, {size.label}: {over}")
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cohort", description=__doc__.splitlines()[0])
    db_argument(parser)
    parser.add_argument("--members", type=int, default=200,
                        help="partners in the cohort and single paths (default 200)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of both paths, alternating, each on models of its own (default 3)")  # fmt: skip
    parser.add_argument("--small", type=int, default=10, help="members of the small programme (default 10)")
    parser.add_argument("--requests", type=int, default=200,
                        help="programme requests per endpoint per size (default 200)")  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 < args.small <= args.members:
        parser.error("--small must be between 1 and --members")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    print(f"cohort on {args.db}: {args.members} vetted partners nominated and approved by both sides, as one cohort "
          f"and as single nominations, {args.rounds} rounds; programme overview at {args.small} vs {args.members} "
          f"members, {args.requests} requests per endpoint per size")  # fmt: skip
    cohorts: list[Run] = []
    singles: list[Run] = []
    with fresh_database(args.db, "cohort") as url:
        started = time.perf_counter()
        world = asyncio.run(prepare(url, args.members, args.rounds))
        with server(url, "cohort") as base:
            api = Api(base, world)
            try:
                for model in world.slugs:
                    api.government_grant(model)
                api.cohort_path("small", world.partners[: args.small], f"First {args.small}")
                _expect(url, world.models["small"], args.small, f"set-up's {args.small}-member cohort")
                print(f"  set up in {time.perf_counter() - started:.1f} s: {len(world.slugs)} models, "
                      f"{args.members} partners, a government grant on each model, a cohort of {args.small} "
                      f"on {SMALL}")  # fmt: skip

                for r in range(1, args.rounds + 1):
                    # Alternating which path goes first: the database grows by one path's rows in each.
                    for path in ("cohort", "single") if r % 2 else ("single", "cohort"):
                        if path == "cohort":
                            cohorts.append(api.cohort_path(f"cohort-{r}", world.partners, f"All {args.members}")[0])
                        else:
                            singles.append(api.single_path(f"single-{r}", world.partners))
                        _expect(url, world.models[f"{path}-{r}"], args.members, f"round {r}'s {path}")

                sizes = [Size(f"{args.small} members", args.small, world.models["small"]),
                         Size(f"{args.members} members", args.members, world.models["cohort-1"])]  # fmt: skip
                started = time.perf_counter()
                measure_programme(api, sizes, args.requests)
                print(f"  programme measured in {time.perf_counter() - started:.1f} s")
            finally:
                api.close()

    path_ratio = report_paths(cohorts, singles, args.members)
    ratios = report_programme(*sizes)
    print()
    print(f"ratio cohort path ÷ single path, {args.members} partners: {path_ratio:.3f}   goal ≤ {PATH_GOAL}   "
          f"{verdict(path_ratio, PATH_GOAL, at_least=False)}")  # fmt: skip
    for endpoint in ("page", "json"):
        print(f"ratio of medians {sizes[1].label} ÷ {sizes[0].label}, {LABELS[endpoint][4:]}: {ratios[endpoint]:.3f}   "
              f"goal ≤ {PAGE_GOAL}   {verdict(ratios[endpoint], PAGE_GOAL, at_least=False)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
