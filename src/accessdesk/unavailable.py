"""When the database cannot be reached: every surface answers 503 with ``Retry-After`` in its own form, and the log
says so in a few lines rather than a traceback per request.

What counts as "cannot be reached" is :func:`is_database_unavailable`, one rule for the JSON API, the console, the
OAuth endpoints, Slack and the worker:

- a connection the driver reports lost (SQLAlchemy's ``connection_invalidated``: reset, closed mid-transaction);
- the server refusing or going away: SQLSTATE class 08 (connection exception, asyncpg's
  ``ConnectionDoesNotExistError`` among them), 57P01-57P03 and 57P05 (shut down by the administrator, crashed,
  ``the database system is starting up`` / ``shutting down``, idle session killed), 53300 (too many connections);
- asyncpg's ``InterfaceError`` on a closed connection;
- an ``OSError`` (refused, reset, unreachable, a connect timeout) raised by the database driver while connecting;
- SQLAlchemy's pool timeout (no connection free in time).

Anything else stays a 500 with its traceback: a syntax error, a constraint, asyncpg's "another operation is in
progress" (a misuse of a connection) are bugs, not outages. So is SQLite's ``database is locked``: the embedded
database cannot go away, and every write begins ``IMMEDIATE`` with a 30-second busy timeout, so a lock held past it
means a transaction that never ended, a bug to see rather than a condition to retry around.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.response import Template
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from accessdesk.api.errors import problem
from accessdesk.request_scope import request_id_of
from accessdesk.web.security import local_path

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
"""What every 503 asks the client to wait: about the time a PostgreSQL restart or a failover takes."""
SUMMARY_EVERY_SECONDS = 30.0
"""While the database stays away, at most one summary line per this many seconds."""

_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "53300"})
_PROTOCOL_VIOLATION = "08P01"  # class 08, but a bug in a client, not a database away


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (and a retry later may succeed), rather than that
    the request or the code is wrong. Follows the exception's explicit causes (``raise ... from``, SQLAlchemy's
    ``orig``), never the exceptions it happened to be raised while handling."""
    return any(_says_unavailable(cause) for cause in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen or len(seen) > 16:
            continue
        seen.add(id(current))
        yield current
        pending.append(current.__cause__)
        orig = getattr(current, "orig", None) if isinstance(current, sa_exc.DBAPIError) else None
        pending.append(orig if isinstance(orig, BaseException) else None)


def _says_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):  # concurrent work (Litestar resolves dependencies in a task group)
        return all(is_database_unavailable(inner) for inner in exc.exceptions)
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.TimeoutError):  # the pool's: QueuePool limit reached, no connection in time
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and (
        sqlstate in _SQLSTATES or (sqlstate.startswith("08") and sqlstate != _PROTOCOL_VIOLATION)
    ):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return True
    # asyncpg's connect lets the socket's errors through as they are (refused, reset, "Multiple exceptions" when a
    # name resolves to several addresses, a connect timeout). An OSError from anywhere else (Slack, an identity
    # provider, a file) is not the database's: only one raised inside the driver counts.
    return isinstance(exc, OSError) and _raised_in_driver(exc)


_DRIVERS = ("asyncpg.", "sqlalchemy.")


def _raised_in_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVERS):
            return True
        tb = tb.tb_next
    return False


def describe(exc: BaseException) -> str:
    """The innermost cause in one short line: never SQLAlchemy's own text, which carries the statement and its
    parameters (secret hashes among them)."""
    inner = exc
    for cause in _causes(exc):
        if not isinstance(cause, BaseExceptionGroup):
            inner = cause
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    return f"{type(inner).__name__}: {text[:160]}" if text else type(inner).__name__


class OutageLog:
    """The log of one process's requests refused for want of the database: one warning when the first is refused,
    a summary at most every ``every`` seconds while they go on, one line when a connection succeeds again. Each
    refused request also has one DEBUG line (its id, method and path) for whoever needs to match them up."""

    def __init__(self, *, every: float = SUMMARY_EVERY_SECONDS, monotonic: Callable[[], float] = time.monotonic):
        self.every, self._monotonic = every, monotonic
        self._since: float | None = None
        self._last_line = 0.0
        self._total = self._unreported = 0

    @property
    def refused_total(self) -> int:
        """Requests refused since the database was last seen away (0 when it is not)."""
        return self._total

    def refused(self, what: str, exc: BaseException) -> None:
        now = self._monotonic()
        log.debug("database unavailable: %s answered 503 (%s)", what, describe(exc))
        self._total += 1
        if self._since is None:
            self._since = self._last_line = now
            log.warning("database unavailable: %s answered 503 with Retry-After (%s); while it lasts, a summary at "
                        "most every %d s", what, describe(exc), self.every)  # fmt: skip
            return
        self._unreported += 1
        if now - self._last_line >= self.every:
            log.warning("database still unavailable: %d more requests answered 503 in the last %d s (%s)",
                        self._unreported, now - self._last_line, describe(exc))  # fmt: skip
            self._last_line, self._unreported = now, 0

    def reachable(self) -> None:
        """A connection to the database succeeded: the outage, if there was one, is over."""
        if self._since is None:
            return
        log.warning("database reachable again after %.1f s; %d requests were answered 503 meanwhile",
                    self._monotonic() - self._since, self._total)  # fmt: skip
        self._since, self._total, self._unreported = None, 0, 0

    def watch(self, engine: AsyncEngine) -> None:
        """Hear of every new connection ``engine`` makes: the first one after an outage ends it."""
        event.listen(engine.sync_engine, "connect", lambda _dbapi, _record: self.reachable())


