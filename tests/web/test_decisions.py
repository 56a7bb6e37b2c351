"""Deciding in the console: both sides approve and the partner sees its grant; the rules' refusals are shown in
the page and change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, AuditEvent, Decision, Nomination
from tests.support.console import confirm, csrf_in, is_confirmation, post_confirmed, sign_in, words_of


async def counts(world) -> tuple[int, int, int]:
    result = (len((await world.unit.session.exec(select(Decision.id))).all()),
              len((await world.unit.session.exec(select(AccessGrant.id))).all()),
              # signing in and out is audited too; what matters here is that no decision was
              len((await world.unit.session.exec(
                  select(AuditEvent.seq).where(col(AuditEvent.action).not_like("session.%")))).all()))  # fmt: skip
    return result


async def decide(api, person, nomination, verdict: str, reason: str = ""):
    await sign_in(api, person)
    page = await api.get(f"/console/nominations/{nomination.id}", follow_redirects=False)
    assert page.status_code == 200, page.text
    return await post_confirmed(api, f"/console/nominations/{nomination.id}/decision",
                                {"csrf": csrf_in(page.text), "verdict": verdict, "reason": reason})


async def scene(world):
    await world.government_ready()
    await world.government_grant()
    partner, admin = await world.partner(name="northwind")
    nomination = await world.nominate(partner, start=timedelta(days=2))
    return partner, admin, nomination


async def test_both_sides_approve_in_the_console_and_the_partner_sees_its_grant(api, world):
    _, partner_admin, nomination = await scene(world)
    first = await decide(api, world.dev_approver, nomination, "approve")
    assert first.status_code == 303 and first.headers["location"].endswith("?done=approved")
    shown = await api.get(first.headers["location"])
    assert "Your decision was recorded: approved" in shown.text and "1/1 approvals" in shown.text
    assert shown.headers["content-type"].startswith("text/html")
    second = await decide(api, world.gov_approver, nomination, "approve")
    assert second.status_code == 303 and second.headers["location"].endswith("?done=granted")
    # No dead end: the deciding approver is led to the grant that now exists.
    decided = await api.get(second.headers["location"])
    nomination = await world.get(Nomination, nomination.id)
    assert "completed both sides' decisions" in words_of(decided.text) and nomination.grant_id is not None
    assert f'<a href="/console/grants/{nomination.grant_id}">Open the grant</a>' in decided.text

    await sign_in(api, partner_admin)
    grants = await api.get("/console/grants", follow_redirects=False)
    assert grants.status_code == 200
    assert "Northwind" in grants.text and "model:atlas:invoke" in grants.text and "scheduled" in grants.text
    assert "AI Security Office" not in grants.text  # the government's own grant is not the partner's business


async def test_refusals_are_shown_in_the_page_and_change_nothing(api, world):
    _, _, nomination = await scene(world)
    own = await world.nominate((await world.partner(name="southwind"))[0], by=world.dev_approver,
                               start=timedelta(days=3))  # fmt: skip
    before = await counts(world)
    self_decision = await decide(api, world.dev_approver, own, "approve")
    assert self_decision.status_code == 403 and "you nominated this" in self_decision.text
    assert "Not recorded" in self_decision.text
    no_reason = await decide(api, world.gov_approver, nomination, "reject")
    assert no_reason.status_code == 422 and "a reason for rejecting is required" in no_reason.text
    assert await counts(world) == before

    await decide(api, world.gov_approver, nomination, "approve")
    again = await decide(api, world.gov_approver, nomination, "reject", reason="changed my mind")
    assert again.status_code == 409 and "already decided" in again.text
    after_one = await counts(world)
    await decide(api, world.dev_approver, nomination, "approve")
    late = await decide(api, world.dev_approver2, nomination, "reject", reason="too late")
    assert late.status_code == 409 and "approved" in late.text
    assert (await counts(world))[0] == after_one[0] + 1  # only the developer's approval was added


async def test_a_decision_without_the_csrf_token_is_refused(api, world):
    _, _, nomination = await scene(world)
    before = await counts(world)
    await sign_in(api, world.gov_approver)
    refused = await api.post(f"/console/nominations/{nomination.id}/decision", data={"verdict": "approve"},
                             follow_redirects=False)  # fmt: skip
    assert refused.status_code == 403
    assert await counts(world) == before


async def test_a_partner_cannot_open_another_organisations_nomination(api, world):
    _, _, nomination = await scene(world)
    _, stranger = await world.partner(name="elsewhere")
    await sign_in(api, stranger)
    page = await api.get(f"/console/nominations/{nomination.id}", follow_redirects=False)
    assert page.status_code == 404 and "Not found" in page.text


async def test_a_decision_asks_first_saying_what_it_will_do_and_changes_nothing_until_confirmed(api, world):
    _, _, nomination = await scene(world)
    before = await counts(world)
    await sign_in(api, world.dev_approver)
    page = f"/console/nominations/{nomination.id}"
    shown = await api.get(page)
    asked = await api.post(f"{page}/decision", data={"csrf": csrf_in(shown.text), "verdict": "approve"})
    said = words_of(asked.text)
    assert is_confirmation(asked) and "Approve Northwind for Atlas?" in said
    assert "Your approval is 1 of the 1 the developer side needs; the government side has 0 of 1." in said
    assert "Yes, approve" in said and f'href="{page}">No, go back' in asked.text
    assert await counts(world) == before  # asking changed nothing

    assert (await confirm(api, asked)).status_code == 303
    await sign_in(api, world.gov_approver)
    shown = await api.get(page)
    asked = await api.post(f"{page}/decision", data={"csrf": csrf_in(shown.text), "verdict": "approve"})
    said = words_of(asked.text)
    assert "Your approval completes both sides' decisions: Northwind gets access to Atlas (invoke) from" in said
    assert "Yes, approve and grant access" in said

    rejecting = await api.post(f"{page}/decision", data={"csrf": csrf_in(shown.text), "verdict": "reject",
                                                         "reason": "Not cleared <yet> & \"why\""})  # fmt: skip
    said = words_of(rejecting.text)
    assert "Reject Northwind for Atlas?" in said and "does not get this access to Atlas" in said
    rejected = await confirm(api, rejecting)  # the reason travels through the confirmation exactly as typed
    assert rejected.status_code == 303
    stored = await world.get(Nomination, nomination.id)
    assert stored.state == "rejected" and stored.outcome_reason == 'Not cleared <yet> & "why"'

