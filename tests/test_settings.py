"""Settings: typed, validated, and unsafe defaults refused in production."""

from __future__ import annotations

import subprocess
import sys

import pytest

from accessdesk.settings import DEFAULT_SECRET_KEY, Settings, SettingsError

GOOD = {"ACCESSDESK_ENV": "production", "ACCESSDESK_SECRET_KEY": "x" * 40,
        "ACCESSDESK_BASE_URL": "https://accessdesk.example.gov", "ACCESSDESK_CLIENT_SECRET_PEPPER": "p" * 40,
        "ACCESSDESK_KEY_ENCRYPTION_KEY": "k" * 40}  # fmt: skip


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
        ({"ACCESSDESK_KEY_ENCRYPTION_KEY": "x" * 40}, "ACCESSDESK_KEY_ENCRYPTION_KEY"),  # the same as the secret key
        ({"ACCESSDESK_TOKEN_TTL_SECONDS": "5"}, "ACCESSDESK_TOKEN_TTL_SECONDS"),
        ({"ACCESSDESK_TOKEN_TTL_SECONDS": "a while"}, "ACCESSDESK_TOKEN_TTL_SECONDS"),
        ({"ACCESSDESK_SLACK_BOT_TOKEN": "xoxb-1"}, "ACCESSDESK_SLACK_SIGNING_SECRET"),
        ({"ACCESSDESK_SLACK_BOT_TOKEN": "xapp-1", "ACCESSDESK_SLACK_SIGNING_SECRET": "s"}, "xoxb-"),
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
    settings = Settings.from_env({**GOOD, "ACCESSDESK_SLACK_BOT_TOKEN": "xoxb-1", "ACCESSDESK_SLACK_SIGNING_SECRET": "s",
                                  "ACCESSDESK_SLACK_APP_TOKEN": "xapp-1",
                                  "ACCESSDESK_SLACK_API_URL": "https://slack.example.gov/api/"})  # fmt: skip
    assert settings.slack_enabled
    assert (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token, settings.slack_api_url) == (
        "xoxb-1", "s", "xapp-1", "https://slack.example.gov/api/")  # fmt: skip


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
