"""Behind a load balancer: ``ACCESSDESK_TRUSTED_PROXIES`` says whose ``X-Forwarded-For`` to believe. ``accessdesk
serve`` as an operator runs it, on a loopback port: a trusted proxy's forwarded address is what a session records
(the rightmost one it did not trust); anyone else's ``X-Forwarded-For`` is ignored, however it is set; a value that
is no address refuses to start."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from accessdesk.cli import Misconfigured
from accessdesk.db.engine import make_engine
from accessdesk.settings import Settings, SettingsError
from tests.support.cli import Run, accessdesk, killed_if_left, stopped_by

LISTENING = re.compile(rb"Uvicorn running on http://127\.0\.0\.1:(\d+)")
CLIENT = "198.51.100.7"


@asynccontextmanager
async def served(run: Run, **env: str) -> AsyncIterator[tuple[str, list[str]]]:
    """``accessdesk serve --port 0`` on the test's database, with ``env`` added: its base URL, and (once it has
    stopped) what it wrote to stderr."""
    environ = {**os.environ, "ACCESSDESK_DATABASE_URL": run.url, "ACCESSDESK_ENV": "development",
               "ACCESSDESK_EMBEDDED_WORKER": "off", **env}  # fmt: skip
    if "FORWARDED_ALLOW_IPS" not in env:
        environ.pop("FORWARDED_ALLOW_IPS", None)
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "accessdesk", "serve", "--port", "0",
                                                   cwd=run.cwd, env=environ,
                                                   stderr=asyncio.subprocess.PIPE)  # fmt: skip
    assert process.stderr is not None
    said: list[str] = []
    async with killed_if_left(process):
        while (found := LISTENING.search(line := await asyncio.wait_for(process.stderr.readline(), 60))) is None:
            assert line, f"serve ended before it listened: {''.join(said)}"
            said.append(line.decode())
        yield f"http://127.0.0.1:{int(found[1])}", said
        said += (await stopped_by(process, signal.SIGTERM, timeout=30)).splitlines(keepends=True)


def someone(run: Run) -> uuid.UUID:
    """A person to sign in as, registered the operator's way."""
    assert run("db", "upgrade").returncode == 0
    assert run("org", "create", "--kind", "government", "--name", "Agency", "--slug", "agency",
               "--domain", "agency.example").returncode == 0  # fmt: skip
    assert run("user", "create", "--org", "agency", "--email", "ada@agency.example", "--name", "Ada").returncode == 0
    return asyncio.run(_user_id(run.url))


async def _user_id(url: str) -> uuid.UUID:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            asked = sa.text("SELECT id FROM users WHERE email = 'ada@agency.example'")
            found = (await connection.execute(asked)).scalar_one()
            return found if isinstance(found, uuid.UUID) else uuid.UUID(str(found))
    finally:
        await engine.dispose()


async def session_addresses(url: str) -> list[str | None]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            asked = sa.text("SELECT ip FROM web_sessions ORDER BY created_at")
            return list((await connection.execute(asked)).scalars())
    finally:
        await engine.dispose()


async def sign_in(base: str, user_id: uuid.UUID, forwarded_for: list[str]) -> None:
    """The development sign-in, sent with these ``X-Forwarded-For`` headers (a proxy may append one of its own)."""
    headers = [("X-Forwarded-For", value) for value in forwarded_for]
    async with httpx.AsyncClient(base_url=base, cookies={"accessdesk_csrf": "c"}) as client:
        response = await client.post("/login/dev", data={"user_id": str(user_id), "csrf": "c"}, headers=headers)
    assert response.status_code == 303, response.text


async def test_behind_a_trusted_proxy_a_session_records_the_address_it_forwarded(run):
    user_id = await asyncio.to_thread(someone, run)
    async with served(run, ACCESSDESK_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8") as (base, said):
        await sign_in(base, user_id, [CLIENT])
        # The rightmost address the proxies did not vouch for: the client wrote the first itself, and 10.1.2.3 is an
        # inner proxy that forwarded it.
        await sign_in(base, user_id, ["203.0.113.66, 198.51.100.8", "10.1.2.3"])
        await sign_in(base, user_id, [])  # nothing forwarded: the peer itself
    assert await session_addresses(run.url) == [CLIENT, "198.51.100.8", "127.0.0.1"]
    assert not any("FORWARDED_ALLOW_IPS" in line for line in said)


async def test_without_trusted_proxies_a_forwarded_address_is_ignored_even_from_loopback(run):
    """uvicorn alone trusts 127.0.0.1, and its FORWARDED_ALLOW_IPS: neither counts, and an operator who set the
    latter is told so."""
    user_id = await asyncio.to_thread(someone, run)
    async with served(run, FORWARDED_ALLOW_IPS="*") as (base, said):
        await sign_in(base, user_id, [CLIENT])
        await sign_in(base, user_id, ["203.0.113.66", CLIENT])
    assert await session_addresses(run.url) == ["127.0.0.1", "127.0.0.1"]
    assert any("FORWARDED_ALLOW_IPS is not read: list the proxies to trust in ACCESSDESK_TRUSTED_PROXIES" in line
               for line in said), said  # fmt: skip


async def test_a_proxy_trusted_elsewhere_does_not_make_the_peer_trusted(run):
    user_id = await asyncio.to_thread(someone, run)
    async with served(run, ACCESSDESK_TRUSTED_PROXIES="10.0.0.5, 192.0.2.0/24") as (base, _):
        await sign_in(base, user_id, [CLIENT])
    assert await session_addresses(run.url) == ["127.0.0.1"]


@pytest.mark.parametrize(("value", "says"), [
    ("10.0.0.1/8", "'10.0.0.1/8' is not an IP address or CIDR network (its network is 10.0.0.0/8)"),
    ("lb.internal.example", "'lb.internal.example' is not an IP address or CIDR network"),
    ("10.0.0.5; 10.0.0.6", "'10.0.0.5; 10.0.0.6' is not an IP address or CIDR network"),
    ("*", "'*' would let every client choose its own address"),
    ("0.0.0.0/0", "'0.0.0.0/0' would let every client choose its own address"),
], ids=["host-bits", "a-name", "semicolons", "star", "everything"])  # fmt: skip
def test_a_value_that_is_no_address_refuses_to_start_in_one_line_and_starts_nothing(value, says, tmp_path: Path):
    database = tmp_path / "never" / "accessdesk.db"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ACCESSDESK_ENV": "development",
           "ACCESSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
           "ACCESSDESK_TRUSTED_PROXIES": value}  # fmt: skip
    refused = accessdesk("serve", "--port", "0", env=env, cwd=tmp_path)
    assert refused.returncode == Misconfigured.exit_code, refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith("Error: refusing to start: ACCESSDESK_TRUSTED_PROXIES: ") and says in line, line
    assert refused.stdout == "" and not database.parent.exists()


def test_trusted_proxies_are_read_as_the_server_compares_them():
    read = Settings.from_env({"ACCESSDESK_TRUSTED_PROXIES": " 10.0.0.5, 10.1.0.0/16,2001:DB8::/32,10.0.0.5,"})
    assert read.trusted_proxies == ("10.0.0.5", "10.1.0.0/16", "2001:db8::/32")
    assert Settings.from_env({}).trusted_proxies == ()
    assert Settings.from_env({"ACCESSDESK_TRUSTED_PROXIES": " , "}).trusted_proxies == ()
    with pytest.raises(SettingsError, match="ACCESSDESK_TRUSTED_PROXIES: '::/0' would let every client"):
        Settings.from_env({"ACCESSDESK_TRUSTED_PROXIES": "10.0.0.5, ::/0"})
