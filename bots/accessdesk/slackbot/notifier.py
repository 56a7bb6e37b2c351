"""The Slack side of the domain's ``Notifier`` port: outbox messages become Slack posts.

What each address becomes:

- ``model:<id>:approvers``: the model's approval cards. ``nomination.created`` posts a card in each of the model's
  channels; a decision, a withdrawal or a lapse edits every posted card in place and notes it in each card's
  thread; anything else (a planned release moved) is posted in the model's channels. A cohort has one card
  instead of one per member (:mod:`accessdesk.slackbot.cohort_cards`): posted for ``cohort.created`` or any of its
  members' ``nomination.created`` (which carries ``cohort_id``), whichever comes first; edited after anything that
  happens to a member, once per change (``SlackCohortCard.shown``: a cohort decided at once reports each member,
  and all but the first find the card already showing it); ``cohort.decided`` is also noted in its thread.
- ``user:<id>``: a direct message to the person's Slack account, when they have one: linked by ``/accessdesk
  link``, or found by the confirmed e-mail address of their accessdesk account. Without one the message is only
  logged, as without Slack.
- ``organisation:<id>``: a direct message to each of the organisation's contacts who has a Slack account.
- ``slack:<channel>`` and ``slack-user:<user>``: posted there.
- anything else: logged, and counts as delivered, exactly as without Slack; failing it instead would only retry it
  into the dead letters with nothing learnt.

Exactly once: every post is remembered (:class:`SlackDelivery`, or :class:`SlackCard` for a card) in the outbox's
own transaction, the one that claimed the message and marks it delivered. A message that failed half-way keeps what
it posted, and its retry posts only the rest. A card is the one post the bot edits later, so a card whose post got
no answer (a timeout, a network error, a 5xx: Slack may have posted it) is remembered as such (``ts`` None) and not
posted blindly again: the retry, once :data:`CARD_SETTLES` has passed, looks for it in the channel's history by the
metadata every card carries, and posts again only if it is not there. Failures raise, so the outbox stays the one retry policy: a 429
becomes :class:`RetryAfter` (the message waits as long as Slack asked); a 5xx, an ``ok: false`` answer, a timeout
or a network error raise as they are, and the outbox retries them with backoff into the dead letters.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock, SystemClock
from accessdesk.db.tables import (
    Decision,
    FrontierModel,
    Nomination,
    OutboxMessage,
    SlackCard,
    SlackCohortCard,
    SlackDelivery,
    User,
)
from accessdesk.domain.notices import contacts
from accessdesk.domain.notifier import RetryAfter
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import Side, Verdict
from accessdesk.slackbot import blocks, cohort_blocks, notices
from accessdesk.slackbot.cards import Card, card_of, posted
from accessdesk.slackbot.cohort_cards import (
    COHORT_CARD_EVENT,
    card_turn,
    cohort_card_metadata,
    cohort_card_of,
    cohort_cards_posted,
    digest,
)
from accessdesk.slackbot.finding_notices import FINDING_TOPICS, finding_notice
from accessdesk.slackbot.identity import slack_account_of

log = logging.getLogger(__name__)

# ``slack:C0123ABCD`` is a channel (public C…, private G…, direct D…); ``slack-user:U0123ABCD`` a person, whom the
# bot writes to in its own direct-message conversation (chat.postMessage accepts a user id as the channel).
_CHANNEL = re.compile(r"slack:([CGD][A-Z0-9]{2,})")
_USER = re.compile(r"slack-user:([UW][A-Z0-9]{2,})")
_APPROVERS = re.compile(r"model:([0-9a-fA-F-]{36}):approvers")
_PERSON = re.compile(r"user:([0-9a-fA-F-]{36})")
_ORGANISATION = re.compile(r"organisation:([0-9a-fA-F-]{36})")
# Every card carries this metadata (event_payload: its nomination's id): how a card whose post got no answer is found.
CARD_EVENT = "accessdesk_approval_card"
# How long a card post that got no answer may still land in the channel: Slack answers within seconds or fails, but
# a post whose answer was cut by a timeout can still be in Slack's hands a while after; looked for only after this.
CARD_SETTLES = 60.0
# Pages of a channel's history (100 messages each, newest first) read to find such a card.
HISTORY_PAGES = 5
# On SQLite, how long a message being delivered is kept from any other deliverer while its transaction is committed
# around a Slack call (see SlackNotifier._before_slack); renewed at every call.
LEASE = timedelta(minutes=5)
# The outbox message being delivered and its unit of work, in this task (deliveries of several messages may run at once).
_delivering: ContextVar[tuple[Unit, OutboxMessage] | None] = ContextVar("delivering", default=None)
# What happened to a pending nomination: its cards are edited and a note goes in each card's thread.
FOLLOW_UPS = frozenset({"nomination.decision", "nomination.withdrawn", "nomination.lapsed"})
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8000"
# A cohort card is edited, then read again: a member decided meanwhile (by another delivery, whose edit may have
# reached Slack first) is shown by a further edit, at most this many in all.
COHORT_EDITS = 3


def card_metadata(nomination_id: uuid.UUID) -> dict[str, Any]:
    """Slack message metadata naming the card's nomination (kept by Slack, invisible to people)."""
    return {"event_type": CARD_EVENT, "event_payload": {"nomination_id": str(nomination_id)}}


