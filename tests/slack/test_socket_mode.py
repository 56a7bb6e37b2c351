"""Socket Mode: the bot's own listeners reached over a WebSocket, against Slack faked on loopback — the Web API of
:mod:`tests.slack.fake_slack` (which hands out the socket's URL) and a WebSocket server speaking Slack's side."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields, replace
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.cli import main
from accessdesk.clock import Clock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.settings import Settings
from accessdesk.slackbot.blocks import help_message
from accessdesk.slackbot.socket_mode import SocketModeUnavailable, serve
from tests.support.api import url_of
from tests.support.cli import killed_if_left, stopped_by
from tests.support.fake_slack import RESPONSE_URL, FakeSlack, Reply
from tests.support.slack import BOT_TOKEN, slack_settings
from tests.support.slack_signing import SIGNING_SECRET

APP_TOKEN = "xapp-1-A0ACCESSDESK-1-test"
CONSOLE = Settings().base_url
REPO = Path(__file__).resolve().parents[2]
_envelopes = count(1)


class SlackSocket:
    """Slack's end of Socket Mode: greets a connection with ``hello``, sends envelopes, and hands back what the
    app answers on the socket."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()
        self.url = ""
        self._answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._socket: web.WebSocketResponse | None = None

    async def accept(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1,
                                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                                "connection_info": {"app_id": "A0ACCESSDESK"}})  # fmt: skip
        self.connected.set()
        async for message in socket:
            if message.type is WSMsgType.TEXT:
                self._answers.put_nowait(json.loads(message.data))
        self.closed.set()
        return socket

    async def send(self, envelope: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
        """Send ``envelope``; the app's answer to it (an acknowledgement carries its ``envelope_id``)."""
        assert self._socket is not None, "no one is connected"
        await self._socket.send_json(envelope)
        return await asyncio.wait_for(self._answers.get(), timeout)


def slash_command(text: str, *, response_url: str, user_id: str = "U0ALICE") -> dict[str, Any]:
    """A slash command as Slack sends it over the socket: the form fields of HTTP mode, as a JSON payload."""
    return {"envelope_id": f"env-command-{next(_envelopes)}", "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {"token": "deprecated-verification-token", "team_id": "T0FAKE", "team_domain": "fake",
                        "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user_id,
                        "user_name": "alice", "command": "/accessdesk", "text": text, "api_app_id": "A0ACCESSDESK",
                        "is_enterprise_install": "false", "response_url": response_url,
                        "trigger_id": "1337.42.abcdef"}}  # fmt: skip


def home_opened(user: str) -> dict[str, Any]:
    """``app_home_opened`` as Slack sends it over the socket: the Events API body, in an envelope."""
    return {"envelope_id": f"env-event-{next(_envelopes)}", "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": 0, "retry_reason": "",
            "payload": {"token": "deprecated-verification-token", "team_id": "T0FAKE", "api_app_id": "A0ACCESSDESK",
                        "type": "event_callback", "event_id": f"Ev0HOME{user}", "event_time": 1764590400,
                        "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
                                  "event_ts": "1764590400.000100"},
                        "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}]}}  # fmt: skip


def socket_settings(database_url: str, fake: FakeSlack) -> Settings:
    return replace(slack_settings(database_url, fake), slack_app_token=APP_TOKEN)


@pytest.fixture
async def slack_socket(fake_slack: FakeSlack) -> AsyncIterator[SlackSocket]:
    """The WebSocket end, on loopback; the fake Web API hands out its URL to ``apps.connections.open``."""
    socket = SlackSocket()
    app = web.Application()
    app.router.add_get("/link/", socket.accept)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    socket.url = f"ws://127.0.0.1:{runner.addresses[0][1]}/link/?ticket=t0fake&app_id=A0ACCESSDESK"
    fake_slack.always("apps.connections.open", Reply(body={"ok": True, "url": socket.url}))
    yield socket
    await runner.cleanup()


@pytest.fixture
async def sqlite_engine(sqlite_database) -> AsyncIterator[AsyncEngine]:
    """A database for envelopes that touch no table: SQLite alone is enough."""
    engine = make_engine(sqlite_database.fresh_url())
    yield engine
    await engine.dispose()


@asynccontextmanager
async def bot_on(socket: SlackSocket, settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession],
                 clock: Clock) -> AsyncIterator[None]:  # fmt: skip
    """The bot connected over Socket Mode; on the way out it is stopped, and must close its socket and return."""
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(settings, sessionmaker=sessionmaker, clock=clock, stop=stop))
    await asyncio.wait_for(socket.connected.wait(), 10)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)
    assert socket.closed.is_set()


async def test_help_over_the_socket_is_acknowledged_then_answered_to_the_asker(
    sqlite_engine: AsyncEngine, fake_slack: FakeSlack, slack_socket: SlackSocket, clock
):
    settings = socket_settings(url_of(sqlite_engine), fake_slack)
    async with bot_on(slack_socket, settings, sessionmaker=make_sessionmaker(sqlite_engine), clock=clock):
        envelope = slash_command("help", response_url=fake_slack.response_url())
        assert await slack_socket.send(envelope) == {"envelope_id": envelope["envelope_id"]}
        [answer] = await fake_slack.wait_for(RESPONSE_URL)
    expected = help_message(console_url=CONSOLE)
    assert answer.path == "/respond/T0FAKE/1/hook"
    assert (answer.body["response_type"], answer.body["text"], answer.body["blocks"]) == (
        "ephemeral", expected["text"], expected["blocks"])  # fmt: skip
    # The connection was asked for with the app-level token, the bot identified itself with its own, both on the
    # Web API it was configured with.
    [opened] = fake_slack.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"
    [identity] = fake_slack.calls_to("auth.test")
    assert identity.headers["Authorization"] == f"Bearer {BOT_TOKEN}"


