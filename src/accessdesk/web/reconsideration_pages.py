"""Console pages for reconsideration, as the side that nominated meets it: the queue of requests about its
nominations (open ones first, by default), and a request's page (the refused nomination, why it was refused, the
partner's note) with the two answers, taking it up as a new nomination round or declining it with a response. The
partner asks from its portal (``web.portal``); it also follows its requests here."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accessdesk.domain.reconsiderations import (
    NOTE_LIMIT,
    RESPONSE_LIMIT,
    Reconsiderations,
    ReconsiderationState,
    default_window,
)
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.web.pages import (
    FIRST_OF_LIST,
    PAGE_DEPENDENCIES,
    PAGE_ERRORS,
    Posted,
    back_to,
    instant,
    notice_of,
    page,
)
from accessdesk.web.refusals import Refusal, on_refusal

HERE = "/console/reconsiderations"
NOTICES = {"taken_up": "The request is taken up: the new nomination is open, and both sides decide on it. The "
                       "partner is told.",
           "declined": "The request is declined; the partner is told, with your response."}  # fmt: skip
STATES = {s.value for s in ReconsiderationState}


def provide_reconsiderations(unit: NamedDependency[Unit]) -> Reconsiderations:
    return Reconsiderations(unit)


def _field(moment: Any) -> str:
    """An instant as the form's fields take it back (UTC, ``YYYY-MM-DD HH:MM``)."""
    return f"{moment:%Y-%m-%d %H:%M}"


async def reconsideration_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
    reconsiderations: NamedDependency[Reconsiderations], reconsideration_id: FromPath[uuid.UUID], *,
    refusal: Refusal | None = None, values: dict[str, Any] | None = None, section: str | None = None,
) -> Template:  # fmt: skip
    """One request; a refused answer shown again in its ``section`` (``take_up`` or ``decline``) with what was typed."""
    row = await reconsiderations.one(signed.actor, reconsideration_id)
    start, end = default_window(row.nomination, unit.now())
    typed = values or {}
    if section == "decline" and refusal is not None and refusal.field == "response":
        # The decline form's response is ``decline_response`` (the take-up form has a ``response`` of its own).
        refusal = replace(refusal, field="decline_response")
    if section != "take_up":
        typed = {**typed, "starts_at": _field(start), "ends_at": _field(end)}
    return page("console/reconsideration.html", signed, status_code=refusal.status if refusal else 200, row=row,
                r=row.reconsideration, n=row.nomination, refusal=refusal, form_name=section, values=typed,
                response_limit=RESPONSE_LIMIT, notice=notice_of(request, NOTICES))  # fmt: skip


class ReconsiderationPagesController(Controller):
    path = HERE
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = {**PAGE_DEPENDENCIES, "reconsiderations": Provide(provide_reconsiderations, sync_to_thread=False)}

    @get("/")
    async def queue(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed],
        reconsiderations: NamedDependency[Reconsiderations],
    ) -> Template:  # fmt: skip
        """Open requests by default; ``?state=taken_up``, ``declined`` or ``all`` for the others."""
        wanted = request.query_params.get("state") or ReconsiderationState.OPEN.value
        state = ReconsiderationState(wanted) if wanted in STATES else None
        found = await reconsiderations.listing(signed.actor, state=state, limit=FIRST_OF_LIST,
                                               cursor=request.query_params.get("cursor") or None)  # fmt: skip
        more = (f"{HERE}?state={state.value if state else 'all'}&cursor={found.next_cursor}"
                if found.next_cursor else None)  # fmt: skip
        return page("console/reconsiderations.html", signed, rows=found.items, state=state.value if state else "all",
                    states=[s.value for s in ReconsiderationState], more=more, note_limit=NOTE_LIMIT)  # fmt: skip

    @get("/{reconsideration_id:uuid}")
    async def reconsideration(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], unit: NamedDependency[Unit],
        reconsiderations: NamedDependency[Reconsiderations], reconsideration_id: FromPath[uuid.UUID],
    ) -> Template:  # fmt: skip
        return await reconsideration_page(request, signed, unit, reconsiderations, reconsideration_id)

    @post("/{reconsideration_id:uuid}/take-up")
    @on_refusal(reconsideration_page, section="take_up")
    async def take_up(
        self, signed: NamedDependency[Signed], form: NamedDependency[Posted],
        reconsiderations: NamedDependency[Reconsiderations], reconsideration_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await reconsiderations.take_up(
            actor=signed.actor, reconsideration_id=reconsideration_id,
            starts_at=instant(form, "starts_at") if form["starts_at"] else None,
            ends_at=instant(form, "ends_at") if form["ends_at"] else None, response=form.raw("response"),
        )  # fmt: skip
        return back_to(f"{HERE}/{reconsideration_id}", "taken_up")

    @post("/{reconsideration_id:uuid}/decline")
    @on_refusal(reconsideration_page, section="decline")
    async def decline(
        self, signed: NamedDependency[Signed], form: NamedDependency[Posted],
        reconsiderations: NamedDependency[Reconsiderations], reconsideration_id: FromPath[uuid.UUID],
    ) -> Redirect:  # fmt: skip
        await reconsiderations.decline(actor=signed.actor, reconsideration_id=reconsideration_id,
                                       response=form.raw("decline_response"))  # fmt: skip
        return back_to(f"{HERE}/{reconsideration_id}", "declined")
