"""What ``/accessdesk nominate``, ``status`` and ``pending`` ask of the domain, as the person behind a Slack user.

Each call is one unit of work of its own; the rules (who may nominate, what a window may be, who sees which model,
whose queue holds what) are the domain's and are not re-checked here. Only the channel's need-to-know is decided
here, as it is for the approval cards: a model's details are shown only in a channel on the model's list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import FrontierModel, Nomination, Organisation
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.errors import Forbidden, Invalid
from accessdesk.domain.model_tally import model_tally
from accessdesk.domain.nominees import nominees
from accessdesk.domain.queries import NominationFilter, Queries
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import GrantState
from accessdesk.slackbot.cohort_blocks import WaitingCohort
from accessdesk.slackbot.cohort_decisions import waiting_cohorts
from accessdesk.slackbot.ids import NominateField

# A select menu lists at most 100 options (Slack's limit), whether they are in the modal or loaded from us.
MAX_OPTIONS = 100
MAX_PENDING = 20


@dataclass(frozen=True, slots=True)
class NominationChoices:
    """What the nominate modal offers: the models not switched off that the person can see, and whether there is
    any organisation they may nominate (the modal finds those by name as the person types: see
    :meth:`SlackCommands.nominees`)."""

    models: list[FrontierModel]
    more_models: bool
    organisations: bool


@dataclass(frozen=True, slots=True)
class NominationForm:
    """The nominate modal's values, as the domain takes them."""

    model_id: uuid.UUID
    organisation_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    actions: list[str]
    justification: str


@dataclass(frozen=True, slots=True)
class ModelStatus:
    model: FrontierModel
    grants: dict[GrantState, int]
    pending: int


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """A model the person can see, asked about in a channel not on its list: only a link may be shown."""

    model_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Queue:
    """The nominations waiting for this person's decision, newest first, and what the channel may see of each;
    ``cohorts``: the cohorts some of whose members wait for it, each one item (those members are not listed)."""

    nominations: list[Nomination]
    models: dict[uuid.UUID, FrontierModel]
    names: dict[uuid.UUID, str]
    more: bool
    cohorts: list[WaitingCohort] = field(default_factory=list)


def _selected(values: dict[str, Any], field: NominateField) -> dict[str, Any]:
    """One input's state; empty when Slack sent none, or something that is not one (read as left empty)."""
    block = values.get(field.value)
    state = block.get(field.value) if isinstance(block, dict) else None
    return state if isinstance(state, dict) else {}


def _chosen_id(values: dict[str, Any], field: NominateField, message: str) -> uuid.UUID:
    option = _selected(values, field).get("selected_option")
    try:
        return uuid.UUID(option.get("value") if isinstance(option, dict) else "")
    except (TypeError, ValueError, AttributeError):
        raise Invalid(field.value, message) from None


def _instant(values: dict[str, Any], field: NominateField, message: str) -> datetime:
    picked = _selected(values, field).get("selected_date_time")
    if not isinstance(picked, int | float) or isinstance(picked, bool):
        raise Invalid(field.value, message)
    try:
        return datetime.fromtimestamp(picked, UTC)
    except (OverflowError, OSError, ValueError):  # beyond year 9999, or NaN (Python's JSON reads it)
        raise Invalid(field.value, message) from None


def nomination_form(values: dict[str, Any]) -> NominationForm:
    """The modal's ``view.state.values`` read into the domain's terms. Raises :class:`Invalid` (named by the
    domain's field) only for what cannot be read at all; every rule is left to :meth:`CoSelection.nominate`."""
    actions = _selected(values, NominateField.ACTIONS).get("selected_options")
    actions = actions if isinstance(actions, list) else []
    justification = _selected(values, NominateField.JUSTIFICATION).get("value")
    return NominationForm(
        model_id=_chosen_id(values, NominateField.MODEL, "choose a model"),
        organisation_id=_chosen_id(values, NominateField.ORGANISATION, "choose an organisation"),
        starts_at=_instant(values, NominateField.STARTS_AT, "pick when the window starts"),
        ends_at=_instant(values, NominateField.ENDS_AT, "pick when the window ends"),
        actions=[o["value"] for o in actions if isinstance(o, dict) and isinstance(o.get("value"), str) and o["value"]],
        justification=justification if isinstance(justification, str) else "",
    )


@dataclass(frozen=True, slots=True)
class SlackCommands:
    """Each call one unit of work of its own, as ``actor`` (the person behind the Slack user)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock

    async def nomination_choices(self, *, actor: Actor) -> NominationChoices:
        """What the person can pick from (raises Forbidden for someone who may not nominate)."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            any_organisation = await nominees(unit, actor, limit=1)
            models = await Queries(unit).nominable_models(actor)
        # A static select holds at most MAX_OPTIONS: the rest are named as "more" (models are tens, not thousands).
        models, more_models = models[:MAX_OPTIONS], len(models) > MAX_OPTIONS
        return NominationChoices(models=models, more_models=more_models, organisations=bool(any_organisation))

    async def nominees(self, *, actor: Actor, matching: str) -> list[Organisation]:
        """The first :data:`MAX_OPTIONS` organisations the person may nominate whose name contains ``matching``
        (raises Forbidden for someone who may not nominate)."""
        async with self.sessionmaker() as session:
            return await nominees(Unit(session, self.clock), actor, matching=matching, limit=MAX_OPTIONS)

    async def nominate(self, *, actor: Actor, form: NominationForm) -> tuple[uuid.UUID, list[uuid.UUID]]:
        """The nomination (or the domain's refusal), and the outbox messages it wrote (its approval cards)."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            nomination = await CoSelection(unit).nominate(
                actor=actor, model_id=form.model_id, organisation_id=form.organisation_id, starts_at=form.starts_at,
                ends_at=form.ends_at, actions=form.actions, justification=form.justification,
            )  # fmt: skip
            return nomination.id, list(unit.queued)

    async def status(self, *, actor: Actor, slug: str, channel: str) -> ModelStatus | Elsewhere:
        """Where a model stands, as far as the person can see (raises NotFound for a model they cannot see)."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            model = await Queries(unit).model_by_slug(actor, slug)
            if channel not in model.slack_channels:
                return Elsewhere(model.id)
            tally = await model_tally(unit, actor, model_id=model.id)
        return ModelStatus(model, tally.grants, tally.pending)

    async def pending(self, *, actor: Actor) -> Queue | None:
        """The nominations waiting for the person's decision; None if they have no approval queue at all."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            queries = Queries(unit)
            try:
                # At most half the list in cohorts, so that single nominations are listed too.
                cohorts, more_cohorts = await waiting_cohorts(unit, actor, limit=MAX_PENDING // 2)
                page = await queries.nominations(actor, NominationFilter(for_me=True, in_cohort=False),
                                                 limit=MAX_PENDING - len(cohorts))  # fmt: skip
            except Forbidden:
                return None
            models = {m: await unit.get(FrontierModel, m) for m in {n.model_id for n in page.items}}
            return Queue(page.items, models, await queries.display_names(page.items),
                         page.next_cursor is not None or more_cohorts, cohorts=cohorts)  # fmt: skip
