"""A designation consultation in Chromium, from the developer's request to the government's ``covered``: the
developer's admin asks from the model's page and writes in the thread; the government's approver finds it in the
queue, answers, and records the outcome with the reference of the assessment. Every page is checked against the
Content Security Policy and axe-core.

Screenshots go to ``var/screenshots/`` (CI keeps them); set ``ACCESSDESK_SCREENSHOTS_DIR=docs/screenshots`` to
refresh the set committed for the README (``consultation-queue``, ``consultation``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from accessdesk.db.tables import Consultation, FrontierModel
from accessdesk.domain.vocabulary import Designation
from tests.support.browser import checked, heard, sign_in_as, switch_to


async def test_a_consultation_from_the_developers_request_to_covered(browser_page, live_server, world, clock):
    page, base = browser_page, live_server
    model = await world.new_model("vela", designation=Designation.NOT_ASSESSED, release_in=timedelta(days=45))
    await world.new_model("lyra", designation=Designation.NOT_ASSESSED)
    await world.commit()
    await page.set_viewport_size({"width": 1280, "height": 800})
    console = heard(page)

    await sign_in_as(page, base, "Dana")  # the developer's admin
    await page.goto(f"{base}/console/models/{model.id}")
    await page.get_by_role("link", name="Request consultation").click()
    await page.wait_for_url(f"{base}/console/models/{model.id}/consultations")
    await checked(page, console)
    await page.get_by_label("Note").fill("Checkpoint 7 of Vela is close to release; we ask whether it is covered.")
    await page.get_by_label("Contacts").fill("Dana <dana@acme.test>\nSafety team <safety@acme.test>")
    await page.get_by_label("Capabilities to assess").fill("cyber offence\nautonomous replication")
    await page.get_by_role("button", name="Request a consultation").click()
    await page.wait_for_load_state()
    assert "Your request is sent" in await page.get_by_role("status").inner_text()
    await page.get_by_label("Your message").fill("The red-team report is in the data room, folder 7.")
    await page.get_by_role("button", name="Send the message").click()
    await page.wait_for_load_state()
    assert "Your message is in the thread." in await page.get_by_role("status").inner_text()
    clock.advance(timedelta(hours=2))  # the government answers later: the thread keeps the order they wrote in
    consultation = (await world.unit.session.exec(select(Consultation).where(Consultation.model_id == model.id))).one()
    await world.commit()

    await switch_to(page, base, "Gov1")  # the government's approver
    await page.goto(f"{base}/console/consultations")
    rows = await page.locator("main table tbody tr").all_inner_texts()
    assert len(rows) == 1 and rows[0].startswith("Vela\t1\tthe developer\t2 hours"), rows
    await checked(page, console, "consultation-queue")
    await page.get_by_role("link", name="Vela").click()
    await page.wait_for_url(f"{base}/console/consultations/{consultation.id}")
    await page.get_by_label("Your message").fill("Received; please also send the evaluation logs.")
    await page.get_by_role("button", name="Send the message").click()
    await page.wait_for_load_state()
    await page.get_by_label("covered: the framework applies").check()
    await page.get_by_label("Assessment reference").fill("OAIS-DA-2026-077")
    await page.get_by_role("button", name="Record the outcome").click()
    await page.wait_for_load_state()
    assert "The outcome is recorded" in await page.get_by_role("status").inner_text()
    facts = await page.locator("dl.facts").inner_text()
    assert "covered" in facts and "OAIS-DA-2026-077" in facts, facts
    thread = await page.locator("section[aria-labelledby=thread-h] li").all_inner_texts()
    assert [t.split("\n")[0].split(" (the ")[1].split(")")[0] for t in thread] == ["developer", "government"], thread
    await checked(page, console, "consultation")

    designated = await world.unit.session.get(FrontierModel, model.id, populate_existing=True)
    assert designated is not None and designated.designation == "covered"
    await world.commit()
