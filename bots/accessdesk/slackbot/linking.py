"""``/accessdesk link``: a one-time link, sent in a direct message, to confirm in the console which accessdesk
account this Slack user acts as (for people whose Slack e-mail is not their accessdesk one)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from accessdesk.clock import Clock
from accessdesk.domain.slack_links import LINK_TTL, SlackLinks
from accessdesk.domain.unit import Unit
from accessdesk.slackbot import blocks


@dataclass(frozen=True, slots=True)
class SlackLinking:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    console_url: str

    async def send_link(self, client: AsyncWebClient, *, slack_user: str, team_id: str | None) -> None:
        """DM ``slack_user`` a fresh one-time link. Only they see it: the token never appears in a channel."""
        try:
            profile = (await client.users_info(user=slack_user)).get("user") or {}
        except SlackApiError:
            profile = {}  # the name only helps the person confirming recognise themselves
        name = profile.get("real_name") or profile.get("name")
        async with self.sessionmaker() as session:
            token = await SlackLinks(Unit(session, self.clock)).request(slack_user_id=slack_user, team_id=team_id,
                                                                         slack_name=name)  # fmt: skip
        url = blocks.console_page(self.console_url, f"slack/link/{token}")
        minutes = int(LINK_TTL.total_seconds() // 60)
        await client.chat_postMessage(channel=slack_user, **blocks.link_message(url, minutes=minutes),
                                      unfurl_links=False, unfurl_media=False)  # fmt: skip
