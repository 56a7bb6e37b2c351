"""A designation consultation in Slack: each step posted once in the model's channels (who, which model, the
outcome, how long it waited, a link to the console), never a note's or a message's words nor the assessment's
reference; its reminders sent to the people concerned by direct message."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import OutboxMessage, SlackLink
from accessdesk.domain.consultations import Consultations
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.reminders import Reminders
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.domain.vocabulary import Designation
from accessdesk.slackbot import consultation_notices
from tests.support.slack import CHANNEL, CONSOLE, notifier_on

POST = "chat.postMessage"
SECRET_NOTE = "Checkpoint 7 reaches 71% on the cyber range."
SECRET_BODY = "The logs are at s3://acme-internal/evals."


async def vela(world, *, release_in=timedelta(days=60)):
    model = await world.new_model("vela", designation=Designation.NOT_ASSESSED, release_in=release_in)
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=model.id,
                                            changes={"slack_channels": [CHANNEL]})  # fmt: skip
    await deliver_outbox(world.unit, NullNotifier())
    return model


async def posted(world, fake_slack) -> list[str]:
    """Deliver what waits in the outbox; the texts posted, each once."""
    await deliver_outbox(world.unit, notifier_on(fake_slack))
    texts = [c.body["text"] for c in fake_slack.calls_to(POST)]
    fake_slack.calls.clear()
    return texts


async def test_each_step_is_posted_in_the_models_channels_without_its_words(world, fake_slack, clock):
    model = await vela(world)
    consultations = Consultations(world.unit)
    opened = await consultations.request(actor=world.dev_admin, model_id=model.id, note=SECRET_NOTE,
                                         capabilities=["cyber offence"])  # fmt: skip
    link = f"<{CONSOLE}/console/consultations/{opened.id}|the consultation in accessdesk>"

    [requested] = await posted(world, fake_slack)
    assert requested.startswith(":speech_balloon: Dana (the developer) asked the government whether Vela is a "
                                "covered frontier model: consultation round 1, planned release <!date^")  # fmt: skip
    assert link in requested

    clock.advance(timedelta(days=3))
    await consultations.message(actor=world.gov_approver, consultation_id=opened.id, body=SECRET_BODY)
    [message] = await posted(world, fake_slack)
    assert message == f":envelope: New message from the government in the consultation on Vela (round 1): {link}."

    await consultations.decide(actor=world.gov_approver, consultation_id=opened.id, outcome="covered",
                               assessment_ref="OAIS-SECRET-7")  # fmt: skip
    [decided] = await posted(world, fake_slack)
    assert decided == (f":scales: Gov1 (the government) decided the consultation on Vela: *covered*, after 3 days in "
                       f"consultation (round 1). {link}.")  # fmt: skip

    reopened = await consultations.open(actor=world.gov_admin, model_id=model.id, note="New checkpoint.")
    [again] = await posted(world, fake_slack)
    assert again.startswith(":speech_balloon: Gail (the government) reopened the consultation on whether Vela")
    assert "Partners have no access while it is open." in again and str(reopened.id) in again

    everything = json.dumps([c.body for c in fake_slack.calls])
    for secret in (SECRET_NOTE, SECRET_BODY, "OAIS-SECRET-7", "cyber offence", "CODE-VELA"):
        assert secret not in everything
    assert await deliver_outbox(world.unit, notifier_on(fake_slack)) == (0, 0)  # each posted once


async def test_a_round_waiting_too_long_reminds_the_governments_deciders_once(world, fake_slack, clock):
    model = await vela(world)
    opened = await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go.")
    await deliver_outbox(world.unit, NullNotifier())
    world.unit.session.add(SlackLink(slack_user_id="U0GOV1", user_id=world.gov_approver.user_id,
                                     linked_at=world.now))  # fmt: skip
    await world.commit()
    clock.advance(timedelta(days=14, minutes=1))

    assert (await Reminders(world.unit).sweep()).by_kind == {"consultation.waiting": 1}
    assert await posted(world, fake_slack) == [f":bell: The consultation on Vela (round 1) has waited 14 days since "
                      f"<!date^{int(opened.created_at.timestamp())}^{{date_short_pretty}} {{time}}|2026-12-01 12:00 UTC> "
                      f"for the government's decision: <{CONSOLE}/console/consultations/{opened.id}|the consultation "
                      "in accessdesk>."]  # fmt: skip
    assert (await Reminders(world.unit).sweep()).sent == 0


async def test_a_close_release_tells_both_sides(world, clock):
    model = await vela(world, release_in=timedelta(days=45))
    opened = await Consultations(world.unit).request(actor=world.dev_admin, model_id=model.id, note="Go.")
    clock.advance(timedelta(days=16))
    await Reminders(world.unit).sweep()
    stmt = select(OutboxMessage).where(OutboxMessage.topic == "reminder.consultation_release_near")
    told = list((await world.unit.session.exec(stmt)).all())
    assert sorted(m.recipient for m in told) == sorted(
        f"user:{a.user_id}" for a in (world.dev_admin, world.gov_admin, world.gov_approver, world.gov_approver2))  # fmt: skip
    text = consultation_notices.reminder_text(told[0].topic, told[0].payload, console_url=CONSOLE)
    assert text.startswith(":calendar: Vela is planned for release <!date^")
    assert text.endswith(f"and its consultation (round 1) is still open: <{CONSOLE}/console/consultations/"
                         f"{opened.id}|the consultation in accessdesk>.")  # fmt: skip
