"""``POST /slack/events``: Slack's slash commands, interactivity and events, handed to the bolt app once proven
Slack's.

Slack's signature is checked here, over the raw body bytes, before anything parses them: a request that is not
Slack's is answered 401 and logged in one line (why, and its length; never its body, which is whatever a stranger
chose to send). A signed body that is not what Slack sends is answered 400. Only then does bolt see the request,
with its own verification turned off (it would check the same signature again, and it logs a refused request's
whole body). Without Slack configured the route answers 404, as if it did not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
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

    from accessdesk.slackbot.work import AtWork


def signature_of(settings: Settings) -> SlackSignature | None:
    """What proves a request to ``/slack/events`` is Slack's, when Slack is configured."""
    return SlackSignature(settings.slack_signing_secret.encode()) if settings.slack_enabled else None


def build_bolt(settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock,
               work: AtWork | None = None) -> AsyncApp | None:  # fmt: skip
    """The bolt app when Slack is configured (built once, at start-up), else None. Its listeners decide through
    the domain in units of work of their own, on ``sessionmaker``."""
    if not settings.slack_enabled:
        return None
    # Imported only when Slack is configured: slack_bolt and aiohttp add about half a second to every start.
    from accessdesk.slackbot.app import build_app

    return build_app(settings, sessionmaker=sessionmaker, clock=clock, work=work)


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


# Slack refuses to sign anything older: a captured request cannot be replayed after this long.
MAX_AGE_SECONDS = 5 * 60
# Slack's largest requests (a modal's submission with every input filled) are tens of kilobytes.
MAX_BODY_BYTES = 1024 * 1024
# What bolt's matchers read of each kind of payload before any listener of ours runs: each must have this type, or
# bolt fails inside its dispatch (a 500 and a traceback) instead of answering.
_READ_BY_BOLT: dict[str, tuple[tuple[str, type | tuple[type, ...]], ...]] = {
    "block_actions": (("actions", list), ("user", dict)),
    "block_suggestion": (("action_id", str), ("user", dict)),
    "view_submission": (("view", dict), ("user", dict)),
    "view_closed": (("view", dict), ("user", dict)),
    "event_callback": (("event", dict),),
    "url_verification": (("challenge", str),),
}


@dataclass(frozen=True, slots=True)
class SlackSignature:
    """Slack's request signing, v0: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` under the app's
    signing secret, with a timestamp at most :data:`MAX_AGE_SECONDS` away from now.

    ``now`` is wall-clock time, not the app's :class:`Clock`: the timestamp is Slack's clock, which the app's
    (frozen in tests, perhaps moved in a demo) has nothing to do with."""

    secret: bytes
    now: Callable[[], float] = time.time

    def refusal(self, body: bytes, *, timestamp: str | None, signature: str | None) -> str | None:
        """Why ``body`` was not signed by Slack, in a few words; None when it was."""
        if not timestamp or not signature:
            return "not signed"
        # int() would take " 1_700_000_000", "+17e8"-like spellings and any length: only plain digits are Slack's.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return "timestamp is not a number"
        if abs(self.now() - int(timestamp)) > MAX_AGE_SECONDS:
            return "timestamp is more than 5 minutes away"
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = b"v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest().encode()
        # Headers came as bytes and were decoded as latin-1: encoding back gives the bytes sent, whatever they were.
        if not hmac.compare_digest(expected, signature.encode("latin-1")):
            return "signature does not match"
        return None


def envelope_of(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The payload of a signed request as bolt will read it, or ValueError saying what is wrong with it.

    Slack sends JSON (events), a form (slash commands) or a form whose one ``payload`` field is JSON
    (interactivity); bolt reads all three and expects an object with, for each kind, the fields of
    :data:`_READ_BY_BOLT`."""
    from slack_bolt.request.internals import parse_body

    try:
        text = body.decode()
        parsed = parse_body(text, content_type)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not readable ({type(exc).__name__})") from None
    except json.JSONDecodeError:
        raise ValueError("not JSON where JSON was expected") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"a JSON {type(parsed).__name__}, not an object")
    kind = parsed.get("type")
    for name, expected in _READ_BY_BOLT.get(kind if isinstance(kind, str) else "", ()):
        if not isinstance(parsed.get(name), expected):
            raise ValueError(f"a {kind} without a valid {name!r}")
    if kind == "block_actions" and not (parsed["actions"] and all(isinstance(a, dict) for a in parsed["actions"])):
        raise ValueError("a block_actions without actions")
    if kind in ("view_submission", "view_closed") and not isinstance(parsed["view"].get("callback_id"), str):
        raise ValueError(f"a {kind} without a callback_id")
    if kind == "event_callback" and not isinstance(parsed["event"].get("type"), str):
        raise ValueError("an event without a type")
    return parsed


def refused(status: int, text: str) -> Response[bytes]:
    return Response(content=text.encode(), status_code=status, media_type="text/plain; charset=utf-8")


@post("/slack/events", include_in_schema=False, status_code=200, request_max_body_size=MAX_BODY_BYTES)
async def slack_events(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    bolt: AsyncApp | None = state.get("slack_bolt")
    signing: SlackSignature | None = state.get("slack_signature")
    if bolt is None or signing is None:
        raise NotFoundException()
    from slack_bolt.request.async_request import AsyncBoltRequest

    body = await request.body()
    why = signing.refusal(body, timestamp=request.headers.get("x-slack-request-timestamp"),
                          signature=request.headers.get("x-slack-signature"))  # fmt: skip
    if why is not None:
        log.warning("Slack request refused (401): %s; %d bytes", why, len(body))
        return refused(401, f"Refused: {why}.")
    content_type = request.headers.get("content-type")
    try:
        envelope_of(body, content_type.split(";")[0].strip() if content_type else None)
    except ValueError as exc:
        # Signed by Slack, yet not a payload Slack sends: a fault of Slack's or a replay of something odd; either
        # way a client error, named in one line by our own words, never the body's.
        log.warning("Slack request refused (400): %s; %d bytes", exc, len(body))
        return refused(400, "Refused: not a request Slack sends.")
    headers: dict[str, list[str]] = {}
    for name, value in request.scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    try:
        bolt_request = AsyncBoltRequest(body=body.decode(), query=request.scope["query_string"].decode("latin-1"),
                                        headers=dict(headers))  # typed as Bolt asks: str or sequences
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        # Bolt reads who and where from fields of many shapes (team, user, enterprise, authorizations...): a shape
        # it cannot read is as malformed as the above.
        log.warning("Slack request refused (400): bolt could not read it (%s); %d bytes", type(exc).__name__,
                    len(body))  # fmt: skip
        return refused(400, "Refused: not a request Slack sends.")
    answer = await bolt.async_dispatch(bolt_request)
    passed = {name.lower(): values[0] for name, values in answer.headers.items() if values}
    media_type = passed.pop("content-type", "text/plain; charset=utf-8")
    passed.pop("content-length", None)
    return Response(content=answer.body.encode(), status_code=answer.status, media_type=media_type, headers=passed)
