"""In Slack, a nomination that expires undecided closes like one that lapses: its cards show that it expired and
offer no buttons, their threads say so, and its nominator is told in a direct message (the model by name, never its
codename). An escalation reaches each person it names by direct message, saying for which side and until when."""

from __future__ import annotations

from datetime import timedelta

from accessdesk.db.tables import Nomination, Organisation, SlackLink
from accessdesk.domain.actor import Actor
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.reminders import Reminders
from accessdesk.domain.transitions import deliver_outbox, lapse_nominations, sweep
from accessdesk.domain.vocabulary import Verdict
from accessdesk.slackbot import times
from tests.support.fake_slack import FakeSlack
from tests.support.slack import CHANNEL, CONSOLE, nominated, notifier_on
from tests.world import World

POST, UPDATE = "chat.postMessage", "chat.update"
DAY = timedelta(days=1)


async def linked(world: World, *people: tuple[Actor, str]) -> None:
    """Each person's Slack account, linked by hand (no e-mail lookup needed to find them)."""
    for actor, slack_user in people:
        world.unit.session.add(SlackLink(slack_user_id=slack_user, user_id=actor.person_id, linked_at=world.now))
    await world.unit.commit()


async def carded_far_ahead(world: World, fake_slack: FakeSlack) -> Nomination:
    """A nomination proposed to start in 30 days (so that it expires, after 14, before its start), its card posted
    in the model's channel and the calls that took forgotten."""
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": [CHANNEL]})  # fmt: skip
    partner, _ = await world.partner()
    await deliver_outbox(world.unit, NullNotifier())
    nomination = await world.nominate(partner, start=30 * DAY)
    assert nomination.expires_at == nomination.created_at + 14 * DAY
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    fake_slack.calls.clear()
    return nomination


async def test_an_expired_nomination_closes_its_card_and_tells_its_nominator(world, fake_slack: FakeSlack, clock):
    nomination = await carded_far_ahead(world, fake_slack)
    await linked(world, (world.dev_nominator, "U0NORA"))

    clock.advance(14 * DAY)
    assert await lapse_nominations(world.unit) == 1
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (2, 0)
    [update] = fake_slack.calls_to(UPDATE)
    card = str(update.body["blocks"])
    assert update.body["channel"] == CHANNEL
    assert "*Expired* after 14 days without both sides deciding." in card
    assert "nomination-approve" not in card and "nomination-reject" not in card
    texts = {c.body["channel"]: c.body["text"] for c in fake_slack.calls_to(POST)}
    assert texts[CHANNEL] == "Expired after 14 days without both sides deciding"  # in the card's thread
    told = texts["U0NORA"]
    assert told.startswith("Your nomination of ") and "for Atlas: *Expired* after 14 days" in told
    assert "it can be asked for again" in told and str(nomination.id) in told and "CODE-ATLAS" not in told

    # Delivered once: the worker's next sweep posts nothing more.
    clock.advance(DAY)
    assert (await sweep(world.unit, notifier_on(fake_slack))).nominations_lapsed == 0
    assert len(fake_slack.calls_to(POST)) == 2 and len(fake_slack.calls_to(UPDATE)) == 1


async def test_a_lapse_at_the_start_still_says_lapsed(world, fake_slack: FakeSlack, clock):
    await nominated(world)  # starts in a day: its start comes before its expiry
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)
    fake_slack.calls.clear()
    clock.advance(DAY)
    assert await lapse_nominations(world.unit) == 1
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (2, 0)
    [update] = fake_slack.calls_to(UPDATE)
    assert "*Lapsed* at its proposed start without both sides deciding." in str(update.body["blocks"])
    [note] = [c.body for c in fake_slack.calls_to(POST) if c.body.get("thread_ts")]
    assert note["text"] == "Lapsed at its proposed start without both sides deciding"


async def test_an_escalation_tells_the_undecided_sides_people_which_side_and_until_when(world, fake_slack: FakeSlack,
                                                                                          clock):  # fmt: skip
    nomination = await carded_far_ahead(world, fake_slack)
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=nomination.id, verdict=Verdict.APPROVE)
    await linked(world, (world.gov_approver, "U0GOV1"), (world.gov_admin, "U0GAIL"), (world.dev_admin, "U0DANA"))
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (1, 0)  # the decision, on the card
    clock.advance(2 * DAY)
    assert (await Reminders(world.unit).sweep()).by_kind == {"nomination.pending.48h": 1}  # not this test's
    await deliver_outbox(world.unit, NullNotifier())
    fake_slack.calls.clear()
    partner = (await world.get(Organisation, nomination.organisation_id)).name
    link = f"<{CONSOLE}/console/nominations/{nomination.id}|"
    assert nomination.expires_at is not None
    closes = f"it expires undecided {times.local(nomination.expires_at)}"

    clock.advance(DAY)
    assert (await Reminders(world.unit).sweep()).by_kind == {"nomination.escalated.approvers": 1}
    await deliver_outbox(world.unit, notifier_on(fake_slack))
    [approver] = fake_slack.calls_to(POST)  # the government's approver; its admin and the developer hear nothing yet
    assert approver.body["channel"] == "U0GOV1"
    assert approver.body["text"] == (f":bell: The nomination of {partner} for Atlas has "
                                     f"waited 3 days without the government side's decision; {closes}: {link}decide "
                                     "in accessdesk>.")  # fmt: skip
    fake_slack.calls.clear()

    clock.advance(3 * DAY)
    assert (await Reminders(world.unit).sweep()).by_kind == {"nomination.escalated.admins": 1}
    await deliver_outbox(world.unit, notifier_on(fake_slack))
    [admin] = fake_slack.calls_to(POST)  # the government's admin; not the developer's, whose side has decided
    assert admin.body["channel"] == "U0GAIL"
    text = admin.body["text"]
    assert text.startswith(":rotating_light: Escalation: The nomination of ") and "has waited 6 days" in text
    assert "the government side has still not reached its quorum" in text and closes in text and link in text
    assert "CODE-ATLAS" not in text