_FALLBACK_LOG = OutageLog()


def _outage_log(request: Request[Any, Any, Any]) -> OutageLog:
    found = request.app.state.get("database_outage")
    return found if isinstance(found, OutageLog) else _FALLBACK_LOG


def _noted(request: Request[Any, Any, Any], exc: BaseException) -> None:
    what = f"{request.method} {request.scope.get('path', '')} [{request_id_of(request)}]"
    _outage_log(request).refused(what, exc)


RETRY_AFTER = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}


def temporarily_unavailable(request: Request[Any, Any, Any], exc: BaseException) -> Response[Any]:
    """The OAuth endpoints' answer (RFC 6749 §5.2 ``temporarily_unavailable``): 503, ``Retry-After``, never stored."""
    _noted(request, exc)
    body = {"error": "temporarily_unavailable",
            "error_description": "the authorization server cannot reach its database; retry in a few seconds"}  # fmt: skip
    return Response(body, status_code=503, media_type="application/json", headers={**RETRY_AFTER, "Pragma": "no-cache"})


def unavailable_page(request: Request[Any, Any, Any], exc: BaseException) -> Response[Any]:
    """The console's answer: a page that says the service is briefly away and to retry (security headers are added
    by the middleware around every response)."""
    _noted(request, exc)
    again = local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return Template("console/unavailable.html", status_code=503, headers=RETRY_AFTER,
                    context={"retry_after": RETRY_AFTER_SECONDS, "again": again if request.method == "GET" else None})  # fmt: skip


def unavailable_problem(request: Request[Any, Any, Any], exc: BaseException) -> Response[Any]:
    """The JSON API's answer (and Slack's: any non-2xx makes Slack send the request again)."""
    _noted(request, exc)
    return problem(503, "Service unavailable", f"the database cannot be reached for a moment; retry in "
                   f"{RETRY_AFTER_SECONDS} seconds", "database_unavailable", headers=RETRY_AFTER)  # fmt: skip


def _is_page(request: Request[Any, Any, Any]) -> bool:
    handler = request.scope.get("route_handler")
    fn = getattr(getattr(handler, "fn", None), "__module__", None)
    if isinstance(fn, str):
        return fn.startswith("accessdesk.web.")
    return "text/html" in request.headers.get("accept", "")


def database_unavailable(request: Request[Any, Any, Any], exc: BaseException) -> Response[Any]:
    """The 503 for ``request`` in its surface's form: the OAuth endpoints' RFC 6749 error, a console page, or a
    problem+json for the JSON API and everything else."""
    if request.scope.get("path", "").startswith("/oauth/"):
        return temporarily_unavailable(request, exc)
    if _is_page(request):
        return unavailable_page(request, exc)
    return unavailable_problem(request, exc)


def slack_listener_errors(outage: OutageLog) -> Callable[..., Awaitable[Any]]:
    """Bolt's error handler (``bolt.error(...)``): a listener that failed for want of the database answers 503 (when
    it had not acknowledged yet, Slack sends the request again) and counts in the outage log, without a traceback;
    any other failure is bolt's default, a 500 and the traceback."""

    async def on_error(error: Exception, logger: logging.Logger) -> Any:
        if not is_database_unavailable(error):
            logger.exception("Failed to run listener function (error: %s)", error)
            return None
        from slack_bolt.response import BoltResponse  # slack_bolt is imported only by deployments that use Slack

        outage.refused("Slack listener", error)
        return BoltResponse(status=503, body="", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    return on_error


Handler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def unless_database_unavailable(otherwise: Handler) -> Handler:
    """An exception handler that answers 503 when the database cannot be reached, and leaves every other exception
    to ``otherwise`` (the 500 with its traceback)."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        if is_database_unavailable(exc):
            return database_unavailable(request, exc)
        return otherwise(request, exc)

    return handle


def with_database_outages(handlers: dict[type[Exception] | int, Any]) -> dict[type[Exception] | int, Any]:
    """``handlers`` whose catch-all (``Exception``) first answers 503 for a database out of reach. Only the
    catch-all: no database error has a handler of its own that this would have to come before (``IntegrityError``
    is a conflict, never an outage), and a controller that brings its own catch-all (the OAuth endpoints) decides
    for itself by calling :func:`is_database_unavailable`."""
    return {**handlers, Exception: unless_database_unavailable(handlers[Exception])}
