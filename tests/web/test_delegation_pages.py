"""Delegation in the console (issue 18): an approver names a delegate of their own organisation and deciding role on
``/console/delegations``, sees what they gave and what they hold, and ends one after a confirmation; refused forms
come back with the message beside the field and what was typed, changing nothing; the delegate cannot end it (403)
and a stranger is told it does not exist (404); and the delegate decides in the approver's name from the
nomination's page, the decision saying who took it for whom."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import Decision, Delegation
from accessdesk.domain.delegations import LONGEST, Delegations
from tests.support.console import confirm, csrf_in, is_confirmation, open_as, post_confirmed, sign_in, words_of

PAGE = "/console/delegations"
DAY = timedelta(days=1)


def day(moment) -> str:
    return f"{moment:%Y-%m-%d}"


def minute(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


async def delegations_of(world) -> list[Delegation]:
    stmt = select(Delegation).execution_options(populate_existing=True)
    return list((await world.unit.session.exec(stmt)).all())


async def delegated(world, giver, taker) -> Delegation:
    return await Delegations(world.unit).create(actor=giver, delegate_id=taker.person_id, starts_at=world.now,
                                                ends_at=world.now + 7 * DAY, note="On leave.")  # fmt: skip


async def name_delegate(api, person, **fields: str):
    """Sign ``person`` in, open the page and post its "Name a delegate" form."""
    shown = await open_as(api, person, PAGE)
    return await api.post(PAGE, data={"csrf": csrf_in(shown.text), **fields}, follow_redirects=False)


async def test_home_and_nominations_lead_deciders_to_delegation_and_every_staff_member_to_reconsiderations(api, world):
    for person, delegations in ((world.dev_approver, True), (world.gov_admin, True), (world.dev_nominator, False),
                                (world.gov_member, False)):  # fmt: skip
        shown = await open_as(api, person, "/console")
        assert ('<a href="/console/delegations">Name a delegate</a>' in shown.text) is delegations, person.label
        listed = await open_as(api, person, "/console/nominations")
        assert ('<a href="/console/delegations">Delegation</a>' in listed.text) is delegations, person.label
        assert '<a href="/console/reconsiderations">Partners\' requests to reconsider</a>' in listed.text, person.label
    _, partner_admin = await world.partner(name="northwind")
    for page in ("/console", "/console/nominations"):
        shown = await open_as(api, partner_admin, page)
        assert "/console/delegations" not in shown.text and "/console/reconsiderations" not in shown.text


async def test_an_approver_names_a_delegate_and_both_see_it(api, world, engine):
    shown = await open_as(api, world.dev_approver, PAGE)
    text = words_of(shown.text)
    assert "You have named no delegate." in text and "Nobody has named you their delegate." in text
    # Only who the rules accept is offered: the other approver, not the admin (another role), not oneself.
    assert f'<option value="{world.dev_approver2.user_id}">Dev2 (dev2@acme.test)</option>' in shown.text
    assert str(world.dev_admin.user_id) not in shown.text and f'value="{world.dev_approver.user_id}"' not in shown.text

    ends = world.now + 7 * DAY
    named = await api.post(PAGE, follow_redirects=False, data={
        "csrf": csrf_in(shown.text), "delegate_id": str(world.dev_approver2.user_id), "starts_at": "",
        "ends_at": day(ends), "note": "On leave."})  # fmt: skip
    assert named.status_code == 303, named.text
    assert named.headers["location"] == f"{PAGE}?done=created"
    [made] = await delegations_of(world)
    assert (made.delegator_id, made.delegate_id, made.note) == (world.dev_approver.user_id,
                                                                world.dev_approver2.user_id, "On leave.")  # fmt: skip
    assert made.starts_at == world.now and f"{made.ends_at:%Y-%m-%d %H:%M:%S}" == f"{day(ends)} 23:59:59"

    after = words_of((await api.get(named.headers["location"])).text)
    assert "Your delegate is named, and told" in after
    assert "Your delegates Delegate Period State Note dev2@acme.test" in after and "active On leave." in after
    assert "End dev2@acme.test's delegation" in after

    held = words_of((await open_as(api, world.dev_approver2, PAGE)).text)
    assert "You decide in the name of In the name of Period State Note dev1@acme.test" in held
    assert "In force now: Dev1 (dev1@acme.test)." in held
    assert "End dev2@acme.test's delegation" not in held  # the delegate does not end it
    admin = words_of((await open_as(api, world.dev_admin, PAGE)).text)
    assert "Your organisation's other delegations" in admin and "dev1@acme.test → dev2@acme.test" in admin
    assert "End dev2@acme.test's delegation" in admin  # an admin of the organisation may
    stranger = words_of((await open_as(api, world.gov_admin, PAGE)).text)
    assert "dev1@acme.test" not in stranger and "You have named no delegate." in stranger


async def test_a_delegation_may_start_later_and_is_shown_scheduled(api, world):
    starts = world.now + 3 * DAY
    named = await name_delegate(api, world.gov_approver, delegate_id=str(world.gov_approver2.user_id),
                                starts_at=minute(starts), ends_at=minute(starts + 5 * DAY), note="")  # fmt: skip
    assert named.status_code == 303, named.text
    [made] = await delegations_of(world)
    assert (made.starts_at, made.ends_at, made.note) == (starts, starts + 5 * DAY, None)
    assert "scheduled" in words_of((await api.get(PAGE)).text)


async def test_refusals_come_back_with_the_message_and_what_was_typed_and_change_nothing(api, world, unchanged):
    await sign_in(api, world.dev_approver)
    shown = await api.get(PAGE)
    ends = day(world.now + 7 * DAY)

    async def post(**fields: str):
        data = {"csrf": csrf_in(shown.text), "delegate_id": str(world.dev_approver2.user_id), "starts_at": "",
                "ends_at": ends, "note": "Away.", **fields}  # fmt: skip
        return await api.post(PAGE, data=data, follow_redirects=False)

    cases = [
        ({"delegate_id": str(world.gov_approver.user_id)}, "delegate_id",
         "the delegate must be someone of your own organisation"),
        ({"delegate_id": str(world.dev_admin.user_id)}, "delegate_id", "the delegate must hold your deciding role (approver)"),
        ({"delegate_id": str(world.dev_approver.user_id)}, "delegate_id", "you cannot be your own delegate"),
        ({"delegate_id": str(uuid.uuid4())}, "delegate_id", "the delegate must be someone of your own organisation"),
        ({"delegate_id": "dev2@acme.test"}, "delegate_id", "choose a delegate"),
        ({"delegate_id": ""}, "delegate_id", "choose a delegate"),
        ({"starts_at": day(world.now + 5 * DAY), "ends_at": day(world.now + 2 * DAY)}, "ends_at",
         "a delegation must end after it starts"),
        ({"ends_at": day(world.now + LONGEST + 2 * DAY)}, "ends_at", f"a delegation lasts at most {LONGEST.days} days"),
        ({"starts_at": day(world.now - 5 * DAY), "ends_at": day(world.now - 2 * DAY)}, "ends_at",
         "a delegation must end in the future"),
        ({"ends_at": "next friday"}, "ends_at", "enter a date as YYYY-MM-DD"),
        ({"note": "x" * 1001}, "note", "a note of at most 1000 characters"),
    ]  # fmt: skip
    for fields, field, message in cases:
        async with unchanged():
            refused = await post(**fields)
        assert refused.status_code == 422, (fields, refused.text)
        assert f"Not done: {message}" in words_of(refused.text), fields
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in refused.text, fields
        assert "Name the delegate</button>" in refused.text  # the form, shown again
        assert ">Away.</textarea>" in refused.text or field == "note"  # what was typed, typed again
    assert await delegations_of(world) == []

    # Typed as it was: the chosen person stays chosen.
    refused = await post(starts_at=day(world.now + 5 * DAY), ends_at=day(world.now + 2 * DAY))
    assert f'<option value="{world.dev_approver2.user_id}" selected>' in refused.text
    assert f'value="{day(world.now + 2 * DAY)}"' in refused.text

    # Who does not decide is refused (and offered no form).
    nominator = await open_as(api, world.dev_nominator, PAGE)
    assert "Name the delegate</button>" not in nominator.text
    async with unchanged():
        forbidden = await api.post(PAGE, follow_redirects=False, data={
            "csrf": csrf_in(nominator.text), "delegate_id": str(world.dev_approver2.user_id), "ends_at": ends})  # fmt: skip
    assert forbidden.status_code == 403
    assert "only approvers and admins, who decide on nominations, can name a delegate" in words_of(forbidden.text)


async def test_ending_a_delegation_asks_first_and_only_its_giver_or_their_admin_may(api, world, unchanged):
    made = await delegated(world, world.dev_approver, world.dev_approver2)
    revocation = f"{PAGE}/{made.id}/revocation"

    # The delegate is told they may not; a stranger, that there is no such delegation.
    for person, status, said in ((world.dev_approver2, 403, "only the person who delegated (or an admin of their "
                                                            "organisation) ends a delegation"),
                                 (world.gov_admin, 404, f"delegation {made.id} not found"),
                                 (world.dev_nominator, 404, f"delegation {made.id} not found")):  # fmt: skip
        shown = await open_as(api, person, PAGE)
        async with unchanged():
            refused = await post_confirmed(api, revocation, {"csrf": csrf_in(shown.text)})
            confirmed = await api.post(revocation, data={"csrf": csrf_in(shown.text), "confirmed": "yes"})
        for answer in (refused, confirmed):
            assert answer.status_code == status, (person.label, answer.text)
            assert f"Not done: {said}" in words_of(answer.text)

    shown = await open_as(api, world.dev_approver, PAGE)
    async with unchanged():
        asking = await api.post(revocation, data={"csrf": csrf_in(shown.text)}, follow_redirects=False)
    said = words_of(asking.text)
    assert is_confirmation(asking) and "End dev2@acme.test's delegation from dev1@acme.test?" in said
    assert "From now on dev2@acme.test no longer decides in dev1@acme.test's name." in said
    assert f'href="{PAGE}">No, go back' in asking.text
    ended = await confirm(api, asking)
    assert ended.status_code == 303 and ended.headers["location"] == f"{PAGE}?done=revoked"
    [revoked] = await delegations_of(world)
    assert (revoked.revoked_at, revoked.revoked_by) == (world.now, world.dev_approver.user_id)
    after = words_of((await api.get(ended.headers["location"])).text)
    assert "The delegation is ended" in after and "revoked" in after
    assert "End dev2@acme.test's delegation" not in after

    # Ended: ending it again is refused, and says so.
    async with unchanged():
        again = await api.post(revocation, data={"csrf": csrf_in(shown.text), "confirmed": "yes"})
    assert again.status_code == 409 and "Not done: this delegation was already ended" in words_of(again.text)
    async with unchanged():
        unknown = await api.post(f"{PAGE}/{uuid.uuid4()}/revocation", data={"csrf": csrf_in(shown.text)})
    assert unknown.status_code == 404


async def test_an_admin_ends_a_delegation_of_their_organisation(api, world):
    made = await delegated(world, world.dev_approver, world.dev_approver2)
    shown = await open_as(api, world.dev_admin, PAGE)
    ended = await post_confirmed(api, f"{PAGE}/{made.id}/revocation", {"csrf": csrf_in(shown.text)})
    assert ended.status_code == 303, ended.text
    [revoked] = await delegations_of(world)
    assert revoked.revoked_by == world.dev_admin.user_id


async def test_the_delegate_decides_in_the_approvers_name_and_the_decisions_say_so(api, world):
    named = await name_delegate(api, world.dev_approver, delegate_id=str(world.dev_approver2.user_id),
                                ends_at=day(world.now + 7 * DAY))  # fmt: skip
    assert named.status_code == 303, named.text
    nomination = await world.nominate(world.government)
    page = f"/console/nominations/{nomination.id}"
    shown = await open_as(api, world.dev_approver2, page)
    assert "Decide as" in shown.text
    decided = await post_confirmed(api, f"{page}/decision", {"csrf": csrf_in(shown.text), "verdict": "approve",
                                                             "on_behalf_of": str(world.dev_approver.user_id)})  # fmt: skip
    assert decided.status_code == 303 and decided.headers["location"] == f"{page}?done=approved", decided.text
    [decision] = (await world.unit.session.exec(select(Decision).where(Decision.nomination_id == nomination.id))).all()
    [delegation] = await delegations_of(world)
    assert (decision.approver_id, decision.decided_by, decision.delegation_id) == (
        world.dev_approver.user_id, world.dev_approver2.user_id, delegation.id)  # fmt: skip
    text = words_of((await api.get(page)).text)
    assert "decided by Dev2 (dev2@acme.test) for Dev1 (dev1@acme.test) (delegation) — developer side — approve" in text
    # A person decides once, for themselves or for anyone: the page offers the delegate no second decision.
    assert "Your decision" not in text and "Decide as" not in text
