"""Linking a Slack account to an accessdesk account by hand (``/accessdesk link``), for people whose Slack e-mail
address is not the one accessdesk knows.

The bot DMs the Slack user a one-time link; whoever opens it, signed in to the console, confirms that this Slack
user acts as them. Only the SHA-256 of the link's token is stored; a link works once and for
:data:`LINK_TTL`. The confirmation page names the Slack user and warns not to confirm a link one did not ask for:
a link forwarded to someone else would otherwise let the sender act as them.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from accessdesk.db.tables import SlackEmailMatch, SlackLink, SlackLinkRequest, User
from accessdesk.domain.actor import Actor
from accessdesk.domain.errors import Forbidden, Invalid, NotFound
from accessdesk.domain.unit import Unit

LINK_TTL = timedelta(minutes=15)
# How long a match by e-mail is trusted without asking Slack again: a Slack profile whose e-mail changed (or a Slack
# account deactivated) still acts as the account for at most this long. A change on accessdesk's side (the account
# disabled, its e-mail changed) ends the match at once.
EMAIL_MATCH_TTL = timedelta(hours=24)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SlackLinks:
    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    async def request(self, *, slack_user_id: str, team_id: str | None, slack_name: str | None) -> str:
        """A new one-time link token for ``slack_user_id`` (shown only to them, in a DM)."""
        token = secrets.token_urlsafe(32)
        now = self.unit.now()
        self.unit.session.add(SlackLinkRequest(token_sha256=_digest(token), slack_user_id=slack_user_id,
                                               team_id=team_id, slack_name=(slack_name or "")[:200] or None,
                                               created_at=now, expires_at=now + LINK_TTL))  # fmt: skip
        await self.unit.commit()
        return token

    async def pending(self, token: str) -> SlackLinkRequest:
        """The request behind a token, if it can still be confirmed."""
        request = (await self.unit.session.exec(
            select(SlackLinkRequest).where(SlackLinkRequest.token_sha256 == _digest(token))
        )).first()  # fmt: skip
        if request is None:
            raise NotFound("this Slack link is not one accessdesk made; ask for a new one with /accessdesk link")
        if request.used_at is not None:
            raise Invalid("token", "this Slack link was used already; ask for a new one with /accessdesk link")
        if request.expires_at <= self.unit.now():
            raise Invalid("token", "this Slack link has expired; ask for a new one with /accessdesk link")
        return request

    async def confirm(self, *, actor: Actor, token: str) -> SlackLink:
        """The Slack user behind ``token`` acts as ``actor`` from now on (replacing any earlier link of theirs)."""
        if actor.user_id is None:
            raise Forbidden("only a person can link their Slack account")
        seen = await self.pending(token)
        request = await self.unit.lock(SlackLinkRequest, seen.id)
        await self.pending(token)  # again, under the lock: two tabs confirming at once link once
        now = self.unit.now()
        request.used_at, request.used_by = now, actor.user_id
        self.unit.session.add(request)
        link = await self.unit.session.get(SlackLink, request.slack_user_id)
        before = {"user_id": link.user_id} if link is not None else None
        if link is None:
            link = SlackLink(slack_user_id=request.slack_user_id, team_id=request.team_id, user_id=actor.user_id,
                             linked_at=now)  # fmt: skip
        else:
            link.user_id, link.team_id, link.linked_at = actor.user_id, request.team_id, now
        self.unit.session.add(link)
        self.unit.record(actor=actor, action="slack.linked", subject_type="users", subject_id=actor.user_id,
                         before=before, after={"slack_user_id": link.slack_user_id, "team_id": link.team_id})  # fmt: skip
        await self.unit.commit()
        return link

    async def unlink(self, *, actor: Actor, slack_user_id: str) -> None:
        """Undo one's own link (the bot then knows the Slack user by e-mail only, if at all)."""
        link = await self.unit.session.get(SlackLink, slack_user_id)
        if link is None or link.user_id != actor.user_id:
            raise NotFound(f"you have no link to the Slack user {slack_user_id[:32]}")
        await self.unit.session.delete(link)
        self.unit.record(actor=actor, action="slack.unlinked", subject_type="users", subject_id=actor.user_id,
                         before={"slack_user_id": slack_user_id, "team_id": link.team_id})  # fmt: skip
        await self.unit.commit()

    async def of_user(self, user_id: uuid.UUID) -> list[SlackLink]:
        stmt = select(SlackLink).where(SlackLink.user_id == user_id).order_by(col(SlackLink.linked_at).desc())
        return list((await self.unit.session.exec(stmt)).all())

    async def matched(self, slack_user_id: str) -> User | None:
        """The active user whose e-mail Slack confirmed ``slack_user_id`` has, if Slack said so within
        :data:`EMAIL_MATCH_TTL` and the account still has that address."""
        match = await self.unit.session.get(SlackEmailMatch, slack_user_id)
        if match is None or match.confirmed_at <= self.unit.now() - EMAIL_MATCH_TTL:
            return None
        user = await self.unit.session.get(User, match.user_id)
        return user if user is not None and user.disabled_at is None and user.email == match.email else None

    async def known_user(self, slack_user_id: str) -> User | None:
        """The active user a Slack user acts as, from what accessdesk knows alone: the one they linked by hand, else
        a match by e-mail Slack confirmed within :data:`EMAIL_MATCH_TTL`. None when only Slack could tell."""
        return await self.user_of(slack_user_id) or await self.matched(slack_user_id)

    async def match_email(self, *, slack_user_id: str, email: str) -> User | None:
        """Slack confirmed just now that ``slack_user_id`` has the (normalised) address ``email``: the one active
        account with that address, the match remembered (:meth:`remember_match`); None if no active account has it."""
        # User.email is unique and stored normalised, so a match is exactly one account.
        found = select(User).where(User.email == email, col(User.disabled_at).is_(None))
        user = (await self.unit.session.exec(found)).first()
        if user is not None:
            await self.remember_match(slack_user_id=slack_user_id, user=user)
        return user

    async def remember_match(self, *, slack_user_id: str, user: User) -> None:
        """Slack confirmed just now that ``slack_user_id`` has ``user``'s e-mail: remembered (and committed at once,
        so that a listener that only reads keeps it too). Two requests of one person at once both write: the later
        wins, and both say the same."""
        insert = postgresql_insert if self.unit.dialect == "postgresql" else sqlite_insert
        now = self.unit.now()
        stmt = insert(SlackEmailMatch).values(slack_user_id=slack_user_id, user_id=user.id, email=user.email,
                                              confirmed_at=now)  # fmt: skip
        stmt = stmt.on_conflict_do_update(index_elements=["slack_user_id"],
                                          set_={"user_id": user.id, "email": user.email, "confirmed_at": now})  # fmt: skip
        await self.unit.session.exec(stmt)
        await self.unit.commit()

    async def user_of(self, slack_user_id: str) -> User | None:
        """The active accessdesk user a Slack user was linked to by hand, if any."""
        link = await self.unit.session.get(SlackLink, slack_user_id)
        if link is None:
            return None
        user = await self.unit.session.get(User, link.user_id)
        return user if user is not None and user.disabled_at is None else None