async def test_the_home_tab_over_the_socket_reads_the_database_with_the_clock_given(
    world, engine, sessionmaker, fake_slack: FakeSlack, slack_socket: SlackSocket, clock
):
    partner, _ = await world.partner()
    nomination = await world.nominate(partner)
    await world.commit()  # the bot reads it over the socket, not in a request
    fake_slack.script("users.info", Reply(body={"ok": True, "user": {
        "id": "U0DEV1", "name": "dev1", "deleted": False, "is_bot": False, "is_email_confirmed": True,
        "profile": {"email": "dev1@acme.test"}}}))  # fmt: skip
    settings = socket_settings(url_of(engine), fake_slack)
    async with bot_on(slack_socket, settings, sessionmaker=sessionmaker, clock=clock):
        envelope = home_opened("U0DEV1")
        assert await slack_socket.send(envelope) == {"envelope_id": envelope["envelope_id"]}
        [published] = await fake_slack.wait_for("views.publish")
    view = published.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    waiting = [b["text"]["text"] for b in view["blocks"] if "text" in b]
    assert published.body["user_id"] == "U0DEV1"
    assert waiting[0] == "1 nomination waiting for your decision"
    assert f"/console/nominations/{nomination.id}|{partner.name} for Atlas> — <!date^" in waiting[1]
    assert "|2026-12-02 12:00 UTC> → " in waiting[1]


async def test_an_app_token_slack_refuses_stops_the_bot_at_once(sqlite_engine: AsyncEngine, fake_slack: FakeSlack,
                                                                 clock):  # fmt: skip
    fake_slack.always("apps.connections.open", Reply(body={"ok": False, "error": "invalid_auth"}))
    settings = socket_settings(url_of(sqlite_engine), fake_slack)
    with pytest.raises(SocketModeUnavailable, match="refused to open a Socket Mode connection: invalid_auth"):
        await asyncio.wait_for(serve(settings, sessionmaker=make_sessionmaker(sqlite_engine), clock=clock,
                                     stop=asyncio.Event()), 10)  # fmt: skip
    assert [c.method for c in fake_slack.calls] == ["apps.connections.open"]


SETTING_VARIABLES = {f.name: f.metadata["env"] for f in fields(Settings)}


def environment_of(**settings: str) -> dict[str, str]:
    """The environment variables of ``settings`` (``slack_app_token="xapp-..."``)."""
    return {SETTING_VARIABLES[name]: value for name, value in settings.items()}


@pytest.mark.parametrize(("configured", "said"), [
    ({"slack_bot_token": BOT_TOKEN, "slack_signing_secret": SIGNING_SECRET}, "set ACCESSDESK_SLACK_APP_TOKEN"),
    ({"slack_bot_token": BOT_TOKEN, "slack_app_token": APP_TOKEN}, "Slack is not configured"),
    ({}, "Slack is not configured"),
], ids=["without-app-token", "without-signing-secret", "without-slack"])  # fmt: skip
def test_without_what_socket_mode_needs_the_command_refuses_and_starts_nothing(
    configured, said, fake_slack: FakeSlack, tmp_path: Path, monkeypatch
):
    database = tmp_path / "never" / "accessdesk.db"
    for name in SETTING_VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    for name, value in environment_of(database_url=f"sqlite+aiosqlite:///{database}", slack_api_url=fake_slack.url,
                                      **configured).items():  # fmt: skip
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["slack", "socket"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: refusing to start: ") and said in line, line
    assert fake_slack.calls == []
    assert not database.parent.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_the_command_serves_over_the_socket_until_signalled_then_exits_cleanly(
    signum, fake_slack: FakeSlack, slack_socket: SlackSocket, tmp_path: Path
):
    inherited = {name: value for name, value in os.environ.items() if name not in SETTING_VARIABLES.values()}
    environment = inherited | environment_of(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'accessdesk.db'}", slack_api_url=fake_slack.url,
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_app_token=APP_TOKEN)  # fmt: skip
    # As an operator runs it: the database migrated first (the bot reads who asks before it acknowledges).
    upgraded = await asyncio.create_subprocess_exec(sys.executable, "-m", "accessdesk.cli", "db", "upgrade", cwd=REPO,
                                                    env=environment, stderr=asyncio.subprocess.PIPE)  # fmt: skip
    _, failed = await asyncio.wait_for(upgraded.communicate(), 120)
    assert upgraded.returncode == 0, failed.decode()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "accessdesk.cli", "slack", "socket", cwd=REPO, env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)  # fmt: skip
    async with killed_if_left(process):
        await asyncio.wait_for(slack_socket.connected.wait(), 30)
        envelope = slash_command("help", response_url=fake_slack.response_url())
        assert await slack_socket.send(envelope) == {"envelope_id": envelope["envelope_id"]}
        await fake_slack.wait_for(RESPONSE_URL)
        stderr = await stopped_by(process, signum, timeout=15)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert slack_socket.closed.is_set()
