"""Ack latency of every Slack listener with every Web API answer slowed to 10 s: p99 ÷ Slack's 3 s (goal ≤ 0.05).

Slack gives an app 3 seconds to acknowledge a request, and the acknowledgement must not wait for anything the
listener does afterwards, least of all for Slack's own Web API, which here answers every call after ``--slow``
seconds (10 by default: as long as the bot's client waits, so many calls also time out). A fresh database (SQLite by
default) is built with the real migrations and given the demo data (what ``make run`` loads), with one approval
channel on the demo's covered model. A fake Slack Web API (tests/support/fake_slack.py) runs in this process on
loopback; its ``users.info`` names two Slack users with the confirmed e-mails of the demo's nominator and of a
government approver. One ``uvicorn`` process serves accessdesk (embedded worker off) with Slack configured against
the fake.

This process then posts to ``POST /slack/events``, signed as Slack signs, a round-robin of every listener:

- ``command``: ``/accessdesk nominate`` (ack, then users.info if need be and views.open);
- ``options``: the nominate modal's organisation search (the options *are* the acknowledgement);
- ``nominate``: the nominate modal submitted (decided before the ack, its errors shown on the modal; the
  confirmation, the new nomination's card and its message follow the ack);
- ``approve``: Approve on a card (ack, then the decision, or a refusal explained, and the cards edited);
- ``reject``: Reject on a card (ack, then views.open of the reason modal);
- ``reason``: the reason modal submitted (decided before the ack);
- ``home``: the Home tab opened (an event: bolt acknowledges, then the Home is drawn and published).

``--rate`` requests a second in all, at most ``--concurrency`` in flight. A request's ack latency is from sending it
to the complete HTTP response, which must be 200 and what Slack expects of that listener (empty, the modal's
errors, or the options). A warm-up lets the two users be confirmed once (users.info, remembered) as a command and a
click would in real use, then measuring starts. Meanwhile ``GET /healthz`` is called ten times a second: the floor
the server sets at that moment. Afterwards, once the slowed calls have all been answered, the fake's posts are
counted: an approval card posted twice for one nomination in one channel, or any other post made twice, is a
duplicate.

    .venv/bin/python -m bench.slack_ack [--db sqlite|postgresql] [--per-listener 40] [--rate 20] [--concurrency 8]
                                        [--slow 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
from sqlmodel import select

from accessdesk.clock import SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.db.tables import FrontierModel, Nomination, Organisation
from accessdesk.demo import PEOPLE, seed
from accessdesk.domain.actor import Actor
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import NominationState, Role
from accessdesk.slackbot.ids import ActionId, CallbackId, NominateField
from accessdesk.slackbot.notifier import CARD_EVENT
from bench._common import fresh_database, median, percentile, server, verdict
from tests.support.fake_slack import FakeSlack, serving
from tests.support.slack_signing import SIGNING_SECRET, Signed, signed

GOAL = 0.05
SLACK_ACK_DEADLINE = 3.0  # seconds Slack waits for an acknowledgement
EVENTS = "/slack/events"
BOT_TOKEN = "xoxb-bench"
CHANNEL = "C0BENCHAPPROVALS"
NOMINATOR, APPROVER = "U0CLEO", "U0HAL"
NOMINATOR_EMAIL = next(email for _, email, _, roles in PEOPLE if roles == [Role.NOMINATOR])
APPROVER_EMAIL = "hal@oais.example"
FLOOR_EVERY = 0.1  # seconds between two calls of the empty handler while measuring
LISTENERS = ("command", "options", "nominate", "approve", "reject", "reason", "home")


@dataclass(frozen=True, slots=True)
class Demo:
    """What the requests name: the covered model, the organisations, a pending nomination to decide on."""

    model_id: str
    organisations: list[str]
    pending_id: str


@dataclass(frozen=True, slots=True)
class Acked:
    listener: str
    seconds: float
    status: int
    body: str
    fits: bool  # the answer Slack expects of that listener


def _form(fields: dict[str, str]) -> Signed:
    return signed(urlencode(fields).encode())


def _interaction(payload: dict[str, object]) -> Signed:
    return signed(urlencode({"payload": json.dumps(payload)}).encode())


def requests(demo: Demo, fake: FakeSlack, n: int, run: str) -> dict[str, Callable[[], Signed]]:
    """One request of each listener, the ``n``-th of its kind, signed now."""
    team, user = {"id": "T0FAKE"}, lambda who: {"id": who, "team_id": "T0FAKE"}  # noqa: E731
    # A window of its own for each (organisation, n): overlapping ones would all be refused after the first.
    organisation = demo.organisations[n % len(demo.organisations)]
    starts = datetime.now(UTC) + timedelta(days=2 + 21 * (n // len(demo.organisations)))

    def select_(kind: str, value: str) -> dict[str, object]:
        return {"type": kind, "selected_option": {"value": value, "text": {"type": "plain_text", "text": "x"}}}

    values = {NominateField.MODEL.value: select_("static_select", demo.model_id),
              NominateField.ORGANISATION.value: select_("external_select", organisation),
              NominateField.STARTS_AT.value: {"type": "datetimepicker", "selected_date_time": int(starts.timestamp())},
              NominateField.ENDS_AT.value: {"type": "datetimepicker",
                                            "selected_date_time": int((starts + timedelta(days=20)).timestamp())},
              NominateField.ACTIONS.value: {"type": "checkboxes", "selected_options": [{"value": "invoke"}]},
              NominateField.JUSTIFICATION.value: {"type": "plain_text_input", "value": f"Bench {run} #{n}."}}  # fmt: skip
    click = {"type": "block_actions", "team": team, "user": user(APPROVER), "api_app_id": "A0ACCESSDESK",
             "trigger_id": f"{n}.click.{run}", "channel": {"id": CHANNEL},
             "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1.000001"}}  # fmt: skip
    return {
        "command": lambda: _form({"team_id": "T0FAKE", "channel_id": "C0GENERAL", "user_id": NOMINATOR,
                                  "command": "/accessdesk", "text": "nominate", "response_url": fake.response_url(),
                                  "trigger_id": f"{n}.command.{run}"}),  # fmt: skip
        "options": lambda: _interaction({"type": "block_suggestion", "user": user(NOMINATOR), "team": team,
                                         "action_id": NominateField.ORGANISATION.value,
                                         "block_id": NominateField.ORGANISATION.value, "value": "o",
                                         "view": {"id": "V0", "type": "modal",
                                                  "callback_id": CallbackId.NOMINATE.value}}),  # fmt: skip
        "nominate": lambda: _interaction({"type": "view_submission", "team": team, "user": user(NOMINATOR),
                                          "view": {"id": "V0", "type": "modal", "callback_id": CallbackId.NOMINATE.value,
                                                   "private_metadata": json.dumps({"channel": "C0GENERAL"}),
                                                   "state": {"values": {k: {k: v} for k, v in values.items()}}}}),
        "approve": lambda: _interaction({**click, "actions": [
            {"type": "button", "action_id": ActionId.APPROVE.value, "value": demo.pending_id}]}),  # fmt: skip
        "reject": lambda: _interaction({**click, "actions": [
            {"type": "button", "action_id": ActionId.REJECT.value, "value": demo.pending_id}]}),  # fmt: skip
        "reason": lambda: _interaction({"type": "view_submission", "team": team, "user": user(APPROVER),
                                        "view": {"id": "V1", "type": "modal",
                                                 "callback_id": CallbackId.REJECT_REASON.value,
                                                 "private_metadata": json.dumps({"nomination_id": demo.pending_id,
                                                                                 "channel": CHANNEL}),
                                                 "state": {"values": {"reason": {"reason": {
                                                     "type": "plain_text_input", "value": f"Bench {n}."}}}}}}),
        "home": lambda: signed(json.dumps({"token": "t", "team_id": "T0FAKE", "api_app_id": "A0ACCESSDESK",
                                           "type": "event_callback", "event_id": f"Ev{n}{run}", "event_time": 1,
                                           "event": {"type": "app_home_opened", "user": NOMINATOR, "tab": "home",
                                                     "channel": "D0"}}).encode(),
                               content_type="application/json"),  # fmt: skip
    }


def fits(listener: str, status: int, body: str) -> bool:
    """Whether the acknowledgement is what Slack expects of ``listener``."""
    if status != 200:
        return False
    if listener == "options":
        return "options" in json.loads(body or "{}")
    if listener in ("nominate", "reason") and body:
        return json.loads(body).get("response_action") == "errors"
    return body == ""


async def load_demo(url: str) -> Demo:
    """The demo data, the covered model's approval channel, and what the requests name."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            unit = Unit(session, SystemClock())
            await seed(unit)
            model = (await session.exec(select(FrontierModel).where(FrontierModel.slug == "aurora-2"))).one()
            await FrontierModels(unit).update(actor=Actor.system("bench"), model_id=model.id,
                                              changes={"slack_channels": [CHANNEL]})  # fmt: skip
            organisations = (await session.exec(select(Organisation.id).where(Organisation.kind == "partner"))).all()
            pending = (await session.exec(select(Nomination.id).where(
                Nomination.state == NominationState.PENDING.value))).first()  # fmt: skip
            await session.commit()
            return Demo(str(model.id), [str(o) for o in organisations], str(pending))
    finally:
        await engine.dispose()


