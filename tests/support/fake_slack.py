"""A fake Slack Web API on loopback: real sockets, every call recorded, answers scripted per method.

``POST /api/<method>`` (or ``GET``, with the arguments in the query string) is the Web API (``base_url`` ends with ``/api/``); any other path stands for a
``response_url`` (``fake.response_url("…")``) and is recorded under the method name ``response_url``.
By default every call is answered ``200 {"ok": true, ...}``; ``fake.script(method, Reply(...), ...)`` queues
answers for the next calls, ``fake.always(method, Reply(...))`` sets the answer for all calls after those;
``fake.latency`` slows every answer further (a slow Slack). ``serving()`` runs one outside pytest (benchmarks).

Like Slack, the fake keeps what ``chat.postMessage`` posted (when it answers 200), from the moment the call arrives,
however long its answer then takes: ``conversations.history`` returns it (newest first, from ``oldest``, with its
metadata), and ``fake.messages(channel)`` shows it to a test. ``fake.people`` (Slack user id → e-mail) is who
``users.info`` knows, each with a confirmed address, when no reply is scripted.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

RESPONSE_URL = "response_url"


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: ``Reply(429, retry_after=30)``, ``Reply(500)``, ``Reply(delay=3)`` (slow, then ok)."""

    status: int = 200
    body: dict[str, Any] | None = None
    retry_after: int | None = None
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int  # what the fake answered
    received_at: float = 0.0  # time.monotonic() when the request arrived, before any delay

    @property
    def answered_ok(self) -> bool:
        return self.status == 200


def _default_body(method: str, body: dict[str, Any]) -> dict[str, Any]:
    if method == "auth.test":
        return {"ok": True, "url": "https://fake.slack.test/", "team": "Fake", "user": "accessdesk",
                "team_id": "T0FAKE", "user_id": "U0BOT", "bot_id": "B0BOT"}  # fmt: skip
    if method == "chat.postMessage":
        return {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}"}
    return {"ok": True}


_last_ts = 0.0  # the newest message's


def _message(body: dict[str, Any]) -> dict[str, Any]:
    """A posted message as conversations.history shows it (a form-encoded call sends its objects as JSON text)."""
    def value(name: str) -> Any:
        found = body.get(name)
        return json.loads(found) if isinstance(found, str) and found[:1] in ("{", "[") else found

    global _last_ts
    ts = _last_ts = max(time.time(), _last_ts + 0.000001)  # unique and increasing, as Slack's are within a channel
    return {"type": "message", "user": "U0BOT", "bot_id": "B0BOT", "ts": f"{ts:.6f}", "text": body.get("text"),
            "blocks": value("blocks"), "metadata": value("metadata"), "thread_ts": body.get("thread_ts")}  # fmt: skip


@dataclass
class FakeSlack:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    arrivals: list[str] = field(default_factory=list)  # each call's method as it arrives, before it is answered
    latency: float = 0.0  # seconds added before every answer, on top of a reply's own delay
    _scripts: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    _always: dict[str, Reply] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)
    _posted: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """What was posted in ``channel``, oldest first (thread replies included)."""
        with self._lock:
            return list(self._posted[channel])

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        message = _message(body)
        with self._lock:
            self._posted[str(body.get("channel"))].append(message)
        return {"ok": True, "channel": body.get("channel"), "ts": message["ts"], "message": message}

    def _person(self, body: dict[str, Any]) -> dict[str, Any] | None:
        email = self.people.get(str(body.get("user")))
        if email is None:
            return None
        return {"ok": True, "user": {"id": body.get("user"), "name": email.split("@")[0], "deleted": False,
                                     "is_bot": False, "is_email_confirmed": True, "profile": {"email": email}}}  # fmt: skip

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        oldest = float(body.get("oldest") or 0)
        with self._lock:
            found = [m for m in self._posted[str(body.get("channel"))] if float(m["ts"]) >= oldest]
        return {"ok": True, "messages": found[::-1], "has_more": False}

    def script(self, method: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[method].extend(replies)

    def always(self, method: str, reply: Reply) -> None:
        with self._lock:
            self._always[method] = reply

    def response_url(self, name: str = "T0FAKE/1/hook") -> str:
        return self.url.removesuffix("api/") + f"respond/{name}"

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, *, timeout: float = 5.0) -> list[Call]:
        """The calls to ``method`` once there are ``count`` of them (listeners answer after their ack)."""
        deadline = time.monotonic() + timeout
        while len(found := self.calls_to(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} call(s) to {method} expected, {len(found)} seen: {self.calls}")
            await asyncio.sleep(0.02)
        return found

    def _next_reply(self, method: str) -> Reply:
        with self._lock:
            queued = self._scripts.get(method)
            if queued:
                return queued.popleft()
            return self._always.get(method, Reply())

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _arrived(self, method: str) -> None:
        with self._lock:
            self.arrivals.append(method)

    async def wait_for_arrival(self, method: str, *, timeout: float = 5.0) -> None:
        """Until a call to ``method`` has arrived, answered or not (a slow Slack answers it later)."""
        deadline = time.monotonic() + timeout
        while method not in self.arrivals:
            if time.monotonic() > deadline:
                raise AssertionError(f"no call to {method} arrived: {self.arrivals}")
            await asyncio.sleep(0.02)


def _parse(content_type: str, raw: bytes) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        return json.loads(raw or b"{}")
    return dict(parse_qsl(raw.decode(), keep_blank_values=True))


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - slack_sdk reads some methods (users.info, users.lookupByEmail) by GET
            path, _, query = self.path.partition("?")
            self._answer(path, dict(parse_qsl(query, keep_blank_values=True)))

        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer(self.path.split("?", 1)[0], _parse(self.headers.get("Content-Type", ""), raw))

        def _answer(self, path: str, body: dict[str, Any]) -> None:
            received_at = time.monotonic()
            method = path.removeprefix("/api/") if path.startswith("/api/") else RESPONSE_URL
            fake._arrived(method)
            reply = fake._next_reply(method)
            # Slack posts when the call arrives; a slow answer (or one the client gave up waiting for) comes later.
            posts = method == "chat.postMessage" and reply.status == 200 and reply.body is None
            posted = fake._post(body) if posts else None
            if reply.delay + fake.latency:
                time.sleep(reply.delay + fake.latency)
            fake._record(Call(method, path, dict(self.headers.items()), body, reply.status, received_at))
            if reply.body is not None:
                answer = reply.body
            elif posted is not None:
                answer = posted
            elif method == "conversations.history" and reply.status == 200:
                answer = fake._history(body)
            elif method == "users.info" and reply.status == 200 and (person := fake._person(body)) is not None:
                answer = person
            elif reply.status == 200:
                answer = _default_body(method, body)
            else:
                answer = {"ok": False, "error": "ratelimited" if reply.status == 429 else "internal_error"}
            payload = json.dumps(answer).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if reply.retry_after is not None:
                self.send_header("Retry-After", str(reply.retry_after))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A slowed fake holds many calls open at once; socketserver's backlog of 5 would drop connections under load
    # and make the clients' SYN retries (a second or more) look like Slack's slowness.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a listener cut short when its server stopped) is no error of the fake's.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serving() -> Iterator[FakeSlack]:
    """A fake Slack Web API on a free loopback port, on a thread of its own, for as long as the block runs."""
    fake = FakeSlack()
    server = _Server(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    # Polled every 10 ms for the shutdown request: the default half second was half a second of every Slack test.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="fake-slack", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with serving() as fake:
        yield fake
