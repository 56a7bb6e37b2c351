"""The ``accessdesk`` command."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from accessdesk import logs
from accessdesk.clock import SystemClock
from accessdesk.settings import Settings, SettingsError

# Everything heavier (SQLAlchemy, the tables, the domain, Litestar) is imported by the commands that use it, so that
# `accessdesk --help` and a refused start answer at once (bench/cli_help.py measures it).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlmodel.ext.asyncio.session import AsyncSession

    from accessdesk.db.schema import Schema
    from accessdesk.domain.actor import Actor
    from accessdesk.domain.unit import Unit

T = TypeVar("T")


class Unconfigured(click.ClickException):
    """What a command needs is not configured: it starts nothing and exits with status 2, as for a usage error."""

    exit_code = 2


class Misconfigured(click.ClickException):
    """The configuration does not hold: every problem on a line of its own, each naming its variable; status 1."""

    def __init__(self, problems: tuple[str, ...], *, lead: str = "refusing to start: ") -> None:
        super().__init__("\n".join(problems))
        self.problems, self.lead = problems, lead

    def show(self, file: Any = None) -> None:
        for problem in self.problems:
            click.echo(f"Error: {self.lead}{problem}", err=True, file=file)


def _settings() -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise Misconfigured(exc.problems) from exc
    logs.configure(settings.log_level, settings.log_format_name)
    return settings


def _prepare_sqlite(settings: Settings) -> None:
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def _sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on an engine of the command's own, disposed of on the way out."""
    from accessdesk.db.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def _with_unit(settings: Settings, work: Callable[[Unit], Awaitable[T]]) -> T:
    """``work`` in a unit of work on the configured database; a refusal, or a schema that is missing or behind
    (a command run before ``db upgrade``), is one line and exit status 1, never a traceback."""
    from sqlalchemy.exc import DBAPIError

    from accessdesk.domain.errors import DomainError
    from accessdesk.domain.unit import Unit

    async def run() -> T:
        try:
            async with _sessions(settings) as sessionmaker, sessionmaker() as session:
                return await work(Unit(session, SystemClock()))
        except DBAPIError:
            problem = (await _read_schema(settings)).problem
            if problem is not None:
                raise click.ClickException(problem) from None
            raise

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


def _operator() -> Actor:
    from accessdesk.domain.actor import Actor

    return Actor.system("operator (cli)")


async def _read_schema(settings: Settings) -> Schema:
    from accessdesk.db.engine import make_engine
    from accessdesk.db.schema import read_schema

    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            return await asyncio.wait_for(read_schema(connection), timeout=10)
    finally:
        await engine.dispose()


def _check_schema(settings: Settings, *, allow_outdated: bool) -> None:
    """Refuse to start on a database whose schema is missing or behind this version (every request would fail),
    in one line. A database that cannot be reached yet is not refused: it may come up after the server, and
    ``/readyz`` says so meanwhile."""
    try:
        schema = asyncio.run(_read_schema(settings))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database: start, and let /readyz tell
        logging.getLogger("accessdesk").warning("could not read the database schema at start (%s); /readyz answers "
                                                "503 until the database is reachable and migrated", type(exc).__name__)  # fmt: skip
        return
    if schema.problem is not None and not allow_outdated:
        raise click.ClickException(f"refusing to start: {schema.problem} (or pass --allow-outdated-schema)")
    if schema.problem is not None:
        logging.getLogger("accessdesk").warning("starting on an outdated schema (--allow-outdated-schema): %s",
                                                schema.problem)  # fmt: skip
    elif schema.ahead:
        logging.getLogger("accessdesk").warning("the database schema is at revision %s, newer than this version of "
                                                "accessdesk knows: a newer version migrated it", schema.revision)  # fmt: skip


ALLOW_OUTDATED = click.option("--allow-outdated-schema", "allow_outdated", is_flag=True,
                              help="start even when the database schema is missing or behind this version")  # fmt: skip


@click.group()
@click.version_option(package_name="accessdesk", prog_name="accessdesk", message="%(prog)s %(version)s")
def main() -> None:
    """accessdesk: co-selected early access to frontier AI models."""
    logs.configure(logging.INFO)


