"""Ack latency p99 of ``/accessdesk nominate`` with the Slack Web API slowed to 2 s, ÷ Slack's 3 s (goal ≤ 0.05).

Slack gives an app 3 seconds to acknowledge a slash command, and the acknowledgement must not wait for anything
the listener does afterwards, least of all for Slack's own Web API. A fresh database (SQLite by default) is built
with the real migrations and given the demo data (what ``make run`` loads). A fake Slack Web API
(tests/slack/fake_slack.py) runs in this process on loopback, and every one of its answers takes ``--slow``
seconds; its ``users.info`` names the demo's nominator with her confirmed e-mail, which is how the bot links a
Slack user to an accessdesk account. One ``uvicorn`` process serves accessdesk (embedded worker off) with
``ACCESSDESK_SLACK_BOT_TOKEN``, ``ACCESSDESK_SLACK_SIGNING_SECRET`` and ``ACCESSDESK_SLACK_API_URL`` pointing at the
fake.

This process then posts ``/accessdesk nominate`` to ``POST /slack/events`` as Slack does (form-encoded, signed
with a fresh timestamp, a trigger_id of its own each): ``--rate`` commands a second, at most ``--concurrency`` in
flight, so that acknowledgements are measured while earlier commands' listeners wake from the slow Web API, read
the database and render their modals on the same event loop. A command's ack latency is from sending the request to
the complete HTTP response, which must be 200 with an empty body. A warm-up (which also lets bolt make its one
``auth.test`` before acknowledging its first command, printed apart) runs first and must open its modals before
measuring starts. While measuring, ``GET /healthz`` is called ten times a second: the floor the server sets at that
moment, to tell a slow acknowledgement from a busy server. Afterwards every measured command must have led to its
``views.open`` (one each, matched by trigger_id); missing ones, and those called after the trigger_id's 3 s, are
reported.

    .venv/bin/python -m bench.slack_ack [--db sqlite|postgresql] [--commands 300] [--rate 20] [--concurrency 8]
                                        [--slow 2.0] [--warmup 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from accessdesk.clock import SystemClock
from accessdesk.db.engine import make_engine, make_sessionmaker
from accessdesk.demo import PEOPLE, seed
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Role
from bench._common import fresh_database, median, percentile, server, verdict
from tests.slack.approvals import slack_user
from tests.slack.fake_slack import FakeSlack, serving
from tests.slack.signing import SIGNING_SECRET, Signed, signed

GOAL = 0.05
SLACK_ACK_DEADLINE = 3.0  # seconds Slack waits for an acknowledgement; also the life of a trigger_id
EVENTS = "/slack/events"
BOT_TOKEN = "xoxb-bench"
SLACK_USER = "U0NOMINATOR"
# The demo's nominator: she may nominate, and her e-mail is what users.info confirms.
NOMINATOR_EMAIL = next(email for _, email, _, roles in PEOPLE if roles == [Role.NOMINATOR])
WAIT_FOR_WORK = 40.0  # seconds to wait for the last modals once the commands are sent
FLOOR_EVERY = 0.1  # seconds between two calls of the empty handler while measuring


def quiet(slow: float) -> float:
    """Seconds without a new modal after which the rest are taken for lost: a listener's two calls, twice over."""
    return max(10.0, 4 * slow)


@dataclass(frozen=True, slots=True)
class Acked:
    trigger_id: str
    sent_at: float  # time.monotonic(), comparable with the fake's Call.received_at
    seconds: float
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body == ""


def nominate_command(trigger_id: str, *, response_url: str) -> Signed:
    """``/accessdesk nominate`` as Slack posts it, signed now."""
    fields = {"token": "deprecated-verification-token", "team_id": "T0FAKE", "team_domain": "fake",
              "channel_id": "C0GENERAL", "channel_name": "general", "user_id": SLACK_USER, "user_name": "cleo",
              "command": "/accessdesk", "text": "nominate", "api_app_id": "A0ACCESSDESK",
              "is_enterprise_install": "false", "response_url": response_url, "trigger_id": trigger_id}  # fmt: skip
    return signed(urlencode(fields).encode())


async def load_demo(url: str) -> None:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await seed(Unit(session, SystemClock()))
    finally:
        await engine.dispose()


