"""Run Alembic from code, against any URL, from a wheel or a checkout."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from accessdesk.resources import migrations_dir


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def history() -> list[tuple[str, str]]:
    """Every packaged migration, newest first: its revision and the first line of its description."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(""))
    return [(script.revision, (script.doc or "").strip().splitlines()[0] if script.doc else "")
            for script in scripts.walk_revisions()]  # fmt: skip
