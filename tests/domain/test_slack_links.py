"""Who a Slack user is, from what accessdesk knows: the one active account whose e-mail Slack confirmed (remembered
for a while), or none."""

from __future__ import annotations

from accessdesk.db.tables import SlackEmailMatch, User
from accessdesk.domain.slack_links import SlackLinks


async def test_an_address_slack_confirmed_matches_the_one_active_account_and_is_remembered(world):
    links = SlackLinks(world.unit)
    assert await links.known_user("U0NORA") is None
    user = await links.match_email(slack_user_id="U0NORA", email="nora@acme.test")
    assert user is not None and user.id == world.dev_nominator.user_id
    known = await links.known_user("U0NORA")
    assert known is not None and known.id == user.id


async def test_an_address_of_no_account_or_of_a_disabled_one_matches_no_one_and_nothing_is_remembered(world):
    links = SlackLinks(world.unit)
    assert await links.match_email(slack_user_id="U0X", email="nobody@acme.test") is None
    user = await world.unit.get(User, world.dev_nominator.user_id)
    user.disabled_at = world.now
    world.unit.session.add(user)
    await world.unit.commit()
    assert await links.match_email(slack_user_id="U0NORA", email="nora@acme.test") is None
    assert await world.count(SlackEmailMatch) == 0
