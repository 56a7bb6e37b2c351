"""signing_keys: one current and one next key per algorithm

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 07:30:00

Two servers starting at once on a fresh database each created a current and a next key: ``KeyRing.ensure`` locked
rows that did not exist yet (issue 13, finding 4). Two partial unique indexes now keep one of each, whatever the
order of events; a database that already holds a surplus is repaired first, as ``keys rotate`` now repairs it:
- of several current keys the one that signs (the latest ``signs_from``, as ``KeyRing.signer`` picks it) stays;
  the others retire, published for the longest token lifetime accessdesk allows (24 h) and five minutes, since the
  migration cannot know the lifetime configured;
- of several next keys the one published longest (the earliest ``created_at``) stays; the others never signed
  anything and retire unpublished.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LONGEST_TOKEN_LIFETIME = timedelta(seconds=86400) + timedelta(minutes=5)
CURRENT = "signs_from IS NOT NULL AND retired_at IS NULL"
NEXT = "signs_from IS NULL AND retired_at IS NULL"


def _at(value: datetime) -> datetime:
    # SQLite keeps naive UTC (accessdesk.db.types.UTCDateTime); PostgreSQL timestamptz takes the aware value.
    return value if op.get_bind().dialect.name == "postgresql" else value.replace(tzinfo=None)


def _repair() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    keys = sa.table("signing_keys", sa.column("kid"), sa.column("alg"), sa.column("created_at"),
                    sa.column("signs_from"), sa.column("retired_at"), sa.column("published_until"))  # fmt: skip
    for where, keep_order, published_until in (
        (CURRENT, keys.c.signs_from.desc(), now + LONGEST_TOKEN_LIFETIME),
        (NEXT, keys.c.created_at.asc(), now),
    ):
        rows = bind.execute(sa.select(keys.c.kid, keys.c.alg).where(sa.text(where))
                            .order_by(keys.c.alg, keep_order, keys.c.kid)).all()  # fmt: skip
        kept: set[str] = set()
        for kid, alg in rows:
            if alg not in kept:
                kept.add(alg)
                continue
            bind.execute(keys.update().where(keys.c.kid == kid)
                         .values(retired_at=_at(now), published_until=_at(published_until)))  # fmt: skip


def upgrade() -> None:
    _repair()
    for name, where in (("ix_signing_keys_one_current", CURRENT), ("ix_signing_keys_one_next", NEXT)):
        op.create_index(name, "signing_keys", ["alg"], unique=True,
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_signing_keys_one_next", table_name="signing_keys")
    op.drop_index("ix_signing_keys_one_current", table_name="signing_keys")