async def send(base: str, fake: FakeSlack, *, commands: int, rate: float, concurrency: int, label: str) -> list[Acked]:
    """``commands`` commands at ``rate`` a second (0: as fast as they are acknowledged), at most ``concurrency`` in
    flight; their acknowledgements."""
    in_flight = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    run = secrets.token_hex(3)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def one(n: int, due: float) -> Acked:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            async with in_flight:
                trigger_id = f"{n}.{label}.{run}"
                request = nominate_command(trigger_id, response_url=fake.response_url())
                sent_at = time.monotonic()
                response = await client.post(EVENTS, content=request.body, headers=request.headers)
                return Acked(trigger_id, sent_at, time.monotonic() - sent_at, response.status_code, response.text)

        start = time.monotonic()
        return await asyncio.gather(*(one(n, start + n / rate if rate > 0 else start) for n in range(commands)))


def opened(fake: FakeSlack, acked: list[Acked]) -> dict[str, float]:
    """For each command whose modal the bot opened: seconds from the command to the bot's views.open call."""
    sent = {a.trigger_id: a.sent_at for a in acked}
    return {c.body["trigger_id"]: c.received_at - sent[c.body["trigger_id"]]
            for c in fake.calls_to("views.open") if c.answered_ok and c.body.get("trigger_id") in sent}  # fmt: skip


async def wait_for_modals(fake: FakeSlack, acked: list[Acked], *, timeout: float, idle: float) -> dict[str, float]:
    """The modals opened once all are, or after ``timeout`` seconds, or ``idle`` seconds without a new one."""
    deadline = last_news = time.monotonic()
    deadline += timeout
    seen = 0
    while len(found := opened(fake, acked)) < len(acked) and time.monotonic() < min(deadline, last_news + idle):
        if len(found) > seen:
            seen, last_news = len(found), time.monotonic()
        await asyncio.sleep(0.1)
    return found


async def floor(base: str, until: asyncio.Event) -> list[float]:
    """``GET /healthz`` (the empty handler) one at a time until ``until``: what any request waits on the server
    while the listeners work, to tell a slow acknowledgement from a busy server."""
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not until.is_set():
            started = time.monotonic()
            (await client.get("/healthz")).raise_for_status()
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(FLOOR_EVERY)
    return latencies


@dataclass(frozen=True, slots=True)
class Measured:
    acked: list[Acked]
    modals: dict[str, float]  # trigger_id → seconds from the command to its views.open call
    first: Acked  # the first command after start-up
    empty: list[float]  # GET /healthz meanwhile


async def measure(base: str, fake: FakeSlack, args: argparse.Namespace) -> Measured:
    started = time.monotonic()
    # One command alone first: bolt's first request makes its one auth.test, which concurrent ones would repeat.
    [first] = await send(base, fake, commands=1, rate=args.rate, concurrency=1, label="first")
    warm = await send(base, fake, commands=args.warmup, rate=args.rate, concurrency=args.concurrency, label="warm")
    refused = [a for a in [first, *warm] if not a.ok]
    if refused:
        raise RuntimeError(f"the warm-up's commands were not acknowledged: {refused[0]}")
    # Generous: it must also hold if the listeners' Web API calls run one after another.
    patience = (len(warm) + 3) * 2 * args.slow + 10
    if len(await wait_for_modals(fake, [first, *warm], timeout=patience, idle=patience)) < len(warm) + 1:
        raise RuntimeError(f"the warm-up's modals did not all open; fake Slack saw {_calls(fake)}")
    print(f"  warmed up with {len(warm) + 1} commands in {time.monotonic() - started:.1f} s, every modal opened")
    done = asyncio.Event()
    probing = asyncio.create_task(floor(base, done))
    started = time.monotonic()
    acked = await send(base, fake, commands=args.commands, rate=args.rate, concurrency=args.concurrency, label="m")
    sent_in = time.monotonic() - started
    done.set()
    modals = await wait_for_modals(fake, acked, timeout=WAIT_FOR_WORK, idle=quiet(args.slow))
    tail = time.monotonic() - started - sent_in
    print(f"  sent {len(acked)} commands in {sent_in:.1f} s ({len(acked) / sent_in:.1f}/s); "
          f"{len(modals)} modals opened {tail:.1f} s after the last command")  # fmt: skip
    return Measured(acked, modals, first, await probing)


