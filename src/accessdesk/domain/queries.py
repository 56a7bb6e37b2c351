"""The read side: filtered, paginated, visibility-scoped lists, the approval queue, and the read models every surface
shows as they are (a grant's row)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from accessdesk.db.tables import (
    AccessGrant,
    Attestation,
    AuditEvent,
    Decision,
    FrontierModel,
    NdaAcceptance,
    NdaTemplate,
    Nomination,
    OAuthClient,
    Organisation,
    OrganisationDomain,
    User,
    UserRole,
)
from accessdesk.domain import audit, visibility
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import awaiting, lapses_at_sql
from accessdesk.domain.errors import Forbidden, Invalid, Malformed, NotFound
from accessdesk.domain.grant_state import state_is_sql
from accessdesk.domain.grants import Grants, Usability, stored_answer
from accessdesk.domain.nominees import may_be_nominated_sql, takes_nominations_sql
from accessdesk.domain.pagination import Page, check_limit, keyset, page_of
from accessdesk.domain.permissions import Permission
from accessdesk.domain.sorting import (
    Sort,
    by_text,
    by_time,
    contains,
    keys_of,
    next_cursor,
    sort_value,
    sorted_keyset,
)
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import (
    GrantState,
    NominationKind,
    NominationState,
    OrgKind,
    Role,
    Side,
)

_Model, _Organisation = aliased(FrontierModel), aliased(Organisation)


def _name_of_model(table: type[Nomination] | type[AccessGrant]) -> Any:
    return select(_Model.name).where(_Model.id == table.model_id).scalar_subquery()


def _name_of_organisation(table: type[Nomination] | type[AccessGrant]) -> Any:
    return select(_Organisation.name).where(_Organisation.id == table.organisation_id).scalar_subquery()


# The orders each list offers (``sort=`` in the console); anything else is the usual newest first.
ORGANISATION_SORTS = keys_of(by_text("name", Organisation.name), by_text("slug", Organisation.slug),
                             by_text("kind", Organisation.kind),
                             by_time("registered", Organisation.created_at, descending=True))  # fmt: skip
MODEL_SORTS = keys_of(by_text("name", FrontierModel.name), by_text("slug", FrontierModel.slug),
                      by_text("tier", FrontierModel.tier), by_text("designation", FrontierModel.designation),
                      by_time("release", FrontierModel.planned_release_at),
                      by_time("registered", FrontierModel.created_at, descending=True))  # fmt: skip
NOMINATION_SORTS = keys_of(by_text("organisation", _name_of_organisation(Nomination)),
                           by_text("model", _name_of_model(Nomination)), by_time("starts", Nomination.starts_at),
                           by_time("ends", Nomination.ends_at),
                           by_time("proposed", Nomination.created_at, descending=True))  # fmt: skip
GRANT_SORTS = keys_of(by_text("organisation", _name_of_organisation(AccessGrant)),
                      by_text("model", _name_of_model(AccessGrant)), by_time("starts", AccessGrant.starts_at),
                      by_time("ends", AccessGrant.ends_at),
                      by_time("granted", AccessGrant.created_at, descending=True))  # fmt: skip


def _named(table: type[Nomination] | type[AccessGrant], text: str) -> sa.ColumnElement[bool]:
    """Cases whose model or organisation has ``text`` in its name or slug (only ever a narrowing of the cases
    the actor can see: it reveals nothing of the others)."""
    return sa.or_(
        col(table.model_id).in_(select(FrontierModel.id).where(sa.or_(contains(FrontierModel.name, text),
                                                                      contains(FrontierModel.slug, text)))),
        col(table.organisation_id).in_(select(Organisation.id).where(sa.or_(contains(Organisation.name, text),
                                                                            contains(Organisation.slug, text)))),
    )  # fmt: skip


class Mentions(Protocol):
    """What :meth:`Queries.display_names` reads: a nomination, a grant, or anything else naming a model and an
    organisation."""

    @property
    def model_id(self) -> uuid.UUID | None: ...

    @property
    def organisation_id(self) -> uuid.UUID | None: ...


# "Ending soon" on a home page, the console's and the Slack App Home's alike (README: "access ending within 14
# days"). Not the 30 days an NDA or an attestation is flagged ahead of its expiry: that is the first renewal
# reminder (domain.reminders), for paperwork that takes weeks to renew; a grant is extended by one decision round.
ENDING_SOON = timedelta(days=14)
# A home shows the first few of each list and links to the whole of it.
HOME_LIST = 20
# A nomination's or a grant's history shows this many events; the audit trail has the rest.
HISTORY_LIMIT = 200


@dataclass(frozen=True, slots=True)
class NominationFilter:
    """What :meth:`Queries.nominations` narrows the visible nominations to; every field set must hold.

    ``for_me``: the ones the actor can still decide on. ``nominated_by``: the ones that user nominated (anyone's
    id may be asked for; visibility still applies). ``search``: text in the name or slug of the model or of the
    organisation, ignoring case. ``in_cohort``: True, only members of a cohort; False, only nominations of none
    (a surface that shows each cohort as one item: :meth:`Queries.waiting_by_cohort`)."""

    state: NominationState | None = None
    model_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    awaiting: Side | None = None
    for_me: bool = False
    grant_id: uuid.UUID | None = None
    nominated_by: uuid.UUID | None = None
    search: str | None = None
    in_cohort: bool | None = None


@dataclass(frozen=True, slots=True)
class GrantRow:
    """A grant as every surface shows it: the domain's one answer about it (its state, whether it is usable, and
    every reason it is not, as codes and in words) and the names of its model and organisation."""

    grant: AccessGrant
    answer: Usability
    model_name: str
    organisation_name: str

    @property
    def state(self) -> GrantState:
        return self.answer.state

    @property
    def usable(self) -> bool:
        return self.answer.usable

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.answer.reasons

    @property
    def explanations(self) -> list[str]:
        return self.answer.explanations


@dataclass(frozen=True, slots=True)
class Home:
    """What waits for one person as of ``now``, on every surface that has a home.

    ``queue``: the nominations waiting for their decision, None for someone with no approval queue at all.
    ``ending``: the active access they can see that ends within :data:`ENDING_SOON`, soonest first. Each list is
    cut at the length asked for; ``more_queue`` and ``more_ending`` say that more follow. ``names`` names the
    models and organisations the queue mentions (a grant's row carries its own)."""

    now: datetime
    queue: list[Nomination] | None
    more_queue: bool
    ending: list[GrantRow]
    more_ending: bool
    names: dict[uuid.UUID, str]


class Queries:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def organisations(
        self, actor: Actor, *, kind: OrgKind | None = None, vetting: str | None = None,
        cursor: str | None = None, limit: int = 50, search: str | None = None, sort: Sort | None = None,
    ) -> Page[Organisation]:  # fmt: skip
        """The organisations the actor can see, narrowed to a ``kind``, a ``vetting`` state and ``search`` (text
        in the name or slug, ignoring case), newest first or in ``sort`` (one of :data:`ORGANISATION_SORTS`)."""
        stmt = select(Organisation).where(visibility.organisations_filter(actor))
        if kind is not None:
            stmt = stmt.where(Organisation.kind == OrgKind(kind).value)
        if vetting is not None:
            stmt = stmt.where(Organisation.vetting_state == vetting)
        if search:
            stmt = stmt.where(sa.or_(contains(Organisation.name, search), contains(Organisation.slug, search)))
        if sort is not None:
            return await self._sorted(stmt, Organisation, sort, cursor, limit)
        rows = (await self.unit.session.exec(keyset(stmt, Organisation, cursor, limit))).all()
        return page_of(list(rows), limit)

    async def models(
        self, actor: Actor, *, cursor: str | None = None, limit: int = 50, search: str | None = None,
        sort: Sort | None = None,
    ) -> Page[FrontierModel]:  # fmt: skip
        """The models the actor can see, narrowed to ``search`` (text in the name or slug, ignoring case), newest
        first or in ``sort`` (one of :data:`MODEL_SORTS`)."""
        stmt = select(FrontierModel).where(visibility.models_filter(actor))
        if search:
            stmt = stmt.where(sa.or_(contains(FrontierModel.name, search), contains(FrontierModel.slug, search)))
        if sort is not None:
            return await self._sorted(stmt, FrontierModel, sort, cursor, limit)
        rows = (await self.unit.session.exec(keyset(stmt, FrontierModel, cursor, limit))).all()
        return page_of(list(rows), limit)

    async def all_models(self, actor: Actor, *where: sa.ColumnElement[bool], by_name: bool = False) -> list[FrontierModel]:
        """Every model the actor can see (and that meets ``where``), newest first (or by name), uncut: what a form
        offers to choose from. Models are few (tens), so no page is needed; organisations are not (see
        :meth:`organisations`)."""
        stmt = select(FrontierModel).where(visibility.models_filter(actor), *where)
        order = ((sa.func.lower(FrontierModel.name), FrontierModel.slug) if by_name
                 else (col(FrontierModel.created_at).desc(), col(FrontierModel.id).desc()))  # fmt: skip
        return list((await self.unit.session.exec(stmt.order_by(*order))).all())

    async def nominable_models(self, actor: Actor) -> list[FrontierModel]:
        """The models the actor can see that take nominations (``nominees.takes_nominations``), by name: what a
        nominate form offers, in the console and in Slack. (Whether ``actor`` may nominate at all is
        ``nominees.nominees``'s to say.)"""
        return await self.all_models(actor, takes_nominations_sql(), by_name=True)

    async def own_models(self, actor: Actor) -> list[FrontierModel]:
        """The models the actor's organisation develops (``visibility.develops``)."""
        return await self.all_models(actor, visibility.develops_sql(actor))

    async def nominable_organisations(self, actor: Actor) -> list[Organisation]:
        """Every organisation the actor can see that may be nominated (``nominees.may_be_nominated``), newest
        first, uncut: the nominate form's choice."""
        stmt = select(Organisation).where(visibility.organisations_filter(actor), may_be_nominated_sql())
        return list((await self.unit.session.exec(
            stmt.order_by(col(Organisation.created_at).desc(), col(Organisation.id).desc())
        )).all())  # fmt: skip

    async def organisation_names(self, actor: Actor, organisation_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The names of those organisations the actor can see."""
        if not organisation_ids:
            return {}
        stmt = select(Organisation.id, Organisation.name).where(
            visibility.organisations_filter(actor), col(Organisation.id).in_(organisation_ids)
        )
        return dict((await self.unit.session.exec(stmt)).all())

    async def model_by_slug(self, actor: Actor, slug: str) -> FrontierModel:
        model = (await self.unit.session.exec(select(FrontierModel).where(FrontierModel.slug == slug))).first()
        if model is None or not await visibility.sees_model(self.unit.session, actor, model):
            raise NotFound(f"model {slug} not found")
        return model

    async def model(self, actor: Actor, model_id: uuid.UUID) -> FrontierModel:
        model = await self.unit.get(FrontierModel, model_id, what="model")
        visibility.require(await visibility.sees_model(self.unit.session, actor, model), "model", model_id)
        return model

    async def organisation(self, actor: Actor, organisation_id: uuid.UUID) -> Organisation:
        organisation = await self.unit.get(Organisation, organisation_id, what="organisation")
        visibility.require(visibility.can_see_org(actor, organisation), "organisation", organisation_id)
        return organisation

    async def members(self, actor: Actor, organisation_id: uuid.UUID) -> list[tuple[User, frozenset[Role]]]:
        """The people of an organisation the actor can see, with their roles."""
        await self.organisation(actor, organisation_id)
        users = (await self.unit.session.exec(
            select(User).where(User.organisation_id == organisation_id).order_by(User.email)
        )).all()  # fmt: skip
        roles = (await self.unit.session.exec(
            select(UserRole).where(col(UserRole.user_id).in_([u.id for u in users]))
        )).all()  # fmt: skip
        by_user: dict[uuid.UUID, set[Role]] = {}
        for row in roles:
            by_user.setdefault(row.user_id, set()).add(Role(row.role))
        return [(u, frozenset(by_user.get(u.id, ()))) for u in users]

    async def domains(self, actor: Actor, organisation_id: uuid.UUID) -> list[str]:
        """The e-mail domains an organisation signs in with."""
        await self.organisation(actor, organisation_id)
        stmt = select(OrganisationDomain.domain).where(OrganisationDomain.organisation_id == organisation_id)
        return sorted((await self.unit.session.exec(stmt)).all())

    async def nominations(
        self, actor: Actor, filters: NominationFilter, *, cursor: str | None = None, limit: int = 50,
        sort: Sort | None = None,
    ) -> Page[Nomination]:
        """The nominations the actor can see that meet ``filters``, newest first or in ``sort`` (one of
        :data:`NOMINATION_SORTS`)."""
        now = self.unit.now()
        stmt = select(Nomination).where(visibility.cases_filter(actor, Nomination))
        if filters.state == NominationState.PENDING:
            stmt = stmt.where(Nomination.state == "pending", lapses_at_sql() > now)
        elif filters.state == NominationState.LAPSED:
            stmt = stmt.where(sa.or_(col(Nomination.state) == "lapsed",
                                     sa.and_(col(Nomination.state) == "pending", lapses_at_sql() <= now)))  # fmt: skip
        elif filters.state is not None:
            stmt = stmt.where(Nomination.state == NominationState(filters.state).value)
        if filters.model_id is not None:
            stmt = stmt.where(Nomination.model_id == filters.model_id)
        if filters.organisation_id is not None:
            stmt = stmt.where(Nomination.organisation_id == filters.organisation_id)
        if filters.grant_id is not None:
            stmt = stmt.where(Nomination.grant_id == filters.grant_id)
        if filters.nominated_by is not None:
            # ix_nominations_nominated_by finds a person's nominations, then sorted; for someone with very many,
            # PostgreSQL may walk the creation-order index instead and stop at the first page of theirs.
            stmt = stmt.where(Nomination.nominated_by == filters.nominated_by)
        if filters.awaiting is not None:
            stmt = stmt.where(Nomination.state == "pending", lapses_at_sql() > now, awaiting(Side(filters.awaiting)))
        if filters.for_me:
            stmt = self._my_queue(actor, stmt, now)
        if filters.in_cohort is not None:
            stmt = stmt.where(col(Nomination.cohort_id).is_not(None) if filters.in_cohort
                              else col(Nomination.cohort_id).is_(None))  # fmt: skip
        if filters.search:
            stmt = stmt.where(_named(Nomination, filters.search))
        if sort is not None:
            return await self._sorted(stmt, Nomination, sort, cursor, limit)
        rows = (await self.unit.session.exec(keyset(stmt, Nomination, cursor, limit))).all()
        return page_of(list(rows), limit)

    def _my_queue(self, actor: Actor, stmt: SelectOfScalar[Nomination], now: datetime) -> SelectOfScalar[Nomination]:
        """Pending nominations this person can still decide on: their side short of quorum, not their own, not
        decided by them yet."""
        if not actor.can(Permission.NOMINATIONS_DECIDE) or not actor.is_staff:
            raise Forbidden("only approvers have a queue of decisions")
        side = Side.GOVERNMENT if actor.kind == OrgKind.GOVERNMENT else Side.DEVELOPER
        return stmt.where(
            Nomination.state == "pending",
            lapses_at_sql() > now,
            awaiting(side),
            Nomination.nominated_by != actor.user_id,
            ~sa.exists().where(col(Decision.nomination_id) == Nomination.id,
                               sa.or_(col(Decision.approver_id) == actor.user_id,
                                      col(Decision.decided_by) == actor.user_id)),
        )

    async def waiting_by_cohort(self, actor: Actor) -> dict[uuid.UUID, int]:
        """How many members of each cohort wait for the actor's decision (their queue, as ``for_me``), for a
        surface that shows a cohort as one item; raises Forbidden for someone with no queue."""
        queue = self._my_queue(actor, select(Nomination).where(visibility.cases_filter(actor, Nomination),
                                                               col(Nomination.cohort_id).is_not(None)),
                               self.unit.now()).subquery()  # fmt: skip
        rows = await self.unit.session.exec(select(queue.c.cohort_id, sa.func.count()).group_by(queue.c.cohort_id))
        return {cohort_id: int(count) for cohort_id, count in rows.all()}

    async def nomination(self, actor: Actor, nomination_id: uuid.UUID) -> tuple[Nomination, list[Decision]]:
        nomination = await self.unit.get(Nomination, nomination_id, what="nomination")
        model = await self.unit.get(FrontierModel, nomination.model_id)
        visibility.require(visibility.can_see_case(actor, model, nomination.organisation_id),
                           "nomination", nomination_id)  # fmt: skip
        decisions = await self.unit.session.exec(
            select(Decision)
            .where(Decision.nomination_id == nomination_id)
            .order_by(col(Decision.created_at), col(Decision.id))
        )
        return nomination, list(decisions.all())

    async def grants(
        self, actor: Actor, *, state: GrantState | None = None, model_id: uuid.UUID | None = None,
        organisation_id: uuid.UUID | None = None, ending_before: datetime | None = None, cursor: str | None = None,
        limit: int = 50, search: str | None = None, sort: Sort | None = None,
    ) -> Page[AccessGrant]:  # fmt: skip
        """The grants the actor can see that meet every filter given (``search``: text in the name or slug of the
        model or of the organisation, ignoring case), newest first or in ``sort`` (one of :data:`GRANT_SORTS`)."""
        stmt = select(AccessGrant).where(visibility.cases_filter(actor, AccessGrant))
        now = self.unit.now()
        state = GrantState(state) if state is not None else None
        live = state in (GrantState.ACTIVE, GrantState.SCHEDULED, GrantState.BLOCKED, GrantState.SUSPENDED)
        narrow: list[Any] = []  # filters that match few grants among many, each served by an index
        if ending_before is not None:
            narrow.append(AccessGrant.ends_at < ending_before)
            if live:  # implied by the state; said here so the ends_at index serves a closed range
                narrow.append(AccessGrant.ends_at > now)
        if state == GrantState.BLOCKED:
            narrow.append(state_is_sql(state, now))
        elif state is not None:
            stmt = stmt.where(state_is_sql(state, now))
        if narrow:
            # Asked for the newest first, both planners would walk the creation-order index and test every grant
            # (the LIMIT makes that look cheap); a subquery makes them find the few matching grants first.
            stmt = stmt.where(col(AccessGrant.id).in_(select(AccessGrant.id).where(*narrow)))
        if model_id is not None:
            stmt = stmt.where(AccessGrant.model_id == model_id)
        if organisation_id is not None:
            stmt = stmt.where(AccessGrant.organisation_id == organisation_id)
        if search:
            stmt = stmt.where(_named(AccessGrant, search))
        if sort is not None:
            return await self._sorted(stmt, AccessGrant, sort, cursor, limit)
        rows = (await self.unit.session.exec(keyset(stmt, AccessGrant, cursor, limit))).all()
        return page_of(list(rows), limit)

    async def _sorted(
        self, stmt: SelectOfScalar[Any], table: type[Any], sort: Sort, cursor: str | None, limit: int
    ) -> Page[Any]:
        rows = list((await self.unit.session.exec(sorted_keyset(stmt, table, sort, self.unit.dialect, cursor, limit))).all())
        if len(rows) <= limit:
            return Page(items=rows, next_cursor=None)
        last = rows[limit - 1]
        value = (await self.unit.session.exec(sort_value(table, sort, self.unit.dialect, last.id))).one()
        return Page(items=rows[:limit], next_cursor=next_cursor(sort, value, last.id))

    async def ending_soon(self, actor: Actor, *, before: datetime, limit: int = 20) -> list[AccessGrant]:
        """Active grants whose window ends before ``before``, soonest first (read along the ``ends_at`` index, so
        the cost does not grow with the number of grants)."""
        return await self._ending(actor, before=before, fetch=check_limit(limit))

    async def _ending(self, actor: Actor, *, before: datetime, fetch: int) -> list[AccessGrant]:
        now = self.unit.now()
        stmt = (
            select(AccessGrant)
            .where(visibility.cases_filter(actor, AccessGrant), AccessGrant.ends_at < before,
                   state_is_sql(GrantState.ACTIVE, now))
            .order_by(col(AccessGrant.ends_at), col(AccessGrant.id))
            .limit(fetch)
        )  # fmt: skip
        return list((await self.unit.session.exec(stmt)).all())

    async def grant_rows(self, grants: Sequence[AccessGrant], *, fresh: bool = False) -> list[GrantRow]:
        """The rows of grants already known to be visible, as of now, in the order given. Each answer is read from
        the grant's stored facts (no query per grant); with ``fresh``, evaluated from the inputs themselves
        (:meth:`Grants.usability`, a few queries per grant: for one grant's own page)."""
        now = self.unit.now()
        names = await self.display_names(list(grants))
        rows = []
        for grant in grants:
            answer = await Grants(self.unit).usability(grant.id, at=now) if fresh else stored_answer(grant, now)
            rows.append(GrantRow(grant, answer, names.get(grant.model_id, ""), names.get(grant.organisation_id, "")))
        return rows

    async def history(
        self, actor: Actor, *, nomination_id: uuid.UUID | None = None, grant_id: uuid.UUID | None = None,
        credential_ids: Sequence[uuid.UUID] = (),
    ) -> list[AuditEvent]:  # fmt: skip
        """A nomination's or a grant's story, oldest first: the audit events of it, of its rounds (a grant's
        nomination and extension rounds) and their decisions, of the grant a nomination made (its making), and of
        ``credential_ids`` (those of the grant the reader may see: the credential service says which). The first
        ``HISTORY_LIMIT``; the audit trail has the rest. A decision's tally event is left out: the decision says it."""
        subjects: dict[str, set[str]] = {}
        made: str | None = None
        if nomination_id is not None:
            nomination, _ = await self.nomination(actor, nomination_id)
            rounds = [nomination]
            made = str(nomination.grant_id) if nomination.grant_id and nomination.kind == NominationKind.GRANT else None
        elif grant_id is not None:
            grant = await self.grant(actor, grant_id)
            rounds = list((await self.unit.session.exec(select(Nomination).where(
                sa.or_(col(Nomination.id) == grant.nomination_id, col(Nomination.grant_id) == grant.id)))).all())  # fmt: skip
            subjects["access_grants"] = {str(grant.id)}
            subjects["oauth_clients"] = {str(c) for c in credential_ids}
        else:
            raise ValueError("a nomination or a grant")
        ids = [n.id for n in rounds]
        subjects["nominations"] = {str(i) for i in ids}
        decided = (await self.unit.session.exec(select(Decision.id).where(col(Decision.nomination_id).in_(ids)))).all()
        subjects["decisions"] = {str(d) for d in decided}
        about = [sa.and_(col(AuditEvent.subject_type) == kind, col(AuditEvent.subject_id).in_(sorted(chosen)))
                 for kind, chosen in subjects.items() if chosen]  # fmt: skip
        if made is not None:
            about.append(sa.and_(col(AuditEvent.subject_type) == "access_grants", col(AuditEvent.subject_id) == made,
                                 col(AuditEvent.action) == "grant.created"))  # fmt: skip
        stmt = (select(AuditEvent).where(sa.or_(*about), AuditEvent.action != "nomination.tallied")
                .order_by(col(AuditEvent.seq)).limit(HISTORY_LIMIT))  # fmt: skip
        return list((await self.unit.session.exec(stmt)).all())

    async def grant_row(self, actor: Actor, grant_id: uuid.UUID) -> GrantRow:
        """One grant the actor can see, its answer evaluated from the inputs (never from a refresh still to come)."""
        return (await self.grant_rows([await self.grant(actor, grant_id)], fresh=True))[0]

    async def credentials_of(self, grants: Sequence[AccessGrant]) -> dict[uuid.UUID, list[OAuthClient]]:
        """The credentials of grants already known to be visible, by grant (each grant's newest first; a grant
        without one is absent). Status only: no secret is ever kept."""
        if not grants:
            return {}
        stmt = (select(OAuthClient).where(col(OAuthClient.grant_id).in_([g.id for g in grants]))
                .order_by(col(OAuthClient.created_at).desc(), col(OAuthClient.id)))  # fmt: skip
        found: dict[uuid.UUID, list[OAuthClient]] = {}
        for client in (await self.unit.session.exec(stmt)).all():
            assert client.grant_id is not None  # a grant's credential, by the filter
            found.setdefault(client.grant_id, []).append(client)
        return found

    async def home(self, actor: Actor, *, limit: int = HOME_LIST, singles: bool = False) -> Home:
        """The actor's home: their approval queue and their access ending soon (see :class:`Home`). ``singles``:
        the queue without cohorts' members, for a home that shows each cohort as one item."""
        now = self.unit.now()
        try:
            mine = NominationFilter(for_me=True, in_cohort=False if singles else None)
            queue: Page[Nomination] | None = await self.nominations(actor, mine, limit=limit)
        except Forbidden:
            queue = None
        ending = await self._ending(actor, before=now + ENDING_SOON, fetch=check_limit(limit) + 1)
        waiting = queue.items if queue is not None else []
        return Home(now=now, queue=waiting if queue is not None else None,
                    more_queue=queue is not None and queue.next_cursor is not None,
                    ending=await self.grant_rows(ending[:limit]), more_ending=len(ending) > limit,
                    names=await self.display_names(waiting))  # fmt: skip

    async def display_names(self, rows: Sequence[Mentions]) -> dict[uuid.UUID, str]:
        """Names of the models and organisations that already-visible nominations or grants mention."""
        model_ids = {r.model_id for r in rows}
        org_ids = {r.organisation_id for r in rows}
        names: dict[uuid.UUID, str] = {}
        if model_ids:
            stmt = select(FrontierModel.id, FrontierModel.name).where(col(FrontierModel.id).in_(model_ids))
            names.update(dict((await self.unit.session.exec(stmt)).all()))
        if org_ids:
            stmt = select(Organisation.id, Organisation.name).where(col(Organisation.id).in_(org_ids))
            names.update(dict((await self.unit.session.exec(stmt)).all()))
        return names

    async def people_names(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Names and e-mails of the people a visible case mentions (nominator, approvers)."""
        if not user_ids:
            return {}
        rows = (await self.unit.session.exec(
            select(User.id, User.name, User.email).where(col(User.id).in_(set(user_ids)))
        )).all()  # fmt: skip
        return {id_: f"{name} ({email})" for id_, name, email in rows}

    async def grant(self, actor: Actor, grant_id: uuid.UUID) -> AccessGrant:
        grant = await self.unit.get(AccessGrant, grant_id, what="grant")
        model = await self.unit.get(FrontierModel, grant.model_id)
        visibility.require(visibility.can_see_case(actor, model, grant.organisation_id), "grant", grant_id)
        return grant

    async def nda_templates(self, actor: Actor, *, model_id: uuid.UUID | None = None) -> list[NdaTemplate]:
        stmt = select(NdaTemplate)
        if actor.kind == OrgKind.DEVELOPER:
            stmt = stmt.where(NdaTemplate.developer_id == actor.organisation_id)
        elif actor.kind == OrgKind.PARTNER:
            # A developer-wide NDA can be read before any nomination (onboarding); one written for a model reveals
            # that the model exists, so only partners involved with that model see it.
            involved = select(FrontierModel.id).where(visibility.models_filter(actor))
            stmt = stmt.where(sa.or_(col(NdaTemplate.model_id).is_(None), col(NdaTemplate.model_id).in_(involved)))
        if model_id is not None:
            stmt = stmt.where(sa.or_(col(NdaTemplate.model_id) == model_id, col(NdaTemplate.model_id).is_(None)))
        stmt = stmt.order_by(NdaTemplate.series, col(NdaTemplate.version_major).desc(),
                             col(NdaTemplate.version_minor).desc())
        return list((await self.unit.session.exec(stmt)).all())

    async def nda_template(self, actor: Actor, template_id: uuid.UUID) -> NdaTemplate:
        template = await self.unit.get(NdaTemplate, template_id, what="NDA")
        visible = template.id in {t.id for t in await self.nda_templates(actor)}
        visibility.require(visible, "NDA", template_id)
        return template

    async def nda_acceptances(self, actor: Actor, organisation_id: uuid.UUID) -> list[NdaAcceptance]:
        await self.organisation(actor, organisation_id)
        stmt = select(NdaAcceptance).where(NdaAcceptance.organisation_id == organisation_id)
        return list((await self.unit.session.exec(stmt.order_by(col(NdaAcceptance.accepted_at).desc()))).all())

    async def acceptances_of(self, actor: Actor, template_id: uuid.UUID) -> list[NdaAcceptance]:
        """Who accepted one NDA version: staff see every signatory; a partner or government reader, its own."""
        await self.nda_template(actor, template_id)
        stmt = select(NdaAcceptance).where(NdaAcceptance.template_id == template_id)
        if not visibility.sees_everything(actor) and actor.kind != OrgKind.DEVELOPER:
            stmt = stmt.where(NdaAcceptance.organisation_id == actor.organisation_id)
        return list((await self.unit.session.exec(stmt.order_by(col(NdaAcceptance.accepted_at).desc()))).all())

    async def attestations(self, actor: Actor, organisation_id: uuid.UUID) -> list[Attestation]:
        await self.organisation(actor, organisation_id)
        stmt = select(Attestation).where(Attestation.organisation_id == organisation_id)
        return list((await self.unit.session.exec(stmt.order_by(col(Attestation.attested_at).desc()))).all())

    async def verify_audit(self, actor: Actor) -> audit.Verification:
        actor.require(Permission.AUDIT_READ, "only auditors and admins verify the audit trail")
        return await audit.verify(self.unit.session)

    async def audit_events(
        self, actor: Actor, *, subject_type: str | None = None, subject_id: str | None = None,
        action: str | None = None, before_seq: int | None = None, after_seq: int | None = None, limit: int = 100,
    ) -> tuple[list[AuditEvent], int | None]:  # fmt: skip
        """The events that match, and where the next page starts.

        Newest first, paged with ``before_seq`` (the chain's own order): the second value is the next page's
        ``before_seq``, None after the first event. With ``after_seq``, oldest first from the event after it up to
        the head as it is now: the second value is the next request's ``after_seq``, always given (the last event
        returned, or the head once every event up to it has been read), so a reader that follows it sees every
        event once however many are appended meanwhile. Appends queue on the head and commit in its order, so
        every event up to the head is committed when the head is read."""
        actor.require(Permission.AUDIT_READ, "only auditors and admins read the audit trail")
        check_limit(limit)
        if before_seq is not None and after_seq is not None:
            raise Malformed("after_seq", "give before_seq (newest first) or after_seq (oldest first), not both")
        if before_seq is not None and before_seq < 1:
            raise Invalid("before_seq", "before_seq must be a positive event number")
        stmt = select(AuditEvent)
        if subject_type:
            stmt = stmt.where(AuditEvent.subject_type == subject_type)
        if subject_id:
            stmt = stmt.where(AuditEvent.subject_id == subject_id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        if after_seq is not None:
            return await self._audit_events_after(stmt, after_seq, limit)
        if before_seq is not None:
            stmt = stmt.where(AuditEvent.seq < before_seq)
        rows = list((await self.unit.session.exec(stmt.order_by(col(AuditEvent.seq).desc()).limit(limit + 1))).all())
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].seq if more and rows else None)

    async def _audit_events_after(
        self, stmt: SelectOfScalar[AuditEvent], after_seq: int, limit: int
    ) -> tuple[list[AuditEvent], int]:
        if after_seq < 0:
            raise Malformed("after_seq", "after_seq must be an event number: 0 to read from the first event")
        head = (await audit.head_of(self.unit.session)).seq
        if after_seq > head:
            # Never handed out by this API: a reader ahead of the chain has events this database does not (it
            # was restored from an older copy, say), and following on from here would skip the new ones silently.
            raise Malformed("after_seq", f"there is no event #{after_seq}: the audit trail ends at #{head} (an "
                                         "after_seq this API never gave; was the database restored from an older "
                                         "copy?)")  # fmt: skip
        stmt = stmt.where(AuditEvent.seq > after_seq, AuditEvent.seq <= head)
        rows = list((await self.unit.session.exec(stmt.order_by(col(AuditEvent.seq)).limit(limit + 1))).all())
        if len(rows) > limit:
            return rows[:limit], rows[limit - 1].seq
        return rows, head
