"""Fixtures of this folder: the app with Slack configured against the fake Slack Web API, and a world whose own
messages are delivered already."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.clock import FrozenClock
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.transitions import deliver_outbox
from tests.databases import SqliteDatabase
from tests.support.api import app_engine
from tests.support.apps import wired_app
from tests.support.fake_slack import FakeSlack
from tests.support.slack import slack_settings
from tests.world import World


@pytest.fixture
async def slack_app(
    sqlite_database: SqliteDatabase, fake_slack: FakeSlack, clock: FrozenClock
) -> AsyncIterator[AsyncTestClient]:
    """The app with Slack configured. ``/slack/events`` touches no table, so SQLite alone is enough here."""
    url = sqlite_database.fresh_url()
    served = app_engine(url)
    with wired_app(slack_settings(url, fake_slack), clock=clock, engine=served) as app:
        async with AsyncTestClient(app=app) as client:
            yield client
    await served.dispose()


@pytest.fixture
async def quiet_world(world: World) -> World:
    """The world with the messages its own making queued already delivered: each test queues its own."""
    await deliver_outbox(world.unit, NullNotifier())
    return world