@main.group()
def config() -> None:
    """The configuration: the ACCESSDESK_* environment variables."""


def _described(settings: Settings) -> str:
    """What a configuration amounts to, in one line, without a secret."""
    from urllib.parse import urlsplit

    if settings.is_sqlite:
        database = f"SQLite at {settings.sqlite_path() or 'memory'}"
    else:
        parts = urlsplit(settings.database_url)
        database = f"PostgreSQL at {parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
    providers = ", ".join(p.name for p in settings.oidc_providers) or "none"
    return (f"{settings.env}; database {database}; base URL {settings.base_url}; identity providers: {providers}; "
            f"development sign-in {'on' if settings.dev_login_enabled else 'off'}; Slack "
            f"{'on' if settings.slack_enabled else 'off'}; metrics {'on' if settings.metrics_enabled else 'off'}; "
            f"rate limits {'on' if settings.rate_limits_enabled else 'off'}; personal tokens last "
            f"{settings.api_token_days} days")  # fmt: skip


@config.command("check")
def config_check() -> None:
    """Check the configuration as `serve`, `worker` and `slack socket` do before they start: every problem on a
    line of its own, naming its variable (status 1), or what is configured in one line (status 0). Connects to
    nothing."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise Misconfigured(exc.problems, lead="") from exc
    click.echo(f"configuration holds: {_described(settings)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="the address to listen on (0.0.0.0: every interface, behind a load balancer)")
@click.option("--port", default=8000, show_default=True, type=int, help="the port to listen on")
@click.option("--workers", default=1, show_default=True, type=int, help="server processes")
@ALLOW_OUTDATED
def serve(host: str, port: int, workers: int, allow_outdated: bool) -> None:
    """Serve the web app and the JSON API."""
    import uvicorn

    settings = _settings()
    _prepare_sqlite(settings)
    _check_schema(settings, allow_outdated=allow_outdated)

    def stopped(signum: int, frame: object) -> None:
        # uvicorn re-raises the SIGTERM it shut down gracefully on, once it has: ending here instead makes that stop
        # a success (exit 0, not 143) for a container runtime or a service manager.
        logging.getLogger("accessdesk").info("serve: stopped by %s", signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stopped)
    # The app writes each request's access line itself (with its request id, route and actor): uvicorn's is off.
    uvicorn.run("accessdesk.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=settings.log_level.lower(), access_log=False,
                log_config=logs.uvicorn_config(settings.log_level, settings.log_format_name),
                **_proxy_headers(settings))  # fmt: skip


def _proxy_headers(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy headers, from ``ACCESSDESK_TRUSTED_PROXIES`` only: off without it (uvicorn's own default
    trusts 127.0.0.1, and reads ``FORWARDED_ALLOW_IPS``, which the operator may not know is set)."""
    if os.environ.get("FORWARDED_ALLOW_IPS") is not None:
        logging.getLogger("accessdesk").warning("FORWARDED_ALLOW_IPS is not read: list the proxies to trust in "
                                                "ACCESSDESK_TRUSTED_PROXIES")  # fmt: skip
    return {"proxy_headers": bool(settings.trusted_proxies), "forwarded_allow_ips": list(settings.trusted_proxies)}


