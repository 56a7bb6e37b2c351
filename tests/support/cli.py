"""The ``accessdesk`` command as an operator runs it: the fixture ``run`` (``run("db", "upgrade")``) runs it on a fresh
test database (``run.url``), in each database of the ``database`` fixture (a plugin, ``pytest_plugins`` in
``tests/conftest.py``); :func:`accessdesk` runs it with any environment.

Each command runs as an operator's does — a process of its own, its exit code, its stdout and
stderr — without paying for a fresh interpreter each time.

A fresh ``python -m accessdesk.cli`` spends about a second importing SQLAlchemy, SQLModel, Alembic and the
tables before it does anything, and the CLI tests run about a hundred commands. Here a fork server (the standard
library's ``forkserver`` context) imports those once; each command is a process forked from it, with the
environment and working directory it is given and its stdout and stderr in files, which runs ``accessdesk``'s
``main`` exactly as the console script does and exits with its code. Nothing is shared between two commands
but what was imported: no event loop, engine, logging configuration or settings outlive a command.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.databases import Database

# Imported once, in the fork server; a command's process starts with them loaded. Only imports: none of these
# modules reads the environment or opens anything when imported.
PRELOAD = ["accessdesk.cli", "accessdesk.app", "accessdesk.db.migrate", "accessdesk.demo", "alembic.command",
           "asyncpg", "aiosqlite", "joserfc.jws", "httpx"]  # fmt: skip

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


def _command(args: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """The forked process: what ``accessdesk <args>`` does, then exit with its code."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115  (the process's own streams)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.argv = ["accessdesk", *args]
    code = 1
    try:
        from accessdesk.cli import main

        main(args=args, prog_name="accessdesk")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    except BaseException:  # what an uncaught exception does to a real process: a traceback and status 1
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def accessdesk(*args: str, env: Mapping[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``accessdesk <args>`` in a process of its own, with this environment and working directory."""
    with tempfile.TemporaryDirectory(prefix="accessdesk-cli-") as streams:
        out, err = os.path.join(streams, "stdout"), os.path.join(streams, "stderr")
        process = _context.Process(target=_command, args=(list(args), dict(env), str(cwd), out, err))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(["accessdesk", *args], timeout)
        with open(out, encoding="utf-8") as stdout, open(err, encoding="utf-8") as stderr:
            return subprocess.CompletedProcess(["accessdesk", *args], process.exitcode, stdout.read(), stderr.read())


@dataclass(frozen=True)
class Run:
    """The CLI on a test's database (``url``), run in ``cwd``: ``run("db", "upgrade")``."""

    url: str
    cwd: Path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return accessdesk(*args, env={**os.environ, "ACCESSDESK_DATABASE_URL": self.url,
                                      "ACCESSDESK_ENV": "development"}, cwd=self.cwd)  # fmt: skip


@pytest.fixture
def run(database: Database, tmp_path: Path) -> Run:
    asyncio.run(database.reset())
    return Run(database.fresh_url(), tmp_path)


@asynccontextmanager
async def killed_if_left(process: asyncio.subprocess.Process) -> AsyncIterator[asyncio.subprocess.Process]:
    """A long-running command (``serve``, ``worker``, ``slack socket``) that the test stops itself: killed on the
    way out if it is still running, so that a failing test leaves no process behind."""
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stopped_by(process: asyncio.subprocess.Process, signum: signal.Signals, *, timeout: float) -> str:
    """Send ``signum`` and wait for the process to exit; what it wrote to stderr since, as text."""
    process.send_signal(signum)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    return stderr.decode()
