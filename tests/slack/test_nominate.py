"""``/accessdesk nominate``: a modal as the linked nominator, the domain's refusals shown next to their field."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from accessdesk.db.tables import Nomination, Organisation, OutboxMessage
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.notifier import NullNotifier
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.transitions import deliver_outbox
from accessdesk.domain.vocabulary import OrgKind
from accessdesk.slackbot.blocks import nominate_modal, nominated_message, not_linked_text, organisation_options
from accessdesk.slackbot.commands import NominationChoices
from accessdesk.slackbot.ids import CallbackId, NominateField
from tests.support.fake_slack import RESPONSE_URL, FakeSlack, Reply
from tests.support.slack import (
    CONSOLE,
    GENERAL,
    NORA,
    known,
    remembered,
    send,
    serving_bot,
    slack_user,
    submitted,
    valid,
)
from tests.support.slack_signing import Signed, interaction, slash_command
from tests.world import OPERATOR

CHANNEL = GENERAL


@pytest.fixture
async def partner(world) -> Organisation:
    organisation, _ = await world.partner(name="lab-one")
    await deliver_outbox(world.unit, NullNotifier())
    return organisation


@pytest.fixture
async def bot(engine, world, partner, fake_slack: FakeSlack, clock) -> AsyncIterator[AsyncTestClient]:
    async with serving_bot(engine, world, fake_slack, clock) as client:
        yield client


async def nominations(world) -> list[Nomination]:
    rows = list((await world.unit.session.exec(select(Nomination))).all())
    await world.commit()  # a read holds SQLite's write lock until it ends
    return rows


async def test_nominate_opens_a_modal_of_what_the_nominator_can_pick_naming_models_by_name_only(
    world, bot, partner, fake_slack: FakeSlack
):
    switched_off = await world.new_model("borealis")
    await FrontierModels(world.unit).switch_off(actor=world.dev_admin, model_id=switched_off.id, reason="Leak.")
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
    # Organisations are found as the person types (block_suggestion): none are listed in the modal itself.
    assert inputs["organisation_id"] == {"type": "external_select", "action_id": "organisation_id",
                                         "min_query_length": 0, "placeholder": {
                                             "type": "plain_text", "text": "Type to find an organisation",
                                             "emoji": False}}  # fmt: skip
    assert [o["value"] for o in inputs["actions"]["options"]] == ["invoke", "evaluate", "fine_tune", "red_team"]
    assert inputs["starts_at"]["type"] == inputs["ends_at"]["type"] == "datetimepicker"
    assert "CODE-ATLAS" not in json.dumps(view) and "Borealis" not in json.dumps(view)
    assert fake_slack.calls_to(RESPONSE_URL) == []


async def test_a_valid_submission_nominates_closes_the_modal_and_confirms_with_a_link(
    world, bot, partner, fake_slack: FakeSlack
):
    await known(world, NORA, world.dev_nominator)
    response = await send(bot, submitted(**valid(world, partner)))
    assert response.text == ""  # acknowledged without errors: the modal closes
    [confirmation] = await fake_slack.wait_for("chat.postEphemeral")
    [nomination] = await nominations(world)
    assert (nomination.model_id, nomination.organisation_id, nomination.nominated_by) == (
        world.model.id, partner.id, world.dev_nominator.user_id)  # fmt: skip
    assert (nomination.actions, nomination.state) == (["evaluate", "invoke"], "pending")
    assert nomination.justification == "Pre-release evaluation of cyber capabilities."
    outbox = (await world.unit.session.exec(select(OutboxMessage).where(OutboxMessage.topic == "nomination.created"))).all()
    await world.commit()  # a read holds SQLite's write lock: the bot's listeners may still be at work
    assert [m.payload["nomination_id"] for m in outbox] == [str(nomination.id)]
    assert (confirmation.body["channel"], confirmation.body["user"]) == (CHANNEL, NORA)
    assert f"{CONSOLE}/console/nominations/{nomination.id}" in json.dumps(confirmation.body)
    assert "Atlas" not in json.dumps(confirmation.body)
    assert fake_slack.calls_to("users.info") == []  # known since the command that opened the modal


async def test_the_new_nominations_card_is_posted_at_once_not_at_the_next_sweep(world, bot, partner, fake_slack):
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"slack_channels": ["C0APPROVALS"]})  # fmt: skip
    await deliver_outbox(world.unit, NullNotifier())
    await known(world, NORA, world.dev_nominator)
    await send(bot, submitted(**valid(world, partner)))
    [card] = await fake_slack.wait_for("chat.postMessage")
    assert card.body["channel"] == "C0APPROVALS" and "nomination-approve" in json.dumps(card.body["blocks"])
    for _ in range(100):  # the card is posted, then its message marked delivered in the same transaction
        [created] = (await world.unit.session.exec(select(OutboxMessage).where(
            OutboxMessage.topic == "nomination.created").execution_options(populate_existing=True))).all()  # fmt: skip
        await world.commit()  # the next look is a new transaction, and the listener is not kept from writing
        if created.delivered_at is not None:
            break
        await asyncio.sleep(0.05)
    assert created.delivered_at is not None  # the worker will find nothing to do


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
    await known(world, NORA, world.dev_nominator)
    response = await send(bot, submitted(**valid(world, partner, **changes(world))))
    answer = response.json()
    assert answer["response_action"] == "errors" and list(answer["errors"]) == [field.value]
    assert answer["errors"][field.value].strip()
    assert await nominations(world) == []
    assert fake_slack.calls_to("chat.postEphemeral") == []


def as_slack_sends_it(request: Signed, world) -> Signed:
    """``request`` (a nominate modal's submission) with the whole view Slack sends: the modal as it was opened
    (blocks, title, buttons) and Slack's own fields (id, hash, state)."""
    payload = json.loads(parse_qs(request.body.decode())["payload"][0])
    opened = nominate_modal(NominationChoices(models=[world.model], more_models=False, organisations=True),
                            channel=CHANNEL, now=world.now, console_url=CONSOLE)  # fmt: skip
    payload["view"] = {**opened, **payload["view"], "hash": "1.abc", "team_id": "T0FAKE"}
    return interaction(payload)


async def test_a_refusal_about_no_field_is_shown_on_top_of_the_modal_not_under_a_field(
    world, bot, partner, fake_slack: FakeSlack
):
    await known(world, "U0GUS", world.gov_member)  # a government member: not a nominator
    request = as_slack_sends_it(submitted(**valid(world, partner), user="U0GUS"), world)
    answer = (await send(bot, request)).json()
    assert answer["response_action"] == "update" and "errors" not in answer
    view = answer["view"]
    sent = json.loads(parse_qs(request.body.decode())["payload"][0])["view"]
    # The modal as it was (what was typed is kept: the same blocks and action ids), with the refusal on top.
    assert view["blocks"][0] == {"type": "section", "block_id": "refusal", "text": {"type": "mrkdwn", "text": (
        ":warning: *Nothing was submitted:* only nominators, approvers and admins can nominate")}}  # fmt: skip
    assert view["blocks"][1:] == sent["blocks"]
    assert {k: view[k] for k in ("callback_id", "private_metadata", "title", "submit")} == {
        k: sent[k] for k in ("callback_id", "private_metadata", "title", "submit")}  # fmt: skip
    assert not {"id", "hash", "state", "team_id"} & set(view)
    assert await nominations(world) == []
    assert fake_slack.calls_to("chat.postEphemeral") == [] and fake_slack.calls_to("views.update") == []

    # Refused again: one refusal on top, never two.
    again = json.loads(parse_qs(request.body.decode())["payload"][0])
    again["view"]["blocks"] = view["blocks"]
    answer = (await send(bot, interaction(again))).json()
    assert [b.get("block_id") for b in answer["view"]["blocks"]].count("refusal") == 1


async def test_an_overlap_is_shown_on_top_of_the_modal_and_names_the_window(world, bot, partner, fake_slack):
    await known(world, NORA, world.dev_nominator)
    first = await send(bot, submitted(**valid(world, partner)))
    assert first.text == ""
    await fake_slack.wait_for("chat.postEphemeral")
    answer = (await send(bot, as_slack_sends_it(submitted(**valid(world, partner)), world))).json()
    assert answer["response_action"] == "update"
    refusal = answer["view"]["blocks"][0]["text"]["text"]
    assert refusal.startswith(":warning: *Nothing was submitted:* this organisation already has") and "UTC" in refusal
    assert len(await nominations(world)) == 1


async def test_a_refusal_about_no_field_on_a_view_without_blocks_closes_it_and_explains(
    world, bot, partner, fake_slack: FakeSlack
):
    await known(world, "U0GUS", world.gov_member)
    response = await send(bot, submitted(**valid(world, partner), user="U0GUS"))
    assert response.text == ""
    [explained] = await fake_slack.wait_for("chat.postEphemeral")
    assert explained.body["text"] == "Nothing was changed: only nominators, approvers and admins can nominate"
    assert await nominations(world) == []


async def test_someone_not_linked_gets_an_explanation_and_no_modal(world, bot, partner, fake_slack: FakeSlack):
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test", confirmed=False))
    await send(bot, slash_command("nominate", response_url=fake_slack.response_url(), user_id=NORA))
    [answer] = await fake_slack.wait_for(RESPONSE_URL)
    assert (answer.body["response_type"], answer.body["text"]) == ("ephemeral", not_linked_text(console_url=CONSOLE))
    assert fake_slack.calls_to("views.open") == []


async def test_a_submission_by_someone_slack_no_longer_names_closes_the_modal_and_explains(
    world, bot, partner, fake_slack: FakeSlack
):
    # Not known (their match lapsed while the modal was open): acknowledged first, Slack asked after.
    fake_slack.script("users.info", Reply(body={"ok": False, "error": "user_not_found"}))
    response = await send(bot, submitted(**valid(world, partner)))
    assert response.text == ""
    [explained] = await fake_slack.wait_for("chat.postEphemeral")
    assert (explained.body["user"], explained.body["text"]) == (NORA, not_linked_text(console_url=CONSOLE))
    assert await nominations(world) == []


async def test_a_submission_by_someone_not_known_yet_is_acknowledged_first_and_nominated_after(
    world, bot, partner, fake_slack: FakeSlack
):
    fake_slack.script("users.info", slack_user(NORA, "nora@acme.test"))
    response = await send(bot, submitted(**valid(world, partner)))
    assert response.text == ""  # the modal closes: what follows is told in the channel
    [confirmation] = await fake_slack.wait_for("chat.postEphemeral")
    [nomination] = await nominations(world)
    assert nomination.nominated_by == world.dev_nominator.user_id
    assert f"/console/nominations/{nomination.id}" in json.dumps(confirmation.body)
    [asked] = fake_slack.calls_to("users.info")
    assert (await remembered(world, NORA)).user_id == world.dev_nominator.user_id  # the next one will not ask


def test_the_confirmation_links_the_nomination_in_the_console():
    nomination_id = uuid.uuid4()
    text = nominated_message(nomination_id, console_url="https://a.example/")["blocks"][0]["text"]["text"]
    assert f"<https://a.example/console/nominations/{nomination_id}|" in text


def typed(text: str, *, user: str = NORA) -> Signed:
    """Slack asking for the organisation menu's options as the person types in it (``block_suggestion``)."""
    return interaction({
        "type": "block_suggestion", "user": {"id": user, "username": "someone", "name": "someone", "team_id": "T0FAKE"},
        "container": {"type": "view", "view_id": "V0NOMINATE"}, "api_app_id": "A0ACCESSDESK",
        "token": "deprecated-verification-token", "action_id": NominateField.ORGANISATION.value,
        "block_id": NominateField.ORGANISATION.value, "value": text, "team": {"id": "T0FAKE", "domain": "fake"},
        "enterprise": None, "is_enterprise_install": False,
        "view": {"id": "V0NOMINATE", "team_id": "T0FAKE", "type": "modal", "callback_id": CallbackId.NOMINATE.value,
                 "private_metadata": json.dumps({"channel": CHANNEL}), "state": {"values": {}}, "hash": "1.abc"},
    })  # fmt: skip


async def offered(bot: AsyncTestClient, fake: FakeSlack, text: str, *, user: str = NORA,
                  answer: Reply | None = None) -> list[tuple[str, str]]:  # fmt: skip
    """The options Slack is given for ``text``: (shown text, value) pairs. ``answer``: what Slack's users.info says
    of ``user``, who is not known yet (else the world's nominator, known)."""
    if answer is not None:
        fake.script("users.info", answer)
    response = await send(bot, typed(text, user=user))
    assert set(response.json()) == {"options"}
    return [(o["text"]["text"], o["value"]) for o in response.json()["options"]]


async def organisations(world, *names: str) -> dict[str, Organisation]:
    created, registry = {}, Organisations(world.unit)
    for name in names:
        slug = "".join(c if c.isalnum() else "-" for c in name.lower())
        created[name] = await registry.create(actor=OPERATOR, kind=OrgKind.PARTNER, name=name, slug=slug)
    return created


async def test_typing_offers_the_organisations_whose_name_contains_it_those_starting_with_it_first(
    world, bot, partner, fake_slack: FakeSlack
):
    await known(world, NORA, world.dev_nominator)
    found = await organisations(world, "Northwind Labs", "labrador Analytics")
    assert await offered(bot, fake_slack, "LAB") == [
        ("Lab-One (partner)", str(partner.id)), ("labrador Analytics (partner)", str(found["labrador Analytics"].id)),
        ("Northwind Labs (partner)", str(found["Northwind Labs"].id))]  # fmt: skip
    assert [text for text, _ in await offered(bot, fake_slack, "")] == [
        "AI Security Office (government)", "Lab-One (partner)", "labrador Analytics (partner)",
        "Northwind Labs (partner)"]  # fmt: skip
    assert await offered(bot, fake_slack, "acme") == []  # the developer itself is never a grantee


async def test_more_than_a_hundred_organisations_give_the_first_hundred_and_any_other_is_found_by_typing(
    world, bot, partner, fake_slack: FakeSlack
):
    many = await organisations(world, *(f"Partner {n:03d}" for n in range(120)))
    await known(world, NORA, world.dev_nominator)
    first = await offered(bot, fake_slack, "")
    assert len(first) == 100 and first[-1][0] == "Partner 097 (partner)"
    assert await offered(bot, fake_slack, "partner 119") == [("Partner 119 (partner)", str(many["Partner 119"].id))]


@pytest.mark.parametrize("who", ["partner admin", "government member", "unconfirmed e-mail", "unknown to Slack"])
async def test_someone_who_may_not_nominate_or_is_not_linked_is_offered_nothing(
    world, bot, partner, fake_slack: FakeSlack, who
):
    _, partner_admin = await world.partner(name="lab-two")  # sees only their own organisation, nominates nobody
    if who in ("partner admin", "government member"):
        user, actor = ("U0PART", partner_admin) if who == "partner admin" else ("U0GUS", world.gov_member)
        await known(world, user, actor)
        assert await offered(bot, fake_slack, "lab", user=user) == []
        return
    answer = {"unconfirmed e-mail": slack_user(NORA, "nora@acme.test", confirmed=False),
              "unknown to Slack": Reply(body={"ok": False, "error": "user_not_found"})}[who]  # fmt: skip
    assert await offered(bot, fake_slack, "lab", answer=answer) == []
    await fake_slack.wait_for("users.info")  # asked after the answer, for the next keystroke: still no one


async def test_someone_not_known_yet_is_offered_nothing_at_once_and_known_at_the_next_keystroke(
    world, bot, partner, fake_slack: FakeSlack
):
    fake_slack.latency = 3.5  # Slack slower than the 3 seconds it gives us: the options must not wait for it
    assert await offered(bot, fake_slack, "lab", answer=slack_user(NORA, "nora@acme.test")) == []
    await remembered(world, NORA, timeout=10)
    assert await offered(bot, fake_slack, "lab") == [("Lab-One (partner)", str(partner.id))]
    assert len(fake_slack.calls_to("users.info")) == 1


async def test_an_organisation_found_by_typing_is_the_one_nominated(world, bot, partner, fake_slack: FakeSlack):
    await organisations(world, "Lab-Oneteam")
    await known(world, NORA, world.dev_nominator)
    [(_, chosen), _] = await offered(bot, fake_slack, "lab-one")
    assert chosen == str(partner.id)
    response = await send(bot, submitted(**valid(world, partner, organisation_id=chosen)))
    assert response.text == ""
    [nomination] = await nominations(world)
    assert (nomination.organisation_id, nomination.nominated_by) == (partner.id, world.dev_nominator.user_id)


async def test_someone_who_may_not_nominate_is_told_so_and_gets_no_modal(world, bot, partner, fake_slack: FakeSlack):
    fake_slack.script("users.info", slack_user("U0GUS", "gus@aiso.test"))
    await send(bot, slash_command("nominate", response_url=fake_slack.response_url(), user_id="U0GUS"))
    [answer] = await fake_slack.wait_for(RESPONSE_URL)
    assert answer.body["text"] == "Nothing was changed: only nominators, approvers and admins can nominate"
    assert fake_slack.calls_to("views.open") == []


def test_an_option_keeps_the_kind_of_an_organisation_with_a_long_name():
    long = Organisation(kind="government", name="The Department for Science, Innovation and Technology of Atlantis",
                        slug="dsit")  # fmt: skip
    [option] = organisation_options([long])["options"]
    assert option["value"] == str(long.id)
    assert len(option["text"]["text"]) == 75 and option["text"]["text"].endswith("… (government)")