def slack_channel_of(recipient: str) -> str | None:
    """The Slack conversation a recipient names, or None if it is not a Slack address.

    Raises ValueError for a malformed Slack address: it should end in the dead letters, not vanish."""
    if not recipient.startswith(("slack:", "slack-user:")):
        return None
    match = _CHANNEL.fullmatch(recipient) or _USER.fullmatch(recipient)
    if match is None:
        raise ValueError(f"not a Slack channel or user id: {recipient!r}")
    return match.group(1)


class SlackNotifier:
    """Delivers outbox messages to Slack (see the module's docstring for what each address becomes)."""

    def __init__(self, client: AsyncWebClient, *, console_url: str = DEFAULT_CONSOLE_URL,
                 clock: Clock | None = None) -> None:  # fmt: skip
        self._client = client
        self._console_url = console_url
        self._clock = clock or SystemClock()

    async def deliver(self, unit: Unit, message: OutboxMessage) -> None:
        """Deliver ``message`` within ``unit``, the outbox's transaction that claimed it (a second session would
        wait for the first on SQLite, where every transaction holds the write lock: db/engine.py)."""
        token = _delivering.set((unit, message))
        try:
            await self._deliver(unit, message)
        finally:
            _delivering.reset(token)

    async def _deliver(self, unit: Unit, message: OutboxMessage) -> None:
        if message.topic in FINDING_TOPICS:  # a need-to-know-safe notice in the model's channels
            notice = await finding_notice(unit, message, console_url=self._console_url)
            for where in notice.channels:
                await self._post(unit.session, message, where, **notice.content)
            return
        if (approvers := _APPROVERS.fullmatch(message.recipient)) is not None:
            await self._to_approvers(unit, message, uuid.UUID(approvers.group(1)))
            return
        if (person := _PERSON.fullmatch(message.recipient)) is not None:
            await self._to_person(unit, message, uuid.UUID(person.group(1)))
            return
        if (organisation := _ORGANISATION.fullmatch(message.recipient)) is not None:
            await self._to_organisation(unit, message, uuid.UUID(organisation.group(1)))
            return
        channel = slack_channel_of(message.recipient)
        if channel is None:
            log.info("notification %s → %s (not a Slack address: logged only)", message.topic, message.recipient)
            return
        await self._post(unit.session, message, channel, text=await notices.text_of(unit, message, self._console_url))

    async def _to_approvers(self, unit: Unit, message: OutboxMessage, model_id: uuid.UUID) -> None:
        cohort_id = message.payload.get("cohort_id")
        if message.topic == "nomination.created" and cohort_id is None:
            await self._post_cards(unit, uuid.UUID(str(message.payload["nomination_id"])))
        elif message.topic in ("nomination.created", "cohort.created"):
            await self._post_cohort_cards(unit, uuid.UUID(str(cohort_id)))
        elif message.topic == "cohort.decided":
            await self._follow_cohort(unit, uuid.UUID(str(cohort_id)), noted=message)
        elif message.topic in FOLLOW_UPS:
            nomination = await unit.get(Nomination, uuid.UUID(str(message.payload["nomination_id"])))
            if nomination.cohort_id is not None:
                await self._follow_cohort(unit, nomination.cohort_id)
            else:
                await self._follow_up(unit, message)
        else:
            model = await unit.get(FrontierModel, model_id)
            text = await notices.text_of(unit, message, self._console_url)
            for channel in model.slack_channels:
                await self._post(unit.session, message, channel, text=text)

    async def _post_cards(self, unit: Unit, nomination_id: uuid.UUID) -> None:
        """Post the nomination's card in each of the model's channels that does not have it yet: exactly one card
        per channel, even when an earlier post's answer never came (see the module's docstring)."""
        card = await card_of(unit, nomination_id)
        rows = {row.channel: row for row in await posted(unit.session, nomination_id)}
        for channel in card.model.slack_channels:
            row = rows.get(channel)
            if row is not None and row.ts is not None:
                continue
            if row is not None and await self._found_card(unit, row):
                continue
            if row is None:
                row = SlackCard(nomination_id=nomination_id, channel=channel, ts=None, posted_at=self._clock.now())
            await self._post_card(unit, row, metadata=card_metadata(nomination_id),
                                  content=card.for_channel(channel, console_url=self._console_url))  # fmt: skip

    async def _post_card(self, unit: Unit, row: SlackCard | SlackCohortCard, *, metadata: dict[str, Any],
                         content: dict[str, Any]) -> None:  # fmt: skip
        """Post a card in ``row``'s channel, ``row`` saying so (with its ``ts`` once Slack answers)."""
        row.posted_at = self._clock.now()
        # Kept whatever happens, committed with the outbox's transaction; taken back only when Slack's answer
        # proves nothing was posted.
        unit.session.add(row)
        try:
            answer = await self._call(row.channel, self._client.chat_postMessage, channel=row.channel,
                                      unfurl_links=False, unfurl_media=False, metadata=metadata, **content)  # fmt: skip
        except (SlackApiError, RetryAfter) as exc:
            response = exc.response if isinstance(exc, SlackApiError) else None
            if response is None or response.status_code < 500:  # refused (ok: false, 429): nothing was posted
                if row in unit.session.new:
                    unit.session.expunge(row)
                else:
                    await unit.session.delete(row)
            raise
        row.ts = str(answer["ts"])

    async def _post_cohort_cards(self, unit: Unit, cohort_id: uuid.UUID) -> None:
        """The cohort's one card in each of its model's channels that does not have it yet, as :meth:`_post_cards`
        posts a nomination's: whichever of the cohort's messages comes first posts it, the others find it."""
        async with card_turn(unit, cohort_id):
            card = await cohort_card_of(unit, cohort_id)
            rows = {row.channel: row for row in await cohort_cards_posted(unit.session, cohort_id)}
            for channel in card.summary.model.slack_channels:
                row = rows.get(channel)
                if row is not None and (row.ts is not None or await self._found_card(unit, row)):
                    continue
                content = card.for_channel(channel, console_url=self._console_url)
                if row is None:
                    row = SlackCohortCard(cohort_id=cohort_id, channel=channel, ts=None, posted_at=self._clock.now())
                row.shown = digest(content)
                await self._post_card(unit, row, metadata=cohort_card_metadata(cohort_id), content=content)

    async def _follow_cohort(self, unit: Unit, cohort_id: uuid.UUID, *, noted: OutboxMessage | None = None) -> None:
        """Every posted card of the cohort edited to show it as it is now, if it does not already: one edit per
        change, however many of its members' messages report it. ``noted``: a cohort decision, noted once in each
        card's thread."""
        async with card_turn(unit, cohort_id):
            for _ in range(COHORT_EDITS):
                card, edited = await cohort_card_of(unit, cohort_id), False
                for row in await cohort_cards_posted(unit.session, cohort_id):
                    if row.ts is None and not await self._found_card(unit, row):
                        continue  # never posted: the card's own delivery will post it as it is now
                    content = card.for_channel(row.channel, console_url=self._console_url)
                    if row.shown == (shown := digest(content)):
                        continue
                    await self._call(row.channel, self._client.chat_update, channel=row.channel, ts=row.ts, **content)
                    row.shown, edited = shown, True
                    unit.session.add(row)
                if not edited:
                    break
            if noted is None:
                return
            by = noted.payload.get("by")
            name = (await unit.get(User, uuid.UUID(str(by)))).name if by else "Someone"
            for row in await cohort_cards_posted(unit.session, cohort_id):
                if row.ts is not None:
                    await self._post(unit.session, noted, row.channel, thread_ts=row.ts,
                                     text=cohort_blocks.cohort_decided_note(name, noted.payload))  # fmt: skip

    async def _found_card(self, unit: Unit, row: SlackCard | SlackCohortCard) -> bool:
        """Whether the card of a post that got no answer is in its channel after all (then ``row`` gets its ts).

        Raises :class:`RetryAfter` while that post may still land, rather than risk a second card."""
        waited = (self._clock.now() - row.posted_at).total_seconds()
        if waited < CARD_SETTLES:
            raise RetryAfter(CARD_SETTLES - waited, reason=f"a card posted in {row.channel} got no answer yet")
        oldest, cursor = f"{row.posted_at.timestamp() - 5:.6f}", None
        event, key, value = ((COHORT_CARD_EVENT, "cohort_id", str(row.cohort_id)) if isinstance(row, SlackCohortCard)
                             else (CARD_EVENT, "nomination_id", str(row.nomination_id)))  # fmt: skip
        for _ in range(HISTORY_PAGES):
            answer = await self._call(row.channel, self._client.conversations_history, channel=row.channel,
                                      oldest=oldest, limit=100, include_all_metadata=True,
                                      **({"cursor": cursor} if cursor else {}))  # fmt: skip
            for message in answer.get("messages") or []:
                metadata = message.get("metadata") or {}
                if (metadata.get("event_type") == event and
                        (metadata.get("event_payload") or {}).get(key) == value):  # fmt: skip
                    row.ts = str(message["ts"])
                    unit.session.add(row)
                    return True
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor:
                break
        return False

    async def _follow_up(self, unit: Unit, message: OutboxMessage) -> None:
        """Every posted card edited to show the nomination as it is now, and what happened noted in its thread.
        An edit is the same whenever it is repeated; a note is posted once per card."""
        card = await card_of(unit, uuid.UUID(str(message.payload["nomination_id"])))
        note = await self._note(unit, message, card)
        for row in await posted(unit.session, card.nomination.id):
            if row.ts is None and not await self._found_card(unit, row):
                continue  # never posted: the card's own delivery will post it as it is now
            await self._call(row.channel, self._client.chat_update, channel=row.channel, ts=row.ts,
                             **card.for_channel(row.channel, console_url=self._console_url))  # fmt: skip
            await self._post(unit.session, message, row.channel, text=note, thread_ts=row.ts)

    async def _note(self, unit: Unit, message: OutboxMessage, card: Card) -> str:
        if message.topic == "nomination.decision":
            decision = await unit.get(Decision, uuid.UUID(str(message.payload["decision_id"])))
            approver = await unit.get(User, decision.approver_id)
            return blocks.decision_note(approver.name, Verdict(decision.verdict), Side(decision.side))
        by = message.payload.get("by")
        name = (await unit.get(User, uuid.UUID(str(by)))).name if by else None
        return notices.closed_note(card.nomination, by=name)

    async def _to_person(self, unit: Unit, message: OutboxMessage, user_id: uuid.UUID) -> None:
        slack_user = await self._slack_account(unit, user_id)
        if slack_user is None:
            log.info("notification %s → %s (no Slack account: logged only)", message.topic, message.recipient)
            return
        await self._post(unit.session, message, slack_user, text=await notices.text_of(unit, message, self._console_url))

    async def _to_organisation(self, unit: Unit, message: OutboxMessage, organisation_id: uuid.UUID) -> None:
        """Each of the organisation's contacts (domain.notices.contacts) who has a Slack account, by DM."""
        text = await notices.text_of(unit, message, self._console_url)
        for address in (await contacts(unit, [organisation_id])).get(organisation_id, []):
            slack_user = await self._slack_account(unit, uuid.UUID(address.removeprefix("user:")))
            if slack_user is not None:
                await self._post(unit.session, message, slack_user, text=text)

    async def _slack_account(self, unit: Unit, user_id: uuid.UUID) -> str | None:
        user = await unit.session.get(User, user_id)
        return None if user is None or user.disabled_at else await slack_account_of(unit, self._client, user)

    async def _post(self, session: AsyncSession, message: OutboxMessage, channel: str, **content: Any) -> None:
        """Post ``content`` in ``channel`` for ``message``, unless this message already did."""
        done = await session.exec(select(SlackDelivery.id).where(SlackDelivery.message_id == message.id,
                                                                 SlackDelivery.channel == channel))  # fmt: skip
        if done.first() is not None:
            return
        answer = await self._call(channel, self._client.chat_postMessage, channel=channel, unfurl_links=False,
                                  unfurl_media=False, **content)  # fmt: skip
        session.add(SlackDelivery(message_id=message.id, channel=channel, ts=str(answer.get("ts") or ""),
                                  posted_at=self._clock.now()))  # fmt: skip

    async def _call(self, where: str, method: Any, **arguments: Any) -> Any:
        await self._before_slack()
        async with _rate_limited(where, method.__name__.replace("_", ".", 1)):
            return await method(**arguments)

    async def _before_slack(self) -> None:
        """On SQLite, end the outbox's transaction before a Slack call, the message leased for :data:`LEASE`.

        There every transaction holds the database's one write lock (db/engine.py): held across a Slack call (up
        to the client's 10 s), it would make every other request wait for Slack, a listener's acknowledgement
        included. The lease keeps any other deliverer from the message meanwhile (``available_at`` in the future),
        and what this delivery posted so far is committed with it; the outbox then marks the message delivered,
        or due again, in a transaction of its own. A process that stops mid-delivery leaves the message to be
        retried after the lease, with its posts (and a card post that got no answer) on record. PostgreSQL locks
        only the claimed row, which holds across the call: nothing to do there."""
        delivering = _delivering.get()
        if delivering is None or delivering[0].dialect != "sqlite":
            return
        unit, message = delivering
        message.available_at = self._clock.now() + LEASE
        unit.session.add(message)
        await unit.session.commit()


@asynccontextmanager
async def _rate_limited(channel: str, method: str) -> AsyncIterator[None]:
    """A 429 from Slack becomes :class:`RetryAfter` (the outbox waits as long as Slack asked)."""
    try:
        yield
    except SlackApiError as exc:
        if exc.response.status_code == 429:
            seconds = _seconds(exc.response.headers.get("Retry-After"))
            if seconds is not None:
                raise RetryAfter(seconds, reason=f"Slack rate-limited {method} to {channel}") from exc
        raise


def _seconds(raw: str | None) -> float | None:
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    # Anything but a finite number of seconds is ignored: the outbox's own backoff applies then.
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None
