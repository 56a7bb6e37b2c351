"""A partner in a real browser (Chromium over real HTTP): it signs in, sees on its home what it still owes, attests
to all six requirement areas in one form, and owes them no more."""

from __future__ import annotations

import re

from tests.support.browser import CSP_WORDS, accessibility_violations, heard

LABELS = ("Confidentiality", "Cybersecurity", "Insider risk", "IP protection", "Use", "Non-disclosure")


async def test_a_partner_sees_what_it_owes_attests_to_all_of_it_in_one_form_and_owes_it_no_more(
    browser_page, live_server, world
):  # fmt: skip
    page, base = browser_page, live_server
    await world.partner(name="northwind", attested=False)  # vetted, NDA accepted: only the attestations are owed
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    console = heard(page)

    await page.goto(f"{base}/console")
    await page.get_by_role("button", name="Sign in as Admin (admin@northwind.test)").click()
    await page.wait_for_url(f"{base}/console")
    assert await page.get_by_role("heading", name="Home", level=1).is_visible()
    assert await page.get_by_role("region", name="Waiting for your decision").count() == 0
    owed = page.get_by_role("region", name="What you still owe")
    items = await owed.get_by_role("listitem").all_inner_texts()
    assert [item.split(":")[0] for item in items] == [f"missing {label}" for label in LABELS], items
    assert await accessibility_violations(page) == []

    await owed.get_by_role("link", name="Attest to all 6 areas in one form").click()
    await page.wait_for_url(f"{base}/console/my-organisation/attestations#attest-h")
    assert await accessibility_violations(page) == []
    await page.get_by_label("Valid until, for every area you attest now").fill("2027-06-30")
    for label in LABELS:
        area = page.get_by_role("group", name=re.compile(f"^{re.escape(label)} "))
        await area.get_by_label(re.compile("^Statement on")).fill(f"We keep to the {label} requirements.")
    await page.get_by_role("group", name=re.compile("^Use ")).get_by_label(re.compile("^Evidence")).fill("POL-7")
    await page.get_by_role("button", name="Record these attestations").click()
    await page.wait_for_url(f"{base}/console/my-organisation/attestations?done=attested")
    assert await page.get_by_role("status").inner_text() == "Your attestations are recorded."
    assert await page.locator("fieldset").count() == 6  # every area, now in order: folded away to renew early
    assert not await page.get_by_role("group", name=re.compile("^Use ")).is_visible()

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    await page.wait_for_url(f"{base}/console")
    owed_now = await page.get_by_role("region", name="What you still owe").inner_text()
    assert "Nothing: your organisation is vetted" in owed_now, owed_now
    assert [m for m in console if CSP_WORDS in m] == [], console
