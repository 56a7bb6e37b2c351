"""A cohort in Chromium, from nomination to grants: the developer's nominator picks partners with the search box and
the multi-select (and pastes one more), sees what became of each; the developer's approver and then the
government's approve every pending member after the page that says what will happen; the cohort's page then shows
its members approved and granted. Every page is checked against the Content Security Policy and axe-core.

Screenshots go to ``var/screenshots/`` (CI keeps them); set ``ACCESSDESK_SCREENSHOTS_DIR=docs/screenshots`` to
refresh the set committed for the README (``cohort-new``, ``cohort-results``, ``cohort-confirm``, ``cohort``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import select

from accessdesk.db.tables import AccessGrant, Cohort, Nomination
from tests.databases import missing
from tests.support.browser import AXE, AXE_TAGS, CSP_WORDS, accessibility_violations, heard, sign_in_as

if TYPE_CHECKING:
    from playwright.async_api import Page

SHOTS = Path(os.environ.get("ACCESSDESK_SCREENSHOTS_DIR", "var/screenshots"))
PARTNERS = ("northwind", "eastwind", "westwind", "southwind", "harbour", "meridian", "lumen", "quarry")


async def answer_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2 A/AA violations on a page that answered a POST (a form's result, a confirmation), which
    ``accessibility_violations`` cannot ask for again: the same HTML is served, at the same address, to a context of
    the same browser that bypasses the CSP (signed in as ``page`` is, at its size), and checked there."""
    if not AXE.is_file():
        missing(f"axe-core is not installed at {AXE}: run `npm ci` (make test does)")
    html, url = await page.content(), page.url
    browser = page.context.browser
    assert browser is not None
    context = await browser.new_context(bypass_csp=True, storage_state=await page.context.storage_state(),
                                        viewport=page.viewport_size)  # fmt: skip
    try:
        checked = await context.new_page()
        await checked.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
        await checked.goto(url)
        await checked.add_script_tag(path=str(AXE))
        result = await checked.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    finally:
        await context.close()
    return [f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"]]  # fmt: skip


async def saved(page: Page, name: str, console: list[str], *, answered: bool = False) -> None:
    """The page as it is now: one h1, no CSP violation, no script error, no violation axe-core finds (``answered``:
    the page answered a POST); saved as a screenshot."""
    assert await page.locator("h1").count() == 1, page.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert [m for m in console if CSP_WORDS in m or m.startswith("pageerror")] == [], (page.url, console)
    assert await (answer_violations(page) if answered else accessibility_violations(page)) == [], page.url


async def approves_all_pending(page: Page, base: str, cohort_url: str, name: str, console: list[str], *,
                               shot: str | None = None) -> str:  # fmt: skip
    """``name`` signs in, opens the cohort, asks to approve every pending member, reads what will happen (saved as
    ``shot``), confirms; the words of the result."""
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{base}/login")
    await page.get_by_role("button", name=f"Sign in as {name}").click()
    await page.wait_for_url(f"{base}/console")
    await page.goto(cohort_url)
    await page.get_by_role("button", name="Approve all pending…").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name="What will happen").is_visible()
    effects = await page.locator("section.confirm li").all_inner_texts()
    assert effects and effects[0].startswith("You approve 4 members"), effects
    if shot:
        await saved(page, shot, console, answered=True)
    await page.get_by_role("button", name="Yes, approve 4").click()
    await page.wait_for_load_state()
    return await page.get_by_role("status").filter(has_text="Your decisions are recorded").inner_text()


async def test_a_cohort_from_its_nomination_to_its_grants(browser_page, live_server, world):
    page, base = browser_page, live_server
    await world.government_ready()
    await world.government_grant()
    partners = {name: (await world.partner(name=name))[0] for name in PARTNERS}
    await world.nominate(partners["southwind"], start=timedelta(days=3), days=5)  # overlaps the cohort's window
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    await page.set_viewport_size({"width": 1280, "height": 800})
    console = heard(page)

    await sign_in_as(page, base, "Nora")  # the developer's nominator
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Cohorts").click()
    await page.get_by_role("link", name="Nominate a cohort").click()
    await page.wait_for_url(f"{base}/console/cohorts/new")
    await page.get_by_label("Model", exact=True).select_option(value=str(world.model.id))
    await page.get_by_label("Cohort name").fill("Wave one")
    starts_at = world.now + timedelta(days=2)
    await page.get_by_label("Access starts").fill(f"{starts_at:%Y-%m-%d %H:%M}")
    await page.get_by_label("Access ends").fill(f"{starts_at + timedelta(days=30):%Y-%m-%d %H:%M}")
    await page.get_by_label("evaluate").check()
    await page.get_by_label("Justification").fill("Pre-release evaluation of the cyber-capable model by vetted labs.")
    await page.get_by_label("Find in the list").fill("wind")
    shown = await page.locator("#organisation_ids option:not([hidden])").all_inner_texts()
    assert sorted(shown) == [f"{name.title()} ({name}, vetted)" for name in sorted(PARTNERS) if "wind" in name]
    await page.get_by_label("Partners (hold Ctrl or ⌘ to choose several)").select_option(
        label=["Northwind (northwind, vetted)", "Eastwind (eastwind, vetted)", "Westwind (westwind, vetted)",
               "Southwind (southwind, vetted)"])  # fmt: skip
    assert await page.locator("#member-count").inner_text() == "4 chosen from the list"
    await page.get_by_label("Or paste slugs or e-mail domains").fill("harbour.test")
    await page.locator("#organisation_ids").focus()  # the choice shown as the nominator sees it while choosing
    await saved(page, "cohort-new", console)

    await page.get_by_role("button", name="Nominate the cohort").click()
    await page.wait_for_load_state()
    created = await page.get_by_role("status").filter(has_text="The cohort is open").inner_text()
    assert "The cohort is open: 4 of 5 nominated" in created
    for name in ("Eastwind", "Northwind", "Westwind"):
        assert f"{name}: nominated" in created
    assert "harbour.test (Harbour): nominated" in created
    assert "Southwind: not nominated: this organisation already has a pending nomination" in created
    await saved(page, "cohort-results", console, answered=True)
    cohort = (await world.unit.session.exec(select(Cohort))).one()
    await world.commit()
    cohort_url = f"{base}/console/cohorts/{cohort.id}"

    developer = await approves_all_pending(page, base, cohort_url, "Dev1", console)
    assert developer.count("approved; the other side or a quorum is still to decide") == 4, developer
    government = await approves_all_pending(page, base, cohort_url, "Gov1", console, shot="cohort-confirm")
    assert government.count("the grant exists now") == 4, government

    await page.goto(cohort_url)
    members = await page.locator("main table tbody tr").all_inner_texts()
    assert len(members) == 4 and all("approved · grant" in row for row in members), members
    facts = await page.locator("dl.facts").inner_text()
    assert "4: 4 approved" in facts, facts
    await saved(page, "cohort", console)
    nominations = (await world.unit.session.exec(select(Nomination).where(Nomination.cohort_id == cohort.id))).all()
    assert sorted(n.state for n in nominations) == ["approved"] * 4
    granted = (await world.unit.session.exec(select(AccessGrant.nomination_id))).all()
    assert {n.id for n in nominations} <= set(granted)
    await world.commit()
