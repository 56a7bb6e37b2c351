"""An installed wheel, not only a checkout, finds its migrations and templates."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_migrations_templates_and_the_bot_and_runs_from_them(tmp_path):
    built = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("accessdesk-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("accessdesk/_migrations/env.py", "accessdesk/_migrations/script.py.mako",
                     "accessdesk/_templates/index.html", "accessdesk/_templates/static/console.css",
                     "accessdesk/cli.py", "accessdesk/slackbot/__init__.py", "accessdesk/slackbot/manifest.yml"):  # fmt: skip
        assert expected in names, expected
    # The bot ships inside the accessdesk namespace: no top-level package of another name.
    assert {n.split("/")[0] for n in names if not n.startswith("accessdesk-")} == {"accessdesk"}, names
    assert any(n.startswith("accessdesk/_migrations/versions/") and n.endswith(".py") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)

    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    workdir = tmp_path / "elsewhere"  # far from the checkout, so nothing can be found by accident
    workdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed), "ACCESSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'w.db'}"}
    where = subprocess.run(
        [sys.executable, "-c", "import accessdesk.resources as r; print(r.migrations_dir()); print(r.templates_dir())"],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(installed)) for line in where.stdout.split()), where.stdout
    upgraded = subprocess.run([sys.executable, "-m", "accessdesk.cli", "db", "upgrade"], env=env, cwd=workdir,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr

    # The other ways of moving the schema work from the wheel too, with no alembic.ini anywhere.
    def db(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "accessdesk", "db", *args], env=env, cwd=workdir,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    head = db("current").split(" ")[0]
    assert db("current") == f"{head} (head)\n" and not list(workdir.rglob("alembic.ini"))
    previous = f"{int(head) - 1:04d}"
    assert db("history").splitlines()[1].startswith(f"{previous}  ")
    assert db("downgrade", previous) == f"database at {previous}\n"
    assert db("current").startswith(f"{previous}: behind this version's head {head}")
    assert db("upgrade") == "database at head\n" and db("current") == f"{head} (head)\n"
