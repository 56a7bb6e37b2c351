"""Outbox messages addressed to Slack leave as ``chat.postMessage``; the outbox is the one retry policy."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from accessdesk.app import create_app
from accessdesk.compose import notifier_for
from accessdesk.db.tables import OutboxMessage
from accessdesk.domain.notifier import NullNotifier, RetryAfter
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.domain.unit import Unit
from accessdesk.settings import Settings
from accessdesk.slackbot.notifier import SlackNotifier, slack_channel_of
from tests.support.fake_slack import FakeSlack, Reply
from tests.support.slack import notifier_on, slack_settings

POST = "chat.postMessage"


async def queue(world, recipient: str, topic: str = "nomination.created") -> uuid.UUID:
    world.unit.notify(topic=topic, recipient=recipient, payload={"model": "atlas", "state": "pending"},
                      dedupe_key=f"test:{uuid.uuid4()}")  # fmt: skip
    await world.unit.commit()
    [message] = (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.recipient == recipient))).all()
    return message.id


async def test_a_message_to_a_channel_is_posted_once(quiet_world, fake_slack: FakeSlack, clock):
    message_id = await queue(quiet_world, "slack:C0APPROVERS")
    notifier = notifier_on(fake_slack)
    assert await deliver_outbox(quiet_world.unit, notifier) == (1, 0)
    assert await deliver_outbox(quiet_world.unit, notifier) == (0, 0)
    [call] = fake_slack.calls_to(POST)
    assert call.body["channel"] == "C0APPROVERS"
    assert call.body["text"] == "accessdesk: nomination.created\nmodel: atlas\nstate: pending"
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    assert (await quiet_world.get(OutboxMessage, message_id)).delivered_at == clock.now()


async def test_a_message_to_a_person_goes_to_their_direct_messages(quiet_world, fake_slack: FakeSlack):
    await queue(quiet_world, "slack-user:U0ALICE")
    assert await deliver_outbox(quiet_world.unit, notifier_on(fake_slack)) == (1, 0)
    assert [c.body["channel"] for c in fake_slack.calls_to(POST)] == ["U0ALICE"]


async def test_429_waits_as_long_as_slack_asked_then_sends_exactly_one_message(quiet_world, fake_slack, clock):
    fake_slack.script(POST, Reply(429, retry_after=30))
    message_id = await queue(quiet_world, "slack:C0APPROVERS")
    notifier, asked_at = notifier_on(fake_slack), clock.now()

    assert await deliver_outbox(quiet_world.unit, notifier) == (0, 1)
    waiting = await quiet_world.get(OutboxMessage, message_id)
    assert waiting.delivered_at is None and waiting.available_at >= asked_at + timedelta(seconds=30)
    assert waiting.attempts == 0 and "retry after 30 s" in waiting.last_error  # being told to wait is no failure

    clock.advance(timedelta(seconds=29))
    assert await deliver_outbox(quiet_world.unit, notifier) == (0, 0)
    clock.advance(timedelta(seconds=1))
    assert await deliver_outbox(quiet_world.unit, notifier) == (1, 0)
    assert [c.status for c in fake_slack.calls_to(POST)] == [429, 200]  # one message reached Slack


@pytest.mark.injects_fault
async def test_a_slack_that_keeps_failing_ends_in_the_dead_letters(quiet_world, fake_slack: FakeSlack, clock):
    fake_slack.always(POST, Reply(500))
    message_id = await queue(quiet_world, "slack:C0APPROVERS")
    notifier = notifier_on(fake_slack)
    for _ in range(8):
        await deliver_outbox(quiet_world.unit, notifier, max_attempts=8)
        clock.advance(timedelta(hours=2))
    assert await deliver_outbox(quiet_world.unit, notifier, max_attempts=8) == (0, 0)
    dead = await quiet_world.get(OutboxMessage, message_id)
    assert dead.dead_at is not None and dead.delivered_at is None and dead.attempts == 8
    assert "SlackApiError" in dead.last_error and "status: 500" in dead.last_error
    assert len(fake_slack.calls_to(POST)) == 8  # slack_sdk did not retry on its own: the outbox is the policy


@pytest.mark.injects_fault
async def test_a_slow_slack_is_a_failure_retried_later(quiet_world, fake_slack: FakeSlack, clock):
    fake_slack.script(POST, Reply(delay=2))
    message_id = await queue(quiet_world, "slack:C0APPROVERS")
    notifier = notifier_on(fake_slack, timeout=1)
    assert await deliver_outbox(quiet_world.unit, notifier) == (0, 1)
    assert (await quiet_world.get(OutboxMessage, message_id)).attempts == 1
    clock.advance(timedelta(minutes=1))
    assert await deliver_outbox(quiet_world.unit, notifier) == (1, 0)


@pytest.mark.injects_fault
async def test_slack_unreachable_is_a_failure_retried_later(quiet_world, fake_slack: FakeSlack):
    fake_slack.url = "http://127.0.0.1:9/api/"  # discard port: nothing listens
    message_id = await queue(quiet_world, "slack:C0APPROVERS")
    assert await deliver_outbox(quiet_world.unit, notifier_on(fake_slack)) == (0, 1)
    waiting = await quiet_world.get(OutboxMessage, message_id)
    assert waiting.delivered_at is None and waiting.attempts == 1


async def test_a_message_not_addressed_to_slack_is_logged_without_a_call(quiet_world, fake_slack: FakeSlack):
    message_id = await queue(quiet_world, f"user:{uuid.uuid4()}")
    assert await deliver_outbox(quiet_world.unit, notifier_on(fake_slack)) == (1, 0)
    assert fake_slack.calls == []
    assert (await quiet_world.get(OutboxMessage, message_id)).delivered_at is not None


@pytest.mark.injects_fault
async def test_a_malformed_slack_address_is_not_dropped(quiet_world, fake_slack: FakeSlack):
    message_id = await queue(quiet_world, "slack:#general")
    assert await deliver_outbox(quiet_world.unit, notifier_on(fake_slack)) == (0, 1)
    assert "not a Slack channel or user id" in (await quiet_world.get(OutboxMessage, message_id)).last_error
    assert fake_slack.calls == []


def test_slack_addresses():
    assert slack_channel_of("slack:C0123ABCD") == "C0123ABCD"
    assert slack_channel_of("slack:G0123ABCD") == "G0123ABCD"
    assert slack_channel_of("slack-user:U0123ABCD") == "U0123ABCD"
    assert slack_channel_of("model:1234:approvers") is None
    with pytest.raises(ValueError):
        slack_channel_of("slack-user:C0123ABCD")


class RateLimited:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.sent = seconds, 0

    async def deliver(self, unit: Unit, message: OutboxMessage) -> None:
        if self.seconds:
            seconds, self.seconds = self.seconds, 0
            raise RetryAfter(seconds)
        self.sent += 1


async def test_the_outbox_honours_retry_after_beyond_its_own_backoff(quiet_world, clock):
    """The ordinary first backoff is 10 s; a destination that asks for 5 minutes gets 5 minutes."""
    message_id = await queue(quiet_world, "slack:C0APPROVERS")
    notifier = RateLimited(300)
    assert await deliver_outbox(quiet_world.unit, notifier) == (0, 1)
    clock.advance(timedelta(seconds=299))
    assert await deliver_outbox(quiet_world.unit, notifier) == (0, 0)
    clock.advance(timedelta(seconds=1))
    assert await deliver_outbox(quiet_world.unit, notifier) == (1, 0)
    assert notifier.sent == 1 and (await quiet_world.get(OutboxMessage, message_id)).attempts == 1


def test_the_worker_and_the_server_notify_through_slack_once_it_is_configured(fake_slack: FakeSlack):
    assert isinstance(notifier_for(Settings()), NullNotifier)
    assert isinstance(notifier_for(slack_settings("sqlite+aiosqlite://", fake_slack)), SlackNotifier)
    app = create_app(slack_settings("sqlite+aiosqlite://", fake_slack), embedded_worker=False)
    assert isinstance(app.state.notifier, SlackNotifier) and app.state.slack_bolt is not None
