"""``accessdesk config check``, and the same check before ``serve``, ``worker`` and ``slack socket`` start: every
problem at once, one line each naming its variable, never a traceback, and nothing started or created."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.cli import accessdesk

PROVIDER = {"name": "oais", "issuer": "https://login.oais.example", "client_id": "accessdesk",
            "client_secret": "provider-secret", "domains": ["oais.example"]}  # fmt: skip
HOLDS = {"ACCESSDESK_ENV": "production", "ACCESSDESK_SECRET_KEY": "IOzXdPJjK1lro_12rO_ePHenwGk5Xmb4Ug0LpudXGDE",
         "ACCESSDESK_BASE_URL": "https://accessdesk.example.gov",
         "ACCESSDESK_CLIENT_SECRET_PEPPER": "ASuWKi2zmsEcdDxOrG_W5GEiunPXbxXZkVoh4EmBb_E",
         "ACCESSDESK_KEY_ENCRYPTION_KEY": "C9veqHd-rzTPo9O9RNmLBpM3VwzBf6-BnxZXYNCPWkI",
         "ACCESSDESK_DATABASE_URL": "postgresql+asyncpg://accessdesk:hunter2@db.example.gov:5433/accessdesk",
         "ACCESSDESK_OIDC_PROVIDERS": json.dumps([PROVIDER])}  # fmt: skip


def clean(**variables: str) -> dict[str, str]:
    """An environment with these variables and no other ACCESSDESK_* (the test run's own stay out)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **variables}


def test_a_configuration_that_holds_is_summed_up_in_one_line_without_its_secrets(tmp_path):
    checked = accessdesk("config", "check", env=clean(**HOLDS), cwd=tmp_path)
    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout == ("configuration holds: production; database PostgreSQL at db.example.gov:5433/accessdesk; "
                              "base URL https://accessdesk.example.gov; identity providers: oais; development sign-in "
                              "off; Slack off; metrics off; rate limits on; personal tokens last 90 days\n")  # fmt: skip
    development = accessdesk("config", "check", env=clean(), cwd=tmp_path)
    assert development.returncode == 0 and development.stdout.startswith("configuration holds: development; database "
                                                                         "SQLite at var/accessdesk.db;")  # fmt: skip
    assert not (tmp_path / "var").exists()  # it connects to nothing, creates nothing


# What production refuses, every problem on its own line, in the order config check reports them.
BROKEN = {"ACCESSDESK_ENV": "production", "ACCESSDESK_SECRET_KEY": "a" * 40, "ACCESSDESK_LOG_LEVEL": "bogus",
          "ACCESSDESK_CLIENT_SECRET_PEPPER": "ab" * 20, "ACCESSDESK_KEY_ENCRYPTION_KEY": "abcdefghij" * 4,
          "ACCESSDESK_SLACK_BOT_TOKEN": "xoxb-1", "ACCESSDESK_SLACK_SIGNING_SECRET": "s" * 32,
          "ACCESSDESK_BASE_URL": "https://accessdesk.example.gov", "ACCESSDESK_WORKER_INTERVAL": "soon"}  # fmt: skip
MADE = "make one with python -c 'import secrets;print(secrets.token_urlsafe(48))'"
PROBLEMS = [
    "ACCESSDESK_WORKER_INTERVAL: not a number: 'soon'",
    "ACCESSDESK_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'BOGUS'",
    "ACCESSDESK_SECRET_KEY looks made by hand, not at random: about 0 bits by its characters (its length × the "
    f"Shannon entropy of their frequencies) where production needs 80; {MADE}",
    "ACCESSDESK_CLIENT_SECRET_PEPPER looks made by hand, not at random: about 40 bits by its characters (its length × "
    f"the Shannon entropy of their frequencies) where production needs 80; {MADE}",
    f"ACCESSDESK_KEY_ENCRYPTION_KEY repeats the same 10 characters over and over: production needs a random value; {MADE}",
    "ACCESSDESK_SLACK_SIGNING_SECRET looks made by hand, not at random: about 0 bits by its characters (its length × "
    f"the Shannon entropy of their frequencies) where production needs 80; {MADE}",
    "ACCESSDESK_DATABASE_URL is SQLite, which production refuses (one file on one machine: one server process, no "
    "failover): use postgresql+asyncpg://, or set ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION=true to run on it knowingly",
    "ACCESSDESK_OIDC_PROVIDERS names no identity provider: in production nobody could sign in to the console (the "
    "development sign-in is refused there)",
]  # fmt: skip


def test_config_check_reports_every_problem_at_once_one_line_each(tmp_path):
    checked = accessdesk("config", "check", env=clean(**BROKEN), cwd=tmp_path)
    assert (checked.returncode, checked.stdout) == (1, "")
    assert checked.stderr.splitlines() == [f"Error: {problem}" for problem in PROBLEMS]
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("command", [("serve", "--port", "0"), ("worker",), ("slack", "socket")],
                         ids=["serve", "worker", "slack-socket"])  # fmt: skip
def test_serve_the_worker_and_the_bot_refuse_to_start_with_the_same_lines_and_create_nothing(command, tmp_path):
    database = tmp_path / "accessdesk.db"
    refused = accessdesk(*command, env=clean(**BROKEN, ACCESSDESK_DATABASE_URL=f"sqlite+aiosqlite:///{database}"),
                         cwd=tmp_path)  # fmt: skip
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.splitlines() == [f"Error: refusing to start: {problem}" for problem in PROBLEMS]
    assert not database.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [("keys", "list"), ("db", "upgrade"), ("tokens", "create", "--email", "a@b.example")])
def test_every_command_refuses_a_bad_value_in_one_line_never_a_traceback(command, tmp_path):
    database = tmp_path / "accessdesk.db"
    refused = accessdesk(*command, env=clean(ACCESSDESK_LOG_LEVEL="bogus", ACCESSDESK_TOKEN_TTL_SECONDS="a while",
                                             ACCESSDESK_DATABASE_URL=f"sqlite+aiosqlite:///{database}"), cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.splitlines() == [
        "Error: refusing to start: ACCESSDESK_TOKEN_TTL_SECONDS: not a whole number of seconds: 'a while'",
        "Error: refusing to start: ACCESSDESK_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'BOGUS'"]
    assert not database.exists()


def test_sqlite_in_production_runs_when_the_operator_says_so(tmp_path: Path):
    holds = {**HOLDS, "ACCESSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"}
    refused = accessdesk("config", "check", env=clean(**holds), cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: ACCESSDESK_DATABASE_URL is SQLite")
    allowed = accessdesk("config", "check", env=clean(**holds, ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION="true"),
                         cwd=tmp_path)  # fmt: skip
    assert allowed.returncode == 0 and f"database SQLite at {tmp_path / 'a.db'};" in allowed.stdout
