"""``POST /slack/events``: Slack's slash commands, interactivity and events, handed to the bolt app as they came.

Bolt verifies the signature over the raw body bytes and the timestamp (401 otherwise), so the body is passed on
unparsed. Without Slack configured the route answers 404, as if it did not exist.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException

from accessdesk.clock import Clock
from accessdesk.settings import Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlmodel.ext.asyncio.session import AsyncSession


def build_bolt(settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> AsyncApp | None:
    """The bolt app when Slack is configured (built once, at start-up), else None. Its listeners decide through
    the domain in units of work of their own, on ``sessionmaker``."""
    if not settings.slack_enabled:
        return None
    # Imported only when Slack is configured: slack_bolt and aiohttp add about half a second to every start.
    from bots.slackbot.app import build_app

    return build_app(settings, sessionmaker=sessionmaker, clock=clock)


async def warm_up(bolt: AsyncApp) -> None:
    """Make bolt's one ``auth.test`` at start-up rather than before acknowledging the first request after it: with
    Slack slow, that first acknowledgement would otherwise miss Slack's 3 seconds. Bolt keeps the answer in its
    single-team authorization middleware, which has no public way to be given it; without that middleware (a
    bolt that changed), or with Slack unreachable now, bolt makes the call lazily as before."""
    from slack_bolt.middleware.authorization.async_single_team_authorization import AsyncSingleTeamAuthorization

    for middleware in getattr(bolt, "_async_middleware_list", []):
        if isinstance(middleware, AsyncSingleTeamAuthorization) and middleware.auth_test_result is None:
            try:
                middleware.auth_test_result = await bolt.client.auth_test()
            except Exception:  # noqa: BLE001 - bolt will try again at the first request
                log.warning("Slack auth.test failed at start-up; bolt will try again at the first request",
                            exc_info=True)


@post("/slack/events", include_in_schema=False, status_code=200)
async def slack_events(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    bolt: AsyncApp | None = state.get("slack_bolt")
    if bolt is None:
        raise NotFoundException()
    from slack_bolt.request.async_request import AsyncBoltRequest

    headers: dict[str, list[str]] = {}
    for name, value in request.scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    body, query = (await request.body()).decode(errors="replace"), request.scope["query_string"].decode("latin-1")
    answer = await bolt.async_dispatch(AsyncBoltRequest(body=body, query=query, headers=headers))  # type: ignore[arg-type]
    passed = {name.lower(): values[0] for name, values in answer.headers.items() if values}
    media_type = passed.pop("content-type", "text/plain; charset=utf-8")
    passed.pop("content-length", None)
    return Response(content=answer.body.encode(), status_code=answer.status, media_type=media_type, headers=passed)
