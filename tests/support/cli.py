"""The ``accessdesk`` command as an operator runs it: the fixture ``run`` (``run("db", "upgrade")``) runs it in a
subprocess on a fresh test database (``run.url``), in each database of the ``database`` fixture. A plugin
(``pytest_plugins`` in ``tests/conftest.py``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest


@pytest.fixture
def run(database, tmp_path):  # type: ignore[no-untyped-def]
    asyncio.run(database.reset())
    url = database.fresh_url()

    def accessdesk(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ACCESSDESK_DATABASE_URL": url, "ACCESSDESK_ENV": "development"}
        return subprocess.run([sys.executable, "-m", "accessdesk.cli", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    accessdesk.url = url  # type: ignore[attr-defined]
    return accessdesk
