"""The container image and compose.yaml, as a deployment uses them.

``test_the_image_migrates_serves_issues_a_token_sweeps_and_stops_on_sigterm`` (marker ``container``) builds the
image under a real dockerd and runs it the way compose.yaml does, on host networking against the test PostgreSQL:
the roles and database made by compose's init script, ``db upgrade`` and ``db grant-runtime`` as the owner, then
``serve``, a token, ``worker --once`` and SIGTERM as the runtime role. No registry is reachable here
(DESIGN.md §5): the base image is made from Debian's packages (``deploy/base-image.sh``), the wheels are downloaded
outside the image (``deploy/wheelhouse.sh``), and both are kept, so that a second run only rebuilds what changed.
Outside CI a machine without dockerd skips it and says how to get one; with CI=true that fails. The daemon it
starts (``deploy/start-dockerd.sh``: host networking only, no bridge) keeps running, with its image store, for the
next run; ``ACCESSDESK_TEST_BASE_IMAGE`` names another base (e.g. ``python:3.11-slim-bookworm``, pulled if absent).

The other tests need no Docker: ``serve`` ends a SIGTERM with status 0 (what ``docker stop`` sends), and compose.yaml
is read for its order, its roles, its commands (parsed by the CLI) and its settings (checked by ``Settings``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import click
import httpx
import jwt as pyjwt
import pytest
import yaml
from sqlalchemy.engine import make_url

from accessdesk.cli import main as cli
from accessdesk.clock import FrozenClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.migrate import upgrade
from accessdesk.db.tables import AccessGrant, AuditCheckpoint
from accessdesk.domain.credentials import Credentials
from accessdesk.domain.unit import Unit
from accessdesk.settings import Settings
from tests.databases import PG_URL, missing
from tests.support.cli import killed_if_left, stopped_by
from tests.support.oauth import real_now
from tests.world import World

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "accessdesk:test"
BASE_IMAGE = os.environ.get("ACCESSDESK_TEST_BASE_IMAGE", "accessdesk-base:bookworm")
ISSUER = "https://accessdesk.test"
SERVICES = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
APP_SERVICES = ("migrate", "web", "worker", "slack")
HOW = "as root, `make docker` installs Debian's docker.io (or: apt-get install -y docker.io debootstrap)"


@functools.cache
def _docker_env() -> dict[str, str]:
    # Without the buildx plugin, the Docker 23+ client builds only with the classic builder, and only when told.
    buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0
    return {**os.environ, **({} if buildx else {"DOCKER_BUILDKIT": "0"})}


def _docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=_docker_env())
    if check:
        assert done.returncode == 0, f"docker {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _image_id(name: str) -> str | None:
    found = _docker("image", "inspect", "--format", "{{.Id}}", name, check=False)
    return found.stdout.strip() if found.returncode == 0 else None


@pytest.fixture(scope="module")
def dockerd() -> None:
    """A docker daemon that answers: the machine's, or Debian's dockerd started here on host networking only."""
    if shutil.which("docker") is None:
        missing(f"no docker command: the container test needs Docker ({HOW})")
    started = subprocess.run([str(ROOT / "deploy" / "start-dockerd.sh")], capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        missing(f"no docker daemon: {started.stderr.strip()} ({HOW})")


@pytest.fixture(scope="module")
def image(dockerd: None) -> str:
    """The image of this checkout, built on the local base image from the local wheelhouse (both kept between
    runs, as is the build's layer cache)."""
    if _image_id(BASE_IMAGE) is None and BASE_IMAGE != "accessdesk-base:bookworm":
        pulled = _docker("pull", BASE_IMAGE, timeout=600, check=False)
        if pulled.returncode != 0:
            missing(f"could not pull the base image {BASE_IMAGE} (ACCESSDESK_TEST_BASE_IMAGE): {pulled.stderr.strip()}")
    if _image_id(BASE_IMAGE) is None:
        made = subprocess.run([str(ROOT / "deploy" / "base-image.sh"), BASE_IMAGE], capture_output=True, text=True,
                              timeout=1200)  # fmt: skip
        if made.returncode != 0:
            missing(f"could not make the base image {BASE_IMAGE} from Debian's packages: {made.stderr[-2000:]}")
    tools = ROOT / ".tools" / "bin"
    if not (tools / "uv").exists() or not (tools / "pip").exists():
        missing("no .tools/bin/uv and pip to download the image's wheels with: run `make install` first")
    wheels = subprocess.run([str(ROOT / "deploy" / "wheelhouse.sh")], capture_output=True, text=True, timeout=1200,
                            cwd=ROOT)  # fmt: skip
    if wheels.returncode != 0:
        missing(f"could not download the image's wheels (deploy/wheelhouse.sh): {wheels.stderr[-2000:]}")
    before = _image_id(IMAGE)
    _docker("build", "--network", "host", "--build-arg", f"BASE={BASE_IMAGE}", "--tag", IMAGE, str(ROOT), timeout=1200)
    if before not in (None, _image_id(IMAGE)):  # the image this build replaced: nothing else refers to it
        _docker("image", "rm", before, check=False)
    return IMAGE


@dataclass(frozen=True)
class Deployment:
    """A database and its two roles, made by compose's init script (deploy/postgres-init.sh)."""

    owner_url: str
    app: str
    app_url: str


@pytest.fixture
async def deployment() -> AsyncIterator[Deployment]:
    """A fresh database on the test PostgreSQL with an owner and a runtime role of its own, dropped afterwards."""
    server = make_url(PG_URL)
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        (await asyncpg.connect(admin, timeout=5)).terminate()
    except (OSError, asyncpg.PostgresError) as exc:
        missing(f"PostgreSQL at {server.host}:{server.port} is not reachable ({exc})")
    if shutil.which("psql") is None:
        missing("no psql to run compose's database init script with (Debian: apt-get install -y postgresql-client)")
    suffix = secrets.token_hex(4)
    database, owner, app = f"accessdesk_container_{suffix}", f"adk_owner_{suffix}", f"adk_app_{suffix}"
    owner_password, app_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    env = {**os.environ, "PGHOST": str(server.host), "PGPORT": str(server.port or 5432), "PGUSER": str(server.username),
           "PGPASSWORD": server.password or "", "ACCESSDESK_DB_NAME": database, "ACCESSDESK_DB_OWNER": owner,
           "ACCESSDESK_DB_APP_ROLE": app, "ACCESSDESK_DB_OWNER_PASSWORD": owner_password,
           "ACCESSDESK_DB_APP_PASSWORD": app_password}  # fmt: skip

    def url(role: str, password: str) -> str:
        return server.set(username=role, password=password, database=database).render_as_string(hide_password=False)

    try:
        made = subprocess.run([str(ROOT / "deploy" / "postgres-init.sh")], env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        assert made.returncode == 0, made.stderr
        yield Deployment(owner_url=url(owner, owner_password), app=app, app_url=url(app, app_password))
    finally:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            for role in (app, owner):
                await connection.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await connection.close()


def _production() -> dict[str, str]:
    """What a production deployment sets (.env.example) but its database, with fresh random secrets."""
    provider = [{"name": "corp", "title": "Corp", "issuer": "https://login.corp.test", "client_id": "accessdesk",
                 "client_secret": secrets.token_urlsafe(32), "domains": ["corp.test"]}]  # fmt: skip
    secret = ("ACCESSDESK_SECRET_KEY", "ACCESSDESK_CLIENT_SECRET_PEPPER", "ACCESSDESK_KEY_ENCRYPTION_KEY",
              "ACCESSDESK_METRICS_TOKEN")  # fmt: skip
    return {"ACCESSDESK_ENV": "production", "ACCESSDESK_BASE_URL": ISSUER,
            "ACCESSDESK_OIDC_PROVIDERS": json.dumps(provider), **{name: secrets.token_urlsafe(48) for name in secret}}


def _run(image: str, env: dict[str, str], *command: str, entrypoint: str | None = None,
         detach: list[str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """A container on the host's network: one-shot (removed when it ends) or, given ``detach`` (its options),
    left running."""
    options = ["--detach", *detach] if detach is not None else ["--rm", "--no-healthcheck"]
    env_options = [option for name, value in env.items() for option in ("--env", f"{name}={value}")]
    if entrypoint:
        options += ["--entrypoint", entrypoint]
    return _docker("run", "--network", "host", *options, *env_options, image, *command, timeout=300,
                   check=detach is not None)  # fmt: skip


async def _usable_grant_with_credential(url: str, pepper: str) -> tuple[str, str, str, str]:
    """The suite's world in the deployment's database, with the government's grant started an hour ago and a client
    secret for it: (client id, secret, the model's resource, the grant's id)."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            clock = FrozenClock(real_now() - timedelta(hours=2))
            world = await World.create(Unit(session, clock), clock)
            await world.government_ready()
            grant = await world.government_grant(start=timedelta(hours=1))
            clock.set(real_now())
            credentials = Credentials(world.unit, pepper=Settings(client_secret_pepper=pepper).pepper,
                                      overlap=timedelta(hours=1))  # fmt: skip
            issued = await credentials.create(actor=world.gov_admin, grant_id=grant.id, name="container test")
            assert issued.secret is not None
            return issued.client.client_id, issued.secret, world.model.resource, str(grant.id)
    finally:
        await engine.dispose()


async def _stored(url: str, grant_id: str) -> tuple[str, int]:
    """The grant's stored state and the number of audit checkpoints, read as the runtime role."""
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        state = await connection.fetchval(f"SELECT state FROM {AccessGrant.__tablename__} WHERE id = $1::uuid",
                                          grant_id)  # fmt: skip
        checkpoints = await connection.fetchval(f"SELECT count(*) FROM {AuditCheckpoint.__tablename__}")
        return str(state), int(checkpoints)
    finally:
        await connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(what: str, container: str, check: Callable[[], bool], *, timeout: float = 90) -> None:
    """Poll ``check`` until it holds; fail with the container's log if the container stops or time runs out."""
    deadline = time.monotonic() + timeout
    while not check():
        running = _docker("inspect", "--format", "{{.State.Running}}", container, check=False).stdout.strip()
        if running != "true" or time.monotonic() > deadline:
            logs = _docker("logs", container, check=False)
            pytest.fail(f"{container} never {what} (running: {running})\n{logs.stdout}{logs.stderr}")
        time.sleep(0.1)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _health(container: str) -> str:
    return _docker("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()


@pytest.mark.container
async def test_the_image_migrates_serves_issues_a_token_sweeps_and_stops_on_sigterm(image, deployment):
    settings = _production()
    owner_env = {**settings, "ACCESSDESK_DATABASE_URL": deployment.owner_url}
    app_env = {**settings, "ACCESSDESK_DATABASE_URL": deployment.app_url}

    # compose's migrate service, its very command (for the test's role): the schema, then the runtime role's rights
    entrypoint, *script = SERVICES["migrate"]["entrypoint"]
    migrated = _run(image, owner_env, *[a.replace("accessdesk_app", deployment.app) for a in script],
                    entrypoint=entrypoint)  # fmt: skip
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert migrated.stdout.startswith("database at head\n"), migrated.stdout
    assert f"{deployment.app} may now run accessdesk" in migrated.stdout

    pepper = settings["ACCESSDESK_CLIENT_SECRET_PEPPER"]
    client_id, secret, audience, grant_id = await _usable_grant_with_credential(deployment.app_url, pepper)

    # compose's web service, as the runtime role, on a free loopback port (host networking)
    port, web = _free_port(), f"accessdesk-test-web-{secrets.token_hex(4)}"
    _run(image, {**app_env, "ACCESSDESK_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/readyz"},
         "serve", "--host", "127.0.0.1", "--port", str(port),
         detach=["--name", web, "--init", "--health-interval", "1s"])  # fmt: skip
    try:
        _until("answered /readyz with 200", web, lambda: _ready(port))
        _until("became healthy", web, lambda: _health(web) == "healthy")  # the image's HEALTHCHECK agrees

        base, form = f"http://127.0.0.1:{port}", {"grant_type": "client_credentials"}
        issued = httpx.post(f"{base}/oauth/token", data=form, auth=(client_id, secret), timeout=10)
        assert issued.status_code == 200 and issued.json()["token_type"] == "Bearer", issued.text
        token = issued.json()["access_token"]
        keys = pyjwt.PyJWKSet.from_dict(httpx.get(f"{base}/oauth/jwks", timeout=10).json())
        claims = pyjwt.decode(token, key=keys[pyjwt.get_unverified_header(token)["kid"]].key, algorithms=["ES256"],
                              audience=audience, issuer=ISSUER)  # fmt: skip
        assert claims["client_id"] == client_id
        refused = httpx.post(f"{base}/oauth/token", data=form, auth=(client_id, secret + "x"), timeout=10)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client", refused.text
        assert "access_token" not in refused.json()

        # compose's worker service, one sweep: the grant that started an hour ago is stored as active, and the
        # audit chain gets its first signed checkpoint, written by the runtime role.
        assert await _stored(deployment.app_url, grant_id) == ("scheduled", 0)
        swept = _run(image, app_env, "worker", "--once")
        assert swept.returncode == 0 and "grant_transitions=1" in swept.stdout, swept.stdout + swept.stderr
        assert await _stored(deployment.app_url, grant_id) == ("active", 1)

        _docker("stop", "--time", "30", web)  # SIGTERM; SIGKILL only after 30 s
        ended = _docker("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", web).stdout.split()
        logs = _docker("logs", web)
        said = logs.stdout + logs.stderr
        assert ended == ["0", "false"], said  # exit status 0, and not for want of memory
        assert "Application shutdown complete" in said and "serve: stopped by SIGTERM" in said, said
        assert "Traceback" not in said, said
    finally:
        _docker("rm", "--force", web, check=False)


async def test_serve_stops_on_sigterm_says_so_and_exits_0(tmp_path):
    """What `docker stop` sends: uvicorn's graceful shutdown, then a success, not death by the signal (143)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'accessdesk.db'}"
    await asyncio.to_thread(upgrade, url)
    env = {**os.environ, "ACCESSDESK_DATABASE_URL": url, "ACCESSDESK_ENV": "development",
           "ACCESSDESK_LOG_FORMAT": "text"}  # fmt: skip
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "accessdesk", "serve", "--port",
                                                   str(_free_port()), cwd=tmp_path, env=env,
                                                   stderr=asyncio.subprocess.PIPE)  # fmt: skip
    assert process.stderr is not None
    async with killed_if_left(process):
        while b"Uvicorn running on" not in (line := await asyncio.wait_for(process.stderr.readline(), 60)):
            assert line, "serve exited before it was up"
        said = await stopped_by(process, signal.SIGTERM, timeout=30)
    assert process.returncode == 0, said
    assert "Application shutdown complete" in said and said.rstrip().endswith("serve: stopped by SIGTERM"), said
    assert "Traceback" not in said


# -- compose.yaml and .env.example, read without Docker ---------------------------------------------------------



def _url_role(service: str) -> str:
    found = re.match(r"postgresql\+asyncpg://([^:]+):", SERVICES[service]["environment"]["ACCESSDESK_DATABASE_URL"])
    assert found, service
    return found.group(1)


def test_compose_starts_the_database_then_the_migration_then_the_processes():
    assert SERVICES["db"]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    assert SERVICES["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert SERVICES["migrate"].get("restart", "no") == "no"
    for service in ("web", "worker", "slack"):
        assert SERVICES[service]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, service
        assert SERVICES[service]["init"] is True, service  # signals forwarded, children reaped
    assert "healthcheck" not in SERVICES["web"] or not SERVICES["web"]["healthcheck"].get("disable")
    for service in ("migrate", "worker", "slack"):  # the image's check asks /readyz, which only `serve` answers
        assert SERVICES[service]["healthcheck"] == {"disable": True}, service
    assert SERVICES["slack"]["profiles"] == ["slack"]
    assert all("profiles" not in SERVICES[s] for s in SERVICES if s != "slack")


def test_compose_migrates_as_the_owner_and_runs_everything_else_as_the_runtime_role():
    assert _url_role("migrate") == "accessdesk_owner"
    assert {_url_role(s) for s in ("web", "worker", "slack")} == {"accessdesk_app"}
    migrate = " ".join(SERVICES["migrate"]["entrypoint"])
    assert "accessdesk db upgrade && accessdesk db grant-runtime --role accessdesk_app" in migrate
    for service in ("web", "worker", "slack"):  # the owner's password reaches the migration alone
        assert "ACCESSDESK_DB_OWNER_PASSWORD" not in str(SERVICES[service]), service
    init = SERVICES["db"]["volumes"]
    assert any(v.startswith("./deploy/postgres-init.sh:/docker-entrypoint-initdb.d/") for v in init), init


def _command(words: list[str]) -> click.Context:
    """``accessdesk <words>`` parsed as the CLI parses it (options checked), not run."""
    group: click.Command = cli
    while isinstance(group, click.Group):
        name, *words = words
        assert name in group.commands, name
        group = group.commands[name]
    return group.make_context(group.name or "", words)


def test_compose_runs_real_commands():
    for service, words in (("web", SERVICES["web"]["command"]), ("worker", SERVICES["worker"]["command"]),
                           ("slack", SERVICES["slack"]["command"])):  # fmt: skip
        assert _command(list(words)), service
    image_default = re.findall(r'^CMD \[(.*)\]$', (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert [json.loads(f"[{image_default[0]}]")] == [SERVICES["web"]["command"]]
    assert _command(["serve", "--host", "0.0.0.0", "--port", "8000"]).params["host"] == "0.0.0.0"
    for step in SERVICES["migrate"]["entrypoint"][-1].split(" && "):
        program, *words = step.split()
        assert program == "accessdesk" and _command(words), step


def _compose_environment(service: str, values: dict[str, str]) -> dict[str, str]:
    """The service's environment as compose interpolates it from ``values`` (``.env``)."""

    def value(found: re.Match[str]) -> str:
        name, kind, default = found.group(1), found.group(2), found.group(3)
        if values.get(name):
            return values[name]
        assert kind != "?", f"{service}: compose refuses to start without {name}"
        return default or ""

    pattern = re.compile(r"\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}")
    return {k: pattern.sub(value, str(v)) for k, v in SERVICES[service]["environment"].items()}


def test_compose_hands_each_process_settings_that_production_accepts():
    example = (ROOT / ".env.example").read_text()
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", example, flags=re.MULTILINE))
    known = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}
    compose_only = {"POSTGRES_PASSWORD", "ACCESSDESK_DB_OWNER_PASSWORD", "ACCESSDESK_DB_APP_PASSWORD",
                    "ACCESSDESK_IMAGE", "ACCESSDESK_WEB_PORT"}  # fmt: skip
    assert set(values) - known - compose_only == set()  # .env.example lists nothing accessdesk does not read
    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", (ROOT / "compose.yaml").read_text()))
    assert interpolated <= set(values), interpolated - set(values)  # every value compose asks for is explained
    with pytest.raises(AssertionError, match="compose refuses to start without ACCESSDESK_SECRET_KEY"):
        _compose_environment("web", values)  # the example's empty secrets stay empty: compose says so
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (ROOT / "compose.yaml").read_text()))
    filled = {**values, **{name: secrets.token_urlsafe(48) for name in required if not values[name]}}
    for service in APP_SERVICES:
        env = _compose_environment(service, filled)
        assert set(env) <= known, set(env) - known
        settings = Settings.from_env(env)  # every check of production passes: no SettingsError
        assert settings.is_production and not settings.is_sqlite, service


def test_the_image_and_the_makefile_use_the_same_uv():
    in_image = re.findall(r"^ARG UV_VERSION=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    in_make = re.findall(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert len(in_image) == 1 and in_image == in_make, (in_image, in_make)
