"""Whether a database holds the schema this version of accessdesk was written for: the revision Alembic recorded
against the head of the migrations shipped in the package.

``/readyz`` asks it, and ``serve`` and ``worker`` refuse to start on a schema that is missing or behind (on an
unmigrated database every page would answer 500). A schema *ahead* of this version (a newer version migrated
it first, as a rolling upgrade does) is not refused: migrations are written so that the version before keeps
working, and refusing would take every old instance out at the moment of the upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

UPGRADE = "run `accessdesk db upgrade`"


@cache
def _migrations() -> tuple[str, frozenset[str]]:
    """The head revision of the packaged migrations, and every revision they know (read once per process)."""
    from alembic.script import ScriptDirectory

    from accessdesk.db.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(""))
    head = scripts.get_current_head()
    assert head is not None, "the packaged migrations have no single head"
    return head, frozenset(script.revision for script in scripts.walk_revisions())


def head_revision() -> str:
    return _migrations()[0]


@dataclass(frozen=True)
class Schema:
    """What the database holds: ``revision`` None when it has no accessdesk schema at all."""

    revision: str | None

    @property
    def problem(self) -> str | None:
        """Why this version cannot run on it, in one line; None when it can."""
        head, known = _migrations()
        if self.revision is None:
            return f"the database has no accessdesk schema: {UPGRADE}"
        if self.revision == head:
            return None
        if self.revision in known:
            return (f"the database schema is at revision {self.revision} and this version of accessdesk needs "
                    f"{head}: {UPGRADE}")  # fmt: skip
        return None  # ahead: see the module's docstring

    @property
    def ahead(self) -> bool:
        return self.revision is not None and self.revision not in _migrations()[1]


async def read_schema(connection: AsyncConnection) -> Schema:
    if not await connection.run_sync(lambda sync: sa.inspect(sync).has_table("alembic_version")):
        return Schema(revision=None)
    revision = (await connection.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
    return Schema(revision=revision)
