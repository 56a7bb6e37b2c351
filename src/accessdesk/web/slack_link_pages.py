"""Console pages for Slack accounts: confirming the one-time link ``/accessdesk link`` sends (the Slack user then
acts as the person signed in), and the person's linked Slack accounts, each of which they may unlink."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from accessdesk.domain.errors import DomainError
from accessdesk.domain.queries import Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.slack_links import SlackLinks
from accessdesk.request_scope import request_unit
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, Refusal, back_to, notice_of, page, refused

NOTICES = {"linked": "Your Slack account is linked: in Slack, accessdesk now knows it as you.",
           "unlinked": "The Slack account is unlinked: in Slack, accessdesk no longer knows it as you."}  # fmt: skip
PRIVATE = {b"referrer-policy": b"no-referrer", b"cache-control": b"no-store"}


def private(app: ASGIApp) -> ASGIApp:
    """Route middleware for pages whose address holds a one-time token: no Referer carries the address to another
    page and no cache keeps it. It wraps the route's error handling too, so the refusal pages and the redirect to
    sign in (whose ``next`` holds the token) get the headers as well."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in PRIVATE]
                message["headers"] = [*kept, *PRIVATE.items()]
            await send(message)

        await app(scope, receive, send_private)

    return middleware


class SlackLinkPagesController(Controller):
    path = "/console/slack"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def accounts(self, request: Request[Any, Any, Any], signed: Signed) -> Template:
        return await self._accounts(request, signed)

    async def _accounts(
        self, request: Request[Any, Any, Any], signed: Signed, *, refusal: Refusal | None = None
    ) -> Template:
        links = await SlackLinks(request_unit(request, request.app.state)).of_user(signed.actor.user_id)  # type: ignore[arg-type]
        return page("console/slack_account.html", signed, status_code=refusal.status if refusal else 200,
                    links=links, refusal=refusal, notice=notice_of(request, NOTICES))  # fmt: skip

    @post("/{slack_user_id:str}/unlink")
    async def unlink(self, request: Request[Any, Any, Any], signed: Signed, form: Posted,
                     slack_user_id: str) -> Template | Redirect:  # fmt: skip
        """The form has no fields: asking for ``form`` is what checks its CSRF token."""
        try:
            await SlackLinks(request_unit(request, request.app.state)).unlink(actor=signed.actor,
                                                                              slack_user_id=slack_user_id)  # fmt: skip
        except DomainError as exc:
            return await self._accounts(request, signed, refusal=await refused(request, exc))
        return back_to("/console/slack", "unlinked")

    @get("/link/{token:str}", middleware=[private])
    async def link(self, request: Request[Any, Any, Any], signed: Signed, token: str) -> Template:
        """What the link asks, and whom it would let act as whom; nothing changes until the person confirms."""
        unit, user_id = request_unit(request, request.app.state), signed.actor.user_id
        asked = await SlackLinks(unit).pending(token)
        me = (await Queries(unit).people_names([user_id] if user_id else [])).get(user_id, signed.actor.label)  # type: ignore[arg-type]
        return page("console/slack_link.html", signed, asked=asked, me=me, token=token)

    @post("/link/{token:str}", middleware=[private])
    async def confirm(self, request: Request[Any, Any, Any], signed: Signed, form: Posted, token: str) -> Redirect:
        """The form has no fields: asking for ``form`` is what checks its CSRF token."""
        try:
            await SlackLinks(request_unit(request, request.app.state)).confirm(actor=signed.actor, token=token)
        except DomainError as exc:
            await refused(request, exc)  # nothing of the refused confirmation stays; the error page says why
            raise
        return back_to("/console/slack", "linked")
