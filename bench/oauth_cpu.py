"""Where a token request's time goes: the server process's CPU per request, measured in process (no HTTP server, no
load generator, so the figures hold on a busy machine), for the bare endpoint, token issuance and introspection,
and the parts of a token request measured alone.

The app (``accessdesk.app:create_app``, lifespan running, so the OAuth cache is on) is called directly as an ASGI
application, ``--requests`` times per endpoint per round, alternating, on a fresh database holding what
``bench.oauth_throughput.prepare`` makes; every answer is checked. CPU time is the process's (``time.process_time``);
the figure is the best round. Then, alone: the ES256 signature of a token's claims (cryptography), the whole
signing of a token (``accessdesk.crypto.Signer.sign``), Authlib's token response with everything it needs already
read (``Server.token_response``, the signing included), and reading the form.

    .venv/bin/python -m bench.oauth_cpu [--db postgresql|sqlite] [--requests 3000] [--rounds 3]

What it prints is the explanation behind ``bench.oauth_throughput``'s and ``bench.oauth_vs_peer``'s ratios: the
bare request's cost is paid by every endpoint; what a token adds is listed part by part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from accessdesk.domain.grants import usable_by_facts
from accessdesk.oauth.endpoints import AUTHORIZATION_SERVER
from accessdesk.oauth.presented import read_form
from accessdesk.oauth.server import TokenContext
from accessdesk.settings import Settings
from bench._common import db_argument, fresh_database
from bench.oauth_throughput import ISSUER, basic, prepare

FORM = (b"content-type", b"application/x-www-form-urlencoded")


async def call(app: Any, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8000"), *headers], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip
    given = False
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def cpu_per_call(fn: Callable[[], Awaitable[Any]] | Callable[[], Any], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        result = fn()
        if asyncio.iscoroutine(result):
            await result
    return (time.process_time() - started) / n * 1e6


async def measure(url: str, requests: int, rounds: int) -> dict[str, float]:
    settings = Settings(base_url=ISSUER)
    fixture = await prepare(url, settings)
    os.environ.update({"ACCESSDESK_DATABASE_URL": url, "ACCESSDESK_EMBEDDED_WORKER": "false",
                       "ACCESSDESK_LOG_LEVEL": "WARNING", "ACCESSDESK_BASE_URL": ISSUER})  # fmt: skip
    from accessdesk.app import create_app  # after the environment is set: it reads its settings from there

    app = create_app()
    startup: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def lifespan_send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()
        elif message["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(message.get("message"))

    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, startup.get,
                                       lifespan_send))  # fmt: skip
    await started.wait()
    cache = app.state.oauth_cache
    for _ in range(200):  # the cache turns on once the listener (PostgreSQL) or the watcher (SQLite) is up
        if cache.enabled:
            break
        await asyncio.sleep(0.05)
    if not cache.enabled:
        raise RuntimeError("the OAuth cache did not turn on")
    token_headers = [FORM, (b"authorization", basic(fixture.client_id, fixture.secret).encode())]
    status, body = await call(app, "POST", "/oauth/token", b"grant_type=client_credentials", token_headers)
    if status != 200:
        raise RuntimeError(f"the token endpoint refused the benchmark's credential: {body!r}")
    token = json.loads(body)["access_token"]
    introspect_headers = [FORM, (b"authorization", basic(fixture.gateway_id, fixture.gateway_secret).encode())]
    introspect_body = f"token={token}".encode()
    status, body = await call(app, "POST", "/oauth/introspect", introspect_body, introspect_headers)
    if json.loads(body).get("active") is not True:
        raise RuntimeError(f"introspection does not see the benchmark's token as active: {body!r}")
    cases = {
        "bare": ("GET", "/healthz", b"", []),
        "token": ("POST", "/oauth/token", b"grant_type=client_credentials", token_headers),
        "introspect": ("POST", "/oauth/introspect", introspect_body, introspect_headers),
    }
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, (method, path, request_body, headers) in cases.items():
            async def one(m: str = method, p: str = path, b: bytes = request_body,
                          h: list[tuple[bytes, bytes]] = headers) -> None:  # fmt: skip
                status, answer = await call(app, m, p, b, h)
                if status != 200:
                    raise RuntimeError(f"{p} answered {status}: {answer!r}")

            figure = await cpu_per_call(one, requests)
            best[name] = min(best.get(name, figure), figure)
    # The parts of a token request, alone.
    unit = _unit(app)
    signer = await app.state.oauth_keys.signer(unit)
    record = await cache.client(unit, fixture.client_id)
    assert record is not None and record.client.grant_id is not None
    usability = usable_by_facts(await cache.grant(unit, record.client.grant_id), unit.now())
    from litestar.datastructures import Headers

    headers = Headers({"authorization": basic(fixture.client_id, fixture.secret),
                       "content-type": "application/x-www-form-urlencoded"})  # fmt: skip

    def authlib_answer() -> None:
        context = TokenContext(record=record, usability=usability, dpop=None, dpop_problem=None, signer=signer,
                               now=unit.now(), ttl_seconds=settings.token_ttl_seconds, pepper=settings.pepper,
                               issuer=settings.issuer, token_endpoint=f"{settings.issuer}/oauth/token")  # fmt: skip
        status, _body, _headers = AUTHORIZATION_SERVER.token_response(context, headers, {"grant_type": "client_credentials"})
        assert status == 200

    best["part: Authlib's token response, signing included"] = await cpu_per_call(authlib_answer, requests)
    claims = {"iss": ISSUER, "sub": fixture.client_id, "client_id": fixture.client_id, "aud": "https://api.acme.test",
              "scope": "model:atlas:invoke", "jti": "x" * 22, "iat": 1, "exp": 2, "grant_id": "0" * 36}  # fmt: skip
    private_key = signer.key.private_key
    best["part: ES256 signature (cryptography)"] = await cpu_per_call(
        lambda: private_key.sign(b"x" * 400, ec.ECDSA(hashes.SHA256())), requests)  # fmt: skip
    best["part: a token signed (Signer.sign)"] = await cpu_per_call(lambda: signer.sign(claims, typ="at+jwt"), requests)
    best["part: the form read"] = await cpu_per_call(
        lambda: read_form(b"grant_type=client_credentials", "application/x-www-form-urlencoded"), requests)  # fmt: skip
    await unit.session.close()
    await startup.put({"type": "lifespan.shutdown"})
    await lifespan
    return best


def _unit(app: Any) -> Any:
    from accessdesk.clock import SystemClock
    from accessdesk.domain.unit import Unit

    return Unit(app.state.sessionmaker(), SystemClock())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.oauth_cpu", description=__doc__.splitlines()[0])
    db_argument(parser)
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint per round (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the endpoints (default 3)")
    args = parser.parse_args(argv)
    with fresh_database(args.db, "cpu") as url:
        best = asyncio.run(measure(url, args.requests, args.rounds))
    print(f"oauth_cpu on {args.db}: CPU time per request in process (best of {args.rounds} rounds of "
          f"{args.requests})")  # fmt: skip
    print()
    for name, figure in best.items():
        print(f"  {name:40s} {figure:7.1f} µs")
    bare, token, introspect = best["bare"], best["token"], best["introspect"]
    print()
    print(f"  a token adds {token - bare:.0f} µs to a bare request ({token / bare:.1f}×); introspection adds "
          f"{introspect - bare:.0f} µs ({introspect / bare:.1f}×)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
