"""Linking a Slack account in the console: the one-time link ``/accessdesk link`` sends names who asks to act as
whom and changes nothing until the signed-in person confirms; a link works once and briefly; each person sees and
unlinks their own Slack accounts, nobody else's. Refusals say why and change nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from sqlmodel import select

from accessdesk.db.tables import AuditEvent, SlackLink, SlackLinkRequest
from accessdesk.domain.slack_links import SlackLinks
from tests.support.console import csrf_in, open_as, sign_in
from tests.support.scenes import SLACK_USER, link_request


def words(html: str) -> str:
    """The page's text as a person reads it: no tags, one space between words."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


def private(response) -> bool:
    return (response.headers.get_list("referrer-policy") == ["no-referrer"]
            and response.headers.get_list("cache-control") == ["no-store"])  # fmt: skip


async def stored(world, table):
    rows = (await world.unit.session.exec(select(table).execution_options(populate_existing=True))).all()
    return list(rows)


async def test_the_link_page_asks_first_and_confirming_links_once(api, world, clock, unchanged):
    token = await link_request(world)
    page = f"/console/slack/link/{token}"
    to_sign_in = await api.get(page, follow_redirects=False)
    assert to_sign_in.status_code == 303 and to_sign_in.headers["location"] == f"/login?next={page}"
    assert private(to_sign_in)  # the token is in the address: no Referer carries it, no cache keeps it
    assert (await sign_in(api, world.gov_admin, next_=page)).headers["location"] == page

    async with unchanged():  # opening the link changes nothing
        shown = await api.get(page)
    assert shown.status_code == 200 and private(shown)
    text = words(shown.text)
    assert (
        "The Slack user gail.s (U0GAIL123, workspace T0AISO) asked to act as you, Gail (gail@aiso.test), in "
        "Slack: approving and nominating as you."
    ) in text
    assert (
        "Only confirm if you just typed /accessdesk link in Slack yourself. Someone who sends you this link "
        "could otherwise act as you."
    ) in text
    assert await stored(world, SlackLink) == []

    confirmed = await api.post(page, data={"csrf": csrf_in(shown.text)}, follow_redirects=False)
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/console/slack?done=linked"
    [link] = await stored(world, SlackLink)
    assert (link.slack_user_id, link.team_id, link.user_id) == (SLACK_USER, "T0AISO", world.gov_admin.user_id)
    [request] = await stored(world, SlackLinkRequest)
    assert (request.used_at, request.used_by) == (world.now, world.gov_admin.user_id)
    linked = [e for e in await stored(world, AuditEvent) if e.action == "slack.linked"]
    assert [(e.actor, e.after) for e in linked] == [("gail@aiso.test", {"slack_user_id": SLACK_USER,
                                                                         "team_id": "T0AISO"})]  # fmt: skip
    accounts = await api.get(confirmed.headers["location"])
    assert "Your Slack account is linked" in accounts.text and SLACK_USER in accounts.text

    for person in (world.gov_admin, world.gov_approver):  # used: refused, whoever tries
        await sign_in(api, person)
        csrf = csrf_in((await api.get("/console/slack")).text)
        async with unchanged():
            opened = await api.get(page)
            posted = await api.post(page, data={"csrf": csrf})
        for again in (opened, posted):
            assert again.status_code == 422 and private(again), again.text
            assert "this Slack link was used already; ask for a new one with /accessdesk link" in again.text
    assert [link.user_id for link in await stored(world, SlackLink)] == [world.gov_admin.user_id]


async def test_an_expired_or_unknown_link_is_refused_and_changes_nothing(api, world, clock, unchanged):
    token = await link_request(world)
    clock.advance(timedelta(minutes=16))
    shown = await open_as(api, world.gov_approver, "/console/slack")
    csrf = csrf_in(shown.text)
    for path, status, message in [
        (f"/console/slack/link/{token}", 422, "this Slack link has expired; ask for a new one with /accessdesk link"),
        ("/console/slack/link/not-a-token", 404, "this Slack link is not one accessdesk made"),
    ]:
        async with unchanged():
            opened = await api.get(path)
            posted = await api.post(path, data={"csrf": csrf})
        for refused in (opened, posted):
            assert refused.status_code == status and private(refused), refused.text
            assert message in refused.text
    assert await stored(world, SlackLink) == []


async def test_a_confirmation_without_the_pages_csrf_token_is_refused(api, world, unchanged):
    token = await link_request(world)
    await sign_in(api, world.gov_admin)
    async with unchanged():
        forged = await api.post(f"/console/slack/link/{token}", data={"csrf": "forged"})
    assert forged.status_code == 403 and "did not come from accessdesk" in forged.text and private(forged)


async def test_people_see_and_unlink_their_own_slack_accounts_only(api, world, unchanged):
    await SlackLinks(world.unit).confirm(actor=world.gov_admin, token=await link_request(world))
    _, partner_admin = await world.partner(name="northwind")
    for stranger in (world.gov_member, partner_admin):
        shown = await open_as(api, stranger, "/console/slack")
        assert 'href="/console/slack">Slack</a>' in shown.text  # in the account menu, for everyone signed in
        assert "No Slack account is linked to you" in shown.text and SLACK_USER not in shown.text
        async with unchanged():
            refused = await api.post(f"/console/slack/{SLACK_USER}/unlink", data={"csrf": csrf_in(shown.text)})
        assert refused.status_code == 404 and "you have no link to the Slack user U0GAIL123" in refused.text
        assert "Not done: " in refused.text
    assert len(await stored(world, SlackLink)) == 1

    shown = await open_as(api, world.gov_admin, "/console/slack")
    assert f"<code>{SLACK_USER}</code>" in shown.text and "<code>T0AISO</code>" in shown.text
    unlinked = await api.post(f"/console/slack/{SLACK_USER}/unlink", data={"csrf": csrf_in(shown.text)},
                              follow_redirects=False)  # fmt: skip
    assert unlinked.status_code == 303 and unlinked.headers["location"] == "/console/slack?done=unlinked"
    assert "The Slack account is unlinked" in (await api.get(unlinked.headers["location"])).text
    assert await stored(world, SlackLink) == []
    assert [e.before for e in await stored(world, AuditEvent) if e.action == "slack.unlinked"] == [
        {"slack_user_id": SLACK_USER, "team_id": "T0AISO"}]  # fmt: skip
    async with unchanged():
        twice = await api.post(f"/console/slack/{SLACK_USER}/unlink", data={"csrf": csrf_in(shown.text)})
    assert twice.status_code == 404
