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
