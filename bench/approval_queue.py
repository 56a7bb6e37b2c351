"""The approval queue, in the JSON API and in the console, with 100k grants ÷ with 1k grants, 100 pending in both
(goal ≤ 1.5).

Two fresh databases are built with the real migrations and filled in bulk (bench/_dataset.py): one with 1k
grants, one with 100k, each with the same 100 pending nominations awaiting the government side. Each database
gets its own ``uvicorn accessdesk.app:create_app --factory`` on a loopback port (a subprocess, embedded worker
off), and this process calls both over HTTP with keep-alive as the same government approver (a personal API
token), one request at a time, alternating between the two servers in small batches so that drift hits both alike:

- ``GET /api/v1/nominations?for_me=true``                      — the approver's own queue;
- ``GET /api/v1/nominations?state=pending&awaiting=government`` — the government side's queue;
- ``GET /console/nominations?for_me=1``                        — the queue as a console page (signed-in session);
- ``GET /console``                                             — the console home: my queue, access ending within
                                                                 14 days, blocked grants (the grants are queried);
- ``GET /healthz``                                             — the empty handler: the floor the server sets.

Reported per endpoint and size: median and p95 latency; the ratio of medians 100k ÷ 1k is the result.

    .venv/bin/python -m bench.approval_queue [--db postgresql|sqlite] [--requests 300] [--small 1000] [--large 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field

import httpx

from bench._common import db_argument, fresh_database, median, percentile, server, verdict
from bench._dataset import Population, populate

GOAL = 1.5
NOMINATION_LINK = re.compile(r'href="/console/nominations/[0-9a-f-]{36}"')
BATCH = 25  # requests per endpoint per server before switching to the other server
WARMUP = 40
ENDPOINTS = {
    "for_me": "/api/v1/nominations?for_me=true",
    "awaiting": "/api/v1/nominations?state=pending&awaiting=government",
    "page": "/console/nominations?for_me=1",
    "home": "/console",
    "empty": "/healthz",
}
LABELS = {
    "for_me": "GET /nominations?for_me=true",
    "awaiting": "GET /nominations?state=pending&awaiting=government",
    "page": "GET /console/nominations?for_me=1 (page)",
    "home": "GET /console (home page)",
    "empty": "GET /healthz (empty handler)",
}
QUEUES = ("for_me", "awaiting", "page", "home")


@dataclass
class Size:
    label: str
    grants: int
    population: Population
    client: httpx.Client | None = None
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ENDPOINTS})

    def expected_items(self, endpoint: str) -> int | None:
        if endpoint == "for_me":
            return min(50, self.population.pending_for_me)
        if endpoint == "awaiting":
            return min(50, self.population.pending_awaiting_government)
        return None


def _call(size: Size, endpoint: str) -> float:
    assert size.client is not None
    started = time.perf_counter()
    response = size.client.get(ENDPOINTS[endpoint])
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{size.label}: {ENDPOINTS[endpoint]} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def _check(size: Size) -> None:
    """The queues hold what was loaded: a benchmark of a wrong answer is worth nothing."""
    assert size.client is not None
    for endpoint in ("page", "home"):
        response = size.client.get(ENDPOINTS[endpoint], follow_redirects=False)
        rows = len(NOMINATION_LINK.findall(response.text))
        if response.status_code != 200 or rows != min(50, size.population.pending_for_me):
            raise RuntimeError(f"{size.label}: {ENDPOINTS[endpoint]} answered {response.status_code} with {rows} "
                               f"nominations, expected {min(50, size.population.pending_for_me)}")  # fmt: skip
    for endpoint in ("for_me", "awaiting"):
        body = size.client.get(ENDPOINTS[endpoint]).json()
        got, want = len(body["items"]), size.expected_items(endpoint)
        if got != want or any(item["state"] != "pending" for item in body["items"]):
            raise RuntimeError(f"{size.label}: {ENDPOINTS[endpoint]} returned {got} items, expected {want} pending")


def measure(sizes: list[Size], requests: int) -> None:
    for size in sizes:
        _check(size)
        for endpoint in ENDPOINTS:
            for _ in range(WARMUP):
                _call(size, endpoint)
    rounds = -(-requests // BATCH)
    for r in range(rounds):
        n = min(BATCH, requests - r * BATCH)
        for endpoint in ENDPOINTS:
            for size in sizes if r % 2 == 0 else list(reversed(sizes)):
                size.latencies[endpoint].extend(_call(size, endpoint) for _ in range(n))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:6.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.approval_queue", description=__doc__.splitlines()[0])
    db_argument(parser)
    parser.add_argument("--small", type=int, default=1_000, help="grants in the small database (default 1000)")
    parser.add_argument("--large", type=int, default=100_000, help="grants in the large database (default 100000)")
    parser.add_argument("--pending", type=int, default=100, help="pending nominations in both (default 100)")
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint per size (default 300)")
    args = parser.parse_args(argv)

    print(f"approval_queue on {args.db}: {args.small:,} vs {args.large:,} grants, {args.pending} pending "
          f"nominations in both; {args.requests} requests per endpoint per size")  # fmt: skip
    sizes: list[Size] = []
    with contextlib.ExitStack() as stack:
        for label, grants in (("small", args.small), ("large", args.large)):
            url = stack.enter_context(fresh_database(args.db, label))
            started = time.perf_counter()
            population = asyncio.run(populate(url, grants, args.pending))
            counts = ", ".join(f"{k} {v:,}" for k, v in population.counts.items())
            print(f"  loaded {grants:,} grants in {time.perf_counter() - started:.1f} s ({counts})")
            size = Size(label=f"{grants:,} grants", grants=grants, population=population)
            base = stack.enter_context(server(url, label))
            size.client = stack.enter_context(httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {population.approver_token}"}, timeout=30,
                cookies={"accessdesk_session": population.approver_session},
            ))  # fmt: skip
            sizes.append(size)
        started = time.perf_counter()
        measure(sizes, args.requests)
        print(f"  measured in {time.perf_counter() - started:.1f} s")

    small, large = sizes
    print()
    print(f"{'':52s}{small.label:>22s}{large.label:>24s}")
    print(f"{'':52s}{'median':>11s}{'p95':>11s}{'median':>13s}{'p95':>11s}   large ÷ small")
    ratios = {}
    for endpoint in ENDPOINTS:
        a, b = small.latencies[endpoint], large.latencies[endpoint]
        ratios[endpoint] = median(b) / median(a)
        print(f"  {LABELS[endpoint]:50s}{_ms(median(a)):>11s}{_ms(percentile(a, 95)):>11s}"
              f"{_ms(median(b)):>13s}{_ms(percentile(b, 95)):>11s}   {ratios[endpoint]:.3f}")  # fmt: skip
    for size in sizes:
        floor = median(size.latencies["empty"])
        over = "   ".join(f"{e} {median(size.latencies[e]) / floor:.1f}×" for e in QUEUES)
        print(f"  vs the empty handler, {size.label}: {over}")
    print()
    for endpoint in QUEUES:
        print(f"ratio of medians {large.label} ÷ {small.label}, {LABELS[endpoint][4:]}: {ratios[endpoint]:.3f}   "
              f"goal ≤ {GOAL}   {verdict(ratios[endpoint], GOAL, at_least=False)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
