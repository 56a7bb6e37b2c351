"""The bolt app's one error boundary (``app.error``): every failure a listener or the middleware did not handle
ends here, once.

- A request no listener handles is answered 404, a payload a listener cannot read
  (:class:`accessdesk.slackbot.payloads.Malformed`) 400, each in one log line without the body.
- Before the acknowledgement, any other failure is ``otherwise``'s: by default bolt's own 500 and the traceback;
  at the Slack door, 503 when the database is away, so that Slack sends the request again
  (``accessdesk.unavailable.slack_listener_errors``, wired in by the composition root).
- After it, Slack has its answer and sends nothing again: the person would hear nothing and the work would stop
  half-way unseen. So the failure is logged once, with its traceback and a short reference, and the person is told
  privately where they asked (:attr:`accessdesk.slackbot.context.Requester.tell`) that it may not have been done,
  with that reference. A database that is away is the outage log's (a few lines for the whole outage, no
  traceback per request), and the person is told to try again in a minute.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse

from accessdesk.slackbot import blocks
from accessdesk.slackbot.context import Requester
from accessdesk.slackbot.payloads import Malformed
from accessdesk.unavailable import describe, is_database_unavailable

log = logging.getLogger(__name__)

ErrorHandler = Callable[..., Awaitable[Any]]


async def _logged(error: Exception, logger: logging.Logger) -> None:
    """Bolt's own default: a listener's unexpected failure is logged with its traceback (and answered 500)."""
    logger.exception("Failed to run listener function (error: %s)", error)


def slack_errors(otherwise: ErrorHandler = _logged) -> ErrorHandler:
    """Bolt's error handler (``app.error(...)``), as the module says; ``otherwise(error, logger)`` answers a failure
    before the acknowledgement, and counts a database away after it.

    Bolt's own answer to an unhandled request is a 404 too, but it logs a warning of many lines quoting the
    payload's ids."""

    async def on_error(error: Exception, logger: logging.Logger, response: BoltResponse | None,
                       context: AsyncBoltContext) -> BoltResponse | None:  # fmt: skip
        # ``response`` is None once the listener has acknowledged: the answer is gone (and bolt refuses an answer
        # returned then).
        answer: BoltResponse | None
        if isinstance(error, BoltUnhandledRequestError):
            # Bolt says the same of a listener that did not acknowledge within its 3 seconds (it logs that apart).
            log.warning("Slack request not handled (404): no listener acknowledged it")
            answer = BoltResponse(status=404, body="Refused: nothing here handles this request.")
        elif isinstance(error, Malformed):
            log.warning("Slack request refused (400): %s", error)
            answer = BoltResponse(status=400, body="Refused: not a request Slack sends.")
        elif response is None:
            await after_acknowledging(error, context.get("requester"), otherwise=otherwise, logger=logger)
            answer = None
        else:
            answer = await otherwise(error, logger)
        return answer if response is not None else None

    return on_error


async def after_acknowledging(error: Exception, requester: Requester | None, *, otherwise: ErrorHandler,
                              logger: logging.Logger) -> None:  # fmt: skip
    """A failure once Slack had its acknowledgement: logged once with a reference, and told to the person (if the
    payload named one) with that reference. Telling them is tried once; if that fails too, one more log line."""
    reference = secrets.token_hex(4)
    unavailable = is_database_unavailable(error)
    if unavailable:
        await otherwise(error, logger)
        log.debug("Slack listener failed after acknowledging (reference %s): database unavailable", reference)
    else:
        log.error("Slack listener failed after acknowledging (reference %s): %s", reference, describe(error),
                  exc_info=error)  # fmt: skip
    if requester is None:
        return
    try:
        await requester.tell(blocks.failed_text(reference, unavailable=unavailable))
    except Exception as exc:  # noqa: BLE001 - Slack failing now too: the log line above is all there is
        log.warning("Slack listener's failure (reference %s) could not be told to %s: %s", reference,
                    requester.slack_user, describe(exc))  # fmt: skip
