"""Console page for delegation: the delegations a person gave or holds (an admin: their organisation's), each with its
state; a form to name a delegate among the people the rules accept (their organisation's, holding their deciding
role); and ending one, after a confirmation. Deciding in someone's name happens on the nomination's page."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.domain.delegations import LONGEST, NOTE_LIMIT, Delegations, revocation_refused
from accessdesk.domain.errors import NotFound
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.web.pages import (
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    back_to,
    confirmation,
    confirmed,
    instant,
    notice_of,
    page,
)
from accessdesk.web.refusals import Refusal, on_refusal

HERE = "/console/delegations"
NOTICES = {"created": "Your delegate is named, and told: from its start they may decide in your name.",
           "revoked": "The delegation is ended: nobody decides in that name under it any more."}  # fmt: skip


def provide_delegations(unit: NamedDependency[Unit]) -> Delegations:
    return Delegations(unit)


async def delegations_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
    delegations: NamedDependency[Delegations], *, refusal: Refusal | None = None, values: dict[str, Any] | None = None,
) -> Template:  # fmt: skip
    """The person's delegations (given, held, and, for an admin, the rest of their organisation's) and the form."""
    actor, now = signed.actor, unit.now()
    rows = await delegations.listing(actor)
    given = [r for r in rows if r.delegation.delegator_id == actor.user_id]
    held = [r for r in rows if r.delegation.delegate_id == actor.user_id]
    others = [r for r in rows if r not in given and r not in held]
    endable = {r.delegation.id for r in rows if revocation_refused(actor, r.delegation, now) is None}
    return page("console/delegations.html", signed, status_code=refusal.status if refusal else 200, now=now,
                given=given, held=held, others=others, endable=endable, candidates=await delegations.candidates(actor),
                acting_for=await delegations.givers(actor), longest=LONGEST.days, note_limit=NOTE_LIMIT,
                refusal=refusal, values=values or {}, notice=notice_of(request, NOTICES))  # fmt: skip


class DelegationPagesController(Controller):
    path = HERE
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = {**PAGE_DEPENDENCIES, "delegations": Provide(provide_delegations, sync_to_thread=False)}

    @get("/")
    async def overview(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        delegations: NamedDependency[Delegations],
    ) -> Template:  # fmt: skip
        return await delegations_page(request, signed, unit, delegations)

    @post("/")
    @on_refusal(delegations_page)
    async def delegate(
        self, signed: NamedDependency[Signed], unit: NamedDependency[Unit], form: NamedDependency[Posted],
        delegations: NamedDependency[Delegations],
    ) -> Redirect:  # fmt: skip
        starts_at = instant(form, "starts_at") if form["starts_at"] else unit.now()
        await delegations.create(actor=signed.actor, delegate_id=form.uuid("delegate_id", "a delegate"),
                                 starts_at=starts_at, ends_at=instant(form, "ends_at", end_of_day=True),
                                 note=form.get("note"))  # fmt: skip
        return back_to(HERE, "created")

    @post("/{delegation_id:uuid}/revocation")
    @on_refusal(delegations_page)
    async def revoke(
        self, signed: NamedDependency[Signed], unit: NamedDependency[Unit], form: NamedDependency[Posted],
        delegations: NamedDependency[Delegations], delegation_id: FromPath[uuid.UUID],
    ) -> Redirect | Template:  # fmt: skip
        if not confirmed(form):
            found = [r for r in await delegations.listing(signed.actor) if r.delegation.id == delegation_id]
            refused = (revocation_refused(signed.actor, found[0].delegation, unit.now()) if found
                       else NotFound(f"delegation {delegation_id} not found"))  # fmt: skip
            if refused is not None:
                raise refused
            row = found[0]
            return confirmation(
                signed, form, title=f"End {row.delegate}'s delegation from {row.delegator}?", danger=True,
                action=f"{HERE}/{delegation_id}/revocation", back=HERE, confirm="Yes, end it now",
                consequences=[f"From now on {row.delegate} no longer decides in {row.delegator}'s name.",
                              "Decisions already taken under it stand, recorded as taken by the delegate in the "
                              "approver's name.", f"{row.delegate} is told."],
            )  # fmt: skip
        await delegations.revoke(actor=signed.actor, delegation_id=delegation_id)
        return back_to(HERE, "revoked")
