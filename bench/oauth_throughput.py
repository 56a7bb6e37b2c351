"""OAuth endpoints' throughput ÷ a bare Litestar JSON endpoint's, on the same server in one run (goals: token
issuance ≥ 0.45 on PostgreSQL and ≥ 0.30 on the embedded SQLite, introspection ≥ 0.80); with ``--scaling``, token
issuance on two worker processes ÷ on one (goal ≥ 1.7).

A fresh database (PostgreSQL by default) is built with the real migrations and given, through the domain
services, a developer, the government, a model, an NDA accepted and the six attestations made, a government grant
whose window has started, one credential (client secret) for it and one gateway credential for the model. One
``uvicorn`` process serves accessdesk (``accessdesk.app:create_app``, embedded worker off; ``--workers`` runs more, for
all three endpoints alike). ``wrk`` — a load generator in its own process — then drives, in turn and alternating, for
``--seconds`` each:

- ``GET /healthz``: the bare endpoint (a Litestar handler returning a small JSON object, through the same
  middleware as every other request);
- ``POST /oauth/token``: ``client_credentials`` with ``client_secret_basic``: authenticate, check the grant is
  usable, sign an ES256 JWT, count the issuance;
- ``POST /oauth/introspect``: the gateway credential asks about a token: authenticate, verify the JWT, check the
  credential, the token and the grant are still good.

Each is answered correctly before it is measured, and wrk must see no error answer during the run (a benchmark of a
wrong answer is worth nothing). Throughput is requests per second; the ratio uses the median of the rounds.

``--scaling N`` instead serves the same database from two servers at once, one process and N worker processes
(``uvicorn --workers N``), and drives the token endpoint of each in turn, alternating: the ratio says how much of a
second core the token endpoint turns into throughput. On a 2-core machine wrk itself takes part of a core.

    .venv/bin/python -m bench.oauth_throughput [--db postgresql|sqlite] [--seconds 8] [--rounds 3]
                                               [--connections 16] [--threads 1] [--workers 1] [--scaling N]

Needs ``wrk`` (Debian: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from accessdesk.clock import FrozenClock, SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.domain.actor import Actor
from accessdesk.domain.compliance import Compliance
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.credentials import Credentials
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.organisations import Organisations, actor_for
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Area, Designation, OrgKind, Role, Tier, Verdict
from accessdesk.settings import Settings
from bench._common import db_argument, fresh_database, server, verdict

GOALS = {"postgresql": {"token": 0.45, "introspect": 0.80}, "sqlite": {"token": 0.30, "introspect": 0.80}}
SCALING_GOAL = 1.7
ISSUER = "https://accessdesk.bench.example"
OPERATOR = Actor.system("benchmark")
REQUESTS_PER_SECOND = re.compile(r"Requests/sec:\s+([\d.]+)")
ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:[^\n]*")


@dataclass(frozen=True)
class Fixture:
    client_id: str
    secret: str
    gateway_id: str
    gateway_secret: str


async def _people(unit: Unit) -> dict[str, Actor]:
    orgs = Organisations(unit)
    developer = await orgs.create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Acme AI", slug="acme", domains=["acme.test"])
    government = await orgs.create(actor=OPERATOR, kind=OrgKind.GOVERNMENT, name="AI Security Office", slug="aiso",
                                   domains=["aiso.test"])  # fmt: skip
    people = {}
    for key, org, email, roles in [("dev_admin", developer, "dana@acme.test", [Role.ADMIN]),
                                   ("dev_approver", developer, "dev1@acme.test", [Role.APPROVER]),
                                   ("gov_admin", government, "gail@aiso.test", [Role.ADMIN]),
                                   ("gov_approver", government, "gov1@aiso.test", [Role.APPROVER])]:  # fmt: skip
        user = await orgs.add_user(actor=OPERATOR, organisation_id=org.id, email=email, name=key, roles=roles)
        people[key] = await actor_for(unit, user)
    return people


async def prepare(url: str, settings: Settings) -> Fixture:
    """The world the endpoints need, made through the domain: a grant that started a minute ago (the clock is set
    back an hour while it is decided, since a window must start in the future when it is proposed)."""
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    past = FrozenClock(datetime.now(UTC) - timedelta(hours=1))
    async with sessionmaker() as session:
        unit = Unit(session, past)
        people = await _people(unit)
        model = await FrontierModels(unit).register(
            actor=people["dev_admin"], slug="atlas", name="Atlas", codename="AT-1", tier=Tier.STANDARD,
            planned_release_at=past.now() + timedelta(days=20), resource="https://api.acme.test/models/atlas",
        )  # fmt: skip
        models = FrontierModels(unit)
        await models.designate(actor=people["gov_admin"], model_id=model.id, designation=Designation.IN_CONSULTATION)
        compliance = Compliance(unit)
        nda = await compliance.publish_nda(actor=people["dev_admin"], title="NDA", body="Confidential.\n", version="1.0")
        await compliance.accept_nda(actor=people["gov_admin"], template_id=nda.id, sha256=nda.sha256)
        for area in Area:
            await compliance.attest(actor=people["gov_admin"], area=area, statement="We comply.",
                                    valid_until=past.now() + timedelta(days=90))  # fmt: skip
        coselection = CoSelection(unit)
        nomination = await coselection.nominate(
            actor=people["dev_admin"], model_id=model.id, organisation_id=people["gov_admin"].organisation_id,  # type: ignore[arg-type]
            starts_at=past.now() + timedelta(minutes=59), ends_at=past.now() + timedelta(days=30),
            actions=["invoke"], justification="Benchmark.",
        )  # fmt: skip
        await coselection.decide(actor=people["dev_approver"], nomination_id=nomination.id, verdict=Verdict.APPROVE)
        outcome = await coselection.decide(actor=people["gov_approver"], nomination_id=nomination.id,
                                           verdict=Verdict.APPROVE)  # fmt: skip
        assert outcome.grant is not None
        unit = Unit(session, SystemClock())
        credentials = Credentials(unit, pepper=settings.pepper)
        issued = await credentials.create(actor=people["gov_admin"], grant_id=outcome.grant.id, name="benchmark")
        gateway = await credentials.create_gateway(actor=people["dev_admin"], model_id=model.id, name="gateway")
    await engine.dispose()
    assert issued.secret is not None and gateway.secret is not None
    return Fixture(issued.client.client_id, issued.secret, gateway.client.client_id, gateway.secret)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def lua(method: str, body: str, headers: dict[str, str]) -> str:
    lines = [f'wrk.method = "{method}"', f'wrk.body = "{body}"']
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    return "\n".join(lines) + "\n"


def run_wrk(url: str, script: Path | None, *, seconds: int, connections: int, threads: int) -> float:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    errors = [m.group(0) for m in ERRORS.finditer(output)]
    if errors:
        raise RuntimeError(f"wrk saw failures on {url}: {'; '.join(errors)}\n{output}")
    found = REQUESTS_PER_SECOND.search(output)
    if found is None:
        raise RuntimeError(f"no throughput in wrk's output:\n{output}")
    return float(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.oauth_throughput", description=__doc__.splitlines()[0])
    db_argument(parser)
    parser.add_argument("--seconds", type=int, default=8, help="duration of each wrk run (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each endpoint, alternating (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes, for the bare endpoint and ours alike (default 1)")  # fmt: skip
    parser.add_argument("--scaling", type=int, metavar="N", default=None,
                        help="measure token issuance on N worker processes ÷ on one instead (goal ≥ 1.7 for N=2)")  # fmt: skip
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    if args.scaling is not None:
        return scaling(args)

    settings = Settings(base_url=ISSUER)
    processes = "one uvicorn process" if args.workers == 1 else f"{args.workers} uvicorn workers"
    print(f"oauth_throughput on {args.db}: {processes}, wrk -t{args.threads} -c{args.connections}, "
          f"{args.rounds} rounds of {args.seconds} s per endpoint")  # fmt: skip
    results: dict[str, list[float]] = {"bare": [], "token": [], "introspect": []}
    with fresh_database(args.db, "oauth") as url, tempfile.TemporaryDirectory() as scripts:
        fixture = asyncio.run(prepare(url, settings))
        # The issuer is https, as in production (it is a name in the tokens; wrk still calls the loopback address).
        with server(url, "oauth", env={"ACCESSDESK_BASE_URL": ISSUER}, workers=args.workers) as base:
            form = {"content-type": "application/x-www-form-urlencoded"}
            issued = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                                headers={"authorization": basic(fixture.client_id, fixture.secret)})  # fmt: skip
            if issued.status_code != 200:
                raise RuntimeError(f"the token endpoint refused the benchmark's credential: {issued.text}")
            token = issued.json()["access_token"]
            checked = httpx.post(f"{base}/oauth/introspect", data={"token": token},
                                 headers={"authorization": basic(fixture.gateway_id, fixture.gateway_secret)})  # fmt: skip
            if checked.json().get("active") is not True:
                raise RuntimeError(f"introspection does not see the benchmark's token as active: {checked.text}")
            token_script, introspect_script = Path(scripts, "token.lua"), Path(scripts, "introspect.lua")
            token_script.write_text(lua("POST", "grant_type=client_credentials",
                                        {**form, "Authorization": basic(fixture.client_id, fixture.secret)}))  # fmt: skip
            introspect_script.write_text(lua("POST", f"token={token}",
                                             {**form, "Authorization": basic(fixture.gateway_id, fixture.gateway_secret)}))  # fmt: skip
            runs = {"bare": (f"{base}/healthz", None), "token": (f"{base}/oauth/token", token_script),
                    "introspect": (f"{base}/oauth/introspect", introspect_script)}  # fmt: skip
            run_wrk(f"{base}/healthz", None, seconds=2, connections=args.connections, threads=args.threads)  # warm-up
            started = time.perf_counter()
            for round_ in range(args.rounds):
                order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
                for name in order:
                    endpoint, script = runs[name]
                    results[name].append(run_wrk(endpoint, script, seconds=args.seconds, connections=args.connections,
                                                 threads=args.threads))  # fmt: skip
            print(f"  measured in {time.perf_counter() - started:.0f} s")
    bare = statistics.median(results["bare"])
    print()
    for name, label in (("bare", "GET /healthz (bare JSON endpoint)"), ("token", "POST /oauth/token"),
                        ("introspect", "POST /oauth/introspect")):  # fmt: skip
        rounds = "  ".join(f"{r:7.0f}" for r in results[name])
        print(f"  {label:36s} median {statistics.median(results[name]):7.0f} req/s   rounds {rounds}")
    print()
    for name in ("token", "introspect"):
        ratio = statistics.median(results[name]) / bare
        goal = GOALS[args.db][name]
        print(f"{name} throughput ÷ bare ({args.db}): {ratio:.2f}   goal ≥ {goal}   {verdict(ratio, goal, at_least=True)}")
    return 0


def scaling(args: argparse.Namespace) -> int:
    """Token issuance on ``args.scaling`` worker processes ÷ on one, both servers on the same database, alternating."""
    settings = Settings(base_url=ISSUER)
    print(f"oauth_throughput --scaling on {args.db}: token issuance, {args.scaling} uvicorn workers ÷ one process, "
          f"wrk -t{args.threads} -c{args.connections}, {args.rounds} rounds of {args.seconds} s each")  # fmt: skip
    results: dict[int, list[float]] = {1: [], args.scaling: []}
    with fresh_database(args.db, "scaling") as url, tempfile.TemporaryDirectory() as scripts:
        fixture = asyncio.run(prepare(url, settings))
        script = Path(scripts, "token.lua")
        script.write_text(lua("POST", "grant_type=client_credentials",
                              {"content-type": "application/x-www-form-urlencoded",
                               "Authorization": basic(fixture.client_id, fixture.secret)}))  # fmt: skip
        with server(url, "one", env={"ACCESSDESK_BASE_URL": ISSUER}) as one, \
                server(url, "many", env={"ACCESSDESK_BASE_URL": ISSUER}, workers=args.scaling) as many:  # fmt: skip
            bases = {1: one, args.scaling: many}
            for base in bases.values():
                issued = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                                    headers={"authorization": basic(fixture.client_id, fixture.secret)})  # fmt: skip
                if issued.status_code != 200:
                    raise RuntimeError(f"the token endpoint refused the benchmark's credential: {issued.text}")
                # Warm every worker: each keeps its own cache and signing key in memory.
                run_wrk(f"{base}/oauth/token", script, seconds=2, connections=args.connections, threads=args.threads)
            for round_ in range(args.rounds):
                for workers in (list(bases) if round_ % 2 == 0 else list(reversed(bases))):
                    results[workers].append(run_wrk(f"{bases[workers]}/oauth/token", script, seconds=args.seconds,
                                                    connections=args.connections, threads=args.threads))  # fmt: skip
    print()
    for workers, label in ((1, "one process"), (args.scaling, f"{args.scaling} workers")):
        rounds = "  ".join(f"{r:7.0f}" for r in results[workers])
        print(f"  POST /oauth/token, {label:12s} median {statistics.median(results[workers]):7.0f} req/s   rounds {rounds}")
    ratio = statistics.median(results[args.scaling]) / statistics.median(results[1])
    print()
    print(f"token throughput, {args.scaling} workers ÷ 1: {ratio:.2f}   goal ≥ {SCALING_GOAL}   "
          f"{verdict(ratio, SCALING_GOAL, at_least=True)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
