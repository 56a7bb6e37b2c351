"""A finding in Chromium, from a grantee's report to the developer's response and its mitigation, seen by the
government: a partner's member who evaluates the model reports it from the partner's home (TLP:AMBER+STRICT, with
an attachment by reference); the developer's approver acknowledges it, then marks it mitigated with a note; the
government's approver finds it in the list and reads its thread. Every page is checked against the Content Security
Policy and axe-core.

Screenshots go to ``var/screenshots/`` (CI keeps them); set ``ACCESSDESK_SCREENSHOTS_DIR=docs/screenshots`` to
refresh the set committed for the README (``findings``, ``finding``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import col, select

from accessdesk.db.tables import Finding, FindingUpdate
from accessdesk.domain.vocabulary import Role
from tests.support.browser import checked, heard, sign_in_as, switch_to
from tests.support.finding_scenes import SHA, evaluating_partner

if TYPE_CHECKING:
    from playwright.async_api import Page


async def record(page: Page, to: str, note: str) -> str:
    """Move the finding on its page to ``to`` with ``note``; the words of the notice that says it is recorded."""
    await page.get_by_label("Move it to").select_option(value=to)
    await page.get_by_label("Note").fill(note)
    await page.get_by_role("button", name="Record the update").click()
    await page.wait_for_load_state()
    return await page.get_by_role("status").inner_text()


async def test_a_finding_from_a_grantees_report_to_its_mitigation(browser_page, live_server, world, clock):
    page, base = browser_page, live_server
    await world.government_ready()
    await world.government_grant(start=timedelta(hours=1))
    organisation, _, _ = await evaluating_partner(world, "evalco")
    await world.person(organisation, "erin", [Role.MEMBER])
    clock.advance(timedelta(days=2))
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    await page.set_viewport_size({"width": 1280, "height": 800})
    console = heard(page)

    await sign_in_as(page, base, "Erin")  # a member of the grantee evaluating Atlas
    await page.get_by_role("region", name="Evaluation findings").get_by_role("link", name="Atlas").click()
    await page.wait_for_url(f"{base}/console/models/{world.model.id}/findings/new")
    await checked(page, console)
    await page.get_by_label("Title").fill("Exploit chain completed without a jailbreak")
    await page.get_by_label("What was found").fill("In 4 of 10 runs the model chained two known CVEs unaided.")
    await page.get_by_label("Severity").select_option(value="high")
    await page.get_by_label("Category").select_option(value="cyber_capability")
    await page.locator("input[name=audience][value=tlp_amber_strict]").check()
    await page.get_by_label("Attachments").fill(f"transcripts.jsonl | {SHA} | https://evidence.evalco.test/runs/17")
    await page.get_by_role("button", name="Report the finding").click()
    await page.wait_for_load_state()
    assert "The finding is reported" in await page.get_by_role("status").inner_text()
    finding_url = page.url.split("?")[0]
    await checked(page, console)

    await switch_to(page, base, "Dev1")  # the developer's approver responds
    await page.goto(finding_url)
    assert await record(page, "acknowledged", "Reproduced on our side; working on a fix.") == "Your update is recorded."
    options = await page.get_by_label("Move it to").locator("option").all_inner_texts()
    assert options[1:] == ["mitigated", "accepted risk", "disputed"], options
    await record(page, "mitigated", "The refusal classifier v2 blocks the chain in 50 of 50 runs.")
    assert "mitigated" in await page.locator("dl.facts").inner_text()

    await switch_to(page, base, "Gov1")  # the government reads it, and its thread
    await page.goto(f"{base}/console/findings")
    row = page.get_by_role("row").filter(has_text="Exploit chain completed without a jailbreak")
    assert "mitigated" in await row.inner_text() and "TLP:AMBER+STRICT" in await row.inner_text()
    await checked(page, console, "findings")
    await row.get_by_role("link").click()
    await page.wait_for_url(finding_url)
    thread = await page.get_by_role("region", name="Updates").inner_text()
    assert "moved it from reported to acknowledged" in thread and "moved it from acknowledged to mitigated" in thread
    assert "Erin (Evalco)" in await page.locator("dl.facts").inner_text()
    await checked(page, console, "finding")

    finding = (await world.unit.session.exec(select(Finding))).one()
    steps = (await world.unit.session.exec(select(FindingUpdate.to_state).where(FindingUpdate.finding_id == finding.id)
                                           .order_by(col(FindingUpdate.created_at)))).all()  # fmt: skip
    assert (finding.state, list(steps)) == ("mitigated", ["acknowledged", "mitigated"])
    await world.commit()