async def send(base: str, demo: Demo, fake: FakeSlack, *, per_listener: int, rate: float, concurrency: int,
               listeners: tuple[str, ...] = LISTENERS) -> list[Acked]:  # fmt: skip
    """``per_listener`` requests of each listener, round-robin, at ``rate`` a second, at most ``concurrency`` in
    flight; their acknowledgements."""
    in_flight = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    run = secrets.token_hex(3)
    order = [(listener, n) for n in range(per_listener) for listener in listeners]
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def one(listener: str, n: int, due: float) -> Acked:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            async with in_flight:
                request = requests(demo, fake, n, run)[listener]()
                sent_at = time.monotonic()
                response = await client.post(EVENTS, content=request.body, headers=request.headers)
                seconds = time.monotonic() - sent_at
                return Acked(listener, seconds, response.status_code, response.text,
                             fits(listener, response.status_code, response.text))

        start = time.monotonic()
        return await asyncio.gather(*(one(listener, n, start + i / rate)
                                      for i, (listener, n) in enumerate(order)))  # fmt: skip


async def floor(base: str, until: asyncio.Event) -> list[float]:
    """``GET /healthz`` (the empty handler) one at a time until ``until``: what any request waits on the server."""
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not until.is_set():
            started = time.monotonic()
            (await client.get("/healthz")).raise_for_status()
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(FLOOR_EVERY)
    return latencies


