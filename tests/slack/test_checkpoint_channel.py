"""Every audit checkpoint is posted to the checkpoint channel, whole, through the outbox: the channel's history is
a copy of the checkpoints that the database's owner cannot edit."""

from __future__ import annotations

from accessdesk.domain.transitions import deliver_outbox
from tests.support.audit import checkpoints
from tests.support.fake_slack import FakeSlack
from tests.support.slack import notifier_on
from tests.world import OPERATOR


async def test_a_checkpoint_is_posted_to_the_checkpoint_channel_once(quiet_world, fake_slack: FakeSlack):  # noqa: F811
    taken = await checkpoints(quiet_world).take(actor=OPERATOR)
    notifier = notifier_on(fake_slack)
    assert await deliver_outbox(quiet_world.unit, notifier) == (1, 0)
    assert await deliver_outbox(quiet_world.unit, notifier) == (0, 0)
    [call] = fake_slack.calls_to("chat.postMessage")
    assert call.body["channel"] == "C0AUDIT"
    text = call.body["text"]
    assert f"Audit checkpoint #{taken.seq} of {taken.record()['time']}" in text and f"`{taken.hash}`" in text
    assert f"```{taken.jws}```" in text and "accessdesk audit verify --checkpoint" in text
