"""A failure once Slack had its acknowledgement (Slack answering 5xx or 429, the database refusing a write) reaches
the person, privately and once, with a reference, and the log, in one record with its traceback and that
reference. A failure before the acknowledgement is answered by the status alone: Slack shows it, or sends again."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from accessdesk.db.tables import Decision, Nomination
from accessdesk.slackbot.context import Requester
from accessdesk.slackbot.failures import after_acknowledging
from accessdesk.slackbot.ids import ActionId
from accessdesk.unavailable import OutageLog, slack_listener_errors
from tests.support.fake_slack import RESPONSE_URL, Call, FakeSlack, Reply
from tests.support.slack import (
    CHANNEL,
    NORA,
    click,
    home_opened,
    known,
    nominated,
    serving_bot,
    submitted,
    valid,
)
from tests.support.slack_signing import Signed, slash_command

EVENTS = "/slack/events"
REFERENCE = re.compile(r"reference `([0-9a-f]{8})`")

pytestmark = pytest.mark.injects_fault  # each test makes something fail on purpose, and its traceback is logged


@pytest.fixture
async def bot(engine, world, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def with_traceback(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.exc_info]


@pytest.fixture
def logged() -> Iterator[Records]:
    """Every record of the bot's and bolt's loggers (Litestar replaces the root logger's handlers as the app is
    made, so caplog would miss them)."""
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("accessdesk.slackbot", "slack_bolt")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


async def send(bot: AsyncTestClient, request: Signed) -> str:
    response = await bot.post(EVENTS, content=request.body, headers=request.headers)
    assert response.status_code == 200
    return response.text


def told(call: Call, logged: Records) -> str:
    """The reference the person was told, which is the one logged with the failure's traceback."""
    found = REFERENCE.search(call.body["text"])
    assert found is not None, call.body
    [record] = logged.with_traceback()
    assert found.group(1) in record.getMessage()
    return found.group(1)


async def test_slack_failing_a_modal_after_the_command_was_acknowledged_is_told_through_the_command(
    world, bot, fake_slack: FakeSlack, logged: Records
):
    await world.partner(name="lab-one")
    await known(world, NORA, world.dev_nominator)
    fake_slack.script("views.open", Reply(500))
    assert await send(bot, slash_command("nominate", response_url=fake_slack.response_url(), user_id=NORA)) == ""
    [answer] = await fake_slack.wait_for(RESPONSE_URL)
    assert answer.body["response_type"] == "ephemeral" and "may not have been done" in answer.body["text"]
    told(answer, logged)
    assert "SlackApiError" in logged.with_traceback()[0].getMessage()


async def test_slack_rate_limiting_the_home_tab_is_told_on_the_home_tab(world, bot, fake_slack: FakeSlack,
                                                                         logged: Records):  # fmt: skip
    await known(world, NORA, world.dev_nominator)
    fake_slack.script("views.publish", Reply(429, retry_after=30))
    assert await send(bot, home_opened(NORA)) == ""
    refused, notice = await fake_slack.wait_for("views.publish", 2)
    assert refused.status == 429 and notice.body["user_id"] == NORA
    view = notice.body["view"]
    told(Call("views.publish", "", {}, {"text": str(view)}, 200), logged)


async def test_a_decision_the_database_fails_after_the_click_was_acknowledged_is_told_to_the_clicker_alone(
    world, bot, fake_slack: FakeSlack, logged: Records
):
    nomination = await nominated(world)
    await known(world, "U0GOV1", world.gov_approver)
    async with refusing(world, Decision.__tablename__):
        assert await send(bot, click(ActionId.APPROVE, nomination.id, user="U0GOV1")) == ""
        [notice] = await fake_slack.wait_for("chat.postEphemeral")
    assert (notice.body["channel"], notice.body["user"]) == (CHANNEL, "U0GOV1")
    told(notice, logged)
    assert await world.count(Decision) == 0
    await world.commit()  # a read holds SQLite's write lock: the bot's listeners may still be at work
    assert [c.method for c in fake_slack.calls if c.method != "auth.test"] == ["chat.postEphemeral"]