async def measure(base: str, demo: Demo, fake: FakeSlack, args: argparse.Namespace) -> tuple[list[Acked], list[float]]:
    # Warm-up: a command and a click confirm who the two users are (users.info, slowed), as in real use the
    # command and the click that open a modal do before it is submitted.
    warm = await send(base, demo, fake, per_listener=1, rate=args.rate, concurrency=1, listeners=("command", "approve"))
    if not all(a.fits for a in warm):
        raise RuntimeError(f"the warm-up was not acknowledged as Slack expects: {warm}")
    await asyncio.sleep(args.slow + 2)
    print(f"  warmed up: users.info answered {len(fake.calls_to('users.info'))} times")
    done = asyncio.Event()
    probing = asyncio.create_task(floor(base, done))
    started = time.monotonic()
    acked = await send(base, demo, fake, per_listener=args.per_listener, rate=args.rate, concurrency=args.concurrency)
    sent_in = time.monotonic() - started
    done.set()
    print(f"  sent {len(acked)} requests in {sent_in:.1f} s ({len(acked) / sent_in:.1f}/s)")
    return acked, await probing


def duplicates(fake: FakeSlack) -> tuple[int, int, int]:
    """(cards, cards posted more than once for one nomination in one channel, other posts made twice)."""
    cards: Counter[tuple[str, str]] = Counter()
    others: Counter[tuple[str, str | None, str | None]] = Counter()
    for call in fake.calls_to("chat.postMessage"):
        channel = str(call.body.get("channel"))
        metadata = call.body.get("metadata") or {}
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        if isinstance(metadata, dict) and metadata.get("event_type") == CARD_EVENT:
            cards[(channel, metadata["event_payload"]["nomination_id"])] += 1
        else:
            others[(channel, call.body.get("thread_ts"), call.body.get("text"))] += 1
    return sum(cards.values()), sum(n - 1 for n in cards.values()), sum(n - 1 for n in others.values())


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_ack", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                        help="database to run against (default: sqlite, a temporary file, as `make run`; postgresql "
                             "at $ACCESSDESK_BENCH_POSTGRES_URL, else postgres@127.0.0.1:5432)")  # fmt: skip
    parser.add_argument("--per-listener", type=int, default=40,
                        help=f"measured requests of each of the {len(LISTENERS)} listeners (default 40)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests sent per second, all listeners (default 20)")
    parser.add_argument("--concurrency", type=int, default=8, help="most requests in flight at once (default 8)")
    parser.add_argument("--slow", type=float, default=10.0, help="seconds every fake Slack answer takes (default 10)")
    args = parser.parse_args(argv)

    print(f"slack_ack on {args.db}: demo data, every Slack Web API answer slowed to {args.slow:g} s; "
          f"{args.per_listener} requests of each of {', '.join(LISTENERS)}, at {args.rate:g}/s, at most "
          f"{args.concurrency} in flight (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip
    with serving() as fake, fresh_database(args.db, "slack") as url:
        fake.latency = args.slow
        fake.people.update({NOMINATOR: NOMINATOR_EMAIL, APPROVER: APPROVER_EMAIL})
        demo = asyncio.run(load_demo(url))
        env = {"ACCESSDESK_SLACK_BOT_TOKEN": BOT_TOKEN, "ACCESSDESK_SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "ACCESSDESK_SLACK_API_URL": fake.url}  # fmt: skip
        with server(url, "slack", env=env) as base:
            acked, empty = asyncio.run(measure(base, demo, fake, args))
            # Every listener's slowed calls (up to three one after another) answered before the posts are counted.
            time.sleep(3 * args.slow + 5)
    report(acked, empty, fake, args)
    return 0


def report(acked: list[Acked], empty: list[float], fake: FakeSlack, args: argparse.Namespace) -> None:
    print()
    for listener in LISTENERS:
        mine = [a for a in acked if a.listener == listener]
        seconds = [a.seconds for a in mine]
        kinds = Counter("errors" if a.body.startswith('{"response_action"') else "options" if a.listener == "options"
                        else "empty" if a.body == "" else a.body[:40] for a in mine)  # fmt: skip
        print(f"  {listener:9s} n={len(mine):3d}  p50 {_ms(median(seconds))}   p99 {_ms(percentile(seconds, 99))}   "
              f"max {_ms(max(seconds))}   answers: {dict(kinds)}")  # fmt: skip
    latencies = [a.seconds for a in acked]
    print(f"  {'all':9s} n={len(acked):3d}  p50 {_ms(median(latencies))}   p99 {_ms(percentile(latencies, 99))}   "
          f"max {_ms(max(latencies))}")  # fmt: skip
    print(f"  {'healthz':9s} n={len(empty):3d}  p50 {_ms(median(empty))}   p99 {_ms(percentile(empty, 99))}   "
          f"max {_ms(max(empty))}   (the empty handler meanwhile)")  # fmt: skip
    late = [a for a in acked if a.seconds > SLACK_ACK_DEADLINE]
    wrong = [a for a in acked if not a.fits]
    print(f"  acknowledged after Slack's {SLACK_ACK_DEADLINE:g} s: {len(late)}; not as Slack expects: {len(wrong)}"
          + (f", e.g. {wrong[0]}" if wrong else ""))  # fmt: skip
    cards, twice, others = duplicates(fake)
    counts = Counter((c.method, c.status) for c in fake.calls)
    print(f"  posts: {cards} approval cards, {twice} posted twice; other posts made twice: {others}")
    print("  fake Slack calls: " + ", ".join(f"{m} {n}" + ("" if s == 200 else f" ({s})")
                                             for (m, s), n in sorted(counts.items())))  # fmt: skip
    print()
    ratio = percentile(latencies, 99) / SLACK_ACK_DEADLINE
    ok = not late and not wrong and not twice and not others
    print(f"ack p99 ÷ Slack's {SLACK_ACK_DEADLINE:g} s: {ratio:.4f}   goal ≤ {GOAL}   "
          f"{verdict(ratio, GOAL, at_least=False) if ok else 'MISS (late, unexpected or duplicate answers above)'}")


if __name__ == "__main__":
    raise SystemExit(main())
