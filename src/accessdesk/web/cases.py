"""Console pages for nominations (list with filters, proposing one, the decision with its tally, withdrawal) and
grants (list, a grant's state and what blocks it, revocation, an extension round, and its credentials' status).

A decision may be taken in the name of someone whose delegation to the approver is in force ("Decide as"), and a
rejection's reason shared with the partner. Approving access to a high-tier model (or one whose setting asks for it)
needs a recent sign-in (domain.step_up): a stale session is sent to sign in again and comes back to the approval's
own page, ``/console/nominations/{id}/approve``, where Slack's and the API's refusals send people too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.db.tables import FrontierModel, Nomination
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection, DecisionEffect, effective_state
from accessdesk.domain.credentials import Credentials
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.errors import Invalid, StepUpRequired
from accessdesk.domain.grants import Grants
from accessdesk.domain.queries import GRANT_SORTS, NOMINATION_SORTS, NominationFilter, Queries
from accessdesk.domain.reasons import decision_reason, reason_for
from accessdesk.domain.sessions import Signed
from accessdesk.domain.step_up import approval_step_up
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Action, GrantState, NominationKind, NominationState, Side, Verdict
from accessdesk.web.history import history_lines
from accessdesk.web.listing import Listing
from accessdesk.web.pages import (
    FIRST_OF_LIST,
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    FreshSignInRequired,
    Posted,
    back_to,
    confirmation,
    confirmed,
    instant,
    notice_of,
    page,
)
from accessdesk.web.refusals import Refusal, on_refusal

NOMINATION_NOTICES = {"approved": "Your decision was recorded: approved.",
                      "granted": "Your approval completed both sides' decisions: the grant exists now.",
                      "rejected": "Your decision was recorded: rejected.",
                      "nominated": "The nomination is open: both sides can now decide.",
                      "extension": "The extension round is open: both sides decide on the new end.",
                      "withdrawn": "The nomination is withdrawn."}  # fmt: skip
DONE = {Verdict.APPROVE: "approved", Verdict.REJECT: "rejected"}  # the notice after each verdict
GRANT_NOTICES = {"revoked": "Access is revoked, at once.",
                 "credential_revoked": "The credential is revoked: it gets no new token, and introspection now calls "
                                       "its tokens inactive."}  # fmt: skip


_Choice = TypeVar("_Choice", bound=StrEnum)


def _choice(value: str | None, allowed: type[_Choice]) -> _Choice | None:
    """A filter value from the URL if it is one of ``allowed``'s, else no filter."""
    return allowed(value) if value in {m.value for m in allowed} else None


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def grant_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
    queries: NamedDependency[Queries], grants: NamedDependency[Grants], credentials: NamedDependency[Credentials],
    grant_id: FromPath[uuid.UUID], *, refusal: Refusal | None = None, section: str | None = None,
    values: dict[str, Any] | None = None,
) -> Template:  # fmt: skip
    """A grant's page: its state and what blocks it, its extension rounds, and its credentials (status only: a
    secret is shown once, by the credential pages, and never kept). A refused form is shown again in its
    ``section`` with what was typed."""
    now = unit.now()
    row = await queries.grant_row(signed.actor, grant_id)
    grant = row.grant
    rounds = (await queries.nominations(signed.actor, NominationFilter(grant_id=grant.id), limit=50)).items
    # The service is the one place that knows who may see a grant's credentials.
    listed = await credentials.for_grant(signed.actor, grant.id)
    names = await queries.people_names([u for u in (grant.revoked_by, *(c.created_by for c in listed),
                                                    *(c.revoked_by for c in listed)) if u])  # fmt: skip
    history = await history_lines(queries, signed.actor, await queries.history(
        signed.actor, grant_id=grant.id, credential_ids=[c.id for c in listed]))  # fmt: skip
    return page(
        "console/grant.html", signed, history=history, status_code=refusal.status if refusal else 200, row=row, g=grant, names=names,
        state=row.state.value, problems=row.explanations, allowed=await grants.allowed(signed.actor, grant),
        allowed_credentials=credentials.allowed(signed.actor, listed, grant=grant), creation=await credentials.creation(signed.actor, grant), rounds=rounds, now=now, effective_state=effective_state, refusal=refusal, form_name=section,
        values=values or {}, notice=notice_of(request, GRANT_NOTICES), credentials=listed,
    )  # fmt: skip