@main.command()
@click.option("--once", is_flag=True, help="sweep once and exit")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="serve the worker's Prometheus metrics (sweep duration, last success, failures) on this port")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="the address --metrics-port listens on (no authentication: keep it on a private network)")
@ALLOW_OUTDATED
def worker(once: bool, metrics_port: int | None, metrics_host: str, allow_outdated: bool) -> None:
    """Run the background worker (time-based transitions, lapsed nominations, notifications, audit checkpoints)."""
    from accessdesk.compose import notifier_for
    from accessdesk.worker import (
        checkpoint_policy_for,
        consultation_schedule_for,
        retention_policy_for,
        run_forever,
        sweep_once,
    )

    settings = _settings()
    _check_schema(settings, allow_outdated=allow_outdated)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from accessdesk.telemetry import REGISTRY

        try:
            start_http_server(metrics_port, addr=metrics_host, registry=REGISTRY)
        except OSError as exc:
            raise Unconfigured(f"refusing to start: cannot serve metrics on {metrics_host}:{metrics_port} "
                               f"({exc})") from exc
    notifier, checkpoints = notifier_for(settings), checkpoint_policy_for(settings)

    log = logging.getLogger("accessdesk.worker")

    async def run() -> None:
        async with _sessions(settings) as sessionmaker:
            if once:
                click.echo(str(await sweep_once(sessionmaker, SystemClock(), notifier, checkpoints,
                                                retention_policy_for(settings),
                                                consultation_schedule_for(settings))))  # fmt: skip
                return
            stop = asyncio.Event()

            def on_signal(signum: signal.Signals) -> None:
                log.info("worker: %s received, stopping after the sweep under way", signum.name)
                stop.set()

            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, on_signal, signum)
            log.info("worker: sweeping every %g s", settings.worker_interval_seconds)
            await run_forever(sessionmaker, SystemClock(), notifier, interval=settings.worker_interval_seconds,
                              checkpoints=checkpoints, stop=stop, retention=retention_policy_for(settings),
                              consultations=consultation_schedule_for(settings))  # fmt: skip
            log.info("worker: stopped")

    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # before the handlers are in place, or during --once
        pass


@main.group()
def slack() -> None:
    """The Slack bot. In HTTP mode `accessdesk serve` answers Slack at /slack/events."""


@slack.command("socket")
@ALLOW_OUTDATED
def slack_socket(allow_outdated: bool) -> None:
    """Run the Slack bot over Socket Mode: accessdesk connects to Slack, which then needs no way in to
    /slack/events. Stops on SIGINT or SIGTERM."""
    settings = _settings()
    if not settings.slack_enabled:
        raise Unconfigured("refusing to start: Slack is not configured (set ACCESSDESK_SLACK_BOT_TOKEN and "
                           "ACCESSDESK_SLACK_SIGNING_SECRET)")  # fmt: skip
    if not settings.slack_app_token:
        raise Unconfigured("refusing to start: Socket Mode needs an app-level token (set ACCESSDESK_SLACK_APP_TOKEN "
                           "to the app's xapp- token)")  # fmt: skip
    from accessdesk.compose import socket_mode  # slack_bolt only where the bot runs

    serve, unavailable = socket_mode()

    _prepare_sqlite(settings)
    _check_schema(settings, allow_outdated=allow_outdated)
    logging.getLogger().setLevel(settings.log_level)

    async def run() -> None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        async with _sessions(settings) as sessionmaker:
            await serve(settings, sessionmaker=sessionmaker, clock=SystemClock(), stop=stop)

    try:
        asyncio.run(run())
    except unavailable as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def db() -> None:
    """Database schema: the migrations shipped in this package, run as the owner of the tables."""


def _migrating(work: Callable[[], None]) -> None:
    """Run a migration command; a revision Alembic refuses (unknown, or not that way) is one line, status 1."""
    from alembic.util.exc import CommandError

    try:
        work()
    except CommandError as exc:
        raise click.ClickException(f"nothing migrated: {exc}") from exc


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head, the latest this version ships)."""
    from accessdesk.db.migrate import upgrade

    settings = _settings()
    _prepare_sqlite(settings)
    _migrating(lambda: upgrade(settings.database_url, revision))
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION (see `db history`), e.g. before going back to the previous version of
    accessdesk. What the undone migrations added (columns, tables) is dropped with its data: back up first."""
    from accessdesk.db.migrate import downgrade

    settings = _settings()
    _migrating(lambda: downgrade(settings.database_url, revision))
    click.echo(f"database at {revision}")


def _schema_or_refusal(settings: Settings) -> Schema:
    try:
        return asyncio.run(_read_schema(settings))
    except Exception as exc:  # noqa: BLE001 - unreachable, refused, timed out: one line, whichever it is
        cause = getattr(exc, "orig", None) or exc  # a driver's error without SQLAlchemy's "Background on…" line
        raise click.ClickException(f"cannot read the database: {type(cause).__name__}: {cause}") from exc


