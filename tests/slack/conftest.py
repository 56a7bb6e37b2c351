"""Fixtures for the Slack bot: the fake Slack Web API, and the app with Slack configured against it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.app import create_app
from accessdesk.clock import FrozenClock
from accessdesk.settings import Settings
from tests.api.conftest import app_engine
from tests.slack.fake_slack import FakeSlack, fake_slack  # noqa: F401 - a fixture, used by name
from tests.slack.signing import SIGNING_SECRET

BOT_TOKEN = "xoxb-test"


def slack_settings(database_url: str, fake: FakeSlack) -> Settings:
    return Settings(database_url=database_url, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                    slack_api_url=fake.url)  # fmt: skip


@pytest.fixture
async def slack_app(
    sqlite_database: object, fake_slack: FakeSlack, clock: FrozenClock
) -> AsyncIterator[AsyncTestClient]:
    """The app with Slack configured. ``/slack/events`` touches no table, so SQLite alone is enough here."""
    url = sqlite_database.fresh_url()  # type: ignore[attr-defined]
    served = app_engine(url)
    app = create_app(slack_settings(url, fake_slack), clock=clock, engine=served, embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        yield client
    await served.dispose()