async def nomination_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
    queries: NamedDependency[Queries], coselection: NamedDependency[CoSelection], nomination_id: FromPath[uuid.UUID], *,
    refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    nomination, decisions = await queries.nomination(signed.actor, nomination_id)
    names = await queries.display_names([nomination])
    people = await queries.people_names([d.approver_id for d in decisions] + [nomination.nominated_by]
                                        + [d.decided_by for d in decisions if d.decided_by is not None])  # fmt: skip
    history = await history_lines(queries, signed.actor, await queries.history(signed.actor, nomination_id=nomination.id))
    allowed = await coselection.allowed(signed.actor, nomination, decisions)
    # Whom the person may decide for (delegations to them in force), and how recent a sign-in approving needs.
    givers = await Delegations(unit).givers(signed.actor) if allowed.decide else []
    step_up = approval_step_up(await unit.get(FrontierModel, nomination.model_id)) if allowed.decide else None
    return page("console/nomination.html", signed, status_code=refusal.status if refusal else 200, n=nomination,
                history=history,
                decisions=decisions, state=effective_state(nomination, unit.now()).value, names=names, people=people,
                # Every reason as the reader may read it: a partner only a rejection's shared one (domain.reasons).
                outcome=reason_for(signed.actor, nomination, decisions),
                reasons={d.id: decision_reason(signed.actor, d) for d in decisions},
                allowed=allowed, givers=givers, refusal=refusal,
                step_up_minutes=int(step_up.total_seconds() // 60) if step_up is not None else None,
                notice=notice_of(request, NOMINATION_NOTICES))  # fmt: skip


async def new_nomination_page(
    signed: NamedDependency[Signed], queries: NamedDependency[Queries], *, values: dict[str, Any],
    refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    return page("console/nomination_new.html", signed, values=values, refusal=refusal,
                models=await queries.nominable_models(signed.actor),
                organisations=await queries.nominable_organisations(signed.actor), actions=[a.value for a in Action],
                status_code=refusal.status if refusal else 200)  # fmt: skip


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def approval_path(nomination_id: uuid.UUID, on_behalf_of: uuid.UUID | None = None) -> str:
    """The page that asks to confirm an approval (in ``on_behalf_of``'s name): where a refusal for want of a recent
    sign-in sends people, from the console, Slack and the API alike."""
    path = f"/console/nominations/{nomination_id}/approve"
    return f"{path}?on_behalf_of={on_behalf_of}" if on_behalf_of is not None else path


def _on_behalf_of(value: str | None) -> uuid.UUID | None:
    """Whom the person decides for ("Decide as"): nobody else when the field is empty."""
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid("on_behalf_of", "choose whom you decide for: yourself or someone who delegated to you") from None


@asynccontextmanager
async def _signing_in_again(unit: Unit, nomination_id: uuid.UUID, on_behalf_of: uuid.UUID | None) -> AsyncIterator[None]:
    """The domain's refusal of an approval for want of a recent sign-in is no refusal to show: the browser signs in
    again at its provider and comes back to the approval's page (nothing was recorded)."""
    try:
        yield
    except StepUpRequired:
        await unit.rollback()
        raise FreshSignInRequired(approval_path(nomination_id, on_behalf_of)) from None


def _decision_words(
    verdict: Verdict, effect: DecisionEffect, nomination: Nomination, names: dict[uuid.UUID, str], *,
    shared: bool = False, for_whom: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The confirmation of a decision, in words: what this decision does, from the domain's ``effect``. ``shared``:
    a rejection's reason is shown to the partner too; ``for_whom``: the person in whose name it is taken."""
    words = _verdict_words(verdict, effect, nomination, names, shared=shared)
    if for_whom is not None:
        words["consequences"].insert(0, f"You decide in the name of {for_whom}, by their delegation to you: the "
                                        "decision counts as theirs and records that you took it.")  # fmt: skip
    return words


def _verdict_words(
    verdict: Verdict, effect: DecisionEffect, nomination: Nomination, names: dict[uuid.UUID, str], *, shared: bool
) -> dict[str, Any]:
    organisation, model = names[nomination.organisation_id], names[nomination.model_id]
    other = "government" if effect.side == Side.DEVELOPER else "developer"
    if verdict == Verdict.REJECT:
        reason = (f"Your reason is recorded and shown to the nominator, and to {organisation}, as you chose to share "
                  "it." if shared else f"Your reason is recorded and shown to the nominator and staff; {organisation} "
                  "is told the nomination was rejected, not why.")  # fmt: skip
        return {"title": f"Reject {organisation} for {model}?", "confirm": "Yes, reject",
                "consequences": [f"The nomination closes at once: {organisation} does not get this access to {model} "
                                 "(either side may turn a nomination down).",
                                 f"{reason} A decision cannot be taken back."]}  # fmt: skip
    if effect.completes and nomination.kind == NominationKind.EXTENSION.value:
        done = f"Your approval completes both sides' decisions: {organisation}'s access to {model} is extended to " \
               f"{_when(nomination.ends_at)}."  # fmt: skip
    elif effect.completes:
        done = (f"Your approval completes both sides' decisions: {organisation} gets access to {model} "
                f"({', '.join(nomination.actions)}) from {_when(nomination.starts_at)} to {_when(nomination.ends_at)}, "
                "while its NDA and attestations are in force.")  # fmt: skip
    else:
        done = (f"Your approval is {effect.approvals} of the {effect.quorum} the {effect.side.value} side needs; the "
                f"{other} side has {effect.other_approvals} of {effect.other_quorum}. Access is granted only once both "
                "sides have approved.")  # fmt: skip
    return {"title": f"Approve {organisation} for {model}?", "consequences": [done, "A decision cannot be taken back."],
            "confirm": "Yes, approve and grant access" if effect.completes else "Yes, approve"}  # fmt: skip


async def _confirmation(
    signed: Signed, form: Posted, coselection: CoSelection, queries: Queries, *, actor: Actor,
    nomination_id: uuid.UUID, verdict: Verdict, on_behalf_of: uuid.UUID | None, shared: bool,
) -> Template:  # fmt: skip
    """The page that says what a decision will do and asks to confirm it (refused as the decision would be)."""
    effect = await coselection.decision_effect(actor=actor, nomination_id=nomination_id, verdict=verdict,
                                               reason=form["reason"], on_behalf_of=on_behalf_of)  # fmt: skip
    nomination, _ = await queries.nomination(actor, nomination_id)
    for_whom = None
    if on_behalf_of is not None and on_behalf_of != actor.user_id:
        for_whom = (await queries.people_names([on_behalf_of]))[on_behalf_of]
    here = f"/console/nominations/{nomination_id}"
    return confirmation(signed, form, action=f"{here}/decision", back=here, danger=verdict == Verdict.REJECT,
                        **_decision_words(verdict, effect, nomination, await queries.display_names([nomination]),
                                          shared=shared and verdict == Verdict.REJECT, for_whom=for_whom))  # fmt: skip


class CasesController(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/nominations/{nomination_id:uuid}")
    async def nomination(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries], coselection: NamedDependency[CoSelection],
        nomination_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await nomination_page(request, signed, unit, queries, coselection, nomination_id)

    @post("/nominations/{nomination_id:uuid}/decision")
    @on_refusal(nomination_page)
    async def decide(
        self, signed: NamedDependency[Signed], actor: NamedDependency[Actor], form: NamedDependency[Posted],
        unit: NamedDependency[Unit], coselection: NamedDependency[CoSelection], queries: NamedDependency[Queries],
        nomination_id: FromPath[uuid.UUID],
    ) -> Redirect | Template:  # fmt: skip
        if form["verdict"] not in {v.value for v in Verdict}:
            raise HTTPException(status_code=400, detail="choose approve or reject")
        verdict, here = Verdict(form["verdict"]), f"/console/nominations/{nomination_id}"
        on_behalf_of, shared = _on_behalf_of(form.get("on_behalf_of")), form["reason_shared"] == "yes"
        async with _signing_in_again(unit, nomination_id, on_behalf_of):
            if not confirmed(form):
                return await _confirmation(signed, form, coselection, queries, actor=actor, nomination_id=nomination_id,
                                           verdict=verdict, on_behalf_of=on_behalf_of, shared=shared)  # fmt: skip
            outcome = await coselection.decide(actor=actor, nomination_id=nomination_id, verdict=verdict,
                                               reason=form["reason"], reason_shared=shared, on_behalf_of=on_behalf_of)  # fmt: skip
        return back_to(here, "granted" if outcome.grant is not None else DONE[verdict])

    @get("/nominations/{nomination_id:uuid}/approve")
    @on_refusal(nomination_page)
    async def approve(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], actor: NamedDependency[Actor],
        unit: NamedDependency[Unit], coselection: NamedDependency[CoSelection], queries: NamedDependency[Queries],
        nomination_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        """An approval's confirmation, as a page of its own: where someone is sent to approve after signing in again
        (from a stale console session, a Slack click or an API call that needed a recent sign-in). It posts to the
        decision's form, confirmed; a session too old for it is sent to sign in again first."""
        on_behalf_of = _on_behalf_of(request.query_params.get("on_behalf_of"))
        values = {"verdict": Verdict.APPROVE.value, **({"on_behalf_of": str(on_behalf_of)} if on_behalf_of else {})}
        form = Posted(values, {name: [value] for name, value in values.items()})
        async with _signing_in_again(unit, nomination_id, on_behalf_of):
            return await _confirmation(signed, form, coselection, queries, actor=actor, nomination_id=nomination_id,
                                       verdict=Verdict.APPROVE, on_behalf_of=on_behalf_of, shared=False)  # fmt: skip

    @post("/nominations/{nomination_id:uuid}/withdrawal")
    @on_refusal(nomination_page)
    async def withdraw(
        self, signed: NamedDependency[Signed], actor: NamedDependency[Actor], form: NamedDependency[Posted],
        coselection: NamedDependency[CoSelection], queries: NamedDependency[Queries],
        nomination_id: FromPath[uuid.UUID],
    ) -> Redirect | Template:  # fmt: skip
        here = f"/console/nominations/{nomination_id}"
        if not confirmed(form):
            nomination, decisions = await queries.nomination(actor, nomination_id)
            if not (await coselection.allowed(actor, nomination, decisions)).withdraw:
                # Let the use case say why, in its own words (nothing is withdrawn: it refuses).
                await coselection.withdraw(actor=actor, nomination_id=nomination_id, reason=form.get("withdraw_reason"))
            names = await queries.display_names([nomination])
            return confirmation(
                signed, form, title=f"Withdraw the nomination of {names[nomination.organisation_id]}?", danger=True,
                action=f"{here}/withdrawal", back=here, confirm="Yes, withdraw it",
                consequences=[f"The nomination of {names[nomination.organisation_id]} for {names[nomination.model_id]} "
                              "closes now: nobody can decide on it any more.",
                              f"The {len(decisions)} decision{'' if len(decisions) == 1 else 's'} recorded so far "
                              "stay in its history.", "To ask again, nominate anew."],
            )  # fmt: skip
        await coselection.withdraw(actor=actor, nomination_id=nomination_id, reason=form.get("withdraw_reason"))
        return back_to(here, "withdrawn")

    @get("/nominations")
    async def nominations(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries],
    ) -> Template:  # fmt: skip
        params = request.query_params
        listing = Listing.of("/console/nominations", params, NOMINATION_SORTS)
        filters = NominationFilter(
            state=_choice(params.get("state"), NominationState), model_id=_uuid_or_none(params.get("model_id")),
            organisation_id=_uuid_or_none(params.get("organisation_id")),
            awaiting=_choice(params.get("awaiting"), Side), for_me=params.get("for_me") == "1",
            nominated_by=signed.actor.user_id if params.get("mine") == "1" else None, search=listing.search,
        )  # fmt: skip
        found = await queries.nominations(signed.actor, filters, cursor=listing.cursor, limit=FIRST_OF_LIST,
                                          sort=listing.sort)  # fmt: skip
        models = await queries.all_models(signed.actor)
        # Organisations can be thousands: no list to choose from here; the organisation's own page links its
        # nominations, and this page then says which organisation it is narrowed to.
        organisation = (await queries.organisation(signed.actor, filters.organisation_id)
                        if filters.organisation_id else None)  # fmt: skip
        return page("console/nominations.html", signed, nominations=found.items, next_cursor=found.next_cursor,
                    filters=filters, names=await queries.display_names(found.items), models=models,
                    organisation=organisation,
                    states=[s.value for s in NominationState], now=unit.now(), effective_state=effective_state,
                    listing=listing)  # fmt: skip

    @get("/nominations/new")
    async def new_nomination(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], queries: NamedDependency[Queries]
    ) -> Template:
        return await new_nomination_page(signed, queries, values={
            "model_id": request.query_params.get("model_id", ""), "actions": ["invoke"],
            "organisation_id": request.query_params.get("organisation_id", "")})  # fmt: skip

    @post("/nominations/new")
    @on_refusal(new_nomination_page, lists=["actions"])
    async def nominate(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], coselection: NamedDependency[CoSelection]
    ) -> Redirect:
        nomination = await coselection.nominate(
            actor=actor, model_id=form.uuid("model_id", "a model"),
            organisation_id=form.uuid("organisation_id", "an organisation"),
            starts_at=instant(form, "starts_at"), ends_at=instant(form, "ends_at"), actions=form.all("actions"),
            justification=form["justification"],
        )  # fmt: skip
        return back_to(f"/console/nominations/{nomination.id}", "nominated")

    @get("/grants")
    async def grants(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries],
    ) -> Template:  # fmt: skip
        params = request.query_params
        listing = Listing.of("/console/grants", params, GRANT_SORTS)
        state = _choice(params.get("state"), GrantState)
        organisation_id = _uuid_or_none(params.get("organisation_id"))
        found = await queries.grants(signed.actor, state=state, model_id=_uuid_or_none(params.get("model_id")),
                                     organisation_id=organisation_id, cursor=listing.cursor, limit=FIRST_OF_LIST,
                                     search=listing.search, sort=listing.sort)  # fmt: skip
        # As for nominations: an organisation is no choice in the form, the page says which it is narrowed to.
        organisation = await queries.organisation(signed.actor, organisation_id) if organisation_id else None
        return page("console/grants.html", signed, rows=await queries.grant_rows(found.items), organisation=organisation,
                    states=[s.value for s in GrantState], state=state, next_cursor=found.next_cursor,
                    models=await queries.all_models(signed.actor),
                    model_id=params.get("model_id", ""), listing=listing)  # fmt: skip

    @get("/grants/{grant_id:uuid}")
    async def grant(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        queries: NamedDependency[Queries], grants: NamedDependency[Grants], credentials: NamedDependency[Credentials],
        grant_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await grant_page(request, signed, unit, queries, grants, credentials, grant_id)

    @post("/grants/{grant_id:uuid}/revocation")
    @on_refusal(grant_page, section="revoke")
    async def revoke(
        self, signed: NamedDependency[Signed], actor: NamedDependency[Actor], form: NamedDependency[Posted],
        grants: NamedDependency[Grants], queries: NamedDependency[Queries], grant_id: FromPath[uuid.UUID],
    ) -> Redirect | Template:  # fmt: skip
        here = f"/console/grants/{grant_id}"
        if not confirmed(form):
            await grants.check_revocation(actor=actor, grant_id=grant_id, reason=form["reason"])
            row = await queries.grant_row(actor, grant_id)
            return confirmation(
                signed, form, title=f"Revoke {row.organisation_name}'s access to {row.model_name}?", danger=True,
                action=f"{here}/revocation", back=here, confirm="Yes, revoke access now", shown=[("Reason", form["reason"])],
                consequences=[f"{row.organisation_name} loses access to {row.model_name} at once: its credentials get "
                              "no new token, and introspection calls the tokens already issued inactive.",
                              "It cannot be undone: access would need a new nomination approved by both sides."],
            )  # fmt: skip
        await grants.revoke(actor=actor, grant_id=grant_id, reason=form["reason"])
        return back_to(here, "revoked")

    @post("/grants/{grant_id:uuid}/extension")
    @on_refusal(grant_page, section="extension")
    async def extend(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], coselection: NamedDependency[CoSelection],
        grant_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        nomination = await coselection.request_extension(actor=actor, grant_id=grant_id, ends_at=instant(form, "ends_at"),
                                                         justification=form["justification"])  # fmt: skip
        return back_to(f"/console/nominations/{nomination.id}", "extension")
