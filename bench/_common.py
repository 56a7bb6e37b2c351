"""What the benchmarks share: a fresh, migrated database per run (dropped at the end), and the verdict line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(url: str, label: str, *, env: dict[str, str] | None = None, workers: int = 1) -> Iterator[str]:
    """``uvicorn`` serving accessdesk on ``url``'s database (one process unless ``workers`` says more, embedded
    worker off); yields its base URL and stops it afterwards."""
    port = _free_port()
    env = {**os.environ, "ACCESSDESK_DATABASE_URL": url, "ACCESSDESK_EMBEDDED_WORKER": "false",
           "ACCESSDESK_LOG_LEVEL": "WARNING", **(env or {})}  # fmt: skip
    log = tempfile.NamedTemporaryFile(prefix=f"accessdesk_bench_{label}_", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "accessdesk.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log",
         *(["--workers", str(workers)] if workers > 1 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the {label} server exited ({process.returncode}); see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {label} server did not become ready in 60 s; see {log.name}")
            time.sleep(0.2)
        yield base
    finally:
        stop(process)
        log.close()
        os.unlink(log.name)


def stop(process: subprocess.Popen[Any]) -> None:
    """End a server the benchmark started: asked first, killed after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
