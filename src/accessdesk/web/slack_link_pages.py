"""Console pages for Slack accounts: confirming the one-time link ``/accessdesk link`` sends (the Slack user then
acts as the person signed in), and the person's linked Slack accounts, each of which they may unlink."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from accessdesk.domain.actor import Actor
from accessdesk.domain.queries import Queries
from accessdesk.domain.sessions import Signed
from accessdesk.domain.slack_links import SlackLinks
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, Posted, back_to, notice_of, page
from accessdesk.web.refusals import Refusal, on_refusal

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


async def accounts_page(
    request: Request[Any, Any, Any], signed: NamedDependency[Signed], slack_links: NamedDependency[SlackLinks], *,
    refusal: Refusal | None = None,
) -> Template:  # fmt: skip
    links = await slack_links.of_user(signed.actor.person_id)
    return page("console/slack_account.html", signed, status_code=refusal.status if refusal else 200,
                links=links, refusal=refusal, notice=notice_of(request, NOTICES))  # fmt: skip


class SlackLinkPagesController(Controller):
    path = "/console/slack"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/")
    async def accounts(
        self, request: Request[Any, Any, Any], signed: NamedDependency[Signed], slack_links: NamedDependency[SlackLinks]
    ) -> Template:
        return await accounts_page(request, signed, slack_links)

    @post("/{slack_user_id:str}/unlink")
    @on_refusal(accounts_page)
    async def unlink(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], slack_links: NamedDependency[SlackLinks],
        slack_user_id: FromPath[str],
    ) -> Redirect:  # fmt: skip
        """The form has no fields: asking for ``form`` is what checks its CSRF token."""
        await slack_links.unlink(actor=actor, slack_user_id=slack_user_id)
        return back_to("/console/slack", "unlinked")

    @get("/link/{token:str}", middleware=[private])
    async def link(
        self, signed: NamedDependency[Signed], queries: NamedDependency[Queries],
        slack_links: NamedDependency[SlackLinks], token: FromPath[str],
    ) -> Template:  # fmt: skip
        """What the link asks, and whom it would let act as whom; nothing changes until the person confirms."""
        user_id = signed.actor.user_id
        asked = await slack_links.pending(token)
        me = (await queries.people_names([user_id])).get(user_id, signed.actor.label) if user_id else signed.actor.label
        return page("console/slack_link.html", signed, asked=asked, me=me, token=token)

    @post("/link/{token:str}", middleware=[private])
    async def confirm(
        self, actor: NamedDependency[Actor], form: NamedDependency[Posted], slack_links: NamedDependency[SlackLinks],
        token: FromPath[str],
    ) -> Redirect:  # fmt: skip
        """The form has no fields: asking for ``form`` is what checks its CSRF token. A refused confirmation shows
        the error page, which says why; the request's unit of work, closed unfinished, keeps nothing of it."""
        await slack_links.confirm(actor=actor, token=token)
        return back_to("/console/slack", "linked")
