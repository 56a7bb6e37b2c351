"""What the benchmarks share: a fresh, migrated database per run (dropped at the end), and the verdict line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import secrets
import shutil
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import asyncpg

from accessdesk.db.migrate import upgrade

PG_URL = os.environ.get("ACCESSDESK_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def plain(url: str) -> str:
    """The libpq form of a SQLAlchemy asyncpg URL (what asyncpg.connect wants)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql",
                        help="database to run against (default: postgresql at $ACCESSDESK_BENCH_POSTGRES_URL, "
                             "else postgres@127.0.0.1:5432; sqlite uses a temporary file)")  # fmt: skip


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(plain(PG_URL), timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def fresh_database(kind: str, label: str) -> Iterator[str]:
    """A new database built with the real migrations; yields its SQLAlchemy URL and drops it afterwards.

    Must be entered outside a running event loop (Alembic's env.py runs its own).
    """
    if kind == "sqlite":
        workdir = Path(tempfile.mkdtemp(prefix=f"accessdesk_bench_{label}_"))
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        try:
            upgrade(url)
            yield url
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    name = f"accessdesk_bench_{os.getpid()}_{label}_{secrets.token_hex(2)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = PG_URL.rsplit("/", 1)[0] + "/" + name
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(ratio: float, goal: float, *, at_least: bool) -> str:
    ok = ratio >= goal if at_least else ratio <= goal
    return "PASS" if ok else "MISS"
