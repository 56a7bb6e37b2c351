"""Who is clicking: a Slack user resolved to an accessdesk account, linked by hand (``/accessdesk link``,
confirmed in the console) or else the one account with the same confirmed e-mail address.

A match by e-mail needs Slack's ``users.info``, which may take longer than the 3 seconds Slack gives a listener to
acknowledge. So a match, once Slack confirmed it, is remembered (``SlackLinks.remember_match``) for
``EMAIL_MATCH_TTL``; a listener that must decide before acknowledging (a modal's submission, a menu's options)
uses only what is known (``client=None``) and never waits for Slack. A person disabled in accessdesk, unlinked, or
whose accessdesk e-mail changed, is refused at the next click; a Slack e-mail that changed is noticed when the match
is next confirmed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.db.tables import User
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Invalid
from accessdesk.domain.organisations import actor_for, normalise_email
from accessdesk.domain.slack_links import SlackLinks
from accessdesk.domain.unit import Unit


class NotLinked(Exception):
    """The Slack user matches no active accessdesk account: the bot acts for no one it cannot name."""


class Unconfirmed(Exception):
    """Who the Slack user is was not confirmed recently, and asking Slack is not allowed here (before an
    acknowledgement): the caller acknowledges first and asks again with a client."""


def confirmed_email(slack_user: dict[str, Any]) -> str | None:
    """The e-mail of a Slack user from ``users.info``, normalised, only if Slack confirmed it belongs to them.

    An unconfirmed address is whatever someone typed: trusting it would let anyone act as anyone."""
    if slack_user.get("deleted") or slack_user.get("is_bot") or slack_user.get("is_email_confirmed") is not True:
        return None
    try:
        return normalise_email((slack_user.get("profile") or {}).get("email") or "")
    except Invalid:
        return None


async def known_actor(unit: Unit, slack_user_id: str) -> Actor | None:
    """The actor a Slack user acts as, from what accessdesk knows alone: a link confirmed in the console, or a
    recent match by e-mail. None when only Slack can tell."""
    links = SlackLinks(unit)
    user = await links.user_of(slack_user_id) or await links.matched(slack_user_id)
    return None if user is None else await actor_for(unit, user, request_id=f"slack:{slack_user_id}")


async def actor_of(unit: Unit, client: AsyncWebClient | None, slack_user_id: str) -> Actor:
    """The accessdesk actor a Slack user acts as. Raises :class:`NotLinked` when there is none, and
    :class:`Unconfirmed` when only Slack could tell and ``client`` is None."""
    known = await known_actor(unit, slack_user_id)
    if known is not None:
        return known
    if client is None:
        raise Unconfirmed(slack_user_id)
    # End that read before calling Slack, which may take seconds: on SQLite every transaction holds the write lock
    # (db/engine.py), and on PostgreSQL it would hold a pooled connection. Finding out who acts is the first thing
    # every listener's unit does, so there is nothing else to end.
    await unit.session.commit()
    try:
        answer = await client.users_info(user=slack_user_id)
    except SlackApiError as exc:
        if exc.response.get("error") == "user_not_found":
            raise NotLinked(slack_user_id) from exc
        raise
    email = confirmed_email(answer.get("user") or {})
    if email is None:
        raise NotLinked(slack_user_id)
    # User.email is unique and stored normalised, so a match is exactly one account.
    user = (await unit.session.exec(select(User).where(User.email == email, User.disabled_at.is_(None)))).first()  # type: ignore[union-attr]
    if user is None:
        raise NotLinked(slack_user_id)
    await SlackLinks(unit).remember_match(slack_user_id=slack_user_id, user=user)
    return await actor_for(unit, user, request_id=f"slack:{slack_user_id}")


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


@asynccontextmanager
async def acting(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, client: AsyncWebClient | None,
                 slack_user: str) -> AsyncIterator[tuple[Unit, Actor]]:  # fmt: skip
    """A unit of work of its own, as the accessdesk user behind ``slack_user`` (raises :class:`NotLinked`, or
    :class:`Unconfirmed` without a ``client``): how every listener begins. Finding out who acts is the unit's first
    work, as :func:`actor_of` needs."""
    async with sessionmaker() as session:
        unit = Unit(session, clock)
        yield unit, await actor_of(unit, client, slack_user)


async def confirm(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, client: AsyncWebClient,
                  slack_user: str) -> None:  # fmt: skip
    """Make sure accessdesk knows who ``slack_user`` is, asking Slack if need be: called after an acknowledgement,
    so that a later request that must answer before its own (a modal's submission, a menu's options) finds them
    known. Someone Slack does not name, or a Slack that fails or is slow now, is left unknown: that later request
    then acknowledges first and finds out after."""
    try:
        async with acting(sessionmaker, clock, client, slack_user):
            pass
    except (NotLinked, SlackClientError, aiohttp.ClientError, TimeoutError):
        return