async def test_a_failure_before_the_acknowledgement_is_answered_by_the_status_alone(
    world, bot, fake_slack: FakeSlack, logged: Records
):
    partner, _ = await world.partner(name="lab-one")
    await known(world, NORA, world.dev_nominator)
    async with refusing(world, Nomination.__tablename__):
        response = await bot.post(EVENTS, content=(s := submitted(**valid(world, partner))).body, headers=s.headers)
    assert response.status_code == 500  # Slack shows the modal could not be submitted
    assert len(logged.with_traceback()) == 1
    assert [c.method for c in fake_slack.calls if c.method != "auth.test"] == []


async def test_a_database_away_after_the_acknowledgement_is_the_outage_logs_and_the_person_is_asked_to_retry(
    logged: Records,
):
    said: list[str] = []

    async def tell(text: str) -> None:
        said.append(text)

    outage = OutageLog()
    # No identities and no Slack client: this path must not need them (a call on None would fail the test).
    requester = Requester(slack_user="U0NORA", channel=None, known=None, tell=tell, identities=None,  # type: ignore[arg-type]
                          client=None)  # type: ignore[arg-type]  # fmt: skip
    away = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    await after_acknowledging(away, requester, otherwise=slack_listener_errors(outage),
                              logger=logging.getLogger("slack_bolt.AsyncApp"))  # fmt: skip
    assert outage.refused_total == 1 and logged.with_traceback() == []  # a few lines for the whole outage
    [notice] = said
    assert "try again in a minute" in notice and REFERENCE.search(notice)


class refusing:  # noqa: N801 - reads as what it does: ``async with refusing(world, "decisions")``
    """The database refuses every insert into ``table`` for as long as the block runs (a trigger of its own)."""

    def __init__(self, world, table: str) -> None:
        self.world, self.table = world, table

    async def _run(self, *statements: str) -> None:
        for statement in statements:
            await self.world.unit.session.exec(text(statement))
        await self.world.unit.commit()

    async def __aenter__(self) -> None:
        if self.world.unit.dialect == "postgresql":
            await self._run("CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS "
                            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
                            f"CREATE TRIGGER refuse_insert BEFORE INSERT ON {self.table} "
                            "FOR EACH ROW EXECUTE FUNCTION refuse_insert()")  # fmt: skip
        else:
            await self._run(f"CREATE TRIGGER refuse_insert BEFORE INSERT ON {self.table} "
                            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")  # fmt: skip

    async def __aexit__(self, *exc: object) -> None:
        await self.world.unit.rollback()
        if self.world.unit.dialect == "postgresql":
            await self._run(f"DROP TRIGGER refuse_insert ON {self.table}", "DROP FUNCTION refuse_insert()")
        else:
            await self._run("DROP TRIGGER refuse_insert")


async def test_an_acknowledgement_stays_given_when_the_listener_fails_at_once_after_it(engine, fake_slack: FakeSlack,
                                                                                     clock, logged: Records):  # fmt: skip
    """slack-bolt runs a listener apart from the HTTP request and looks for its acknowledgement every 10 ms; when
    the listener failed after ``ack()``, bolt's runner set the acknowledgement back to None once the error boundary
    had run. A failure within those 10 ms lost it: the request waited 3 seconds and Slack was answered 404, though
    the person had been told. The bot's acknowledgement, once given, stays given."""
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_bolt.request.async_request import AsyncBoltRequest

    from accessdesk.db.engine import make_sessionmaker
    from accessdesk.slackbot.app import build_app
    from tests.support.api import url_of
    from tests.support.slack import slack_settings

    bolt: AsyncApp = build_app(slack_settings(url_of(engine), fake_slack), sessionmaker=make_sessionmaker(engine),
                               clock=clock)  # fmt: skip

    @bolt.command("/fails-at-once")
    async def fails_at_once(ack: AsyncAck) -> None:
        await ack()
        raise RuntimeError("broken right after the acknowledgement")

    body = (f"command=%2Ffails-at-once&text=&user_id={NORA}&channel_id={CHANNEL}&team_id=T0TEAM"
            f"&response_url={fake_slack.response_url()}&trigger_id=1.2.3")  # fmt: skip
    for _ in range(5):
        answer = await bolt.async_dispatch(AsyncBoltRequest(
            body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}))  # fmt: skip
        assert answer.status == 200, (answer.status, answer.body)
    told_ = await fake_slack.wait_for(RESPONSE_URL, 5)
    assert all("may not have been done" in call.body["text"] for call in told_)
    assert len(logged.with_traceback()) == 5