@db.command("current")
def db_current() -> None:
    """The revision the database is at, and how it stands against this version of accessdesk."""
    from accessdesk.db.schema import head_revision

    schema = _schema_or_refusal(_settings())
    if schema.revision is None:
        click.echo("none: the database has no accessdesk schema (run `accessdesk db upgrade`)")
    elif schema.revision == head_revision():
        click.echo(f"{schema.revision} (head)")
    elif schema.ahead:
        click.echo(f"{schema.revision}: newer than this version of accessdesk knows (its head is {head_revision()})")
    else:
        click.echo(f"{schema.revision}: behind this version's head {head_revision()} (run `accessdesk db upgrade`)")


@db.command("history")
def db_history() -> None:
    """Every migration this version ships, newest first, marking where the database is."""
    from accessdesk.db.migrate import history

    schema = _schema_or_refusal(_settings())
    for revision, title in history():
        here = "  <- the database is here" if revision == schema.revision else ""
        click.echo(f"{revision}  {title}{here}")


@db.command("grant-runtime")
@click.option("--role", required=True, help="the role the application connects as (create it first)")
@click.option("--print", "print_only", is_flag=True, help="check the role and print the SQL instead of running it")
def db_grant_runtime(role: str, print_only: bool) -> None:
    """PostgreSQL: give the application's runtime role the rights it uses and no more; it must own nothing. Run as
    the owner of the tables (the role migrations run as), again after every `db upgrade`."""
    from sqlalchemy.exc import DBAPIError

    from accessdesk.db.engine import make_engine
    from accessdesk.db.roles import RoleRefused, grant_runtime, runtime_grants

    settings = _settings()
    if settings.is_sqlite:
        raise Unconfigured("SQLite has no roles: ACCESSDESK_DATABASE_URL must name the PostgreSQL database, as its "
                           "owner")  # fmt: skip

    async def run() -> Any:
        engine = make_engine(settings.database_url)
        try:
            async with engine.begin() as connection:
                return await (runtime_grants if print_only else grant_runtime)(connection, role)
        finally:
            await engine.dispose()

    try:
        grants = asyncio.run(run())
    except RoleRefused as exc:
        raise click.ClickException(f"refused: {exc}") from exc
    except DBAPIError as exc:
        raise click.ClickException(f"nothing granted: {exc.orig} (run this as the owner of the tables)") from exc
    if print_only:
        click.echo(";\n".join(grants.statements()) + ";")
    else:
        click.echo(f"{role} may now run accessdesk on {grants.database}: it reads and writes the tables of "
                   f"{grants.owner}, appends to the audit trail and owns nothing. Point ACCESSDESK_DATABASE_URL at "
                   f"{role} for the server and the worker.")  # fmt: skip


@db.command("copy")
@click.option("--to", "to", required=True, metavar="URL",
              help="the PostgreSQL database to fill (postgresql+asyncpg://user:password@host:5432/database): empty, "
                   "then migrated here, or migrated by this version and holding nothing")  # fmt: skip
def db_copy(to: str) -> None:
    """Copy this embedded deployment's SQLite database, every row as it is, into a fresh PostgreSQL database, then
    verify the audit chain there; exit 1, copying nothing, unless it holds. Stop the servers and workers first,
    and connect as the database's owner."""
    from accessdesk.db.schema import head_revision
    from accessdesk.db.transfer import CopyRefused, copy, shown, target_url

    settings = _settings()
    source = settings.sqlite_path()
    if source is None:
        raise Unconfigured("db copy moves an embedded deployment: ACCESSDESK_DATABASE_URL must name its SQLite file")
    try:
        target = target_url(to)
    except CopyRefused as exc:
        raise Unconfigured(str(exc)) from exc
    try:
        copied = asyncio.run(copy(source, target))
    except CopyRefused as exc:
        raise click.ClickException(f"refused: {exc}") from exc
    migrated = f", migrated to {head_revision()} first" if copied.migrated else ""
    click.echo(f"copied {source} into {shown(target)}{migrated}:")
    for table, count in copied.counts.items():
        click.echo(f"  {table}: {count}")
    assert copied.chain is not None
    click.echo(copied.chain.describe())


