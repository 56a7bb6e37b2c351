""""Is my access ready?" and the self-test in Chromium: a partner finds its grant on the path from its home, opens
the self-test of its credential, checks a wrong secret (the page says which check fails) and the right one (it
passes, and the secret is not in the page), with axe-core clean on both pages and screenshots saved.

Screenshots go to ``var/screenshots/`` (CI keeps them); ``ACCESSDESK_SCREENSHOTS_DIR=docs/screenshots`` refreshes
the committed ``readiness.png`` and ``self-test.png``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from accessdesk.domain.credentials import Credentials
from tests.support.browser import CSP_WORDS, accessibility_violations, heard, sign_in_as
from tests.support.oauth import SETTINGS

SHOTS = Path(os.environ.get("ACCESSDESK_SCREENSHOTS_DIR", "var/screenshots"))


async def test_a_partner_checks_its_access_and_self_tests_its_credential(browser_page, live_server, world):
    page, base = browser_page, live_server
    await world.government_ready()
    await world.government_grant()
    north, north_admin = await world.partner(name="northwind")
    helios = await world.new_model("helios")
    await world.government_grant(model=helios)
    grant = await world.approve_both(await world.nominate(north, start=timedelta(days=1)))
    await world.approve_both(await world.nominate(north, start=timedelta(days=9), model=helios))
    pending = await world.new_model("orion")
    await world.government_grant(model=pending)
    await world.nominate(north, start=timedelta(days=12), model=pending)
    world.clock.advance(timedelta(days=2))
    issued = await Credentials(world.unit, pepper=SETTINGS.pepper).create(actor=north_admin, grant_id=grant.id,
                                                                         name="evaluation cluster")  # fmt: skip
    assert issued.secret is not None
    await world.commit()

    await page.set_viewport_size({"width": 1280, "height": 800})
    console = heard(page)
    await sign_in_as(page, base, "Admin")
    await page.get_by_role("link", name="Is your access ready?").click()
    await page.wait_for_url(f"{base}/console/access")
    here = page.locator('[aria-current="step"]')
    assert await here.all_inner_texts() == ["credentials issued", "approved"]  # Atlas, then Helios (not started)
    assert await page.get_by_text("Orion,", exact=False).is_visible()  # waiting for a decision
    assert await accessibility_violations(page) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "readiness.png"), full_page=True)

    await page.get_by_role("link", name="Self-test evaluation cluster").click()
    await page.wait_for_url(f"{base}/console/access/credentials/{issued.client.id}")
    await page.get_by_label("Client secret").fill("adks_not-it")
    await page.get_by_role("button", name="Check").click()
    status = page.get_by_role("status")
    assert "The token endpoint would refuse now" in await status.inner_text()
    row = page.get_by_role("row", name="authentication", exact=False)
    assert "failed" in await row.inner_text()

    await page.get_by_label("Client secret").fill(issued.secret)
    await page.get_by_role("button", name="Check").click()
    assert "A token request made now would be answered with a token" in await page.get_by_role("status").inner_text()
    assert issued.secret not in await page.content()
    assert await page.get_by_label("Client secret").input_value() == ""
    assert await accessibility_violations(page) == []
    await page.screenshot(path=str(SHOTS / "self-test.png"), full_page=True)
    assert [m for m in console if CSP_WORDS in m] == [], console
