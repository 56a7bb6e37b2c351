"""A safe first start (issue 13, finding 4): exactly one current and one next signing key however many processes
start at once on a fresh database, and a surplus an older version left repaired by the migration and by a
rotation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from accessdesk.db.engine import make_sessionmaker
from accessdesk.db.tables import AuditEvent, SigningKey
from accessdesk.domain.signing_keys import KeyRing
from accessdesk.domain.unit import Unit
from tests.databases import at_revision
from tests.support.oauth import SETTINGS
from tests.world import OPERATOR

TTL = timedelta(seconds=SETTINGS.token_ttl_seconds)


def ring_of(unit: Unit) -> KeyRing:
    return KeyRing(unit, sealing_key=SETTINGS.sealing_key, token_ttl=TTL)


async def keys(sessionmaker) -> list[SigningKey]:
    async with sessionmaker() as session:
        return list((await session.exec(select(SigningKey).order_by(col(SigningKey.created_at)))).all())


def current(rows: list[SigningKey]) -> list[str]:
    return [k.kid for k in rows if k.signs_from is not None and k.retired_at is None]


def upcoming(rows: list[SigningKey]) -> list[str]:
    return [k.kid for k in rows if k.signs_from is None and k.retired_at is None]


async def test_processes_starting_at_once_on_a_fresh_database_make_one_current_and_one_next_key(engine, clock):
    """Each starter has a session (a connection) of its own, as servers do; on PostgreSQL they run truly at once
    (on the old code each found no row to lock and made its own pair: 4 current keys), on SQLite the write lock
    queues them."""
    sessionmaker = make_sessionmaker(engine)

    async def start() -> None:
        async with sessionmaker() as session:
            await ring_of(Unit(session, clock)).ensure(actor=OPERATOR)

    await asyncio.gather(*(start() for _ in range(4)))

    rows = await keys(sessionmaker)
    assert len(current(rows)) == 1 and len(upcoming(rows)) == 1 and len(rows) == 2, [(k.kid, k.signs_from) for k in rows]
    async with sessionmaker() as session:
        created = (await session.exec(select(AuditEvent).where(AuditEvent.action == "signing_key.created"))).all()
    assert [e.subject_id for e in created] == current(rows)  # one event, naming the key that signs


async def test_the_database_refuses_a_second_current_or_next_key(engine, clock):
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        ring = ring_of(Unit(session, clock))
        await ring.ensure(actor=OPERATOR)
        for signs_from in (clock.now(), None):
            ring._new_key(signs_from=signs_from)
            with pytest.raises(IntegrityError):
                await session.flush()
            await session.rollback()
    assert len(await keys(sessionmaker)) == 2


async def test_rotations_keep_one_current_and_one_next_key(engine, clock):
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        ring = ring_of(Unit(session, clock))
        await ring.ensure(actor=OPERATOR)
        for _ in range(3):
            clock.advance(timedelta(hours=1))
            now_signing, following = await ring.rotate(actor=OPERATOR)
    rows = await keys(sessionmaker)
    assert current(rows) == [now_signing] and upcoming(rows) == [following]
    assert len(rows) == 5  # three retired, each published until its last token has expired


async def _surplus(sessionmaker, clock) -> tuple[list[str], list[str]]:
    """What two old-version servers starting at once left: two current keys and two next keys."""
    async with sessionmaker() as session:
        ring = ring_of(Unit(session, clock))
        made = [ring._new_key(signs_from=clock.now()), ring._new_key(signs_from=None)]
        await session.flush()
        clock.advance(timedelta(seconds=1))
        made += [ring._new_key(signs_from=clock.now()), ring._new_key(signs_from=None)]
        await session.commit()
        return [made[2].kid, made[0].kid], [made[1].kid, made[3].kid]  # (currents newest first, nexts oldest first)


async def test_a_rotation_repairs_a_surplus_of_current_and_next_keys(engine, clock):
    """A database the indexes did not guard yet (the upgrade repairs it too; here the rotation comes first)."""
    sessionmaker = make_sessionmaker(engine)
    async with at_revision(engine, "0015"):
        (newest, older), (first_next, second_next) = await _surplus(sessionmaker, clock)
        clock.advance(timedelta(minutes=1))
        async with sessionmaker() as session:
            now_signing, following = await ring_of(Unit(session, clock)).rotate(actor=OPERATOR)

    rows = {k.kid: k for k in await keys(sessionmaker)}
    assert now_signing == first_next  # the next key published longest starts signing
    assert current(list(rows.values())) == [first_next] and upcoming(list(rows.values())) == [following]
    for kid in (newest, older):  # both retired as a current key retires: published while their tokens live
        assert rows[kid].retired_at == clock.now() and rows[kid].published_until == clock.now() + TTL + timedelta(minutes=5)
    assert rows[second_next].retired_at == rows[second_next].published_until == clock.now()  # never signed
    async with sessionmaker() as session:
        published = {jwk["kid"] for jwk in await ring_of(Unit(session, clock)).published()}
        rotated = (await session.exec(select(AuditEvent).where(AuditEvent.action == "signing_key.rotated"))).one()
    assert published == {newest, older, first_next, following}
    assert rotated.after is not None and rotated.after["repaired"] == {"retired_current": [older],
                                                                       "withdrawn_next": [second_next]}


async def test_the_migration_repairs_a_surplus_before_guarding_against_it(engine, clock):
    sessionmaker = make_sessionmaker(engine)
    async with at_revision(engine, "0015"):
        (newest, older), (first_next, second_next) = await _surplus(sessionmaker, clock)

    rows = {k.kid: k for k in await keys(sessionmaker)}
    assert current(list(rows.values())) == [newest]  # the one that signs, as KeyRing.signer picks it
    assert upcoming(list(rows.values())) == [first_next]
    retired_at, published_until = rows[older].retired_at, rows[older].published_until
    assert retired_at is not None and published_until is not None
    assert published_until - retired_at == timedelta(days=1, minutes=5)  # the longest token lifetime allowed
    assert rows[second_next].retired_at == rows[second_next].published_until


async def test_rotations_run_at_once_each_rotate_once_and_leave_one_current_and_one_next_key(engine, clock):
    """Two operators (or a cron and an operator) rotating at the same moment: the second waits for the first and
    rotates what it left (on PostgreSQL it used to rotate the keys it had read before waiting, and failed on the
    one-next-key index with an IntegrityError traceback)."""
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        await ring_of(Unit(session, clock)).ensure(actor=OPERATOR)

    async def rotate() -> tuple[str, str]:
        async with sessionmaker() as session:
            return await ring_of(Unit(session, clock)).rotate(actor=OPERATOR)

    results = await asyncio.gather(*(rotate() for _ in range(3)))

    rows = await keys(sessionmaker)
    assert len(current(rows)) == 1 and len(upcoming(rows)) == 1 and len(rows) == 5, [(k.kid, k.signs_from) for k in rows]
    assert {following for _, following in results} & set(upcoming(rows))  # the last rotation's next key is the next
    async with sessionmaker() as session:
        rotated = (await session.exec(select(AuditEvent).where(AuditEvent.action == "signing_key.rotated"))).all()
    assert len(rotated) == 3
