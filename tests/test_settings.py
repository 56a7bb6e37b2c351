"""Settings: typed, validated, and unsafe defaults refused in production."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from accessdesk.settings import DEFAULT_SECRET_KEY, GUESSABLE_BITS, Settings, SettingsError, estimated_bits

PROVIDER = {"name": "oais", "issuer": "https://login.oais.example", "client_id": "accessdesk",
            "client_secret": "provider-secret", "domains": ["oais.example"]}  # fmt: skip
# A production configuration that holds: three different random secrets (fixed here, made with
# secrets.token_urlsafe(32)), https, PostgreSQL and an identity provider.
GOOD = {"ACCESSDESK_ENV": "production", "ACCESSDESK_SECRET_KEY": "IOzXdPJjK1lro_12rO_ePHenwGk5Xmb4Ug0LpudXGDE",
        "ACCESSDESK_BASE_URL": "https://accessdesk.example.gov",
        "ACCESSDESK_CLIENT_SECRET_PEPPER": "ASuWKi2zmsEcdDxOrG_W5GEiunPXbxXZkVoh4EmBb_E",
        "ACCESSDESK_KEY_ENCRYPTION_KEY": "C9veqHd-rzTPo9O9RNmLBpM3VwzBf6-BnxZXYNCPWkI",
        "ACCESSDESK_DATABASE_URL": "postgresql+asyncpg://accessdesk@db.example.gov/accessdesk",
        "ACCESSDESK_OIDC_PROVIDERS": json.dumps([PROVIDER])}  # fmt: skip
SLACK_SIGNING_SECRET = "7358e076d6df969e4b717cfd4bc9fd84"  # Slack's are 32 hex digits


def test_development_defaults_need_nothing():
    settings = Settings.from_env({})
    assert settings.env == "development" and settings.is_sqlite and settings.run_embedded_worker
    assert settings.dev_login_enabled and settings.session_idle_minutes == 30 and settings.session_max_hours == 12


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ACCESSDESK_SECRET_KEY": DEFAULT_SECRET_KEY}, "ACCESSDESK_SECRET_KEY"),
        ({"ACCESSDESK_SECRET_KEY": "short"}, "ACCESSDESK_SECRET_KEY"),
        ({"ACCESSDESK_SECRET_KEY": None}, "ACCESSDESK_SECRET_KEY"),
        ({"ACCESSDESK_BASE_URL": "http://insecure.example"}, "https://"),
        ({"ACCESSDESK_ENV": "staging"}, "ACCESSDESK_ENV"),
        ({"ACCESSDESK_DATABASE_URL": "mysql://x"}, "ACCESSDESK_DATABASE_URL"),
        ({"ACCESSDESK_EMBEDDED_WORKER": "maybe"}, "boolean"),
        ({"ACCESSDESK_WORKER_INTERVAL": "soon"}, "ACCESSDESK_WORKER_INTERVAL"),
        ({"ACCESSDESK_DEV_LOGIN": "true"}, "ACCESSDESK_DEV_LOGIN"),
        ({"ACCESSDESK_SESSION_IDLE_MINUTES": "0"}, "ACCESSDESK_SESSION_IDLE_MINUTES"),
        ({"ACCESSDESK_SESSION_MAX_HOURS": "half a day"}, "ACCESSDESK_SESSION_MAX_HOURS"),
        ({"ACCESSDESK_CLIENT_SECRET_PEPPER": None}, "ACCESSDESK_CLIENT_SECRET_PEPPER"),
        ({"ACCESSDESK_KEY_ENCRYPTION_KEY": GOOD["ACCESSDESK_SECRET_KEY"]}, "ACCESSDESK_KEY_ENCRYPTION_KEY"),  # the same
        ({"ACCESSDESK_TOKEN_TTL_SECONDS": "5"}, "ACCESSDESK_TOKEN_TTL_SECONDS"),
        ({"ACCESSDESK_TOKEN_TTL_SECONDS": "a while"}, "ACCESSDESK_TOKEN_TTL_SECONDS"),
        ({"ACCESSDESK_SLACK_BOT_TOKEN": "xoxb-1"}, "ACCESSDESK_SLACK_SIGNING_SECRET"),
        ({"ACCESSDESK_SLACK_BOT_TOKEN": "xapp-1", "ACCESSDESK_SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET}, "xoxb-"),
        ({"ACCESSDESK_SLACK_APP_TOKEN": "xapp-1"}, "ACCESSDESK_SLACK_APP_TOKEN"),
        ({"ACCESSDESK_SLACK_API_URL": "http://127.0.0.1:9/api/"}, "ACCESSDESK_SLACK_API_URL"),
    ],
)
def test_production_refuses_unsafe_or_malformed_settings(change, message):
    environ = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_production_with_safe_settings_starts_without_an_embedded_worker():
    settings = Settings.from_env(GOOD)
    assert settings.is_production and not settings.run_embedded_worker and not settings.dev_login_enabled


def test_the_server_refuses_to_start_in_production_with_the_default_secret(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "accessdesk.cli", "serve", "--port", "1"],
        env={"ACCESSDESK_ENV": "production", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and "ACCESSDESK_SECRET_KEY" in result.stderr


def test_slack_is_off_without_a_bot_token_and_a_signing_secret():
    assert not Settings.from_env({}).slack_enabled
    assert Settings.from_env({}).slack_api_url == "https://slack.com/api/"
    # In development a bot token alone leaves the bot off rather than refusing to start.
    assert not Settings.from_env({"ACCESSDESK_SLACK_BOT_TOKEN": "xoxb-1"}).slack_enabled
    assert not Settings.from_env({"ACCESSDESK_SLACK_SIGNING_SECRET": "s"}).slack_enabled


def test_slack_settings_are_read_from_the_environment():
    settings = Settings.from_env({**GOOD, "ACCESSDESK_SLACK_BOT_TOKEN": "xoxb-1",
                                  "ACCESSDESK_SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
                                  "ACCESSDESK_SLACK_APP_TOKEN": "xapp-1",
                                  "ACCESSDESK_SLACK_API_URL": "https://slack.example.gov/api/"})  # fmt: skip
    assert settings.slack_enabled
    assert (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token, settings.slack_api_url) == (
        "xoxb-1", SLACK_SIGNING_SECRET, "xapp-1", "https://slack.example.gov/api/")  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ACCESSDESK_SLACK_API_URL": "https://slack.example.gov/api"}, "end with /"),
        ({"ACCESSDESK_SLACK_API_URL": "http://slack.example.gov/api/"}, "https://"),
        ({"ACCESSDESK_SLACK_BOT_TOKEN": "xoxp-a-user-token"}, "xoxb-"),
    ],
)
def test_malformed_slack_settings_are_refused_in_development_too(change, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(change)


def test_a_fake_slack_on_loopback_is_allowed_in_development():
    settings = Settings.from_env({"ACCESSDESK_SLACK_API_URL": "http://127.0.0.1:8555/api/"})
    assert settings.slack_api_url == "http://127.0.0.1:8555/api/"


def test_audit_checkpoints_are_signed_every_15_minutes_unless_told_otherwise():
    from accessdesk.worker import checkpoint_policy_for

    default = checkpoint_policy_for(Settings.from_env({}))
    assert default.every is not None and default.every.total_seconds() == 900 and default.slack_channel is None
    chosen = Settings.from_env({"ACCESSDESK_AUDIT_CHECKPOINT_MINUTES": "60",
                                "ACCESSDESK_AUDIT_CHECKPOINT_SLACK_CHANNEL": "C0AUDIT"})  # fmt: skip
    policy = checkpoint_policy_for(chosen)
    assert policy.every is not None and policy.every.total_seconds() == 3600 and policy.slack_channel == "C0AUDIT"
    assert checkpoint_policy_for(Settings.from_env({"ACCESSDESK_AUDIT_CHECKPOINT_MINUTES": "0"})).every is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ACCESSDESK_AUDIT_CHECKPOINT_MINUTES": "-5"}, "ACCESSDESK_AUDIT_CHECKPOINT_MINUTES must not be negative"),
        ({"ACCESSDESK_AUDIT_CHECKPOINT_MINUTES": "hourly"}, "ACCESSDESK_AUDIT_CHECKPOINT_MINUTES: not a number"),
        ({"ACCESSDESK_AUDIT_CHECKPOINT_SLACK_CHANNEL": "#audit"}, "a Slack channel id"),
    ],
)
def test_malformed_audit_checkpoint_settings_are_refused(change, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(change)


def test_every_problem_is_reported_at_once_each_on_one_line_naming_its_variable():
    environ = {**GOOD, "ACCESSDESK_SECRET_KEY": "a" * 40, "ACCESSDESK_LOG_LEVEL": "bogus",
               "ACCESSDESK_EMBEDDED_WORKER": "maybe", "ACCESSDESK_TOKEN_TTL_SECONDS": "5",
               "ACCESSDESK_OIDC_PROVIDERS": "[{"}  # fmt: skip
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(environ)
    variables = [line.split(" ")[0].rstrip(":") for line in refused.value.problems]
    # An unreadable ACCESSDESK_OIDC_PROVIDERS is reported once, not again as "no identity provider".
    assert variables == ["ACCESSDESK_EMBEDDED_WORKER", "ACCESSDESK_OIDC_PROVIDERS", "ACCESSDESK_LOG_LEVEL",
                         "ACCESSDESK_TOKEN_TTL_SECONDS", "ACCESSDESK_SECRET_KEY"], refused.value.problems  # fmt: skip
    assert all("\n" not in line for line in refused.value.problems)
    assert str(refused.value) == "\n".join(refused.value.problems)
    assert "ACCESSDESK_EMBEDDED_WORKER: not a boolean: 'maybe'" in refused.value.problems


def test_check_keeps_raising_for_existing_callers():
    settings = Settings(env="production")
    with pytest.raises(SettingsError, match="ACCESSDESK_SECRET_KEY must be set"):
        settings.check()
    assert Settings().problems() == []
    Settings().check()


@pytest.mark.parametrize("variable", ["ACCESSDESK_SECRET_KEY", "ACCESSDESK_CLIENT_SECRET_PEPPER",
                                      "ACCESSDESK_KEY_ENCRYPTION_KEY", "ACCESSDESK_SLACK_SIGNING_SECRET"])  # fmt: skip
@pytest.mark.parametrize(("value", "why"), [
    ("a" * 40, "about 0 bits by its characters"),
    ("ab" * 20, "about 40 bits by its characters"),  # a short alphabet
    ("102033331030330321020000313013312113", "about 68 bits by its characters"),  # random, from 4 characters
    ("abcdefghij" * 4, "repeats the same 10 characters over and over"),
    ("correct-horse-battery-staple!" * 2, "repeats the same 29 characters over and over"),
], ids=["one-character", "two-characters", "four-characters", "a-repeated-run", "a-repeated-phrase"])  # fmt: skip
def test_production_refuses_secrets_made_by_hand(variable, value, why):
    environ = {**GOOD, variable: value}
    if variable == "ACCESSDESK_SLACK_SIGNING_SECRET":
        environ["ACCESSDESK_SLACK_BOT_TOKEN"] = "xoxb-1"
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(environ)
    assert len(refused.value.problems) == 1, refused.value.problems
    line = refused.value.problems[0]
    assert line.startswith(f"{variable} ") and why in line, line
    assert "secrets.token_urlsafe(48)" in line  # and how to make a good one
    Settings.from_env({**environ, "ACCESSDESK_ENV": "development", "ACCESSDESK_BASE_URL": "http://127.0.0.1:8000"})


def test_random_secrets_of_every_usual_shape_pass():
    import random
    import string

    chance = random.Random(13)  # fixed: the same values on every run
    shapes = {"hex, 32 digits (Slack's signing secrets)": (string.hexdigits[:16], 32),
              "token_urlsafe(24)": (string.ascii_letters + string.digits + "-_", 32),
              "base64 of 32 bytes": (string.ascii_letters + string.digits + "+/", 44)}  # fmt: skip
    for shape, (alphabet, length) in shapes.items():
        lowest = min(estimated_bits("".join(chance.choice(alphabet) for _ in range(length))) for _ in range(20000))
        assert lowest >= GUESSABLE_BITS, (shape, lowest)
    assert estimated_bits(DEFAULT_SECRET_KEY) >= GUESSABLE_BITS  # refused anyway, by name


def test_production_refuses_sqlite_unless_allowed_and_a_deployment_nobody_can_sign_in_to():
    sqlite = {**GOOD, "ACCESSDESK_DATABASE_URL": "sqlite+aiosqlite:///./var/accessdesk.db"}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(sqlite)
    assert refused.value.problems == ("ACCESSDESK_DATABASE_URL is SQLite, which production refuses (one file on one "
                                      "machine: one server process, no failover): use postgresql+asyncpg://, or set "
                                      "ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION=true to run on it knowingly",)  # fmt: skip
    allowed = Settings.from_env({**sqlite, "ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION": "true"})
    assert allowed.is_sqlite and allowed.allow_sqlite_in_production
    assert Settings.from_env({"ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION": "false"}).is_sqlite  # development: no matter
    nobody = {k: v for k, v in GOOD.items() if k != "ACCESSDESK_OIDC_PROVIDERS"}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(nobody)
    assert refused.value.problems == ("ACCESSDESK_OIDC_PROVIDERS names no identity provider: in production nobody "
                                      "could sign in to the console (the development sign-in is refused there)",)  # fmt: skip
    with pytest.raises(SettingsError, match="ACCESSDESK_OIDC_PROVIDERS names no identity provider"):
        Settings.from_env({**GOOD, "ACCESSDESK_OIDC_PROVIDERS": "[]"})


@pytest.mark.parametrize(("change", "line"), [
    ({"ACCESSDESK_LOG_LEVEL": "bogus"}, "ACCESSDESK_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'BOGUS'"),
    ({"ACCESSDESK_LOG_LEVEL": "warn"}, "ACCESSDESK_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'WARN'"),
    ({"ACCESSDESK_API_TOKEN_DAYS": "0"}, "ACCESSDESK_API_TOKEN_DAYS must be between 1 and 3650"),
    ({"ACCESSDESK_API_TOKEN_DAYS": "forever"}, "ACCESSDESK_API_TOKEN_DAYS: not a whole number of days: 'forever'"),
    ({"ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION": "perhaps"},
     "ACCESSDESK_ALLOW_SQLITE_IN_PRODUCTION: not a boolean: 'perhaps'"),
])  # fmt: skip
def test_malformed_values_are_one_line_naming_the_variable(change, line):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(change)
    assert refused.value.problems == (line,)


def test_log_level_and_token_days_are_read():
    assert Settings.from_env({"ACCESSDESK_LOG_LEVEL": "debug"}).log_level == "DEBUG"
    assert Settings.from_env({}).api_token_days == 90
    assert Settings.from_env({"ACCESSDESK_API_TOKEN_DAYS": "7"}).api_token_days == 7