@main.command()
def demo() -> None:
    """Seed fictional demo data (idempotent: a second run changes nothing)."""
    from accessdesk.demo import seed

    settings = _settings()
    if settings.is_production:
        raise click.ClickException("refusing to seed demo data in production")
    click.echo(_with_unit(settings, seed))


@main.group()
def audit() -> None:
    """The audit trail."""


class CheckpointUnusable(click.ClickException):
    """A checkpoint or key cannot be read or trusted: nothing was proved, status 2."""

    exit_code = 2


@audit.command("verify")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="FILE|URL",
              help="also prove that no event up to this signed checkpoint was removed or rewritten (repeatable)")
@click.option("--key", "keys", multiple=True, metavar="FILE|URL",
              help="trust these audit keys (a JWKS or one JWK, e.g. a copy of /.well-known/accessdesk-audit-keys "
                   "kept elsewhere) rather than the database's own (repeatable)")  # fmt: skip
def audit_verify(checkpoints: tuple[str, ...], keys: tuple[str, ...]) -> None:
    """Walk the hash chain to the recorded head; exit 1 naming the first broken or missing event. With
    --checkpoint, also check the chain against signed checkpoints kept outside the database: exit 1 naming what
    was lost or changed, 2 when a checkpoint cannot be read or trusted."""
    from accessdesk.audit_sources import SourceError, checkpoint_text, keys_in, read
    from accessdesk.domain import audit as audit_chain
    from accessdesk.domain import checkpoints as signed
    from accessdesk.domain.checkpoint_proof import prove

    try:
        trusted = [(k, f"from {where}") for where in keys for k in keys_in(read(where), where=where)]
        texts = [checkpoint_text(read(where), where=where) for where in checkpoints]
    except SourceError as exc:
        raise CheckpointUnusable(str(exc)) from exc

    async def work(unit: Unit) -> Any:
        if trusted:
            key_list, source = [k for k, _ in trusted], f"--key {', '.join(keys)}"
        else:
            key_list = await signed.published_keys(unit)
            source = "the database's own audit keys; pass --key to trust a copy kept outside it"
        try:
            proven = [signed.verified(text, key_list, source=source) for text in texts]
        except (signed.NotACheckpoint, signed.UntrustedCheckpoint) as exc:
            return exc
        upto = max((c.seq for c in proven), default=0)
        witnesses = await signed.stored(unit, key_list, source=source, upto=upto) if proven else []
        proof = await prove(unit, proven, witnesses=witnesses)
        return proven, proof, await audit_chain.verify(unit.session), len(witnesses)

    outcome = _with_unit(_settings(), work)
    if isinstance(outcome, Exception):
        raise CheckpointUnusable(f"refused: {outcome}")
    proven, proof, result, witnesses = outcome
    for checkpoint in proven:
        click.echo(f"{checkpoint.title()}: signature verified with key {checkpoint.kid} (thumbprint "
                   f"{signed.thumbprint(checkpoint.key)}), trusted as {checkpoint.trusted_by}")  # fmt: skip
    if proven:
        click.echo(proof.describe())
        if witnesses and not proof.ok:
            click.echo(f"({witnesses} checkpoint(s) stored in the database verify with the same keys and were used "
                       "to say where a change lies)")  # fmt: skip
    click.echo(result.describe())
    if not (result.ok and proof.ok):
        sys.exit(1)


