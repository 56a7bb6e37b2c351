"""What the App Home shows a person: their approval queue, their own nominations, and access ending soon.

Each opening is one read of its own, as the person behind the Slack user; what they may see is the domain's
visibility, never re-checked here. The Home tab is private to the person, so models and organisations are named
(by name: a model's codename is never shown in Slack).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import AccessGrant, Nomination
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Forbidden
from accessdesk.domain.queries import NominationFilter, Queries
from accessdesk.domain.unit import Unit

HOME_LIST = 20
ENDING_WITHIN = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Home:
    """One person's Home tab, as of ``now``.

    ``queue`` is None for someone with no approval queue at all. ``mine`` are the person's own newest
    nominations, at most :data:`HOME_LIST` (``more_mine``: they have made more). ``more_ending``: access ending
    soon was cut at :data:`HOME_LIST`. ``names`` names every model and organisation mentioned."""

    now: datetime
    queue: list[Nomination] | None
    more_queue: bool
    mine: list[Nomination]
    more_mine: bool
    ending: list[AccessGrant]
    more_ending: bool
    names: dict[uuid.UUID, str]


@dataclass(frozen=True, slots=True)
class SlackHome:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock

    async def of(self, *, actor: Actor) -> Home:
        """The Home of ``actor``, the person behind the Slack user."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            queries, now = Queries(unit), unit.now()
            try:
                queue = await queries.nominations(actor, NominationFilter(for_me=True), limit=HOME_LIST)
            except Forbidden:
                queue = None
            mine = await queries.nominations(actor, NominationFilter(nominated_by=actor.user_id), limit=HOME_LIST)
            ending = await queries.ending_soon(actor, before=now + ENDING_WITHIN, limit=HOME_LIST)
            waiting = queue.items if queue is not None else []
            names = await queries.display_names([*waiting, *mine.items, *ending])
        return Home(now=now, queue=waiting if queue is not None else None,
                    more_queue=queue is not None and queue.next_cursor is not None, mine=mine.items,
                    more_mine=mine.next_cursor is not None, ending=ending,
                    more_ending=len(ending) == HOME_LIST, names=names)  # fmt: skip
