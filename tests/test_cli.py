"""The ``accessdesk`` command end to end, as an operator runs it, on both databases."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from accessdesk.db.migrate import upgrade
from accessdesk.db.schema import head_revision
from tests.databases import at_revision
from tests.support.cli import Run, killed_if_left, stopped_by


def test_upgrade_says_one_line_per_migration_and_none_of_alembics_set_up(tmp_path):
    upgraded = Run(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", tmp_path)("db", "upgrade")
    assert upgraded.returncode == 0 and upgraded.stdout == "database at head\n"
    said = upgraded.stderr.splitlines()  # not its plugins, nor its dialect ("Context impl", "Will assume")
    assert [line.split("Running upgrade ", 1)[1].split(",")[0] for line in said] == [
        f"{'' if n == 1 else f'{n - 1:04d}'} -> {n:04d}" for n in range(1, len(said) + 1)]


def test_upgrade_demo_token_and_verify(run):
    assert run("db", "upgrade").returncode == 0
    first = run("demo")
    assert first.returncode == 0 and "demo data seeded" in first.stdout, first.stderr
    again = run("demo")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    token = run("tokens", "create", "--email", "gia@oais.example")
    assert token.returncode == 0 and token.stdout.strip().startswith("adk_")
    verified = run("audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout


def test_unknown_user_gets_a_clear_error_and_no_token(run):
    run("db", "upgrade")
    result = run("tokens", "create", "--email", "nobody@nowhere.example")
    assert result.returncode == 1 and "no user with e-mail nobody@nowhere.example" in result.stderr


def test_operator_registers_organisations_and_people(run):
    run("db", "upgrade")
    assert run("org", "create", "--kind", "developer", "--name", "Lab", "--slug", "lab", "--domain", "lab.example").returncode == 0
    created = run("user", "create", "--org", "lab", "--email", "root@lab.example", "--name", "Root", "--role", "admin")
    assert created.returncode == 0 and "root@lab.example" in created.stdout
    duplicate = run("org", "create", "--kind", "partner", "--name", "Lab2", "--slug", "lab2", "--domain", "lab.example")
    assert duplicate.returncode == 1 and "already belongs" in duplicate.stderr


def test_a_tampered_trail_fails_verification_naming_the_event(run, database):
    run("db", "upgrade")
    run("demo")
    if database.kind == "postgresql":
        async def tamper() -> None:
            connection = await asyncpg.connect(run.url.replace("+asyncpg", ""))
            try:  # a superuser switching triggers off for the session is the only way past the guard
                await connection.execute("SET session_replication_role = replica")
                await connection.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 7")
            finally:
                await connection.close()

        asyncio.run(tamper())
    else:
        connection = sqlite3.connect(run.url.split(":///", 1)[1])
        connection.executescript(
            "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET actor = 'mallory' WHERE seq = 7;"
        )
        connection.close()
    result = run("audit", "verify")
    assert result.returncode == 1 and "BROKEN at event #7" in result.stdout


def test_serve_the_worker_and_the_socket_bot_refuse_a_database_without_the_schema_and_create_nothing(
    tmp_path, monkeypatch
):
    empty = tmp_path / "empty.db"
    run = Run(f"sqlite+aiosqlite:///{empty}", tmp_path)
    # Slack configured but unreachable: the socket bot must refuse before it would connect.
    for name, value in {"ACCESSDESK_SLACK_BOT_TOKEN": "xoxb-1", "ACCESSDESK_SLACK_SIGNING_SECRET": "s" * 32,
                        "ACCESSDESK_SLACK_APP_TOKEN": "xapp-1", "ACCESSDESK_SLACK_API_URL": "http://127.0.0.1:9/"}.items():
        monkeypatch.setenv(name, value)
    for command in (("serve", "--port", "0"), ("worker", "--once"), ("slack", "socket")):
        refused = run(*command)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        assert refused.stderr == ("Error: refusing to start: the database has no accessdesk schema: run `accessdesk db "
                                  "upgrade` (or pass --allow-outdated-schema)\n"), command  # fmt: skip
    assert sqlite3.connect(empty).execute("SELECT name FROM sqlite_master").fetchall() == []


def test_a_command_run_before_db_upgrade_says_so_in_one_line(tmp_path):
    run = Run(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path)
    for command in (("keys", "list"), ("tokens", "create", "--email", "gia@oais.example"), ("demo",)):
        refused = run(*command)
        assert refused.returncode == 1, (command, refused.stderr)
        assert refused.stderr == "Error: the database has no accessdesk schema: run `accessdesk db upgrade`\n", command
    assert sqlite3.connect(tmp_path / "empty.db").execute("SELECT name FROM sqlite_master").fetchall() == []


def test_keys_list_names_each_key_by_its_role(run):
    run("db", "upgrade")
    assert run("keys", "rotate").returncode == 0  # makes the first pair, then rotates it
    listed = run("keys", "list")
    roles = sorted(line.split("  ")[2].split(" ")[0] for line in listed.stdout.splitlines())
    assert listed.returncode == 0 and roles == ["current", "next", "retired"], listed.stdout


async def test_serve_refuses_a_schema_behind_this_version_unless_told(engine, tmp_path):
    async with at_revision(engine, "0015") as url:
        run = Run(url, tmp_path)
        refused = run("serve", "--port", "0")
        allowed = run("worker", "--once", "--allow-outdated-schema")
    assert refused.returncode == 1
    assert f"the database schema is at revision 0015 and this version of accessdesk needs {head_revision()}" in refused.stderr
    # Told, it starts: past the check, at the operator's risk (this sweep may then fail on a column the old schema
    # lacks, as 0017's outbox.queued_seq).
    assert "starting on an outdated schema (--allow-outdated-schema)" in allowed.stderr
    assert "refusing to start" not in allowed.stderr


def test_python_dash_m_and_version_name_the_installed_accessdesk():
    version = importlib.metadata.version("accessdesk")
    for command in ([sys.executable, "-m", "accessdesk", "--version"],
                    [str(Path(sys.executable).parent / "accessdesk"), "--version"]):  # fmt: skip
        shown = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0 and shown.stdout == f"accessdesk {version}\n", (command, shown.stderr)
    helped = subprocess.run([sys.executable, "-m", "accessdesk", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: accessdesk [OPTIONS] COMMAND")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_the_worker_stops_when_signalled_says_so_and_exits_0(signum, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'accessdesk.db'}"
    await asyncio.to_thread(upgrade, url)
    env = {**os.environ, "ACCESSDESK_DATABASE_URL": url, "ACCESSDESK_ENV": "development"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "accessdesk", "worker", cwd=tmp_path, env=env,
                                                   stderr=asyncio.subprocess.PIPE)  # fmt: skip
    assert process.stderr is not None
    async with killed_if_left(process):
        started = await asyncio.wait_for(process.stderr.readline(), 60)
        assert b"worker: sweeping every" in started, started
        said = await stopped_by(process, signum, timeout=30)
    assert process.returncode == 0, said
    assert f"worker: {signum.name} received, stopping after the sweep under way" in said
    assert said.rstrip().endswith("worker: stopped") and "Traceback" not in said


async def test_the_worker_serves_its_metrics_when_asked_and_refuses_a_port_it_cannot_have(tmp_path):
    import socket

    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    url = f"sqlite+aiosqlite:///{tmp_path / 'accessdesk.db'}"
    await asyncio.to_thread(upgrade, url)
    env = {**os.environ, "ACCESSDESK_DATABASE_URL": url, "ACCESSDESK_ENV": "development"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = Run(url, tmp_path)("worker", "--metrics-port", str(port))
        assert refused.returncode == 2 and f"cannot serve metrics on 127.0.0.1:{port}" in refused.stderr
        assert "Traceback" not in refused.stderr
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "accessdesk", "worker", "--metrics-port",
                                                   str(port), cwd=tmp_path, env=env,
                                                   stderr=asyncio.subprocess.PIPE)  # fmt: skip
    assert process.stderr is not None
    async with killed_if_left(process), httpx.AsyncClient() as http:
        assert b"worker: sweeping every" in await asyncio.wait_for(process.stderr.readline(), 60)
        last_success = 0.0
        for _ in range(300):  # until the first sweep has finished
            families = text_string_to_metric_families((await http.get(f"http://127.0.0.1:{port}/")).text)
            seen = {s.name: s.value for f in families for s in f.samples}
            last_success = seen.get("accessdesk_worker_last_success_timestamp_seconds", 0.0)
            if last_success:
                break
            await asyncio.sleep(0.05)
        assert last_success > 0 and seen["accessdesk_worker_sweep_duration_seconds_count"] >= 1
        assert seen["accessdesk_worker_sweep_failures_total"] == 0
        await stopped_by(process, signal.SIGTERM, timeout=30)
    assert process.returncode == 0