@audit.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="also save the signed checkpoint (a compact JWS) in FILE")
def audit_checkpoint(out: str | None) -> None:
    """Sign the audit chain's head now (sequence number, hash, time) once the events since the latest checkpoint
    verify; store it, log it and post it to the checkpoint channel. Exit 1, signing nothing, if the chain fails."""
    from pathlib import Path

    from accessdesk.domain.checkpoints import Checkpoints
    from accessdesk.worker import checkpoint_policy_for

    settings = _settings()
    checkpoint = _with_unit(settings, lambda unit: Checkpoints(unit, checkpoint_policy_for(settings))
                            .take(actor=_operator()))  # fmt: skip
    if out:
        Path(out).write_text(checkpoint.jws + "\n", encoding="utf-8")
    click.echo(f"{checkpoint.title()}: hash {checkpoint.hash}, signed with key {checkpoint.kid}"
               + (f", saved in {out}" if out else ""))  # fmt: skip
    if not out:
        click.echo(checkpoint.jws)


@audit.command("keys")
def audit_keys() -> None:
    """Print the public keys that sign audit checkpoints (a JWKS), to keep a copy where the database cannot
    change it: that copy is what `audit verify --key` should trust."""
    import json

    from accessdesk.domain.checkpoints import published_keys

    found = _with_unit(_settings(), published_keys)
    if not found:
        raise click.ClickException("no audit key yet: the first checkpoint makes one (accessdesk audit checkpoint)")
    click.echo(json.dumps({"keys": found}, indent=2))


@main.group()
def keys() -> None:
    """The keys that sign OAuth access tokens."""


def _key_ring(unit: Unit, settings: Settings) -> Any:
    from datetime import timedelta

    from accessdesk.domain.signing_keys import KeyRing

    return KeyRing(unit, sealing_key=settings.sealing_key, token_ttl=timedelta(seconds=settings.token_ttl_seconds))


@keys.command("rotate")
def keys_rotate() -> None:
    """The published next key starts signing; the current one retires (still published until the last token it
    signed has expired); a new next key is published."""
    settings = _settings()

    async def work(unit: Unit) -> tuple[str, str]:
        ring = _key_ring(unit, settings)
        await ring.ensure(actor=_operator())
        return await ring.rotate(actor=_operator())

    current, upcoming = _with_unit(settings, work)
    click.echo(f"signing with {current}; next key {upcoming} is published. Every server picks the change up within "
               "30 seconds.")  # fmt: skip


@keys.command("list")
def keys_list() -> None:
    """Every key: next, current, retired (and until when it stays published)."""
    from accessdesk.domain.signing_keys import KeyRole, role_of

    settings = _settings()

    async def work(unit: Unit) -> list[Any]:
        return await _key_ring(unit, settings).describe()

    for key in _with_unit(settings, work):
        match role_of(key):
            case KeyRole.NEXT:
                role = "next (published, not signing yet)"
            case KeyRole.CURRENT:
                role = f"current (signing since {key.signs_from:%Y-%m-%d %H:%M} UTC)"
            case KeyRole.WITHDRAWN:
                role = f"withdrawn {key.retired_at:%Y-%m-%d %H:%M} UTC without signing (a surplus next key), unpublished"
            case KeyRole.RETIRED:
                role = f"retired {key.retired_at:%Y-%m-%d %H:%M}, published until {key.published_until:%Y-%m-%d %H:%M} UTC"
        click.echo(f"{key.kid}  {key.alg}  {role}")


@main.group()
def tokens() -> None:
    """Personal API tokens (Authorization: Bearer adk_… on the JSON API)."""


@tokens.command("create")
@click.option("--email", required=True, help="the user the token acts as")
@click.option("--name", default="cli", show_default=True, help="a label to recognise the token by")
@click.option("--days", type=int, default=None,
              help="expire after this many days, 1 to 3650 (default: ACCESSDESK_API_TOKEN_DAYS, 90 unless set)")
def tokens_create(email: str, name: str, days: int | None) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    from accessdesk.domain.tokens import Tokens

    settings = _settings()
    token = _with_unit(settings, lambda unit: Tokens(unit, default_days=settings.api_token_days)
                       .create(actor=_operator(), email=email, name=name, days=days))  # fmt: skip
    click.echo(token)


