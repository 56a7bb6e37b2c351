"""Step-up and the new decision options in the console (issue 18): approving access to a high-tier model (or one
whose setting asks for it) needs a sign-in younger than its minutes; a stale session is sent to sign in again and
comes back to the approval's own page (``/console/nominations/{id}/approve``), nothing recorded meanwhile. "Decide
as" decides in the name of someone whose delegation is in force, and a rejection's reason may be shared with the
partner. Refusals say why and change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import Decision, Delegation, FrontierModel
from accessdesk.domain.delegations import Delegations
from accessdesk.domain.frontier_models import FrontierModels
from accessdesk.domain.vocabulary import Tier
from tests.support.console import confirm, csrf_in, is_confirmation, post_confirmed, sign_in, words_of

STALE = timedelta(minutes=16)  # older than a high-tier model's 15 minutes, younger than the 30 a session idles


async def decisions_of(world, nomination) -> list[Decision]:
    stmt = select(Decision).where(Decision.nomination_id == nomination.id).execution_options(populate_existing=True)
    return list((await world.unit.session.exec(stmt)).all())


async def high_tier_nomination(world, **model_settings):
    """A pending nomination of the government for a high-tier model (the government needs no one before it)."""
    helios = await world.new_model("helios", tier=Tier.HIGH, **model_settings)
    return await world.nominate(world.government, model=helios)


async def delegated(world, giver, taker) -> Delegation:
    return await Delegations(world.unit).create(actor=giver, delegate_id=taker.person_id, starts_at=world.now,
                                                ends_at=world.now + timedelta(days=7))  # fmt: skip


def approve_page(nomination) -> str:
    return f"/console/nominations/{nomination.id}/approve"


async def test_a_stale_session_is_sent_to_sign_in_again_and_then_approves_on_the_approval_page(api, world, clock,
                                                                                                unchanged):  # fmt: skip
    nomination = await high_tier_nomination(world)
    page = f"/console/nominations/{nomination.id}"
    await sign_in(api, world.dev_approver)
    clock.advance(STALE)
    shown = await api.get(page)  # reading needs no recent sign-in
    assert shown.status_code == 200
    assert "Approving access to this model needs a sign-in within the last 15 minutes" in words_of(shown.text)
    async with unchanged():
        asked = await api.post(f"{page}/decision", data={"csrf": csrf_in(shown.text), "verdict": "approve"},
                               follow_redirects=False)  # fmt: skip
        confirmed = await api.post(f"{page}/decision", follow_redirects=False, data={
            "csrf": csrf_in(shown.text), "verdict": "approve", "confirmed": "yes"})  # fmt: skip
        opened = await api.get(approve_page(nomination), follow_redirects=False)
    for answer in (asked, confirmed, opened):
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"/login/again?next={approve_page(nomination)}"
    again = await api.get(asked.headers["location"])
    assert again.status_code == 200 and "Confirm it's you" in again.text

    signed_again = await sign_in(api, world.dev_approver, next_=approve_page(nomination))
    assert signed_again.headers["location"] == approve_page(nomination)
    asking = await api.get(approve_page(nomination))
    said = words_of(asking.text)
    assert is_confirmation(asking) and "Approve AI Security Office for Helios?" in said
    assert "Your approval is 1 of the 1 the developer side needs; the government side has 0 of 1." in said
    assert f'action="{page}/decision"' in asking.text and f'href="{page}">No, go back' in asking.text
    assert await decisions_of(world, nomination) == []  # asking changed nothing
    done = await confirm(api, asking)
    assert done.status_code == 303 and done.headers["location"] == f"{page}?done=approved"
    [decision] = await decisions_of(world, nomination)
    assert (decision.approver_id, decision.verdict, decision.decided_by) == (world.dev_approver.user_id, "approve", None)


async def test_a_fresh_session_approves_at_once_and_rejecting_needs_no_recent_sign_in(api, world, clock):
    approved = await high_tier_nomination(world)
    await sign_in(api, world.dev_approver)
    page = f"/console/nominations/{approved.id}"
    shown = await api.get(page)
    done = await post_confirmed(api, f"{page}/decision", {"csrf": csrf_in(shown.text), "verdict": "approve"})
    assert done.status_code == 303 and done.headers["location"] == f"{page}?done=approved"

    helios = await world.get(FrontierModel, approved.model_id)
    rejected = await world.nominate(world.government, model=helios, start=timedelta(days=40))
    clock.advance(STALE)
    page = f"/console/nominations/{rejected.id}"
    shown = await api.get(page)
    done = await post_confirmed(api, f"{page}/decision", {"csrf": csrf_in(shown.text), "verdict": "reject",
                                                          "reason": "Not this quarter."})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"{page}?done=rejected"
    assert [d.verdict for d in await decisions_of(world, rejected)] == ["reject"]


async def test_a_session_that_goes_stale_on_the_confirmation_page_records_nothing(api, world, clock, unchanged):
    nomination = await high_tier_nomination(world)
    await sign_in(api, world.dev_approver)
    asking = await api.get(approve_page(nomination))
    assert is_confirmation(asking)
    clock.advance(STALE)
    await api.get(f"/console/nominations/{nomination.id}")  # the session is touched: idle, not signed in again
    async with unchanged():
        pressed = await confirm(api, asking)
    assert pressed.status_code == 303
    assert pressed.headers["location"] == f"/login/again?next={approve_page(nomination)}"


async def test_a_standard_model_needs_no_recent_sign_in_unless_its_setting_asks(api, world, clock, unchanged):
    nomination = await world.nominate(world.government)
    await sign_in(api, world.dev_approver)
    clock.advance(STALE)
    page = f"/console/nominations/{nomination.id}"
    shown = await api.get(page)
    assert "needs a sign-in within" not in words_of(shown.text)
    await FrontierModels(world.unit).update(actor=world.dev_admin, model_id=world.model.id,
                                            changes={"approval_step_up_minutes": 20})  # fmt: skip
    shown = await api.get(page)
    assert "needs a sign-in within the last 20 minutes" in words_of(shown.text)
    async with unchanged():
        young_enough = await api.get(approve_page(nomination))
    assert is_confirmation(young_enough)  # 16 minutes old: within the model's 20
    clock.advance(timedelta(minutes=5))
    await api.get(page)
    async with unchanged():
        too_old = await api.get(approve_page(nomination), follow_redirects=False)
    assert too_old.status_code == 303 and too_old.headers["location"] == f"/login/again?next={approve_page(nomination)}"


async def test_a_high_tier_model_may_allow_an_older_sign_in(api, world, clock):
    nomination = await high_tier_nomination(world, approval_step_up_minutes=60)
    await sign_in(api, world.dev_approver)
    clock.advance(STALE)
    done = await confirm(api, await api.get(approve_page(nomination)))
    assert done.status_code == 303 and done.headers["location"].endswith("?done=approved")


async def test_the_approval_page_refuses_as_the_decision_would(api, world, unchanged):
    nomination = await world.nominate(world.government, by=world.dev_approver)
    _, partner_admin = await world.partner(name="northwind")
    await sign_in(api, world.dev_approver)
    async with unchanged():
        own = await api.get(approve_page(nomination))
        not_a_person = await api.get(approve_page(nomination), params={"on_behalf_of": "nobody"})
    assert own.status_code == 403 and "Not recorded: you nominated this" in words_of(own.text)
    assert not_a_person.status_code == 422 and "choose whom you decide for" in words_of(not_a_person.text)
    await sign_in(api, partner_admin)
    async with unchanged():
        stranger = await api.get(approve_page(nomination))
    assert stranger.status_code == 404


async def test_a_delegate_decides_as_the_approver_and_the_page_says_who_did(api, world, clock):
    await delegated(world, world.dev_approver, world.dev_approver2)
    nomination = await high_tier_nomination(world)
    page = f"/console/nominations/{nomination.id}"
    await sign_in(api, world.dev_approver2)
    shown = await api.get(page)
    assert '<select id="on_behalf_of" name="on_behalf_of"' in shown.text
    assert f'<option value="{world.dev_approver.user_id}">Dev1 (dev1@acme.test), by their delegation' in shown.text
    asked = await api.post(f"{page}/decision", data={"csrf": csrf_in(shown.text), "verdict": "approve",
                                                     "on_behalf_of": str(world.dev_approver.user_id)})  # fmt: skip
    said = words_of(asked.text)
    assert is_confirmation(asked)
    assert "You decide in the name of Dev1 (dev1@acme.test), by their delegation to you" in said
    assert f'name="on_behalf_of" value="{world.dev_approver.user_id}"' in asked.text
    assert (await confirm(api, asked)).status_code == 303
    [decision] = await decisions_of(world, nomination)
    assert (decision.approver_id, decision.decided_by) == (world.dev_approver.user_id, world.dev_approver2.user_id)
    assert decision.delegation_id is not None
    shown = words_of((await api.get(page)).text)
    assert "decided by Dev2 (dev2@acme.test) for Dev1 (dev1@acme.test) (delegation) — developer side — approve" in shown


async def test_a_stale_delegate_comes_back_to_decide_in_the_same_name(api, world, clock, unchanged):
    await delegated(world, world.dev_approver, world.dev_approver2)
    nomination = await high_tier_nomination(world)
    page = f"/console/nominations/{nomination.id}"
    await sign_in(api, world.dev_approver2)
    clock.advance(STALE)
    shown = await api.get(page)
    async with unchanged():
        asked = await api.post(f"{page}/decision", follow_redirects=False, data={
            "csrf": csrf_in(shown.text), "verdict": "approve", "on_behalf_of": str(world.dev_approver.user_id)})  # fmt: skip
    back = f"{approve_page(nomination)}?on_behalf_of={world.dev_approver.user_id}"
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/login/again?next={approve_page(nomination)}%3Fon_behalf_of%3D{world.dev_approver.user_id}"
    assert (await sign_in(api, world.dev_approver2, next_=back)).headers["location"] == back
    asking = await api.get(back)
    assert "You decide in the name of Dev1 (dev1@acme.test)" in words_of(asking.text)
    assert (await confirm(api, asking)).status_code == 303
    [decision] = await decisions_of(world, nomination)
    assert (decision.approver_id, decision.decided_by) == (world.dev_approver.user_id, world.dev_approver2.user_id)


async def test_delegation_refusals_are_shown_in_the_page_and_change_nothing(api, world, unchanged):
    await delegated(world, world.dev_approver, world.dev_approver2)
    nomination = await world.nominate(world.government)
    own = await world.nominate(world.government, by=world.dev_approver2, start=timedelta(days=40))
    await sign_in(api, world.dev_approver2)

    async def decide_as(target, who: str | None, **fields: str):
        shown = await api.get(f"/console/nominations/{target.id}")
        data = {"csrf": csrf_in(shown.text), "verdict": "approve", **fields}
        if who is not None:
            data["on_behalf_of"] = who
        return await post_confirmed(api, f"/console/nominations/{target.id}/decision", data)

    async with unchanged():
        own_nomination = await decide_as(own, str(world.dev_approver.user_id))
        no_delegation = await decide_as(nomination, str(world.gov_approver.user_id))
        not_an_id = await decide_as(nomination, "dev1@acme.test")
    assert own_nomination.status_code == 403 and "you nominated this" in words_of(own_nomination.text)
    assert no_delegation.status_code == 403 and "you hold no delegation in force from that person" in words_of(
        no_delegation.text)  # fmt: skip
    assert not_an_id.status_code == 422 and "choose whom you decide for" in words_of(not_an_id.text)

    assert (await decide_as(nomination, None)).status_code == 303  # as themselves first
    async with unchanged():
        twice = await decide_as(nomination, str(world.dev_approver.user_id))
    assert twice.status_code == 409 and "you have already decided on this nomination" in words_of(twice.text)


async def test_a_shared_reason_is_said_before_and_marked_after_and_only_a_rejections_is_kept_shared(api, world):
    first, second = await world.nominate(world.government), await world.nominate(world.government,
                                                                                  start=timedelta(days=40))  # fmt: skip
    await sign_in(api, world.dev_approver)
    page = f"/console/nominations/{first.id}"
    shown = await api.get(page)
    assert 'name="reason_shared" value="yes"' in shown.text and "Share this reason with the partner" in shown.text
    assert '<select id="on_behalf_of"' not in shown.text  # nobody delegated to Dev1
    asked = await api.post(f"{page}/decision", data={"csrf": csrf_in(shown.text), "verdict": "reject",
                                                     "reason": "Not this quarter.", "reason_shared": "yes"})  # fmt: skip
    said = words_of(asked.text)
    assert "shown to the nominator, and to AI Security Office, as you chose to share it" in said
    assert 'name="reason_shared" value="yes"' in asked.text
    assert (await confirm(api, asked)).status_code == 303
    assert "(reason shared with the partner)" in words_of((await api.get(page)).text)

    page = f"/console/nominations/{second.id}"
    shown = await api.get(page)
    internal = await api.post(f"{page}/decision", data={"csrf": csrf_in(shown.text), "verdict": "reject",
                                                        "reason": "Internal only."})  # fmt: skip
    assert "AI Security Office is told the nomination was rejected, not why" in words_of(internal.text)
    approved = await post_confirmed(api, f"{page}/decision", {"csrf": csrf_in(shown.text), "verdict": "approve",
                                                              "reason": "Fine.", "reason_shared": "yes"})  # fmt: skip
    assert approved.status_code == 303
    [shared] = await decisions_of(world, first)
    [kept] = await decisions_of(world, second)
    assert (shared.verdict, shared.reason_shared) == ("reject", True)
    assert (kept.verdict, kept.reason_shared) == ("approve", False)  # an approval's reason is never shared
    assert "Fine. (internal reason: not shown to the partner)" in words_of((await api.get(page)).text)
