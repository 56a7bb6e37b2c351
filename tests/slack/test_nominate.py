"""``/accessdesk nominate``: a modal as the linked nominator, the domain's refusals shown next to their field."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from accessdesk.app import create_app
from accessdesk.db.tables import Nomination, Organisation, OutboxMessage
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.transitions import NullNotifier, deliver_outbox
from bots.slackbot.blocks import nominated_message, not_linked_text
from bots.slackbot.ids import CallbackId, NominateField
from tests.api.conftest import app_engine, settle, url_of
from tests.slack.approvals import CONSOLE, slack_user
from tests.slack.conftest import slack_settings
from tests.slack.fake_slack import RESPONSE_URL, FakeSlack, Reply
from tests.slack.signing import Signed, interaction, slash_command

EVENTS = "/slack/events"
CHANNEL = "C0GENERAL"  # where slash_command() says the command was typed
NORA = "U0NORA"


@pytest.fixture
async def partner(world) -> Organisation:  # type: ignore[no-untyped-def]
    organisation, _ = await world.partner(name="lab-one")
    await deliver_outbox(world.unit, NullNotifier())
    await settle(world)
    return organisation


@pytest.fixture
async def bot(engine, world, partner, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:  # type: ignore[no-untyped-def]
    served = app_engine(url_of(engine))
    app = create_app(slack_settings(url_of(engine), fake_slack), clock=clock, engine=served, embedded_worker=False)
    async with AsyncTestClient(app=app) as client:
        yield client
    await served.dispose()


async def send(bot: AsyncTestClient, request: Signed):  # type: ignore[no-untyped-def]
    response = await bot.post(EVENTS, content=request.body, headers=request.headers)
    assert response.status_code == 200
    return response


def submitted(*, model_id: object | None, organisation_id: object | None, starts_at: datetime, ends_at: datetime,
              actions: list[str], justification: str, user: str = NORA) -> Signed:  # fmt: skip
    """The nominate modal submitted as Slack posts it (``view.state.values``, keyed by block then action)."""
    def select_(value: object | None) -> dict[str, Any]:
        return {"type": "static_select",
                "selected_option": None if value is None else {"value": str(value), "text": {"type": "plain_text",
                                                                                            "text": "x"}}}  # fmt: skip

    values = {
        NominateField.MODEL: select_(model_id),
        NominateField.ORGANISATION: select_(organisation_id),
        NominateField.STARTS_AT: {"type": "datetimepicker", "selected_date_time": int(starts_at.timestamp())},
        NominateField.ENDS_AT: {"type": "datetimepicker", "selected_date_time": int(ends_at.timestamp())},
        NominateField.ACTIONS: {"type": "checkboxes", "selected_options": [{"value": a} for a in actions]},
        NominateField.JUSTIFICATION: {"type": "plain_text_input", "value": justification},
    }
    return interaction({
        "type": "view_submission", "team": {"id": "T0FAKE"}, "user": {"id": user, "team_id": "T0FAKE"},
        "api_app_id": "A0ACCESSDESK", "trigger_id": "1337.44.trigger",
        "view": {"id": "V0NOMINATE", "type": "modal", "callback_id": CallbackId.NOMINATE.value,
                 "private_metadata": json.dumps({"channel": CHANNEL}),
                 "state": {"values": {field.value: {field.value: value} for field, value in values.items()}}},
    })  # fmt: skip


def valid(world, partner: Organisation, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    starts_at = world.now + timedelta(days=2)
    return {"model_id": world.model.id, "organisation_id": partner.id, "starts_at": starts_at,
            "ends_at": starts_at + timedelta(days=30), "actions": ["invoke", "evaluate"],
            "justification": "Pre-release evaluation of cyber capabilities.", **changes}  # fmt: skip


async def nominations(world) -> list[Nomination]:  # type: ignore[no-untyped-def]
    rows = list((await world.unit.session.exec(select(Nomination))).all())
    await settle(world)  # a read holds SQLite's write lock until it ends
    return rows


async def test_nominate_opens_a_modal_of_what_the_nominator_can_pick_naming_models_by_name_only(
    world, bot, partner, fake_slack: FakeSlack
):
    switched_off = await world.new_model("borealis")
    await FrontierModels(world.unit).switch_off(actor=world.dev_admin, model_id=switched_off.id, reason="Leak.")
    await settle(world)
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test"))
    response = await send(bot, slash_command("nominate", response_url=fake_slack.response_url(), user_id=NORA))
    assert response.text == ""  # acknowledged at once
    [opened] = await fake_slack.wait_for("views.open")
    view = opened.body["view"]
    assert opened.body["trigger_id"] == "1337.42.abcdef"
    assert (view["callback_id"], json.loads(view["private_metadata"])) == (CallbackId.NOMINATE.value, {"channel": CHANNEL})
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == [f.value for f in NominateField]
    assert [(o["text"]["text"], o["value"]) for o in inputs["model_id"]["options"]] == [("Atlas", str(world.model.id))]
    organisations = [o["text"]["text"] for o in inputs["organisation_id"]["options"]]
    assert organisations == ["AI Security Office (government)", "Lab-One (partner)"]
    assert [o["value"] for o in inputs["actions"]["options"]] == ["invoke", "evaluate", "fine_tune", "red_team"]
    assert inputs["starts_at"]["type"] == inputs["ends_at"]["type"] == "datetimepicker"
    assert "CODE-ATLAS" not in json.dumps(view) and "Borealis" not in json.dumps(view)
    assert fake_slack.calls_to(RESPONSE_URL) == []


async def test_a_valid_submission_nominates_closes_the_modal_and_confirms_with_a_link(
    world, bot, partner, fake_slack: FakeSlack
):
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test"))
    response = await send(bot, submitted(**valid(world, partner)))
    assert response.text == ""  # acknowledged without errors: the modal closes
    [confirmation] = await fake_slack.wait_for("chat.postEphemeral")
    [nomination] = await nominations(world)
    assert (nomination.model_id, nomination.organisation_id, nomination.nominated_by) == (
        world.model.id, partner.id, world.dev_nominator.user_id)  # fmt: skip
    assert (nomination.actions, nomination.state) == (["evaluate", "invoke"], "pending")
    assert nomination.justification == "Pre-release evaluation of cyber capabilities."
    outbox = (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.topic == "nomination.created"))).all()
    await settle(world)
    assert [m.payload["nomination_id"] for m in outbox] == [str(nomination.id)]
    assert (confirmation.body["channel"], confirmation.body["user"]) == (CHANNEL, NORA)
    assert f"{CONSOLE}/console/nominations/{nomination.id}" in json.dumps(confirmation.body)
    assert "Atlas" not in json.dumps(confirmation.body)


@pytest.mark.parametrize(("field", "changes"), [
    (NominateField.JUSTIFICATION, lambda w: {"justification": "   "}),
    (NominateField.ENDS_AT, lambda w: {"ends_at": w.now + timedelta(days=1)}),
    (NominateField.STARTS_AT, lambda w: {"starts_at": w.now - timedelta(hours=1)}),
    (NominateField.ACTIONS, lambda w: {"actions": []}),
    (NominateField.MODEL, lambda w: {"model_id": None}),
    (NominateField.ORGANISATION, lambda w: {"organisation_id": None}),
], ids=["empty justification", "end before start", "start in the past", "no action", "no model", "no organisation"])  # fmt: skip
async def test_invalid_input_is_shown_next_to_its_field_and_nominates_nothing(
    world, bot, partner, fake_slack: FakeSlack, field, changes
):
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test"))
    response = await send(bot, submitted(**valid(world, partner, **changes(world))))
    answer = response.json()
    assert answer["response_action"] == "errors" and list(answer["errors"]) == [field.value]
    assert answer["errors"][field.value].strip()
    assert await nominations(world) == []
    assert fake_slack.calls_to("chat.postEphemeral") == []


async def test_a_refusal_without_a_field_is_shown_on_the_modal_too(world, bot, partner, fake_slack: FakeSlack):
    fake_slack.script("users.info", slack_user("U0GUS", "gus@aiso.test"))  # a government member: not a nominator
    response = await send(bot, submitted(**valid(world, partner), user="U0GUS"))
    assert response.json() == {"response_action": "errors", "errors": {
        "justification": "only nominators, approvers and admins can nominate"}}  # fmt: skip
    assert await nominations(world) == []


async def test_someone_not_linked_gets_an_explanation_and_no_modal(world, bot, partner, fake_slack: FakeSlack):
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test", confirmed=False))
    await send(bot, slash_command("nominate", response_url=fake_slack.response_url(), user_id=NORA))
    [answer] = await fake_slack.wait_for(RESPONSE_URL)
    assert (answer.body["response_type"], answer.body["text"]) == ("ephemeral", not_linked_text(console_url=CONSOLE))
    assert fake_slack.calls_to("views.open") == []


async def test_a_submission_by_someone_no_longer_linked_is_refused_on_the_modal(
    world, bot, partner, fake_slack: FakeSlack
):
    fake_slack.script("users.info", Reply(body={"ok": False, "error": "user_not_found"}))
    response = await send(bot, submitted(**valid(world, partner)))
    answer = response.json()
    assert answer["response_action"] == "errors" and "can't tell who you are" in answer["errors"]["justification"]
    assert await nominations(world) == []


def test_the_confirmation_links_the_nomination_in_the_console():
    nomination_id = uuid.uuid4()
    text = nominated_message(nomination_id, console_url="https://a.example/")["blocks"][0]["text"]["text"]
    assert f"<https://a.example/console/nominations/{nomination_id}|" in text
