"""The programme page in Chromium: both pictures render inside the Content Security Policy (inline SVG, no inline
style, no script), axe-core finds no WCAG 2 A/AA violation, and the page is saved as a screenshot.

Screenshots go to ``var/screenshots/`` (CI keeps them); set ``ACCESSDESK_SCREENSHOTS_DIR=docs/screenshots`` to
refresh the one committed for the README (``programme.png``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from accessdesk.db.tables import Cohort, Nomination
from accessdesk.domain.coselection import CoSelection
from accessdesk.domain.credentials import Credentials, count_issuance
from accessdesk.domain.vocabulary import Verdict
from tests.support.browser import CSP_WORDS, accessibility_violations, heard, sign_in_as
from tests.support.oauth import SETTINGS

SHOTS = Path(os.environ.get("ACCESSDESK_SCREENSHOTS_DIR", "var/screenshots"))
WAVE = ["northwind", "helix-labs", "redwood-ai", "quartz-security", "tern-systems", "orbit-eval"]
RED_TEAM = ["kestrel-red", "lumen-lab", "sable-ops"]


async def in_cohort(world, name: str, members: list[Nomination]) -> None:
    first = members[0]
    cohort = Cohort(model_id=world.model.id, name=name, starts_at=first.starts_at, ends_at=first.ends_at,
                    actions=list(first.actions), justification=first.justification, nominated_by=first.nominated_by,
                    created_at=world.now)  # fmt: skip
    world.unit.session.add(cohort)
    await world.unit.session.flush()
    for nomination in members:
        nomination.cohort_id = cohort.id
        world.unit.session.add(nomination)
    await world.unit.session.commit()


async def a_programme_under_way(world) -> None:
    """Six partners in "Wave 1" (active for five days, each with a credential issuing tokens daily), three in
    "Red team" (two scheduled, one awaiting the government), Westwind blocked without the NDA, Eastwind not vetted."""
    await world.government_ready()
    await world.government_grant()
    wave = []
    for slug in WAVE:
        organisation, admin = await world.partner(name=slug)
        wave.append((admin, await world.nominate(organisation, days=40)))
    await in_cohort(world, "Wave 1", [n for _, n in wave])
    grants = [(admin, await world.approve_both(n)) for admin, n in wave]
    red = [await world.nominate((await world.partner(name=slug))[0], start=timedelta(days=9), days=21) for slug in RED_TEAM]
    await in_cohort(world, "Red team", red)
    for nomination in red[:2]:
        await world.approve_both(nomination)
    await CoSelection(world.unit).decide(actor=world.dev_approver, nomination_id=red[2].id, verdict=Verdict.APPROVE)
    west, _ = await world.partner(name="westwind", nda=False)
    await world.approve_both(await world.nominate(west, start=timedelta(days=2)))
    east, _ = await world.partner(name="eastwind", vetted=False, attested=False)
    await world.nominate(east, start=timedelta(days=12))
    world.clock.advance(timedelta(days=6))
    credentials = Credentials(world.unit, pepper=SETTINGS.pepper)
    for rank, (admin, grant) in enumerate(grants):
        issued = await credentials.create(actor=admin, grant_id=grant.id, name="evaluation cluster")
        for day in range(5):
            n = (len(grants) - rank) * (day + 2) + (day * 7 + rank * 3) % 11
            await count_issuance(world.unit, issued.client.id, n=n, at=world.now - timedelta(days=4 - day))
    await world.unit.commit()


async def test_the_programme_page_in_a_browser(browser_page, live_server, world):
    page, base = browser_page, live_server
    await a_programme_under_way(world)
    await world.commit()  # Chromium's requests do not commit the world: the test does, before the browser asks
    await page.set_viewport_size({"width": 1280, "height": 800})
    console = heard(page)
    await sign_in_as(page, base, "Gail")
    await page.goto(f"{base}/console/models/{world.model.id}")
    await page.get_by_role("link", name="Programme overview").click()
    await page.wait_for_url(f"{base}/console/models/{world.model.id}/programme")
    assert await page.locator("h1").count() == 1
    timeline = page.get_by_role("img", name="Access windows of Atlas against its planned release")
    tokens = page.get_by_role("img", name="Tokens issued per day per grant for Atlas")
    assert await timeline.is_visible() and await tokens.is_visible()
    # Drawn, not just present: the SVGs have their size (no style was refused on the way).
    for picture in (timeline, tokens):
        box = await picture.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 80
    await page.get_by_text("Who owes what").click()  # the list behind the counts opens
    assert await page.get_by_text("Eastwind:", exact=False).first.is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "programme.png"), full_page=True)
    assert [m for m in console if CSP_WORDS in m] == [], console
    assert await accessibility_violations(page) == []
