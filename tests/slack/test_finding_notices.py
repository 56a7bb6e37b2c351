"""A finding's notice in its model's Slack channels: for TLP:RED, only that one exists on the model for named
recipients and where they read it (no title, severity, category, state or body); for TLP:AMBER+STRICT and wider,
the title, severity, category, audience, the kind of organisation that reported it, what changed, and the link,
never the body or a note. Posted once per channel, through the outbox."""

from __future__ import annotations

import json

from accessdesk.domain.findings import Findings
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.domain.vocabulary import Audience
from accessdesk.slackbot.finding_notices import red_notice, shared_notice
from tests.support.fake_slack import FakeSlack
from tests.support.finding_scenes import BODY, cast, red, reported
from tests.support.slack import CONSOLE, notifier_on

POST = "chat.postMessage"
CHANNELS = ["C0ATLAS01", "C0ATLAS02"]


async def channelled(world, clock):
    """The cast, the model's channels set, and everything queued so far delivered: each test sees its own notices."""
    people = await cast(world, clock)
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": CHANNELS})  # fmt: skip
    await deliver_outbox(world.unit, NullNotifier())
    return people


def posted(fake_slack: FakeSlack) -> list[tuple[str, str]]:
    """(channel, everything the post carries, text and blocks) of each post."""
    return [(c.body["channel"], c.body.get("text", "") + json.dumps(c.body.get("blocks") or ""))
            for c in fake_slack.calls_to(POST)]  # fmt: skip


async def test_a_red_finding_is_announced_without_a_word_of_it(quiet_world, fake_slack, clock):
    world = quiet_world
    people = await channelled(world, clock)
    finding = await red(world, people.grantee, title="Zero-day in the sandbox escape", severity="critical")
    await Findings(world.unit).update(actor=world.dev_approver, finding_id=finding.id, to_state="acknowledged")
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (2, 0)
    posts = posted(fake_slack)
    assert sorted(channel for channel, _ in posts) == sorted(CHANNELS * 2)
    for _, carried in posts:
        for secret in ("Zero-day", "sandbox", "critical", "cyber", "acknowledged", BODY[:20], "transcript", "Evalco"):
            assert secret not in carried, (secret, carried)
        assert "TLP:RED finding" in carried and "Atlas" in carried and f"/console/findings/{finding.id}" in carried
    texts = [c.body["text"] for c in fake_slack.calls_to(POST)]
    assert texts[0] == (f":red_circle: A TLP:RED finding was reported on Atlas for named recipients: "
                        f"<{CONSOLE}/console/findings/{finding.id}|read it in accessdesk> if you are one of them.")  # fmt: skip
    assert "was updated on Atlas" in texts[-1]


async def test_a_shared_finding_says_what_it_is_about_but_never_what_was_found(quiet_world, fake_slack, clock):
    world = quiet_world
    people = await channelled(world, clock)
    finding = await reported(world, people.grantee, audience="tlp_amber", title="Jailbreak <b>& bypass</b>")
    await Findings(world.unit).update(actor=world.dev_approver, finding_id=finding.id, to_state="acknowledged",
                                      note="Secret mitigation plan.")  # fmt: skip
    await Findings(world.unit).update(actor=world.dev_approver, finding_id=finding.id, audience="tlp_green")
    await Findings(world.unit).update(actor=world.gov_member, finding_id=finding.id, note="A note: no notice.")
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (3, 0)
    texts = [c.body["text"] for c in fake_slack.calls_to(POST) if c.body["channel"] == CHANNELS[0]]
    link = f"<{CONSOLE}/console/findings/{finding.id}|Read it in accessdesk>."
    assert texts == [
        f":mag: New finding on Atlas: *Jailbreak &lt;b&gt;&amp; bypass&lt;/b&gt;*\nSeverity high, cyber capability, "
        f"TLP:GREEN, reported by a partner organisation. {link}",
        f":mag: Finding on Atlas: *Jailbreak &lt;b&gt;&amp; bypass&lt;/b&gt;* is now acknowledged\nIt was reported. "
        f"Severity high, TLP:GREEN. {link}",
        f":mag: Finding on Atlas: *Jailbreak &lt;b&gt;&amp; bypass&lt;/b&gt;* is now shared as TLP:GREEN\nIt is "
        f"acknowledged; severity high. {link}",
    ]  # fmt: skip
    for _, carried in posted(fake_slack):
        assert BODY[:20] not in carried and "Secret mitigation" not in carried and "Evalco" not in carried
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (0, 0)  # once


def test_the_builders_are_pure_and_escape_what_they_show():
    assert red_notice("finding.updated", model_name="A<b>", link="https://x.test/l")["text"] == (
        ":red_circle: A TLP:RED finding was updated on A&lt;b&gt; for named recipients: <https://x.test/l|read it in "
        "accessdesk> if you are one of them.")  # fmt: skip
    shown = shared_notice("finding.reported", model_name="Atlas", title="T", severity="low", category="misuse",
                          audience=Audience.AMBER_STRICT, reporter_kind="government", state="reported",
                          from_state=None, to_state=None, link="https://x.test/l")  # fmt: skip
    assert shown["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": shown["text"]}}]
    assert "TLP:AMBER+STRICT, reported by the government" in shown["text"]