@tokens.command("list")
@click.option("--email", default=None, help="only this user's tokens")
def tokens_list(email: str | None) -> None:
    """Every personal token, newest first: its id (for `tokens revoke`), whose it is, its label, whether it works
    (active, expired, revoked), and when it was created, expires and was last used. Never the token itself."""
    from accessdesk.domain.tokens import Tokens

    def when(at: Any) -> str:
        return "never" if at is None else f"{at:%Y-%m-%d %H:%M}"

    rows = _with_unit(_settings(), lambda unit: Tokens(unit).listed(email=email))
    now = SystemClock().now()
    for row in rows:
        token = row.token
        click.echo(f"{token.id}  {row.email}  {token.name}  {row.state(now)}  created {when(token.created_at)}  "
                   f"expires {when(token.expires_at)}  last used {when(token.last_used_at)}")  # fmt: skip
    if not rows:
        click.echo("no personal tokens" + (f" for {email}" if email else ""))


@tokens.command("revoke")
@click.argument("token_id", type=click.UUID, metavar="ID")
def tokens_revoke(token_id: Any) -> None:
    """Revoke the token with this ID (from `tokens list`): it stops working at once. Audited."""
    from accessdesk.domain.tokens import Tokens

    row = _with_unit(_settings(), lambda unit: Tokens(unit).revoke(actor=_operator(), token_id=token_id))
    click.echo(f"token {row.token.id} ({row.token.name}) of {row.email} revoked: it no longer works")


@main.group()
def org() -> None:
    """Organisations (the operator registers developer and government organisations)."""


@org.command("create")
@click.option("--kind", type=click.Choice(["developer", "government", "partner"]), required=True,
              help="developer (owns models), government (designates and co-decides) or partner (gets access)")
@click.option("--name", required=True, help="the organisation's display name")
@click.option("--slug", required=True, help="short unique name: lower-case letters, digits and dashes")
@click.option("--domain", "domains", multiple=True,
              help="an e-mail domain of its people, for sign-in through its identity provider (repeatable)")
def org_create(kind: str, name: str, slug: str, domains: tuple[str, ...]) -> None:
    """Register an organisation. Developer and government organisations are registered only here; partners also
    by staff admins in the console or the API."""
    from accessdesk.domain.organisations import Organisations
    from accessdesk.domain.vocabulary import OrgKind

    async def work(unit: Unit) -> Any:
        return await Organisations(unit).create(actor=_operator(), kind=OrgKind(kind), name=name, slug=slug,
                                                domains=list(domains))  # fmt: skip

    created = _with_unit(_settings(), work)
    click.echo(f"{created.kind} organisation {created.slug}: {created.id}")


async def _every_organisation(unit: Unit, kind: str | None = None) -> list[Any]:
    from accessdesk.domain.queries import Queries
    from accessdesk.domain.vocabulary import OrgKind

    found, cursor = [], None
    while True:
        page = await Queries(unit).organisations(_operator(), kind=OrgKind(kind) if kind else None, cursor=cursor,
                                                 limit=100)  # fmt: skip
        found += page.items
        if (cursor := page.next_cursor) is None:
            return found


@org.command("list")
@click.option("--kind", type=click.Choice(["developer", "government", "partner"]), default=None,
              help="only organisations of this kind")
def org_list(kind: str | None) -> None:
    """Every organisation: slug, kind, name, how many people (and how many of them are enabled), a partner's
    vetting, and whether it is disabled."""
    from accessdesk.domain.queries import Queries

    async def work(unit: Unit) -> list[tuple[Any, int, int]]:
        listed = []
        for organisation in await _every_organisation(unit, kind):
            people = await Queries(unit).members(_operator(), organisation.id)
            listed.append((organisation, len(people), sum(u.disabled_at is None for u, _ in people)))
        return listed

    rows = _with_unit(_settings(), work)
    for organisation, people, enabled in rows:
        vetting = f"  vetting {organisation.vetting_state}" if organisation.vetting_state else ""
        disabled = f"  disabled since {organisation.disabled_at:%Y-%m-%d %H:%M}" if organisation.disabled_at else ""
        click.echo(f"{organisation.slug}  {organisation.kind}  {organisation.name}  {people} people ({enabled} "
                   f"enabled){vetting}{disabled}")  # fmt: skip
    if not rows:
        click.echo("no organisations")


