"""Cohorts in the console: nominating many partners from a list, a pasted list and an uploaded file, with what
became of each; a cohort's page; approving every pending member, some rejected instead, after a page that says
what will happen. Refused forms are shown again with what was typed, and change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from accessdesk.db.tables import AccessGrant, AuditEvent, Cohort, Decision, Nomination
from tests.support.browser import CSP_WORDS, accessibility_violations, heard, sign_in_as
from tests.support.console import confirm, csrf_in, is_confirmation, open_as, sign_in, words_of

NEW = "/console/cohorts/new"


async def written(world) -> tuple[int, int, int, int, int]:
    """Cohorts, nominations, decisions, grants, and audit events but sign-ins."""
    events = (await world.unit.session.exec(
        select(AuditEvent.seq).where(col(AuditEvent.action).not_like("session.%")))).all()  # fmt: skip
    return (await world.count(Cohort), await world.count(Nomination), await world.count(Decision),
            await world.count(AccessGrant), len(events))  # fmt: skip


def form(world, **overrides):
    starts_at = world.now + timedelta(days=2)
    return {"model_id": str(world.model.id), "name": "Wave one", "starts_at": f"{starts_at:%Y-%m-%d %H:%M}",
            "ends_at": f"{starts_at + timedelta(days=30):%Y-%m-%d %H:%M}", "actions": ["invoke", "evaluate"],
            "justification": "Pre-release evaluation.", "entries": "", **overrides}  # fmt: skip


async def nominate(api, person, data, files=None):
    shown = await open_as(api, person, NEW)
    return await api.post(NEW, data={"csrf": csrf_in(shown.text), **data}, files=files or {"file": ("", b"")},
                          follow_redirects=False)  # fmt: skip


async def members(world, count=3, prefix="member"):
    return [(await world.partner(name=f"{prefix}-{i}"))[0] for i in range(count)]


async def test_a_cohort_is_nominated_from_the_list_a_pasted_list_and_a_file_with_a_result_per_entry(api, world):
    first, second, third, fourth = await members(world, 4)
    shown = await open_as(api, world.dev_nominator, NEW)
    assert '<script src="/static/cohort-members.js" defer></script>' in shown.text
    assert f'<option value="{first.id}">Member-0 (member-0, vetted)</option>' in shown.text
    assert "AI Security Office" not in shown.text  # a cohort is of partners: the government is no choice here

    answer = await api.post(NEW, data={"csrf": csrf_in(shown.text), **form(world, entries="member-2\nnobody, member-0"),
                                       "organisation_ids": [str(first.id), str(second.id)]},
                            files={"file": ("partners.csv", b"slug,name\nmember-3.test,Member 3\nghost.test,Ghost\n",
                                            "text/csv")})  # fmt: skip

    assert answer.status_code == 200, answer.text
    text = words_of(answer.text)
    assert "The cohort is open: 4 of 6 nominated" in text
    assert "Member-0: nominated Member-1: nominated member-2 (Member-2): nominated" in text
    assert "nobody: not nominated: no organisation has the slug 'nobody'" in text
    assert "ghost.test: not nominated: no organisation has the e-mail domain 'ghost.test'" in text
    assert "Named twice, and nominated once: member-0" in text
    cohort = (await world.unit.session.exec(select(Cohort))).one()
    nominated = (await world.unit.session.exec(select(Nomination.organisation_id)
                                               .where(Nomination.cohort_id == cohort.id))).all()  # fmt: skip
    assert set(nominated) == {first.id, second.id, third.id, fourth.id}
    assert f'href="/console/cohorts/{cohort.id}/decision"' not in answer.text  # the nominator decides on none

    listed = await api.get("/console/cohorts")
    assert f'<a href="/console/cohorts/{cohort.id}">Wave one</a>' in listed.text
    assert '<a href="/console/cohorts">Cohorts</a>' in listed.text  # in the navigation


async def test_refused_forms_are_shown_again_with_what_was_typed_and_change_nothing(api, world):
    first, second, _ = await members(world)
    await world.nominate(second, start=timedelta(days=3), days=5)
    partner_admin = (await world.partner(name="asker"))[1]
    before = await written(world)
    typed = form(world, name="", entries="member-2\nsomeone", justification="Our reasons.")
    no_name = await nominate(api, world.dev_nominator, {**typed, "organisation_ids": [str(first.id)]})
    assert no_name.status_code == 422 and "give the cohort a name" in no_name.text
    assert "Our reasons.</textarea>" in no_name.text and "member-2\nsomeone</textarea>" in no_name.text
    assert f'<option value="{first.id}" selected>' in no_name.text and 'aria-invalid="true"' in no_name.text

    all_or_nothing = await nominate(api, world.dev_nominator, {**form(world, entries="member-0 member-1"),
                                                               "all_or_nothing": "yes"})  # fmt: skip
    assert all_or_nothing.status_code == 422
    assert "nothing was nominated: 1 of the 2 organisations cannot be nominated (member-1: this organisation " \
           "already has a pending nomination" in words_of(all_or_nothing.text)  # fmt: skip
    assert 'name="all_or_nothing" value="yes" checked' in all_or_nothing.text

    binary = await nominate(api, world.dev_nominator, form(world, name="Binary"),
                            files={"file": ("list.txt", b"\xff\xfe\x00m", "text/plain")})  # fmt: skip
    assert binary.status_code == 422 and "the file is not UTF-8 text" in binary.text
    control = await nominate(api, world.dev_nominator, form(world, name="Control"),
                             files={"file": ("list.txt", b"member-0\x00\n", "text/plain")})  # fmt: skip
    assert control.status_code == 422 and "control characters" in control.text
    window = await nominate(api, world.dev_nominator, form(world, entries="member-0", ends_at="2025-01-01"))
    assert window.status_code == 422 and "the window must end after it starts" in window.text
    partner_nominates = await nominate(api, partner_admin, form(world, entries="member-0"))
    assert partner_nominates.status_code == 403 and "only nominators, approvers and admins" in partner_nominates.text
    assert await written(world) == before


async def scene(api, world, count=3):
    await world.government_ready()
    await world.government_grant()
    organisations = await members(world, count)
    answer = await nominate(api, world.dev_nominator, form(world, entries=" ".join(o.slug for o in organisations)))
    assert answer.status_code == 200, answer.text
    cohort = (await world.unit.session.exec(select(Cohort))).one()
    by_org = {n.organisation_id: n for n in (await world.unit.session.exec(
        select(Nomination).where(Nomination.cohort_id == cohort.id))).all()}  # fmt: skip
    return organisations, cohort, by_org


async def decide(api, person, cohort, data):
    page = await open_as(api, person, f"/console/cohorts/{cohort.id}")
    return await api.post(f"/console/cohorts/{cohort.id}/decision", data={"csrf": csrf_in(page.text), **data},
                          follow_redirects=False)  # fmt: skip


async def test_approve_all_pending_with_one_rejected_after_a_page_that_says_what_will_happen(api, world):
    organisations, cohort, by_org = await scene(api, world)
    turned_down = by_org[organisations[1].id]
    page = await open_as(api, world.dev_approver, f"/console/cohorts/{cohort.id}")
    assert "Approve all pending…" in page.text and f'name="reason_{turned_down.id}"' in page.text
    assert "Awaiting your side 3" in words_of(page.text)
    before = await written(world)

    asked = await decide(api, world.dev_approver, cohort, {"reject": [str(turned_down.id)],
                                                           f"reason_{turned_down.id}": "Export controls."})  # fmt: skip
    assert is_confirmation(asked)
    words = words_of(asked.text)
    assert "Decide on the cohort Wave one?" in words
    assert "You approve 2 members: Member-0, Member-2." in words
    assert "Access is granted to each only once both sides have approved it." in words
    assert "You reject Member-1: “Export controls.”" in words and "Yes, approve 2 and reject 1" in words
    assert await written(world) == before  # nothing yet

    done = await confirm(api, asked)
    assert done.status_code == 200, done.text
    words = words_of(done.text)
    assert "Your decisions are recorded" in words
    assert "Member-0: approved; the other side or a quorum is still to decide" in words
    assert "Member-1: rejected: Export controls." in words
    assert (await world.get(Nomination, turned_down.id)).state == "rejected"

    asked = await decide(api, world.gov_approver, cohort, {})
    words = words_of(asked.text)
    assert "For 2 of them your approval completes both sides' decisions" in words
    assert "1 member you do not decide on: Member-1 (this nomination is rejected; it no longer takes decisions)." in words
    granted = words_of((await confirm(api, asked)).text)
    assert "Member-0: approved; both sides' decisions are complete, the grant exists now" in granted
    assert await world.count(AccessGrant) == 1 + 2


async def test_refused_decisions_are_shown_on_the_cohort_page_and_change_nothing(api, world):
    organisations, cohort, by_org = await scene(api, world)
    nomination = by_org[organisations[0].id]
    member_admin = await world.person(organisations[0], "ada", [])
    outsider = (await world.partner(name="outsider"))[1]
    before = await written(world)
    no_reason = await decide(api, world.gov_approver, cohort, {"reject": [str(nomination.id)]})
    assert no_reason.status_code == 422
    assert "Member-0: a reason for rejecting is required" in no_reason.text
    assert f'name="reject" value="{nomination.id}" checked' in no_reason.text  # what was ticked stays ticked
    not_an_id = await decide(api, world.gov_approver, cohort, {"reject": ["member-0"]})
    assert not_an_id.status_code == 422 and "choose the members to reject from the list" in not_an_id.text

    await sign_in(api, member_admin)
    own = await api.get(f"/console/cohorts/{cohort.id}")
    assert own.status_code == 200 and "Member-0" in own.text and "Member-1" not in own.text
    assert "Your membership 1: 1 pending" in words_of(own.text) and "Approve all pending" not in own.text
    forbidden = await api.post(f"/console/cohorts/{cohort.id}/decision", data={"csrf": csrf_in(own.text)},
                               follow_redirects=False)  # fmt: skip
    assert forbidden.status_code == 403 and "partners never decide" in forbidden.text

    await sign_in(api, outsider)
    hidden = await api.get(f"/console/cohorts/{cohort.id}")
    assert hidden.status_code == 404
    assert "Wave one" not in (await api.get("/console/cohorts")).text
    assert await written(world) == before


async def test_in_a_browser_the_search_box_narrows_the_list_under_the_csp_and_the_pages_pass_axe(
    browser_page, live_server, world
):
    page, base = browser_page, live_server
    await members(world, 3)
    await world.partner(name="zephyr")
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    console = heard(page)
    await sign_in_as(page, base, "Nora")
    await page.goto(f"{base}{NEW}")
    search = page.get_by_label("Find in the list")
    assert await search.is_visible()  # the script ran: without it the box stays hidden and the list whole
    await page.get_by_label("Partners (hold Ctrl or ⌘ to choose several)").select_option(label="Member-0 (member-0, vetted)")
    await search.fill("zeph")
    visible = await page.locator("#organisation_ids option:not([hidden])").all_inner_texts()
    assert visible == ["Member-0 (member-0, vetted)", "Zephyr (zephyr, vetted)"]  # what is chosen stays in sight
    assert await page.get_by_role("status").inner_text() == "1 chosen from the list"
    assert await accessibility_violations(page) == []

    await page.get_by_label("Model", exact=True).select_option(value=str(world.model.id))
    await page.get_by_label("Cohort name").fill("Browser wave")
    starts_at = world.now + timedelta(days=2)
    await page.get_by_label("Access starts").fill(f"{starts_at:%Y-%m-%d %H:%M}")
    await page.get_by_label("Access ends").fill(f"{starts_at + timedelta(days=10):%Y-%m-%d %H:%M}")
    await page.get_by_label("Justification").fill("Pre-release evaluation.")
    await page.get_by_label("Or paste slugs or e-mail domains").fill("member-1\nmember-2.test")
    await page.get_by_role("button", name="Nominate the cohort").click()
    await page.wait_for_load_state()
    assert "The cohort is open: 3 of 3 nominated" in await page.get_by_role("heading", level=2).first.inner_text()
    assert [m for m in console if CSP_WORDS in m or m.startswith("pageerror")] == [], console
