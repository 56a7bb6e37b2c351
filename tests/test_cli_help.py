"""``accessdesk --help`` and each command's: every command and option says what it does, and asking for help
imports none of the application (bench/cli_help.py measures how long it takes)."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from accessdesk.cli import main

HEAVY = ("litestar", "sqlalchemy", "sqlmodel", "alembic", "uvicorn", "asyncpg", "aiosqlite", "authlib", "slack_bolt",
         "accessdesk.app", "accessdesk.db.tables", "accessdesk.domain.unit")  # fmt: skip


def commands(group: click.Group = main, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append(((*path, name), command))
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
    return found


def test_every_command_option_and_argument_is_described():
    assert main.help
    for path, command in commands():
        assert command.help, f"accessdesk {' '.join(path)} has no help"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"accessdesk {' '.join(path)} {param.opts[0]} has no help"
            elif isinstance(param, click.Argument):  # click's arguments have no help of their own: the text names them
                assert param.human_readable_name in command.help, f"accessdesk {' '.join(path)}: {param.name}"


@pytest.mark.parametrize("path", [path for path, _ in commands()], ids=" ".join)
def test_each_command_answers_help_without_importing_the_app(path):
    """The real command, as an operator types it, in a fresh interpreter."""
    probe = ("import sys, runpy\n"
             f"sys.argv = ['accessdesk', *{list(path)!r}, '--help']\n"
             "try:\n    runpy.run_module('accessdesk', run_name='__main__')\n"
             "except SystemExit as stop:\n    code = stop.code\n"
             f"print('imported:', sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
             "sys.exit(code)\n")  # fmt: skip
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"Usage: accessdesk {' '.join(path)} ")
    assert shown.stderr == "imported: []\n"


def test_accessdesk_help_imports_none_of_the_app():
    probe = ("import sys\nfrom accessdesk.cli import main\n"
             "try:\n    main(['--help'], prog_name='accessdesk')\nexcept SystemExit:\n    pass\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")  # fmt: skip
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert shown.stdout.startswith("Usage: accessdesk [OPTIONS] COMMAND [ARGS]...")
    for name in ("config", "db", "org", "serve", "tokens", "user", "worker"):
        assert f"\n  {name} " in shown.stdout, name
    assert shown.stderr == "[]\n"
