"""The ``accessdesk`` command."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from accessdesk import logs
from accessdesk.clock import SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import DomainError
from accessdesk.domain.unit import Unit
from accessdesk.settings import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlmodel.ext.asyncio.session import AsyncSession

    from accessdesk.db.schema import Schema

T = TypeVar("T")


class Unconfigured(click.ClickException):
    """What a command needs is not configured: it starts nothing and exits with status 2, as for a usage error."""

    exit_code = 2


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(f"refusing to start: {exc}") from exc


def _prepare_sqlite(settings: Settings) -> None:
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def _sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on an engine of the command's own, disposed of on the way out."""
    engine = make_engine(settings.database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def _with_unit(settings: Settings, work: Callable[[Unit], Awaitable[T]]) -> T:
    """``work`` in a unit of work on the configured database; a refusal, or a schema that is missing or behind
    (a command run before ``db upgrade``), is one line and exit status 1, never a traceback."""
    from sqlalchemy.exc import DBAPIError

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
    return Actor.system("operator (cli)")


async def _read_schema(settings: Settings) -> Schema:
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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="server processes")
@ALLOW_OUTDATED
def serve(host: str, port: int, workers: int, allow_outdated: bool) -> None:
    """Serve the web app and the JSON API."""
    import uvicorn

    settings = _settings()
    _prepare_sqlite(settings)
    _check_schema(settings, allow_outdated=allow_outdated)
    logging.getLogger().setLevel(settings.log_level)
    uvicorn.run("accessdesk.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=settings.log_level.lower(), log_config=logs.uvicorn_config(settings.log_level),
                proxy_headers=True)  # fmt: skip


@main.command()
@click.option("--once", is_flag=True, help="sweep once and exit")
@ALLOW_OUTDATED
def worker(once: bool, allow_outdated: bool) -> None:
    """Run the background worker (time-based transitions, lapsed nominations, notifications, audit checkpoints)."""
    from accessdesk.compose import notifier_for
    from accessdesk.worker import checkpoint_policy_for, run_forever, sweep_once

    settings = _settings()
    _check_schema(settings, allow_outdated=allow_outdated)
    notifier, checkpoints = notifier_for(settings), checkpoint_policy_for(settings)

    log = logging.getLogger("accessdesk.worker")

    async def run() -> None:
        async with _sessions(settings) as sessionmaker:
            if once:
                click.echo(str(await sweep_once(sessionmaker, SystemClock(), notifier, checkpoints)))
                return
            stop = asyncio.Event()

            def on_signal(signum: signal.Signals) -> None:
                log.info("worker: %s received, stopping after the sweep under way", signum.name)
                stop.set()

            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, on_signal, signum)
            log.info("worker: sweeping every %g s", settings.worker_interval_seconds)
            await run_forever(sessionmaker, SystemClock(), notifier, interval=settings.worker_interval_seconds,
                              checkpoints=checkpoints, stop=stop)  # fmt: skip
            log.info("worker: stopped")

    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # before the handlers are in place, or during --once
        pass


@main.group()
def slack() -> None:
    """The Slack bot. In HTTP mode `accessdesk serve` answers Slack at /slack/events."""


@slack.command("socket")
def slack_socket() -> None:
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
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations (to the latest by default)."""
    from accessdesk.db.migrate import upgrade

    settings = _settings()
    _prepare_sqlite(settings)
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@db.command("grant-runtime")
@click.option("--role", required=True, help="the role the application connects as (create it first)")
@click.option("--print", "print_only", is_flag=True, help="check the role and print the SQL instead of running it")
def db_grant_runtime(role: str, print_only: bool) -> None:
    """PostgreSQL: give the application's runtime role the rights it uses and no more; it must own nothing. Run as
    the owner of the tables (the role migrations run as), again after every `db upgrade`."""
    from sqlalchemy.exc import DBAPIError

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
    """Personal API tokens."""


@tokens.command("create")
@click.option("--email", required=True, help="the user the token acts as")
@click.option("--name", default="cli", show_default=True, help="a label to recognise the token by")
@click.option("--days", type=int, default=None, help="expire after this many days (default: never)")
def tokens_create(email: str, name: str, days: int | None) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    from accessdesk.domain.tokens import Tokens

    token = _with_unit(_settings(), lambda unit: Tokens(unit).create(actor=_operator(), email=email, name=name, days=days))
    click.echo(token)


@main.group()
def org() -> None:
    """Organisations (the operator registers developer and government organisations)."""


@org.command("create")
@click.option("--kind", type=click.Choice(["developer", "government", "partner"]), required=True)
@click.option("--name", required=True)
@click.option("--slug", required=True)
@click.option("--domain", "domains", multiple=True, help="e-mail domain (repeatable)")
def org_create(kind: str, name: str, slug: str, domains: tuple[str, ...]) -> None:
    from accessdesk.domain.organisations import Organisations
    from accessdesk.domain.vocabulary import OrgKind

    async def work(unit: Unit) -> Any:
        return await Organisations(unit).create(actor=_operator(), kind=OrgKind(kind), name=name, slug=slug,
                                                domains=list(domains))  # fmt: skip

    created = _with_unit(_settings(), work)
    click.echo(f"{created.kind} organisation {created.slug}: {created.id}")


@main.group()
def user() -> None:
    """People."""


@user.command("create")
@click.option("--org", "org_slug", required=True, help="organisation slug")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, type=click.Choice(["admin", "approver", "nominator", "member", "auditor"]))
def user_create(org_slug: str, email: str, name: str, roles: tuple[str, ...]) -> None:
    from accessdesk.domain.organisations import Organisations, find_organisation
    from accessdesk.domain.vocabulary import Role

    async def work(unit: Unit) -> Any:
        found = await find_organisation(unit, org_slug)
        return await Organisations(unit).add_user(actor=_operator(), organisation_id=found.id, email=email, name=name,
                                                  roles=[Role(r) for r in roles] or [Role.MEMBER])  # fmt: skip

    created = _with_unit(_settings(), work)
    click.echo(f"user {created.email}: {created.id}")


if __name__ == "__main__":
    main()
