"""Hostile and malformed requests at Slack's doors, one table per door (events, interactivity, a menu's options,
slash commands): each row is a request with the status it must get. A request not signed by Slack (no signature,
another secret, a tampered body, a stale, future or non-numeric timestamp) is 401 whatever its body; one signed by
Slack that is not a payload Slack sends is 400; one no listener handles is 404. Never a 5xx, never a traceback in
the log (``no_tracebacks``), never a line of the body in the log or in the answer, and nothing changed: no row
anywhere, no Slack Web API call.

One world and one app per database serve each table; a row that fails is reported with every other that fails."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from litestar.testing import AsyncTestClient

from accessdesk.slackbot.ids import ActionId, CallbackId, NominateField
from tests.support.fake_slack import FakeSlack
from tests.support.slack import serving_bot
from tests.support.slack_signing import FORM, SIGNING_SECRET, signature

EVENTS = "/slack/events"
JSON = "application/json"
MARK = "HOSTILE7Q"  # in every body: found in a log line or an answer, it was echoed
FORGED = f"\nCRITICAL - 2026-12-04 - accessdesk.audit - forged {MARK}"


@dataclass(frozen=True)
class Row:
    name: str
    body: bytes
    status: int
    content_type: str = FORM
    signing: str = "signed"  # signed, unsigned, other secret, tampered, stale, future, not a number, huge number


def _headers(row: Row) -> dict[str, str]:
    now = int(time.time())
    timestamp = {"stale": now - 6 * 60, "future": now + 6 * 60}.get(row.signing, now)
    headers = {"Content-Type": row.content_type}
    if row.signing == "unsigned":
        return headers
    secret = "not-the-secret" if row.signing == "other secret" else SIGNING_SECRET
    signed_body = row.body + b"x" if row.signing == "tampered" else row.body
    headers["X-Slack-Request-Timestamp"] = {"not a number": "abc", "huge number": "9" * 40}.get(row.signing,
                                                                                               str(timestamp))
    headers["X-Slack-Signature"] = signature(signed_body, timestamp=timestamp, secret=secret)
    return headers


def payload(value: Any) -> bytes:
    return urlencode({"payload": json.dumps(value), "mark": MARK}).encode()


def unsigned_rows(valid: bytes, content_type: str = FORM) -> list[Row]:
    """What no one but Slack can send, at any door: refused before the body is read for meaning."""
    return [
        Row("no signature", valid, 401, content_type, "unsigned"),
        Row("another secret", valid, 401, content_type, "other secret"),
        Row("a tampered body", valid, 401, content_type, "tampered"),
        Row("signed six minutes ago", valid, 401, content_type, "stale"),
        Row("signed six minutes ahead", valid, 401, content_type, "future"),
        Row("a timestamp that is not a number", valid, 401, content_type, "not a number"),
        Row("a 40-digit timestamp", valid, 401, content_type, "huge number"),
        Row("unsigned payload=x", f"payload=x&mark={MARK}".encode(), 401, FORM, "unsigned"),
        Row("unsigned payload=[1]", payload([1, MARK]), 401, FORM, "unsigned"),
        Row("unsigned JSON {oops", b"{oops " + MARK.encode(), 401, JSON, "unsigned"),
        Row("unsigned JSON [1]", f'[1, "{MARK}"]'.encode(), 401, JSON, "unsigned"),
        Row("a forged log line, unsigned", valid + urlencode({"text": FORGED}).encode(), 401, content_type,
            "unsigned"),
        Row("a forged log line, another secret", valid + FORGED.encode(), 401, content_type, "other secret"),
        Row("a 3 MB body", valid + b"&pad=" + MARK.encode() * 300_000, 413, content_type, "unsigned"),
        Row("a 3 MB body, signed", valid + b"&pad=" + MARK.encode() * 300_000, 413, content_type),
        Row("invalid UTF-8, unsigned", b"\xff\xfe" + MARK.encode(), 401, content_type, "unsigned"),
    ]


def signed_junk(content_type: str = FORM) -> list[Row]:
    """Signed by Slack, yet not anything Slack sends: 400."""
    return [
        Row("signed payload=x", f"payload=x&mark={MARK}".encode(), 400),
        Row("signed payload=[1]", payload([1, MARK]), 400),
        Row("signed payload={oops", f"payload={{oops&mark={MARK}".encode(), 400),
        Row("signed payload of 100k nested arrays", urlencode({"payload": "[" * 100_000}).encode(), 400),
        Row("signed JSON {oops", b"{oops " + MARK.encode(), 400, JSON),
        Row("signed JSON [1]", f'[1, "{MARK}"]'.encode(), 400, JSON),
        Row("signed invalid UTF-8", b'{"type": "\xff' + MARK.encode() + b'"}', 400, JSON),
        Row("signed, a team that is a number", payload({"type": "block_actions", "team": 1, "user": {"id": "U0X"},
                                                        "actions": [{"action_id": MARK}]}), 400),  # fmt: skip
    ]


def click(action_id: str, **changes: Any) -> dict[str, Any]:
    body = {"type": "block_actions", "team": {"id": "T0FAKE"}, "user": {"id": "U0GOV1", "team_id": "T0FAKE"},
            "api_app_id": "A0ACCESSDESK", "trigger_id": "1337.42.trigger", "channel": {"id": "C0APPROVALS"},
            "actions": [{"type": "button", "action_id": action_id, "value": MARK, "action_ts": "1.2"}]}  # fmt: skip
    return {**body, **changes}


def submission(callback: str, **view_changes: Any) -> dict[str, Any]:
    view = {"id": "V0", "type": "modal", "callback_id": callback, "private_metadata": json.dumps({"channel": "C0"}),
            "state": {"values": {}}, **view_changes}  # fmt: skip
    return {"type": "view_submission", "team": {"id": "T0FAKE"}, "user": {"id": "U0NORA", "team_id": "T0FAKE"},
            "view": view}


def interactivity_rows() -> list[Row]:
    valid = payload(click(ActionId.APPROVE.value))
    return [
        *unsigned_rows(valid),
        *signed_junk(),
        Row("actions that are a string", payload(click(ActionId.APPROVE.value, actions=MARK)), 400),
        Row("no actions", payload(click(ActionId.APPROVE.value, actions=[])), 400),
        Row("an action that is a number", payload(click(ActionId.APPROVE.value, actions=[1])), 400),
        Row("a user that is a string", payload(click(ActionId.APPROVE.value, user=MARK)), 400),
        Row("Approve without a channel", payload({k: v for k, v in click(ActionId.APPROVE.value).items()
                                                  if k != "channel"}), 400),  # fmt: skip
        Row("Reject without a trigger", payload({k: v for k, v in click(ActionId.REJECT.value).items()
                                                 if k != "trigger_id"}), 400),  # fmt: skip
        Row("Approve without a value", payload(click(ActionId.APPROVE.value, actions=[
            {"type": "button", "action_id": ActionId.APPROVE.value}])), 400),  # fmt: skip
        Row("Approve all without a value", payload(click(ActionId.COHORT_APPROVE_ALL.value, actions=[
            {"type": "button", "action_id": ActionId.COHORT_APPROVE_ALL.value}])), 400),  # fmt: skip
        Row("Approve all without a user", payload({k: v for k, v in click(ActionId.COHORT_APPROVE_ALL.value).items()
                                                   if k != "user"}), 400),  # fmt: skip
        Row("an unknown action id", payload(click(f"nomination-delete-{MARK}")), 404),
        Row("an unknown interaction type", payload({"type": MARK, "user": {"id": "U0X"}}), 404),
        Row("a submission without a view", payload({"type": "view_submission", "user": {"id": "U0NORA"}}), 400),
        Row("a view without a callback id", payload(submission(CallbackId.NOMINATE.value, callback_id=None)), 400),
        Row("an unknown modal", payload(submission(f"delete-all-{MARK}")), 404),
        Row("private metadata that is not JSON", payload(submission(CallbackId.NOMINATE.value,
                                                                    private_metadata=f"{{{MARK}")), 400),  # fmt: skip
        Row("private metadata that is a list", payload(submission(CallbackId.REJECT_REASON.value,
                                                                  private_metadata="[1]")), 400),  # fmt: skip
        Row("a nominate modal without its channel", payload(submission(CallbackId.NOMINATE.value,
                                                                       private_metadata="{}")), 400),  # fmt: skip
        Row("a reject modal without its nomination", payload(submission(CallbackId.REJECT_REASON.value)), 400),
        Row("state values that are a list", payload(submission(CallbackId.NOMINATE.value,
                                                               state={"values": [MARK]})), 400),  # fmt: skip
    ]


def suggestion(**changes: Any) -> dict[str, Any]:
    body = {"type": "block_suggestion", "user": {"id": "U0NORA", "team_id": "T0FAKE"}, "team": {"id": "T0FAKE"},
            "action_id": NominateField.ORGANISATION.value, "block_id": NominateField.ORGANISATION.value,
            "value": "lab", "view": {"id": "V0", "type": "modal", "callback_id": CallbackId.NOMINATE.value}}  # fmt: skip
    return {**body, **changes}


def options_rows() -> list[Row]:
    return [
        *unsigned_rows(payload(suggestion())),
        Row("no action id", payload({k: v for k, v in suggestion().items() if k != "action_id"}), 400),
        Row("an action id that is a list", payload(suggestion(action_id=[MARK])), 400),
        Row("a user that is a string", payload(suggestion(user=MARK)), 400),
        Row("a user without an id", payload(suggestion(user={"name": MARK})), 400),
        Row("an unknown menu", payload(suggestion(action_id=f"secrets-{MARK}")), 404),
    ]


def command(**changes: str | None) -> bytes:
    fields = {"team_id": "T0FAKE", "channel_id": "C0GENERAL", "user_id": "U0NORA", "command": "/accessdesk",
              "text": f"help {MARK}", "response_url": "http://127.0.0.1:9/never", "trigger_id": "1337.42.abc",
              **changes}  # fmt: skip
    return urlencode({k: v for k, v in fields.items() if v is not None}).encode()


def command_rows() -> list[Row]:
    return [
        *unsigned_rows(command()),
        *signed_junk(),
        Row("no user", command(user_id=None), 400),
        Row("no channel", command(channel_id=None), 400),
        Row("no trigger", command(trigger_id=None), 400),
        Row("an empty user", command(user_id=""), 400),
        Row("an unknown command", command(command=f"/delete-{MARK}"), 404),
    ]


def event(**changes: Any) -> bytes:
    body = {"token": "x", "team_id": "T0FAKE", "api_app_id": "A0ACCESSDESK", "type": "event_callback",
            "event_id": "Ev0", "event_time": 1, "event": {"type": "app_home_opened", "user": "U0NORA", "tab": "home",
                                                           "channel": "D0"}, **changes}  # fmt: skip
    return json.dumps(body).encode()


def events_rows() -> list[Row]:
    return [
        *unsigned_rows(event(), JSON),
        *signed_junk(JSON),
        Row("an event that is a list", event(event=[MARK]), 400, JSON),
        Row("an event without a type", event(event={"user": MARK}), 400, JSON),
        Row("a challenge that is not a string", json.dumps({"type": "url_verification", "challenge": [MARK]}).encode(),
            400, JSON),  # fmt: skip
        Row("an event never subscribed to", event(event={"type": f"channel_deleted_{MARK}"}), 404, JSON),
        Row("the Home opened by no one", event(event={"type": "app_home_opened", "tab": "home"}), 200, JSON),
        Row("the Home opened with a user that is a list", event(event={"type": "app_home_opened", "tab": "home",
                                                                        "user": [MARK]}), 200, JSON),  # fmt: skip
    ]


@pytest.fixture
async def bot(engine, world, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:  # noqa: F811
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


DOORS = {"events": events_rows, "interactivity": interactivity_rows, "options": options_rows,
         "slash commands": command_rows}  # fmt: skip


@pytest.mark.parametrize("door", list(DOORS))
async def test_every_hostile_request_is_refused_in_a_line_and_changes_nothing(
    bot, world, unchanged, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, door: str  # noqa: F811
):
    table = DOORS[door]()
    wrong: list[str] = []
    caplog.set_level(logging.DEBUG)
    started = len(fake_slack.calls)  # bolt's auth.test at start-up
    async with unchanged():
        for row in table:
            caplog.clear()
            response = await bot.post(EVENTS, content=row.body, headers=_headers(row))
            wrong.extend(f"{row.name}: {problem}" for problem in misfits(response, row, caplog.records))
        await _settled(bot)
    assert not wrong, "\n".join(wrong)
    assert fake_slack.calls[started:] == [], "a refused request called Slack's Web API"
    assert len(table) >= 20


async def _settled(bot: AsyncTestClient) -> None:
    """Listeners that acknowledged (the events rows) finish after their answer: give them a moment to."""
    import asyncio

    await asyncio.sleep(0.3)


def misfits(response: Any, row: Row, records: list[logging.LogRecord]) -> list[str]:
    found = []
    if response.status_code >= 500:
        return [f"server error {response.status_code}: {response.text[:200]}"]
    if response.status_code != row.status:
        found.append(f"status {response.status_code}, expected {row.status}: {response.text[:200]}")
    if MARK in response.text:
        found.append("the answer echoes the body")
    if row.status in (400, 401, 404) and not response.text.startswith("Refused: "):
        found.append(f"not a short refusal: {response.text[:200]!r}")
    for record in records:
        message = record.getMessage()
        if MARK in message or "forged" in message:
            found.append(f"the log echoes the body: {record.name}: {message[:200]!r}")
        if "\n" in message:
            found.append(f"a log record of several lines: {record.name}: {message[:200]!r}")
    refusals = [r for r in records if r.name == "accessdesk.slackbot.endpoint"]
    if row.status == 401 and len(refusals) != 1:
        found.append(f"{len(refusals)} log lines for a refused request, expected one")
    return found