def most_in_flight(fake: FakeSlack, *, since: float) -> int:
    """The most Web API calls the fake was answering at once (each takes ``fake.latency``) after ``since``."""
    edges = sorted(e for c in fake.calls if c.received_at >= since
                   for e in ((c.received_at, 1), (c.received_at + fake.latency, -1)))  # fmt: skip
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _calls(fake: FakeSlack) -> str:
    counts = Counter((c.method, c.status) for c in fake.calls)
    return ", ".join(f"{method} {n}" + ("" if status == 200 else f" ({status})") for (method, status), n in
                     sorted(counts.items()))  # fmt: skip


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_ack", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                        help="database to run against (default: sqlite, a temporary file, as `make run`; postgresql "
                             "at $ACCESSDESK_BENCH_POSTGRES_URL, else postgres@127.0.0.1:5432)")  # fmt: skip
    parser.add_argument("--commands", type=int, default=300, help="measured commands (default 300)")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="commands sent per second (default 20; 0: each as soon as another is acked)")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=8, help="most commands in flight at once (default 8)")
    parser.add_argument("--slow", type=float, default=2.0, help="seconds every fake Slack answer takes (default 2)")
    parser.add_argument("--warmup", type=int, default=6, help="unmeasured commands after the first (default 6)")
    args = parser.parse_args(argv)

    pace = f"at {args.rate:g}/s, at most" if args.rate > 0 else "back to back,"
    print(f"slack_ack on {args.db}: demo data, every Slack Web API answer slowed to {args.slow:g} s; {args.commands} "
          f"`/accessdesk nominate` {pace} {args.concurrency} in flight "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip
    with serving() as fake, fresh_database(args.db, "slack") as url:
        fake.latency = args.slow
        fake.always("users.info", slack_user(SLACK_USER, NOMINATOR_EMAIL))
        asyncio.run(load_demo(url))
        env = {"ACCESSDESK_SLACK_BOT_TOKEN": BOT_TOKEN, "ACCESSDESK_SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "ACCESSDESK_SLACK_API_URL": fake.url}  # fmt: skip
        with server(url, "slack", env=env) as base:
            measured = asyncio.run(measure(base, fake, args))
    report(measured, fake, args)
    return 0


def report(measured: Measured, fake: FakeSlack, args: argparse.Namespace) -> None:
    acked, modals = measured.acked, measured.modals
    latencies = [a.seconds for a in acked]
    print()
    for label, values in (("ack: send → complete HTTP response", latencies),
                          ("GET /healthz meanwhile (empty handler)", measured.empty)):  # fmt: skip
        print(f"  {label:44s}p50 {_ms(median(values))}   p99 {_ms(percentile(values, 99))}   max {_ms(max(values))}")
    print(f"  {'first command after start-up (not counted)':44s}{measured.first.seconds * 1000:.0f} ms (the server "
          f"makes bolt's auth.test before it serves)")  # fmt: skip
    refused = [a for a in acked if not a.ok]
    if refused:
        print(f"  NOT acknowledged as Slack expects (200, empty body): {len(refused)}, e.g. {refused[0]}")
    line = f"  views.open: {len(modals)} of {len(acked)} commands opened their modal"
    if modals:
        line += (f"; called p50 {median(list(modals.values())):.2f} s, max {max(modals.values()):.2f} s after the "
                 f"command (answered {args.slow:g} s later)")  # fmt: skip
    print(line)
    if len(modals) < len(acked):
        print(f"  MISSING: {len(acked) - len(modals)} commands acknowledged whose modal did not open (waited up to "
              f"{WAIT_FOR_WORK:g} s after the last command, until none opened for {quiet(args.slow):g} s)")  # fmt: skip
    late = [s for s in modals.values() if s > SLACK_ACK_DEADLINE]
    if late:
        print(f"  note: {len(late)} views.open calls came more than {SLACK_ACK_DEADLINE:g} s after their command; "
              f"Slack's trigger_id has lapsed by then (real Slack answers expired_trigger_id)")  # fmt: skip
    print(f"  fake Slack calls: {_calls(fake)}")
    if args.slow:
        # Each command's listener makes two Web API calls one after the other (users.info, views.open).
        most = most_in_flight(fake, since=min(a.sent_at for a in acked))
        expected = min(args.rate * 2 * args.slow, len(acked) * 2) if args.rate > 0 else len(acked) * 2
        print(f"  fake Slack answered at most {most} calls at once while measuring (about {expected:.0f} if the "
              f"listeners ran side by side)")  # fmt: skip
    print()
    ratio = percentile(latencies, 99) / SLACK_ACK_DEADLINE
    print(f"ack p99 ÷ Slack's {SLACK_ACK_DEADLINE:g} s: {ratio:.4f}   goal ≤ {GOAL}   "
          f"{verdict(ratio, GOAL, at_least=False)}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
