"""Who is clicking: a Slack user resolved to an accessdesk account, linked by hand (``/accessdesk link``,
confirmed in the console) or else the one account with the same confirmed e-mail address.

A match by e-mail needs Slack's ``users.info``, which may take longer than the 3 seconds Slack gives a listener to
acknowledge. So a match, once Slack confirmed it, is remembered (``SlackLinks.match_email``) for
``EMAIL_MATCH_TTL``: the context middleware finds who accessdesk already knows (:meth:`Identities.known`) before
any listener runs, and only a listener that has acknowledged asks Slack (:meth:`Identities.confirmed`). A person
disabled in accessdesk, unlinked, or whose accessdesk e-mail changed, is refused at the next click; a Slack e-mail
that changed is noticed when the match is next confirmed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import User
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Invalid
from accessdesk.domain.organisations import actor_for, normalise_email
from accessdesk.domain.slack_links import SlackLinks
from accessdesk.domain.unit import Unit
from accessdesk.unavailable import describe, is_database_unavailable

log = logging.getLogger(__name__)


class NotLinked(Exception):
    """The Slack user matches no active accessdesk account: the bot acts for no one it cannot name."""


def confirmed_email(slack_user: dict[str, Any]) -> str | None:
    """The e-mail of a Slack user from ``users.info``, normalised, only if Slack confirmed it belongs to them.

    An unconfirmed address is whatever someone typed: trusting it would let anyone act as anyone."""
    if slack_user.get("deleted") or slack_user.get("is_bot") or slack_user.get("is_email_confirmed") is not True:
        return None
    try:
        return normalise_email((slack_user.get("profile") or {}).get("email") or "")
    except Invalid:
        return None


@dataclass(frozen=True, slots=True)
class Identities:
    """The accessdesk actor behind a Slack user, each answer one short unit of work of its own."""

    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock

    async def known(self, slack_user: str) -> Actor | None:
        """The actor ``slack_user`` acts as from what accessdesk knows alone (a link confirmed in the console, a
        recent match by e-mail), never asking Slack: what may be asked before an acknowledgement. None when only
        Slack can tell."""
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            user = await SlackLinks(unit).known_user(slack_user)
            return None if user is None else await actor_for(unit, user, request_id=f"slack:{slack_user}")

    async def confirmed(self, client: AsyncWebClient, slack_user: str) -> Actor:
        """The actor ``slack_user`` acts as by the e-mail Slack confirms for them now (``users.info``), the match
        remembered. Raises :class:`NotLinked` when there is none. Only after an acknowledgement: Slack may take
        seconds, and no transaction is open meanwhile (on SQLite it would hold the write lock)."""
        try:
            answer = await client.users_info(user=slack_user)
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                raise NotLinked(slack_user) from exc
            raise
        email = confirmed_email(answer.get("user") or {})
        if email is None:
            raise NotLinked(slack_user)
        async with self.sessionmaker() as session:
            unit = Unit(session, self.clock)
            user = await SlackLinks(unit).match_email(slack_user_id=slack_user, email=email)
            if user is None:
                raise NotLinked(slack_user)
            return await actor_for(unit, user, request_id=f"slack:{slack_user}")

    async def remember(self, client: AsyncWebClient, slack_user: str) -> None:
        """Make sure accessdesk knows who ``slack_user`` is, asking Slack: called after an acknowledgement whose
        answer is given already (a modal opened, a menu's options), so that a later request that must answer
        before its own (the modal's submission, the next keystroke) finds them known.

        Best effort, told to no one: someone Slack does not name, or a Slack that fails or is slow now, is left
        unknown, and that later request acknowledges first and finds out after. Any other failure is logged."""
        try:
            await self.confirmed(client, slack_user)
        except (NotLinked, SlackClientError, aiohttp.ClientError, TimeoutError):
            return
        except Exception as exc:  # noqa: BLE001 - the person's request was answered; the next one asks again
            if is_database_unavailable(exc):
                log.warning("Slack user not confirmed: database unavailable (%s)", describe(exc))
            else:
                log.exception("Slack user not confirmed")


async def slack_account_of(unit: Unit, client: AsyncWebClient, user: User) -> str | None:
    """The Slack user id that acts as ``user``: the newest linked by hand, else the workspace's user whose
    confirmed e-mail is theirs; None if there is none (they are not told in Slack then)."""
    links = await SlackLinks(unit).of_user(user.id)
    if links:
        return links[0].slack_user_id
    try:
        answer = await client.users_lookupByEmail(email=user.email)
    except SlackApiError as exc:
        if exc.response.get("error") == "users_not_found":
            return None
        raise
    found = answer.get("user") or {}
    # The same test as for acting: an address someone typed but never confirmed names no one.
    return found.get("id") if confirmed_email(found) == user.email else None
