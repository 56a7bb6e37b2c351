"""A PostgreSQL server of a test's own, to stop and start at will: never the shared one.

``initdb`` into a fresh directory, ``pg_ctl start`` on a free loopback port with its socket in that directory,
``stop``/``start`` for the fault, everything removed at the end. The binaries are found on PATH, in
``ACCESSDESK_TEST_PG_BIN``, or in ``/usr/lib/postgresql/<version>/bin`` (Debian's layout; the newest version).
PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` system user (``runuser``), in a
directory handed to it. Missing binaries skip the test outside CI and fail it in CI (``tests.databases.missing``).

Use the fixture with ``from tests.support.private_postgres import private_postgres  # noqa: F401``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.databases import missing

SERVER_USER = "postgres"


def binaries() -> Path | None:
    """The directory of initdb and pg_ctl, if there is one."""
    given = os.environ.get("ACCESSDESK_TEST_PG_BIN")
    candidates = [Path(given)] if given else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name),
                         reverse=True)  # fmt: skip
    return next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivatePostgres:
    """One server: ``url`` (SQLAlchemy, asyncpg) to its ``postgres`` database; ``stop()`` and ``start()``."""

    bin: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}\n{log}")

    def initdb(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SERVER_USER, "--auth=trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        """Start and wait until the server accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Fast shutdown: sessions are terminated, what was committed stays (PostgreSQL's ``-m fast``)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _server_user() -> str | None:
    """None to run the server as ourselves; as root, the ``postgres`` system user (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        missing(f"running as root and there is no {SERVER_USER!r} system user to run a private PostgreSQL as")
    if shutil.which("runuser") is None:
        missing("running as root and runuser is missing: cannot run a private PostgreSQL as another user")
    return SERVER_USER


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL of this test's own, on a free loopback port; removed at the end."""
    found = binaries()
    if found is None:
        missing("PostgreSQL binaries (initdb, pg_ctl) not found: set ACCESSDESK_TEST_PG_BIN or install PostgreSQL")
    as_user = _server_user()
    # Not pytest's tmp_path: it lies under a root-only directory the server's user could not enter.
    root = Path(tempfile.mkdtemp(prefix="accessdesk-pg-"))
    if as_user is not None:
        entry = pwd.getpwnam(as_user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PrivatePostgres(bin=found, root=root, port=free_port(), as_user=as_user)
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.close()