@org.command("disable")
@click.argument("slug")
@click.option("--reason", default=None, help="why, kept in the audit trail")
def org_disable(slug: str, reason: str | None) -> None:
    """Disable the organisation SLUG: each of its people is disabled (their console sessions end, their personal
    tokens stop working), and nobody joins it any more, by invitation or by signing in through its domains.
    Audited. Its grants are not touched: revoke them, or decline a partner's vetting, to cut its access."""
    from accessdesk.domain.organisations import Organisations, find_organisation

    async def work(unit: Unit) -> list[Any]:
        found = await find_organisation(unit, slug)
        return await Organisations(unit).disable(actor=_operator(), organisation_id=found.id, reason=reason)

    people = _with_unit(_settings(), work)
    names = f" ({', '.join(p.email for p in people)})" if people else ""
    click.echo(f"organisation {slug} disabled: {len(people)} people disabled{names}; nobody can join it")


@main.group()
def user() -> None:
    """People."""


@user.command("create")
@click.option("--org", "org_slug", required=True, help="the slug of the organisation the person belongs to")
@click.option("--email", required=True, help="their work e-mail address (how they sign in)")
@click.option("--name", required=True, help="their name, as others see it")
@click.option("--role", "roles", multiple=True, type=click.Choice(["admin", "approver", "nominator", "member", "auditor"]),
              help="a role in their organisation (repeatable; default: member)")
def user_create(org_slug: str, email: str, name: str, roles: tuple[str, ...]) -> None:
    """Add a person to an organisation, e.g. its first admin, who then manages its people in the console."""
    from accessdesk.domain.organisations import Organisations, find_organisation
    from accessdesk.domain.vocabulary import Role

    async def work(unit: Unit) -> Any:
        found = await find_organisation(unit, org_slug)
        return await Organisations(unit).add_user(actor=_operator(), organisation_id=found.id, email=email, name=name,
                                                  roles=[Role(r) for r in roles] or [Role.MEMBER])  # fmt: skip

    created = _with_unit(_settings(), work)
    click.echo(f"user {created.email}: {created.id}")


@user.command("list")
@click.option("--org", "org_slug", default=None, help="only the people of the organisation with this slug")
def user_list(org_slug: str | None) -> None:
    """Every person: e-mail, organisation, name, roles, and whether they are disabled."""
    from accessdesk.domain.organisations import find_organisation
    from accessdesk.domain.queries import Queries

    async def work(unit: Unit) -> list[tuple[str, Any, frozenset[Any]]]:
        organisations = [await find_organisation(unit, org_slug)] if org_slug else await _every_organisation(unit)
        return [(organisation.slug, person, roles) for organisation in organisations
                for person, roles in await Queries(unit).members(_operator(), organisation.id)]  # fmt: skip

    rows = _with_unit(_settings(), work)
    for slug, person, roles in rows:
        disabled = f"  disabled since {person.disabled_at:%Y-%m-%d %H:%M}" if person.disabled_at else ""
        click.echo(f"{person.email}  {slug}  {person.name}  {','.join(sorted(roles)) or '-'}{disabled}")
    if not rows:
        click.echo("no people" + (f" in {org_slug}" if org_slug else ""))


@user.command("disable")
@click.argument("email")
def user_disable(email: str) -> None:
    """Disable the person with this EMAIL, as their admin would in the console: their console sessions end at once
    and their personal tokens stop working. Audited. An admin of their organisation can enable them again."""
    from accessdesk.domain.errors import Conflict
    from accessdesk.domain.organisations import Organisations, find_user

    async def work(unit: Unit) -> Any:
        found = await find_user(unit, email)
        if found.disabled_at is not None:
            raise Conflict(f"{found.email} is already disabled (since {found.disabled_at:%Y-%m-%d %H:%M} UTC)")
        return await Organisations(unit).update_user(actor=_operator(), user_id=found.id, disabled=True)

    disabled = _with_unit(_settings(), work)
    click.echo(f"user {disabled.email} disabled: their console sessions have ended and their personal tokens no "
               "longer work")  # fmt: skip


if __name__ == "__main__":
    main()
