"""What the App Home shows a person: their approval queue (a cohort as one item), their own nominations, and
access ending soon.

Each opening is one read of its own, as the person behind the Slack user; what they may see is the domain's
visibility, never re-checked here. The Home tab is private to the person, so models and organisations are named
(by name: a model's codename is never shown in Slack).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import AccessGrant, FrontierModel, Nomination
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Forbidden
from accessdesk.domain.grants import side_of
from accessdesk.domain.queries import HOME_LIST, NominationFilter, Queries
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Side
from accessdesk.slackbot.cohort_blocks import WaitingCohort
from accessdesk.slackbot.cohort_decisions import waiting_cohorts

# Cohorts shown on the Home (two blocks each): with the queue's nominations, no more items than HOME_LIST, so that
# the Home stays within Slack's 100 blocks.
HOME_COHORTS = 5


@dataclass(frozen=True, slots=True)
class Home:
    """One person's Home tab, as of ``now``.

    ``queue`` is None for someone with no approval queue at all. ``mine`` are the person's own newest
    nominations, at most :data:`HOME_LIST` (``more_mine``: they have made more). ``ending``: access ending within
    ``Queries``' ``ENDING_SOON`` (``more_ending``: cut at :data:`HOME_LIST`). ``names`` names every model and
    organisation mentioned. ``sides``: the side the person decides for on each nomination of their queue (what
    their approval would count for). ``cohorts``: cohorts some of whose members wait for their decision, each one
    item (those members are not in ``queue``)."""

    now: datetime
    queue: list[Nomination] | None
    more_queue: bool
    mine: list[Nomination]
    more_mine: bool
    ending: list[AccessGrant]
    more_ending: bool
    names: dict[uuid.UUID, str]
    sides: dict[uuid.UUID, Side] = field(default_factory=dict)
    cohorts: list[WaitingCohort] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SlackHome:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock

    async def of(self, *, actor: Actor) -> Home:
        """The Home of ``actor``, the person behind the Slack user: the domain's home (``Queries.home``, the same
        queue and the same "ending soon" as the console's) and the person's own newest nominations."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            queries = Queries(unit)
            try:
                cohorts, more_cohorts = await waiting_cohorts(unit, actor, limit=HOME_COHORTS)
            except Forbidden:  # no queue at all: ``home.queue`` says so
                cohorts, more_cohorts = [], False
            home = await queries.home(actor, limit=HOME_LIST, singles=True)
            mine = await queries.nominations(actor, NominationFilter(nominated_by=actor.user_id), limit=HOME_LIST)
            names = {**home.names, **await queries.display_names(mine.items)}
            models = {m: await unit.get(FrontierModel, m) for m in {n.model_id for n in home.queue or []}}
        # A queue holds only what the person decides on: the domain names their side on each one's model.
        sides = {n.id: Side(side_of(actor, models[n.model_id])) for n in home.queue or []}
        for row in home.ending:
            names[row.grant.model_id], names[row.grant.organisation_id] = row.model_name, row.organisation_name
        room = HOME_LIST - len(cohorts)
        queue = home.queue[:room] if home.queue is not None else None
        more_queue = home.more_queue or more_cohorts or (home.queue is not None and len(home.queue) > room)
        return Home(now=home.now, queue=queue, more_queue=more_queue, mine=mine.items,
                    more_mine=mine.next_cursor is not None, ending=[row.grant for row in home.ending],
                    more_ending=home.more_ending, names=names, sides=sides, cohorts=cohorts)  # fmt: skip
