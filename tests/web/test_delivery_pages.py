"""Reminders and undelivered messages in the console: the reminders sent with each recipient's delivery, and the
dead letters, which staff admins send again. Refusals say why and change nothing."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape

from sqlmodel import select

from accessdesk.db.tables import AuditEvent, OutboxMessage, Reminder
from accessdesk.domain.organisations import Organisations
from accessdesk.domain.reminders import Reminders
from accessdesk.domain.vocabulary import OrgKind, Role
from tests.support.console import csrf_in, match_in, open_as
from tests.support.scenes import outbox, remind, set_delivery
from tests.world import OPERATOR

DEAD = "/console/deliveries/dead"


async def message(world, recipient: str, *, state: str = "dead", topic: str = "reminder.grant_ending",
                  error: str = "SlackApiError: channel_not_found") -> uuid.UUID:  # fmt: skip
    """An outbox message that is ``dead`` (gave up after 8 tries), ``delivered`` or ``waiting`` (tried twice)."""
    message_id = world.unit.notify(topic=topic, recipient=recipient, payload={}, dedupe_key=f"test:{uuid.uuid4()}")
    await world.unit.commit()
    row = await world.get(OutboxMessage, message_id)
    if state == "dead":
        row.attempts, row.dead_at, row.last_error = 8, world.now, error
    elif state == "delivered":
        row.attempts, row.delivered_at = 1, world.now
    else:
        row.attempts, row.last_error, row.available_at = 2, error, world.now + timedelta(seconds=20)
    world.unit.session.add(row)
    await world.unit.commit()
    return message_id


async def audit_actions(world) -> list[tuple[str, str]]:
    rows = (await world.unit.session.exec(select(AuditEvent.action, AuditEvent.actor))).all()
    return list(rows)


def row_of(html: str, text: str) -> str:
    """The table row of ``html`` that contains ``text``."""
    return next(row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if text in row)


async def test_reminders_list_what_was_sent_to_whom_and_how_far_each_message_got(api, world, clock):
    zephyr = await world.new_model("zephyr", slack_channels=["C0ZEPHYR1"])
    await world.government_ready()
    grant = await world.government_grant(model=zephyr, days=60)
    north, _ = await world.partner(name="northwind")
    nomination = await world.nominate(north, start=timedelta(days=5), model=zephyr)
    clock.advance(timedelta(hours=49))  # the nomination has waited 48 h for a decision
    assert (await Reminders(world.unit).sweep()).by_kind == {"nomination.pending.48h": 1}
    clock.set(grant.ends_at - timedelta(days=6))  # the government's access ends within 7 days
    assert (await Reminders(world.unit).sweep()).by_kind == {"grant.ends.7d": 1}
    clock.advance(timedelta(minutes=5))
    quiet = await remind(world, "nda.expires.30d", uuid.uuid4(), organisation_id=north.id)
    reminders = {r.kind: r for r in (await world.unit.session.exec(select(Reminder))).all()}
    ending, pending = reminders["grant.ends.7d"], reminders["nomination.pending.48h"]
    gail_key, channel_key = ending.messages
    assert gail_key.endswith(f":user:{world.gov_admin.user_id}") and channel_key.endswith(":slack:C0ZEPHYR1")
    await set_delivery(world, gail_key, attempts=1, delivered_at=world.now)
    await set_delivery(world, channel_key, attempts=8, dead_at=world.now, last_error="SlackApiError: not_in_channel")
    dev1_key = next(k for k in pending.messages if k.endswith(f":user:{world.dev_approver.user_id}"))
    await set_delivery(world, dev1_key, attempts=2, last_error="TimeoutError: Slack did not answer",
                       available_at=world.now + timedelta(seconds=20))  # fmt: skip

    shown = await open_as(api, world.gov_admin, "/console/reminders")
    html = unescape(shown.text)
    assert html.index(str(quiet.organisation_id)) < html.index(str(grant.id)) < html.index(str(nomination.id))

    ends = row_of(html, "Access ends in 7 days")
    assert f'<a href="/console/grants/{grant.id}">AI Security Office on Zephyr</a>' in ends
    assert f"ends {grant.ends_at:%Y-%m-%d %H:%M} UTC" in ends
    assert 'Gail (gail@aiso.test): <span class="badge ok">delivered</span>' in ends
    assert '#channel C0ZEPHYR1: <span class="badge bad">dead</span> gave up after 8 tries' in ends
    assert "SlackApiError: not_in_channel" in ends and 'href="/console/deliveries/dead">retry</a>' in ends

    waiting = row_of(html, "Nomination pending 48 h")
    assert f'<a href="/console/nominations/{nomination.id}">Northwind on Zephyr</a>' in waiting
    for person in ("Dana (dana@acme.test)", "Dev1 (dev1@acme.test)", "Dev2 (dev2@acme.test)",
                   "Gail (gail@aiso.test)", "Gov1 (gov1@aiso.test)", "Gov2 (gov2@aiso.test)"):  # fmt: skip
        assert person in waiting
    assert "nora@acme.test" not in waiting  # the nominator does not decide
    assert "tried 2 times, next try" in waiting and "TimeoutError: Slack did not answer" in waiting
    assert waiting.count("not tried yet") == 5

    nda = row_of(html, "NDA expires in 30 days")
    assert f'<a href="/console/organisations/{north.id}">Northwind\'s NDA</a>' in nda and "no one to tell" in nda


async def test_reminders_page_newest_first_and_a_bad_cursor_says_so(api, world):
    for n in range(52):
        await remind(world, "attestation.expires.7d", uuid.uuid4(), organisation_id=world.government.id,
                     at=world.now - timedelta(minutes=n))  # fmt: skip
    shown = await open_as(api, world.gov_admin, "/console/reminders")
    sent = re.findall(r'<td><time datetime="([^"]+)" data-local>', shown.text)  # each reminder's row, its time
    assert len(sent) == 50 and sent == sorted(sent, reverse=True)
    assert "AI Security Office&#39;s attestation" in shown.text and "Newest reminders" not in shown.text
    older = match_in(r'<a href="([^"]+)">Older reminders</a>', shown.text, 1)
    rest = await api.get(older)
    assert len(re.findall(r'<td><time datetime="', rest.text)) == 2 and "Newest reminders" in rest.text
    assert "Older reminders" not in rest.text
    bad = await api.get("/console/reminders?cursor=nonsense")
    assert bad.status_code == 400 and "not a cursor this API returned" in bad.text


async def test_a_developer_sees_its_own_models_reminders_and_the_organisation_wide_ones(api, world):
    zephyr = await world.new_model("zephyr")
    rival = await Organisations(world.unit).create(actor=OPERATOR, kind=OrgKind.DEVELOPER, name="Rival Labs",
                                                   slug="rival", domains=["rival.test"])  # fmt: skip
    rival_admin = await world.person(rival, "rita", [Role.ADMIN])
    ours = await remind(world, "grant.ends.1d", uuid.uuid4(), organisation_id=world.government.id, model_id=zephyr.id)
    wide = await remind(world, "attestation.expires.7d", uuid.uuid4(), organisation_id=world.government.id)
    shown = await open_as(api, rival_admin, "/console/reminders")
    assert str(wide.organisation_id) in shown.text and str(ours.subject_id) not in shown.text
    shown = await open_as(api, world.dev_admin, "/console/reminders")
    assert str(ours.subject_id) in shown.text and "AI Security Office on Zephyr" in shown.text


async def test_dead_letters_are_listed_with_their_recipients_named_and_an_admin_retries_one(api, world):
    north, _ = await world.partner(name="northwind")
    to_gov1 = await message(world, f"user:{world.gov_approver.user_id}", error="SlackApiError: user_not_found")
    await message(world, "slack:C0ATLAS12", topic="grant.revoked")
    await message(world, f"model:{world.model.id}:approvers", topic="nomination.created")
    await message(world, f"organisation:{north.id}", topic="grant.state_changed")
    await message(world, f"user:{world.gov_admin.user_id}", state="delivered")
    await message(world, f"user:{world.gov_admin.user_id}", state="waiting")

    shown = await open_as(api, world.gov_admin, DEAD)
    html = unescape(shown.text)
    assert "4 messages could not be delivered." in html and html.count(">Retry</button>") == 4
    assert "Gov1 (gov1@aiso.test)" in row_of(html, "SlackApiError: user_not_found")
    assert "#channel C0ATLAS12" in row_of(html, "grant.revoked")
    assert "the approvers of Atlas" in row_of(html, "nomination.created")
    assert "Northwind" in row_of(html, "grant.state_changed")
    assert "Gail (gail@aiso.test)" not in html  # delivered, or still being tried: not dead
    assert 'href="/console/deliveries/dead">Undelivered</a>' in shown.text

    retried = await api.post(f"/console/deliveries/{to_gov1}/retry", data={"csrf": csrf_in(shown.text)},
                             follow_redirects=False)  # fmt: skip
    assert retried.status_code == 303 and retried.headers["location"] == f"{DEAD}?done=retried"
    after = await api.get(retried.headers["location"])
    assert "goes out again with the next delivery round" in after.text
    assert "3 messages could not be delivered." in after.text and "user_not_found" not in after.text
    row = await outbox(world, to_gov1)
    assert (row.dead_at, row.attempts, row.available_at) == (None, 0, world.now)
    assert ("outbox.retried", "gail@aiso.test") in await audit_actions(world)


async def test_a_retry_that_cannot_be_done_is_refused_and_changes_nothing(api, world, unchanged):
    delivered = await message(world, f"user:{world.gov_admin.user_id}", state="delivered")
    waiting = await message(world, f"user:{world.gov_admin.user_id}", state="waiting")
    await message(world, "slack:C0ATLAS12")
    shown = await open_as(api, world.dev_admin, DEAD)
    csrf = csrf_in(shown.text)
    for message_id, status, words in [
        (delivered, 409, "this message was delivered; there is nothing to retry"),
        (waiting, 409, "this message is still being tried; it is not in the dead letters"),
        (uuid.uuid4(), 404, "not found"),
    ]:
        async with unchanged():
            refused = await api.post(f"/console/deliveries/{message_id}/retry", data={"csrf": csrf})
        assert refused.status_code == status, refused.text
        assert "Not done: " in refused.text and words in refused.text
        assert "#channel C0ATLAS12" in refused.text  # the list, shown again
    async with unchanged():
        forged = await api.post(f"/console/deliveries/{waiting}/retry", data={"csrf": "forged"})
    assert forged.status_code == 403 and "did not come from accessdesk" in forged.text
    assert [a for a, _ in await audit_actions(world) if a == "outbox.retried"] == []


async def test_only_staff_admins_see_and_retry_dead_letters_and_only_auditors_and_admins_see_reminders(
    api, world, unchanged
):  # fmt: skip
    dead = await message(world, "slack:C0ATLAS12")
    _, partner_admin = await world.partner(name="northwind")
    auditor = await world.person(world.government, "audrey", [Role.AUDITOR])
    for person in (partner_admin, world.dev_approver, world.gov_member, auditor):
        home = await open_as(api, person, "/console")
        assert "/console/deliveries/dead" not in home.text
        async with unchanged():
            listed = await api.get(DEAD, follow_redirects=False)
            retried = await api.post(f"/console/deliveries/{dead}/retry", data={"csrf": csrf_in(home.text)},
                                     follow_redirects=False)  # fmt: skip
        for refused in (listed, retried):
            assert refused.status_code == 403, (person.label, refused.text)
            assert "only staff admins see and retry undelivered messages" in refused.text
        reminders = await api.get("/console/reminders", follow_redirects=False)
        if person is auditor:
            assert reminders.status_code == 200 and 'href="/console/reminders"' in home.text
        else:
            assert reminders.status_code == 403
            assert "only staff who read the audit trail see reminders" in reminders.text
            assert 'href="/console/reminders"' not in home.text
    assert (await outbox(world, dead)).dead_at is not None
    api.cookies.clear()
    for path in ("/console/reminders", DEAD):
        assert (await api.get(path, follow_redirects=False)).headers["location"] == f"/login?next={path}"


async def test_the_home_page_tells_admins_of_undelivered_messages_and_no_one_else(api, world):
    await message(world, "slack:C0ATLAS12", topic="grant.revoked")
    await message(world, "slack:C0ATLAS12", topic="grant.revoked")
    home = unescape((await open_as(api, world.gov_admin, "/console")).text)
    assert "2 messages could not be delivered" in home and 'href="/console/deliveries/dead"' in home
    approver_home = unescape((await open_as(api, world.gov_approver, "/console")).text)
    assert "could not be delivered" not in approver_home


def test_every_kind_of_reminder_is_named_and_linked_on_the_page():
    """A new kind of reminder (a cohort's, say) is shown in words with a link, never as its raw code."""
    from accessdesk.domain.reminders import ReminderKind
    from accessdesk.web.delivery_pages import KINDS, SUBJECTS

    assert set(KINDS) == set(ReminderKind)
    assert {kind.split(".", 1)[0] for kind in ReminderKind} <= set(SUBJECTS)
