"""The operator's admin commands end to end, on both databases: organisations, people and personal tokens listed,
disabled and revoked through the same use cases as the console; the database's revision moved both ways."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import col, select

from accessdesk.clock import SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.schema import head_revision
from accessdesk.db.tables import ApiToken, AuditEvent, Organisation, User, WebSession
from accessdesk.domain.errors import Forbidden
from accessdesk.domain.sessions import SessionPolicy, WebSessions
from accessdesk.domain.tokens import Tokens
from accessdesk.domain.unit import Unit
from tests.support.cli import Run, accessdesk

T = TypeVar("T")


def in_unit(url: str, work: Callable[[Unit], Awaitable[T]]) -> T:
    """``work`` on the command's database, in this process: what the domain now says."""

    async def run() -> T:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await work(Unit(session, SystemClock()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def counts(url: str) -> tuple[int, ...]:
    """Audit events, tokens, people, disabled people, ended sessions: what a refused command must leave alone."""

    async def work(unit: Unit) -> tuple[int, ...]:
        async def count(table: Any, *where: Any) -> int:
            return (await unit.session.exec(select(sa.func.count()).select_from(table).where(*where))).one()

        return (await count(AuditEvent), await count(ApiToken), await count(ApiToken, col(ApiToken.revoked_at).isnot(None)),
                await count(User), await count(User, col(User.disabled_at).isnot(None)),
                await count(WebSession, col(WebSession.ended_at).isnot(None)),
                await count(Organisation, col(Organisation.disabled_at).isnot(None)))  # fmt: skip

    return in_unit(url, work)


def refused(run: Run, *args: str, line: str, code: int = 1) -> None:
    """``accessdesk <args>`` is refused with ``code`` and exactly ``line`` on stderr, and changes nothing."""
    before = counts(run.url)
    result = run(*args)
    assert (result.returncode, result.stderr, result.stdout) == (code, f"Error: {line}\n", ""), args
    assert counts(run.url) == before, args


def seeded(run: Run) -> None:
    assert run("db", "upgrade").returncode == 0
    assert run("demo").returncode == 0


def actions(url: str) -> list[tuple[str, str | None]]:
    async def work(unit: Unit) -> list[tuple[str, str | None]]:
        rows = await unit.session.exec(select(AuditEvent.action, AuditEvent.reason).order_by(col(AuditEvent.seq)))
        return [(action, reason) for action, reason in rows.all()]

    return in_unit(url, work)


def test_organisations_and_people_are_listed(run):
    seeded(run)
    listed = run("org", "list")
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split("  ")[0] for line in listed.stdout.splitlines()) == [
        "meridian-labs", "northwind-bio", "oais", "redwood-security"]  # fmt: skip
    assert "oais  government  Office of AI Security  3 people (3 enabled)\n" in listed.stdout
    assert "northwind-bio  partner  Northwind Bio  1 people (1 enabled)  vetting vetted\n" in listed.stdout
    partners = run("org", "list", "--kind", "partner").stdout.splitlines()
    assert sorted(line.split("  ")[0] for line in partners) == ["northwind-bio", "redwood-security"]
    people = run("user", "list", "--org", "oais")
    assert people.returncode == 0 and people.stdout.splitlines() == [
        "gia@oais.example  oais  Gia Moreno  admin,approver", "hal@oais.example  oais  Hal Prescott  approver",
        "ida@oais.example  oais  Ida Novak  auditor"]  # fmt: skip
    everyone = run("user", "list").stdout.splitlines()
    assert len(everyone) == 8 and "ravi@redwood.example  redwood-security  Ravi Iyer  admin" in everyone, everyone
    refused(run, "user", "list", "--org", "nowhere", line="no organisation with slug nowhere")


def test_a_disabled_user_is_out_at_once_their_sessions_and_tokens_with_them(run):
    seeded(run)
    token = run("tokens", "create", "--email", "hal@oais.example").stdout.strip()

    async def sign_in(unit: Unit) -> str:
        hal = (await unit.session.exec(select(User).where(User.email == "hal@oais.example"))).one()
        return await WebSessions(unit, SessionPolicy()).start(user_id=hal.id, method="test")

    cookie = in_unit(run.url, sign_in)
    assert in_unit(run.url, lambda unit: Tokens(unit).authenticate(token)) is not None
    disabled = run("user", "disable", "hal@oais.example")
    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout == ("user hal@oais.example disabled: their console sessions have ended and their personal "
                               "tokens no longer work\n")  # fmt: skip
    assert in_unit(run.url, lambda unit: Tokens(unit).authenticate(token)) is None
    assert in_unit(run.url, lambda unit: WebSessions(unit, SessionPolicy()).resume(cookie)) is None
    assert actions(run.url)[-1] == ("user.updated", None)
    assert "hal@oais.example  oais  Hal Prescott  approver  disabled since " in run("user", "list", "--org", "oais").stdout
    assert "audit chain intact" in run("audit", "verify").stdout
    refused(run, "user", "disable", "hal@oais.example",
            line=f"hal@oais.example is already disabled (since {_disabled_at(run.url, 'hal@oais.example')} UTC)")
    refused(run, "user", "disable", "nobody@oais.example", line="no user with e-mail nobody@oais.example")
    refused(run, "tokens", "create", "--email", "hal@oais.example", line="this user is disabled")


def _disabled_at(url: str, email: str) -> str:
    async def work(unit: Unit) -> datetime | None:
        return (await unit.session.exec(select(User.disabled_at).where(User.email == email))).one()

    at = in_unit(url, work)
    assert at is not None
    return f"{at:%Y-%m-%d %H:%M}"


def test_a_disabled_organisation_disables_its_people_and_nobody_joins_it(run):
    seeded(run)
    token = run("tokens", "create", "--email", "ada@meridian.example").stdout.strip()
    disabled = run("org", "disable", "meridian-labs", "--reason", "contract ended")
    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout == ("organisation meridian-labs disabled: 3 people disabled (ada@meridian.example, "
                               "ben@meridian.example, cleo@meridian.example); nobody can join it\n")  # fmt: skip
    assert actions(run.url)[-4:] == [("organisation.disabled", "contract ended")] + [
        ("user.updated", "organisation disabled")] * 3  # fmt: skip
    assert in_unit(run.url, lambda unit: Tokens(unit).authenticate(token)) is None
    listed = run("org", "list", "--kind", "developer").stdout
    assert listed.startswith("meridian-labs  developer  Meridian Labs  3 people (0 enabled)  disabled since "), listed
    assert "audit chain intact" in run("audit", "verify").stdout

    refused(run, "org", "disable", "meridian-labs",
            line=f"the organisation meridian-labs is already disabled (since {_org_disabled_at(run.url)} UTC)")
    refused(run, "user", "create", "--org", "meridian-labs", "--email", "new@meridian.example", "--name", "New",
            line="the organisation meridian-labs is disabled: nobody joins it")
    refused(run, "org", "disable", "nowhere", line="no organisation with slug nowhere")

    # Nor by signing in through the organisation's identity provider for the first time.
    before = counts(run.url)

    async def first_sign_in(unit: Unit) -> Exception | None:
        try:
            await WebSessions(unit, SessionPolicy()).person_for_verified_email(
                email="new@meridian.example", vouched_domains=("meridian.example",))
        except Forbidden as exc:
            return exc
        return None

    refusal = in_unit(run.url, first_sign_in)
    assert isinstance(refusal, Forbidden) and str(refusal.message) == (
        "the organisation that meridian.example belongs to is disabled on accessdesk")
    assert counts(run.url) == before

    # And nobody in it is enabled again while it stays disabled.
    async def enable_ada(unit: Unit) -> Exception | None:
        from accessdesk.domain.actor import Actor
        from accessdesk.domain.errors import Conflict
        from accessdesk.domain.organisations import Organisations

        ada = (await unit.session.exec(select(User).where(User.email == "ada@meridian.example"))).one()
        try:
            await Organisations(unit).update_user(actor=Actor.system("test"), user_id=ada.id, disabled=False)
        except Conflict as exc:
            return exc
        return None

    assert "nobody in it can be enabled" in str(in_unit(run.url, enable_ada))
    assert counts(run.url) == before


def _org_disabled_at(url: str) -> str:
    async def work(unit: Unit) -> datetime | None:
        return (await unit.session.exec(select(Organisation.disabled_at)
                                        .where(Organisation.slug == "meridian-labs"))).one()  # fmt: skip

    at = in_unit(url, work)
    assert at is not None
    return f"{at:%Y-%m-%d %H:%M}"


def _expiries(url: str) -> list[timedelta | None]:
    async def work(unit: Unit) -> list[timedelta | None]:
        rows = (await unit.session.exec(select(ApiToken).order_by(col(ApiToken.created_at)))).all()
        return [None if t.expires_at is None else t.expires_at - t.created_at for t in rows]

    return in_unit(url, work)


def test_personal_tokens_expire_by_default_and_are_listed_and_revoked(run):
    seeded(run)
    assert run("tokens", "list").stdout == "no personal tokens\n"
    first = run("tokens", "create", "--email", "gia@oais.example", "--name", "laptop").stdout.strip()
    assert run("tokens", "create", "--email", "hal@oais.example", "--days", "3").returncode == 0
    configured = accessdesk("tokens", "create", "--email", "hal@oais.example", cwd=run.cwd,
                            env={**os.environ, "ACCESSDESK_DATABASE_URL": run.url, "ACCESSDESK_ENV": "development",
                                 "ACCESSDESK_API_TOKEN_DAYS": "7"})  # fmt: skip
    assert configured.returncode == 0, configured.stderr
    assert _expiries(run.url) == [timedelta(days=90), timedelta(days=3), timedelta(days=7)]
    refused(run, "tokens", "create", "--email", "gia@oais.example", "--days", "0",
            line="a token lasts between 1 and 3650 days")
    refused(run, "tokens", "create", "--email", "gia@oais.example", "--days", "3651",
            line="a token lasts between 1 and 3650 days")

    listed = run("tokens", "list", "--email", "gia@oais.example").stdout.splitlines()
    assert len(listed) == 1 and first not in listed[0]  # the token itself is never shown again
    token_id, email, name, state = listed[0].split("  ")[:4]
    assert (email, name, state) == ("gia@oais.example", "laptop", "active") and uuid.UUID(token_id)
    assert len(run("tokens", "list").stdout.splitlines()) == 3

    revoked = run("tokens", "revoke", token_id)
    assert revoked.returncode == 0 and revoked.stdout == (f"token {token_id} (laptop) of gia@oais.example revoked: "
                                                          "it no longer works\n")  # fmt: skip
    assert in_unit(run.url, lambda unit: Tokens(unit).authenticate(first)) is None
    assert actions(run.url)[-1] == ("api_token.revoked", None)
    assert run("tokens", "list", "--email", "gia@oais.example").stdout.split("  ")[3] == "revoked"
    refused(run, "tokens", "revoke", token_id, line=_revoked_line(run.url, token_id))
    unknown = str(uuid.UUID(int=1))
    refused(run, "tokens", "revoke", unknown, line=f"token {unknown} not found")
    malformed = run("tokens", "revoke", "not-an-id")
    assert malformed.returncode == 2 and "'not-an-id' is not a valid UUID" in malformed.stderr


def _revoked_line(url: str, token_id: str) -> str:
    async def work(unit: Unit) -> datetime | None:
        return (await unit.session.exec(select(ApiToken.revoked_at).where(ApiToken.id == uuid.UUID(token_id)))).one()

    at = in_unit(url, work)
    assert at is not None
    return f"token {token_id} was already revoked at {at:%Y-%m-%d %H:%M} UTC"


def test_db_current_history_and_downgrade(run, tmp_path):
    head = head_revision()
    empty = Run(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path)
    assert empty("db", "current").stdout == "none: the database has no accessdesk schema (run `accessdesk db upgrade`)\n"
    assert run("db", "upgrade").returncode == 0
    assert run("db", "current").stdout == f"{head} (head)\n"
    history = run("db", "history").stdout.splitlines()
    assert history[0].startswith(f"{head}  ") and history[0].endswith("<- the database is here")
    assert history[-1].startswith("0001  ") and len(history) == int(head)

    down = run("db", "downgrade", "0017")
    assert down.returncode == 0 and down.stdout == "database at 0017\n", down.stderr
    assert run("db", "current").stdout == f"0017: behind this version's head {head} (run `accessdesk db upgrade`)\n"
    assert [line for line in run("db", "history").stdout.splitlines() if line.endswith("here")][0].startswith("0017")
    # Alembic's own set-up lines may come first (they are another matter): the refusal is the one last line.
    refused_up = run("db", "downgrade", head)
    assert refused_up.returncode == 1 and "Traceback" not in refused_up.stderr
    assert refused_up.stderr.splitlines()[-1] == (f"Error: nothing migrated: Destination {head} is not a valid "
                                                  "downgrade target from current head(s)")  # fmt: skip
    unknown = run("db", "upgrade", "9999")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.splitlines()[-1].startswith("Error: nothing migrated: ")
    assert run("db", "current").stdout.startswith("0017: behind")  # neither moved it
    assert run("db", "upgrade").returncode == 0
    assert run("db", "current").stdout == f"{head} (head)\n"
